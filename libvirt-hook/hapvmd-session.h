/* One measurement of one domain, run by hapvmd as a child `hapvm measure`
 * process (its own tracefs instance, its own failure domain), followed
 * through --status-fd, stored with a `collector` section when it ends. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hapvmd-config.h"

typedef struct HapvmdSession HapvmdSession;

/* Called once the child is gone; path: the stored result, or NULL with
 * why (the child's own last error line, or ours). */
typedef void (*HapvmdSessionDone)(HapvmdSession *s, const char *path, JsonNode *result, const char *why,
                                  gpointer data);

typedef struct {
    const char *domain;
    const char *uuid;
    const char *driver;     /* "qemu" */
    GHashTable *labels;     /* may be NULL */
    const char *trigger;    /* started | reconnect | migrate | daemon-start */
    guint32 qemu_pid;       /* if known (status file), else 0 */
} HapvmdSessionInfo;

HapvmdSession *hapvmd_session_start(const HapvmdConfig *c, const HapvmdSessionInfo *info,
                                    HapvmdSessionDone done, gpointer data, GError **error);
/* Ask it to end now (the domain stopped, or the daemon ends): SIGTERM
 * after `grace_s`, so a domain that is gone can end it by itself first. */
void hapvmd_session_stop(HapvmdSession *s, double grace_s, const char *why);
void hapvmd_session_free(HapvmdSession *s);

const char *hapvmd_session_get_uuid(const HapvmdSession *s);
const char *hapvmd_session_get_domain(const HapvmdSession *s);
GHashTable *hapvmd_session_get_labels(const HapvmdSession *s);
gboolean hapvmd_session_is_running(const HapvmdSession *s);
/* The QEMU pid from libvirt's status file, 0 if the session did not know it. */
guint32 hapvmd_session_get_qemu_pid(const HapvmdSession *s);
/* The `status` reply's object for this session. */
void hapvmd_session_add_status(const HapvmdSession *s, JsonBuilder *b);
/* Last status line's numbers (0 before the first). */
void hapvmd_session_get_progress(const HapvmdSession *s, double *elapsed, guint *functions, guint64 *lost);

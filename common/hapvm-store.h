/* The result store of hapvmd: <dir>/<domain uuid>/<UTC timestamp>.json,
 * written atomically (write, fsync, rename, fsync of the directory).  Paths
 * are built from validated uuids only, never from domain names. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#define HAPVM_STORE_DEFAULT_DIR "/var/lib/hapvm"

/* TRUE if s is a canonical libvirt uuid (36 chars, 8-4-4-4-12 hex). */
gboolean hapvm_uuid_is_valid(const char *s);

/* Store a result; *path_out (optional) gets the file written. */
gboolean hapvm_store_save(const char *dir, const char *uuid, JsonNode *result, GDateTime *when,
                          char **path_out, GError **error);

typedef struct {
    char *path;
    char *uuid;
    char *domain;        /* collector.domain, else target.name */
    char *stamp;         /* the file name's timestamp */
    gint64 hap_f;        /* -1: none */
    gint64 hap_l;        /* -1: unavailable */
    double hap;          /* < 0: unavailable */
    gboolean complete;   /* loss.complete */
    gboolean partial;    /* collector.partial */
    char *end_reason;
} HapvmStoreEntry;

void hapvm_store_entry_free(HapvmStoreEntry *e);

/* Results under dir, oldest first; `filter` (NULL: all) matches a domain
 * name or uuid.  Unreadable files are skipped and counted in *skipped. */
GPtrArray *hapvm_store_list(const char *dir, const char *filter, guint *skipped, GError **error);

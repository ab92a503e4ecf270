/* What hapvmd needs from a libvirt domain XML (a hook's stdin or a status
 * file under /run/libvirt/qemu): identity, state, and hapvm's metadata
 * (docs/hapvmd-protocol.md). */
#pragma once

#include <glib.h>

#include "hapvmd-config.h"

#define HAPVM_XMLNS "http://hapvm.org/xmlns/libvirt/1"

typedef struct {
    char *name;
    char *uuid;
    gboolean running;    /* a status file with state='running' (or 'paused') */
    guint32 qemu_pid;    /* status files only */
    HapvmdOptIn measure;
    GHashTable *labels;  /* name → value, validated */
} HapvmdDomain;

/* Parse a <domain> or <domstatus> document; NULL + error if malformed. */
HapvmdDomain *hapvmd_domain_parse(const char *xml, gsize len, GError **error);
HapvmdDomain *hapvmd_domain_load(const char *path, GError **error);
void hapvmd_domain_free(HapvmdDomain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmdDomain, hapvmd_domain_free)

/* Label names [A-Za-z0-9_]{1,64}, values ≤ 256 bytes of UTF-8. */
gboolean hapvmd_label_is_valid(const char *name, const char *value);

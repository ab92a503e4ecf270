/* hapvmd's configuration (/etc/hapvm/hapvmd.conf, GKeyFile) and its policy:
 * which domains to measure, and how. */
#pragma once

#include <glib.h>

#define HAPVMD_DEFAULT_CONFIG "/etc/hapvm/hapvmd.conf"
#define HAPVMD_DEFAULT_SOCKET "/run/hapvm/hapvmd.sock"

typedef struct {
    /* [daemon] */
    char *socket;
    char *uri;              /* libvirt URI handed to `hapvm measure -c` */
    char *results;          /* result store */
    char *hapvm;            /* the hapvm binary that measures */
    char *libvirt_run_dir;  /* libvirt's status files (pick-up of running domains) */
    double rescan_s;        /* pick-up period; 0: only at start */
    /* [measure] */
    gboolean opt_in;        /* domains=opt-in: only domains whose metadata says yes */
    char **include;         /* glob patterns on names; NULL: all */
    char **exclude;
    double warmup_s, quiet_s, max_s;
    gboolean low_overhead;
    gboolean lines;
    char *debuginfo;
    char *index_cache;
    double density;         /* defects per 1000 lines */
    int buffer_kb;
    guint max_sessions;
    /* [metrics] */
    char *textfile;         /* node_exporter textfile; NULL: off */
    char *http;             /* "127.0.0.1:9477"; NULL: off */
    char *host;
} HapvmdConfig;

/* Load path (NULL: the default); a missing default file gives the
 * defaults, a missing named file, an unknown key or a bad value an error
 * naming the file, group and key. */
HapvmdConfig *hapvmd_config_load(const char *path, GError **error);
void hapvmd_config_free(HapvmdConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmdConfig, hapvmd_config_free)

typedef enum {
    HAPVMD_MEASURE_UNSET = 0,  /* no metadata */
    HAPVMD_MEASURE_YES,
    HAPVMD_MEASURE_NO,
} HapvmdOptIn;

/* Whether to measure a domain; *why gets the reason (static string). */
gboolean hapvmd_config_wants(const HapvmdConfig *c, const char *name, HapvmdOptIn meta, const char **why);

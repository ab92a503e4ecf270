#include "hapvmd-config.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-store.h"

#ifndef HAPVM_BINDIR
#define HAPVM_BINDIR "/usr/local/bin"
#endif

void
hapvmd_config_free(HapvmdConfig *c)
{
    if (!c)
        return;
    g_free(c->socket);
    g_free(c->uri);
    g_free(c->results);
    g_free(c->hapvm);
    g_free(c->libvirt_run_dir);
    g_strfreev(c->include);
    g_strfreev(c->exclude);
    g_free(c->debuginfo);
    g_free(c->index_cache);
    g_free(c->textfile);
    g_free(c->http);
    g_free(c->host);
    g_free(c);
}

/* The hapvm next to this daemon (installed or in the build tree), else PATH. */
static char *
default_hapvm(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    if (self) {
        g_autofree char *dir = g_path_get_dirname(self);
        const char *const cands[] = { "hapvm", "../hapvm", "../bin/hapvm" };
        for (guint i = 0; i < G_N_ELEMENTS(cands); i++) {
            g_autofree char *p = g_build_filename(dir, cands[i], NULL);
            if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(p, G_FILE_TEST_IS_DIR))
                return g_canonicalize_filename(p, NULL);
        }
    }
    char *p = g_find_program_in_path("hapvm");
    return p ? p : g_strdup(HAPVM_BINDIR "/hapvm");
}

static const char *const known[][2] = {
    { "daemon", "socket" }, { "daemon", "uri" }, { "daemon", "results" }, { "daemon", "hapvm" },
    { "daemon", "libvirt_run_dir" }, { "daemon", "rescan" },
    { "measure", "domains" }, { "measure", "include" }, { "measure", "exclude" }, { "measure", "warmup" },
    { "measure", "quiet" }, { "measure", "max_duration" }, { "measure", "low_overhead" }, { "measure", "lines" },
    { "measure", "debuginfo" }, { "measure", "index_cache" }, { "measure", "density" },
    { "measure", "buffer_kb" }, { "measure", "max_sessions" },
    { "metrics", "textfile" }, { "metrics", "http" }, { "metrics", "host" },
};

static gboolean
check_keys(GKeyFile *kf, const char *path, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++) {
        g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
        for (char **k = keys; k && *k; k++) {
            gboolean ok = FALSE;
            for (guint i = 0; i < G_N_ELEMENTS(known) && !ok; i++)
                ok = !strcmp(known[i][0], *g) && !strcmp(known[i][1], *k);
            if (!ok) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: unknown setting '%s' in [%s] "
                            "(see hapvmd(8) for the settings)", path, *k, *g);
                return FALSE;
            }
        }
    }
    return TRUE;
}

static char *
get_str(GKeyFile *kf, const char *g, const char *k, const char *dflt)
{
    g_autofree char *v = g_key_file_get_string(kf, g, k, NULL);
    if (v)
        g_strstrip(v);
    if (!v)
        return dflt ? g_strdup(dflt) : NULL;
    return *v ? g_steal_pointer(&v) : NULL; /* an empty value turns a feature off */
}

static gboolean
get_num(GKeyFile *kf, const char *path, const char *g, const char *k, double min, double *out, GError **error)
{
    g_autoptr(GError) e = NULL;
    if (!g_key_file_has_key(kf, g, k, NULL))
        return TRUE;
    double v = g_key_file_get_double(kf, g, k, &e);
    if (e || v < min || !isfinite(v)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: [%s] %s must be a number >= %g", path, g, k, min);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

static gboolean
get_bool(GKeyFile *kf, const char *path, const char *g, const char *k, gboolean *out, GError **error)
{
    g_autoptr(GError) e = NULL;
    if (!g_key_file_has_key(kf, g, k, NULL))
        return TRUE;
    gboolean v = g_key_file_get_boolean(kf, g, k, &e);
    if (e) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: [%s] %s must be true or false", path, g, k);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

HapvmdConfig *
hapvmd_config_load(const char *path, GError **error)
{
    g_autoptr(HapvmdConfig) c = g_new0(HapvmdConfig, 1);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) e = NULL;
    const char *p = path ? path : HAPVMD_DEFAULT_CONFIG;

    if (!g_key_file_load_from_file(kf, p, G_KEY_FILE_NONE, &e)) {
        if (path || !g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "cannot read %s: %s", p, e->message);
            return NULL;
        }
    } else if (!check_keys(kf, p, error)) {
        return NULL;
    }
    c->socket = get_str(kf, "daemon", "socket", HAPVMD_DEFAULT_SOCKET);
    c->uri = get_str(kf, "daemon", "uri", "qemu:///system");
    c->results = get_str(kf, "daemon", "results", HAPVM_STORE_DEFAULT_DIR);
    c->hapvm = get_str(kf, "daemon", "hapvm", NULL);
    if (!c->hapvm)
        c->hapvm = default_hapvm();
    c->libvirt_run_dir = get_str(kf, "daemon", "libvirt_run_dir", "/run/libvirt/qemu");
    c->rescan_s = 10;
    if (!c->socket || !c->results) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: [daemon] socket and results cannot be empty", p);
        return NULL;
    }

    g_autofree char *domains = get_str(kf, "measure", "domains", "all");
    if (!g_strcmp0(domains, "opt-in"))
        c->opt_in = TRUE;
    else if (g_strcmp0(domains, "all") != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: [measure] domains must be 'all' or 'opt-in', "
                    "not '%s'", p, domains ? domains : "");
        return NULL;
    }
    c->include = g_key_file_get_string_list(kf, "measure", "include", NULL, NULL);
    c->exclude = g_key_file_get_string_list(kf, "measure", "exclude", NULL, NULL);
    /* A window opens at domain start: the warm-up must cover the guest's boot,
     * so the steady set is the workload's, not the boot's. */
    c->warmup_s = 120;
    c->quiet_s = 60;
    c->max_s = 1800;
    c->lines = TRUE;
    c->density = 1.0 / 3;
    c->debuginfo = get_str(kf, "measure", "debuginfo", NULL);
    c->index_cache = get_str(kf, "measure", "index_cache", NULL);
    double buffer_kb = 0, max_sessions = 8;
    if (!get_num(kf, p, "daemon", "rescan", 0, &c->rescan_s, error) ||
        !get_num(kf, p, "measure", "warmup", 0, &c->warmup_s, error) ||
        !get_num(kf, p, "measure", "quiet", 0.1, &c->quiet_s, error) ||
        !get_num(kf, p, "measure", "max_duration", 1, &c->max_s, error) ||
        !get_num(kf, p, "measure", "density", 0, &c->density, error) ||
        !get_num(kf, p, "measure", "buffer_kb", 0, &buffer_kb, error) ||
        !get_num(kf, p, "measure", "max_sessions", 1, &max_sessions, error) ||
        !get_bool(kf, p, "measure", "low_overhead", &c->low_overhead, error) ||
        !get_bool(kf, p, "measure", "lines", &c->lines, error))
        return NULL;
    c->buffer_kb = (int)buffer_kb;
    c->max_sessions = (guint)max_sessions;

    c->textfile = get_str(kf, "metrics", "textfile", NULL);
    c->http = get_str(kf, "metrics", "http", NULL);
    c->host = get_str(kf, "metrics", "host", g_get_host_name());
    if (c->http) {
        const char *colon = strrchr(c->http, ':');
        if (!colon || (!g_str_has_prefix(c->http, "127.0.0.1:") && !g_str_has_prefix(c->http, "[::1]:"))) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s: [metrics] http must be a localhost address "
                        "with a port, e.g. 127.0.0.1:9477 (not '%s')", p, c->http);
            return NULL;
        }
    }
    return g_steal_pointer(&c);
}

static gboolean
matches(char **globs, const char *name)
{
    for (char **g = globs; g && *g; g++)
        if (fnmatch(*g, name, 0) == 0)
            return TRUE;
    return FALSE;
}

gboolean
hapvmd_config_wants(const HapvmdConfig *c, const char *name, HapvmdOptIn meta, const char **why)
{
    if (meta == HAPVMD_MEASURE_NO) {
        *why = "opted out in its metadata";
        return FALSE;
    }
    if (meta == HAPVMD_MEASURE_YES) {
        *why = "opted in in its metadata";
        return TRUE;
    }
    if (c->opt_in) {
        *why = "domains=opt-in and no opt-in in its metadata";
        return FALSE;
    }
    if (c->include && *c->include && !matches(c->include, name)) {
        *why = "not matched by [measure] include";
        return FALSE;
    }
    if (matches(c->exclude, name)) {
        *why = "matched by [measure] exclude";
        return FALSE;
    }
    *why = "domains=all";
    return TRUE;
}

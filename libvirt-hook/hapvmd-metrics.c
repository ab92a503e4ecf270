#include "hapvmd-metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"
#include "hapvmd-session.h"

/* Label values: backslash, double quote and newline escaped. */
static void
append_label(GString *s, const char *name, const char *value)
{
    g_string_append_printf(s, "%s=\"", name);
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            g_string_append_c(s, '\\'), g_string_append_c(s, *c);
        else if (*c == '\n')
            g_string_append(s, "\\n");
        else
            g_string_append_c(s, *c);
    }
    g_string_append_c(s, '"');
}

static void
family(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(GString *out, const char *name, const char *domain, const char *uuid, const char *host, const char *k,
       const char *v, double value)
{
    g_string_append_printf(out, "%s{", name);
    append_label(out, "domain", domain);
    g_string_append_c(out, ',');
    append_label(out, "uuid", uuid);
    g_string_append_c(out, ',');
    append_label(out, "host", host);
    if (k) {
        g_string_append_c(out, ',');
        append_label(out, k, v);
    }
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, "} %s\n", g_ascii_dtostr(num, sizeof num, value));
}

typedef enum { SCORE, ROLE, SUBSYS, LOSS, COMPLETE, PARTIAL, STAMP } What;

static void
emit(GString *out, GPtrArray *results, const char *host, const char *name, What what, const char *member)
{
    for (guint i = 0; i < results->len; i++) {
        JsonObject *r = json_node_get_object(results->pdata[i]);
        JsonObject *col = hapvm_json_object(r, "collector");
        const char *domain = hapvm_json_string(col, "domain") ? hapvm_json_string(col, "domain") : hapvm_json_string(hapvm_json_object(r, "target"), "name");
        const char *uuid = hapvm_json_string(col, "uuid");
        const char *h = hapvm_json_string(col, "host") ? hapvm_json_string(col, "host") : host;
        switch (what) {
        case SCORE:
            if (hapvm_json_is_number(hapvm_json_object(r, "scores"), member))
                sample(out, name, domain, uuid, h, NULL, NULL, hapvm_json_double(hapvm_json_object(r, "scores"), member));
            break;
        case ROLE:
        case SUBSYS: {
            JsonObject *set = hapvm_json_object(r, what == ROLE ? "roles" : "subsystems");
            g_autoptr(GList) keys = set ? json_object_get_members(set) : NULL;
            for (GList *k = keys; k; k = k->next)
                if (hapvm_json_is_number(hapvm_json_object(set, k->data), member))
                    sample(out, name, domain, uuid, h, what == ROLE ? "role" : "subsystem", k->data,
                           hapvm_json_double(hapvm_json_object(set, k->data), member));
            break;
        }
        case LOSS:
            sample(out, name, domain, uuid, h, NULL, NULL, (double)hapvm_result_get_lost(r));
            break;
        case COMPLETE:
            sample(out, name, domain, uuid, h, NULL, NULL,
                   json_object_get_boolean_member_with_default(hapvm_json_object(r, "loss"), "complete", FALSE));
            break;
        case PARTIAL:
            sample(out, name, domain, uuid, h, NULL, NULL,
                   col && json_object_get_boolean_member_with_default(col, "partial", FALSE));
            break;
        case STAMP: {
            g_autoptr(GDateTime) t = NULL;
            const char *s = hapvm_json_string(hapvm_json_object(r, "timing"), "started");
            if (s && (t = g_date_time_new_from_iso8601(s, NULL)))
                sample(out, name, domain, uuid, h, NULL, NULL, (double)g_date_time_to_unix(t));
            break;
        }
        }
    }
}

static int
by_uuid(gconstpointer a, gconstpointer b)
{
    JsonObject *x = json_node_get_object(*(JsonNode *const *)a), *y = json_node_get_object(*(JsonNode *const *)b);
    return g_strcmp0(hapvm_json_string(hapvm_json_object(x, "collector"), "uuid"), hapvm_json_string(hapvm_json_object(y, "collector"), "uuid"));
}

char *
hapvmd_metrics_render(GHashTable *latest, GPtrArray *sessions, const char *host, guint64 stored, guint64 failed)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GPtrArray) rs = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, latest);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(rs, v);
    g_ptr_array_sort(rs, by_uuid); /* stable output: diffable, testable */

    static const struct {
        const char *name, *help;
        What what;
        const char *member;
    } fams[] = {
        { "hapvm_hap_f", "Unique host-kernel functions in task context in the steady window (HAP-F), latest result", SCORE, "hap_f" },
        { "hapvm_hap_l", "Lines of those functions from DWARF (HAP-L), latest result", SCORE, "hap_l" },
        { "hapvm_hap", "HAP-L times the defect density (expected bugs), latest result", SCORE, "hap" },
        { "hapvm_nabla_f", "Unique functions as IBM's nabla scripts counted them, latest result", SCORE, "nabla_f" },
        { "hapvm_role_hap_f", "HAP-F per role (vcpu, emulator, vhost, ...), latest result", ROLE, "hap_f" },
        { "hapvm_role_hap_l", "HAP-L per role, latest result", ROLE, "hap_l" },
        { "hapvm_subsystem_hap_f", "HAP-F per kernel subsystem, latest result", SUBSYS, "hap_f" },
        { "hapvm_subsystem_hap_l", "HAP-L per kernel subsystem, latest result", SUBSYS, "hap_l" },
        { "hapvm_lost_events", "Trace events lost (all loss counters) in the latest result", LOSS, NULL },
        { "hapvm_result_complete", "1 if the latest result lost no events", COMPLETE, NULL },
        { "hapvm_result_partial", "1 if the latest result's window ended early (domain stopped)", PARTIAL, NULL },
        { "hapvm_result_timestamp_seconds", "Start of the latest result's measurement (Unix time)", STAMP, NULL },
    };
    for (guint f = 0; f < G_N_ELEMENTS(fams); f++) {
        family(out, fams[f].name, "gauge", fams[f].help);
        emit(out, rs, host, fams[f].name, fams[f].what, fams[f].member);
    }

    family(out, "hapvm_measuring", "gauge", "1 for each domain being measured now");
    family(out, "hapvm_session_functions", "gauge", "Unique functions so far in the running measurement");
    family(out, "hapvm_session_elapsed_seconds", "gauge", "Seconds the running measurement has traced");
    family(out, "hapvm_session_lost_events", "gauge", "Events lost so far in the running measurement");
    for (guint i = 0; sessions && i < sessions->len; i++) {
        HapvmdSession *s = sessions->pdata[i];
        double el;
        guint fn;
        guint64 lost;
        hapvmd_session_get_progress(s, &el, &fn, &lost);
        const char *d = hapvmd_session_get_domain(s), *u = hapvmd_session_get_uuid(s);
        sample(out, "hapvm_measuring", d, u, host, NULL, NULL, 1);
        sample(out, "hapvm_session_functions", d, u, host, NULL, NULL, fn);
        sample(out, "hapvm_session_elapsed_seconds", d, u, host, NULL, NULL, el);
        sample(out, "hapvm_session_lost_events", d, u, host, NULL, NULL, (double)lost);
    }
    family(out, "hapvmd_measurements_total", "counter", "Measurements ended since hapvmd started, by outcome");
    g_string_append_printf(out, "hapvmd_measurements_total{outcome=\"stored\"} %" G_GUINT64_FORMAT "\n", stored);
    g_string_append_printf(out, "hapvmd_measurements_total{outcome=\"failed\"} %" G_GUINT64_FORMAT "\n", failed);
    return g_string_free(out, FALSE);
}

gboolean
hapvmd_metrics_write(const char *path, const char *text, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());

    g_mkdir_with_parents(dir, 0755);
    if (!g_file_set_contents_full(tmp, text, -1, G_FILE_SET_CONTENTS_NONE, 0644, error))
        return FALSE;
    if (rename(tmp, path) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot rename %s to %s: %s", tmp, path,
                    g_strerror(errno));
        g_unlink(tmp);
        return FALSE;
    }
    return TRUE;
}

/* hapvm report, compare and aggregate: reading results back.  `report` takes
 * --format from a table, one row per format (text, json, csv, lcov, html). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-cmds.h"
#include "hapvm-baseline.h"
#include "hapvm-error.h"
#include "hapvm-report.h"
#include "hapvm-result.h"

static gboolean
parse_options(GOptionContext *ctx, int *argc, char ***argv, GError **error)
{
    if (g_option_context_parse(ctx, argc, argv, error))
        return TRUE;
    (*error)->domain = HAPVM_ERROR;
    (*error)->code = HAPVM_ERROR_USAGE;
    return FALSE;
}

/* Write through out_path (NULL: stdout); a file is written beside and renamed,
 * so a failed report never leaves half a file. */
typedef struct {
    FILE *f;
    char *path, *tmp;
} Output;

static gboolean
output_open(Output *o, const char *path, GError **error)
{
    memset(o, 0, sizeof *o);
    if (!path || g_str_equal(path, "-")) {
        o->f = stdout;
        return TRUE;
    }
    o->path = g_strdup(path);
    o->tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write %s: %s", o->tmp, g_strerror(errno));
        g_clear_pointer(&o->path, g_free);
        g_clear_pointer(&o->tmp, g_free);
        return FALSE;
    }
    return TRUE;
}

static gboolean
output_close(Output *o, gboolean ok, GError **error)
{
    if (!o->path) {
        fflush(stdout);
        return ok;
    }
    if (fclose(o->f) != 0 && ok) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write %s: %s", o->tmp, g_strerror(errno));
        ok = FALSE;
    }
    if (ok && rename(o->tmp, o->path) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot rename %s to %s: %s", o->tmp, o->path,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        unlink(o->tmp);
    g_free(o->path);
    g_free(o->tmp);
    return ok;
}

#define RESULT(inputs, i) (((HapvmReportInput *)g_ptr_array_index((inputs), (i)))->result)

static gboolean
report_text(GPtrArray *inputs, const HapvmReportArgs *a, FILE *out, GError **error)
{
    if (inputs->len == 1) {
        JsonObject *r = RESULT(inputs, 0);
        if (json_object_has_member(r, "aggregate"))
            hapvm_aggregate_print_text(r, out);
        hapvm_result_print_summary(r, out);
        return TRUE;
    }
    g_autofree JsonObject **objs = g_new(JsonObject *, inputs->len);
    for (guint i = 0; i < inputs->len; i++)
        objs[i] = RESULT(inputs, i);
    hapvm_result_print_table(objs, inputs->len, out);
    return TRUE;
}

static gboolean
report_json(GPtrArray *inputs, const HapvmReportArgs *a, FILE *out, GError **error)
{
    hapvm_report_print_json(((HapvmReportInput *)inputs->pdata[0])->node, out);
    return TRUE;
}

static gboolean
report_csv(GPtrArray *inputs, const HapvmReportArgs *a, FILE *out, GError **error)
{
    return hapvm_report_print_csv(RESULT(inputs, 0), a->csv_table, out, error);
}

static gboolean
report_lcov(GPtrArray *inputs, const HapvmReportArgs *a, FILE *out, GError **error)
{
    return hapvm_report_lcov(RESULT(inputs, 0), a, out, error);
}

static const struct {
    const char *name;
    HapvmReportFunc func;
    gboolean several;  /* takes several results */
} report_formats[] = {
    { "text", report_text, TRUE },
    { "json", report_json, FALSE },
    { "csv", report_csv, FALSE },
    { "lcov", report_lcov, FALSE },
    { "html", hapvm_report_html, TRUE },
};

int
hapvm_cmd_report(int argc, char **argv, GError **error)
{
    g_autofree char *format = NULL, *output = NULL, *table = NULL, *set = NULL, *debuginfo = NULL;
    g_autofree char *baseline = NULL;
    gboolean no_lines = FALSE, any_baseline = FALSE;
    const GOptionEntry entries[] = {
        { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
          "subtract an idle baseline (hapvm baseline): raw and baseline-subtracted scores", "FILE" },
        { "any-baseline", 0, 0, G_OPTION_ARG_NONE, &any_baseline, "accept any result as the baseline", NULL },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "text (default), json, csv, lcov or html", "F" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "write to FILE (default: standard output)", "FILE" },
        { "csv-table", 0, 0, G_OPTION_ARG_STRING, &table,
          "csv: functions (default), scores, roles, contexts, subsystems or syscalls", "T" },
        { "set", 0, 0, G_OPTION_ARG_STRING, &set, "lcov: functions of hap-f (default), all or interrupt", "S" },
        { "debuginfo", 0, 0, G_OPTION_ARG_FILENAME, &debuginfo,
          "lcov: the kernel's debuginfo for line numbers (as hapvm index; default Debian's)", "PATH" },
        { "no-lines", 0, 0, G_OPTION_ARG_NONE, &no_lines, "lcov: functions only, no line numbers", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RESULT.json [MORE.json...]");
    HapvmReportArgs a = { 0 };
    guint f;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Prints a result again (several: side by side), or renders it as JSON,\n"
                                      "CSV, an lcov tracefile or HTML.");
    if (!parse_options(ctx, &argc, &argv, error))
        return -1;
    a.format = format ? format : "text";
    for (f = 0; f < G_N_ELEMENTS(report_formats); f++)
        if (g_str_equal(report_formats[f].name, a.format))
            break;
    if (f == G_N_ELEMENTS(report_formats)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unknown format '%s' (text, json, csv, lcov, html)",
                    a.format);
        return -1;
    }
    if (argc < 2) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "usage: hapvm report [--format F] RESULT.json [MORE.json...] (several: side by side)");
        return -1;
    }
    if (argc > 2 && !report_formats[f].several) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "--format %s takes one result; for several use hapvm compare --format json|csv", a.format);
        return -1;
    }
    if (set && !hapvm_function_set_parse(set, &a.set)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--set takes hap-f, all or interrupt, not '%s'", set);
        return -1;
    }
    a.output = output;
    a.csv_table = table;
    a.debuginfo = debuginfo;
    a.no_lines = no_lines;
    g_autoptr(GPtrArray) inputs = hapvm_report_inputs_load(argv + 1, argc - 1, error);
    if (!inputs)
        return -1;
    if (baseline) {
        /* Each result gets its "baseline" member, which every format shows. */
        g_autoptr(JsonNode) base = hapvm_result_load(baseline, error);
        if (!base)
            return -1;
        for (guint i = 0; i < inputs->len; i++) {
            HapvmReportInput *in = inputs->pdata[i];
            JsonNode *m = hapvm_baseline_subtract(in->result, json_node_get_object(base), baseline, any_baseline,
                                                  error);
            if (!m)
                return -1;
            json_object_set_member(in->result, "baseline", m);
        }
    }
    Output o;
    if (!output_open(&o, output, error))
        return -1;
    gboolean ok = report_formats[f].func(inputs, &a, o.f, error);
    return output_close(&o, ok, error) ? 0 : -1;
}

static int
write_aggregate(GPtrArray *inputs, gboolean force, const char *json, GError **error)
{
    g_autoptr(JsonNode) agg = hapvm_aggregate_build(inputs, force, error);

    if (!agg)
        return -1;
    if (json && !hapvm_result_write(agg, json, error))
        return -1;
    hapvm_aggregate_print_text(json_node_get_object(agg), stdout);
    return 0;
}

int
hapvm_cmd_aggregate(int argc, char **argv, GError **error)
{
    g_autofree char *json = NULL;
    gboolean force = FALSE;
    const GOptionEntry entries[] = {
        { "json", 'o', 0, G_OPTION_ARG_FILENAME, &json, "write the aggregate (a result with an \"aggregate\" "
          "member) to FILE", "FILE" },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, "aggregate runs of different kernel builds or methods", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RUN.json RUN.json...");

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Mean ± sd of the scores of repeated runs, and their union function set.");
    if (!parse_options(ctx, &argc, &argv, error))
        return -1;
    if (argc < 2) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "usage: hapvm aggregate RUN.json... [--json OUT]");
        return -1;
    }
    g_autoptr(GPtrArray) inputs = hapvm_report_inputs_load(argv + 1, argc - 1, error);
    if (!inputs)
        return -1;
    return write_aggregate(inputs, force, json, error);
}

int
hapvm_cmd_compare(int argc, char **argv, GError **error)
{
    g_autofree char *format = NULL, *set = NULL, *output = NULL, *json = NULL;
    gboolean list = FALSE, force = FALSE, aggregate = FALSE;
    const GOptionEntry entries[] = {
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "text (default), json or csv", "F" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "write to FILE (default: standard output)", "FILE" },
        { "set", 0, 0, G_OPTION_ARG_STRING, &set, "function set: hap-f (default), all or interrupt", "S" },
        { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "list the functions only in one input", NULL },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force,
          "compare results of different kernel builds or methods (marked FORCED)", NULL },
        { "aggregate", 0, 0, G_OPTION_ARG_NONE, &aggregate,
          "aggregate the inputs as repeated runs (as hapvm aggregate)", NULL },
        { "json", 0, 0, G_OPTION_ARG_FILENAME, &json, "with --aggregate: write the aggregate to FILE", "FILE" },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("A.json B.json [MORE.json...]");
    HapvmCompareOptions opt = { .set = HAPVM_FSET_HAP_F };

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Results side by side: scores, roles, context classes, subsystems, entry\n"
                                      "points, and how their function sets differ (Jaccard).");
    if (!parse_options(ctx, &argc, &argv, error))
        return -1;
    if (set && !hapvm_function_set_parse(set, &opt.set)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--set takes hap-f, all or interrupt, not '%s'", set);
        return -1;
    }
    format = format ? format : g_strdup("text");
    if (!g_str_equal(format, "text") && !g_str_equal(format, "json") && !g_str_equal(format, "csv")) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "compare --format takes text, json or csv, not '%s'",
                    format);
        return -1;
    }
    if (argc < (aggregate ? 2 : 3)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    aggregate ? "usage: hapvm compare --aggregate RUN.json... [--json OUT]"
                              : "usage: hapvm compare A.json B.json [MORE.json...] (two results at least)");
        return -1;
    }
    g_autoptr(GPtrArray) inputs = hapvm_report_inputs_load(argv + 1, argc - 1, error);
    if (!inputs)
        return -1;
    if (aggregate)
        return write_aggregate(inputs, force, json, error);
    opt.list = list;
    opt.force = force;
    g_autoptr(JsonNode) cmp = hapvm_compare_build(inputs, &opt, error);
    if (!cmp)
        return -1;
    Output o;
    if (!output_open(&o, output, error))
        return -1;
    if (g_str_equal(format, "json"))
        hapvm_report_print_json(cmp, o.f);
    else if (g_str_equal(format, "csv"))
        hapvm_compare_print_csv(json_node_get_object(cmp), o.f);
    else
        hapvm_compare_print_text(json_node_get_object(cmp), o.f);
    return output_close(&o, TRUE, error) ? 0 : -1;
}

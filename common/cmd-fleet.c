/* hapvm fleet: many stored results ranked and grouped (docs/hapvm-fleet.md). */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-fleet.h"

#define usage_error(error, ...) g_set_error((error), HAPVM_ERROR, HAPVM_ERROR_USAGE, __VA_ARGS__)

int
hapvm_cmd_fleet(int argc, char **argv, GError **error)
{
    g_auto(GStrv) group_by_opt = NULL;
    g_autofree char *format = NULL, *table = NULL, *rank_by = NULL, *reader = NULL, *build_id = NULL;
    gboolean latest = FALSE, include_incomplete = FALSE;
    int top = -1, threads = 0;
    const GOptionEntry entries[] = {
        { "group-by", 'g', 0, G_OPTION_ARG_STRING_ARRAY, &group_by_opt,
          "group by these labels (collector.labels) or members (collector.host, target.kind, kernel.build_id...), "
          "comma-separated",
          "KEY[,KEY...]" },
        { "latest", 0, 0, G_OPTION_ARG_NONE, &latest, "keep only the newest result per uuid", NULL },
        { "include-incomplete", 0, 0, G_OPTION_ARG_NONE, &include_incomplete,
          "rank results with loss, partial ones and those of another kernel build too (flagged)", NULL },
        { "rank-by", 0, 0, G_OPTION_ARG_STRING, &rank_by,
          "auto (HAP when every ranked result has HAP-L, else HAP-F; default), hap or hap-f", "WHAT" },
        { "build-id", 0, 0, G_OPTION_ARG_STRING, &build_id,
          "the reference kernel build-id (default: the most common)", "HEX" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "text (default), csv or json", "FORMAT" },
        { "table", 0, 0, G_OPTION_ARG_STRING, &table, "with --format csv: ranking (default) or groups", "TABLE" },
        { "top", 'n', 0, G_OPTION_ARG_INT, &top, "rows of the ranking (0 = all; default 25 for text, all otherwise)",
          "N" },
        { "reader", 0, 0, G_OPTION_ARG_STRING, &reader,
          "fast (default) or json-glib (the reference reader, for checks and benchmarks)", "READER" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "reader threads (default: CPUs, at most 8)", "N" },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("DIR|RESULT.json... - rank and group many results");
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(HapvmFleet) f = NULL;
    HapvmFleetOptions opt = { 0 };

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Directories are walked recursively for *.json (hapvmd stores\n"
                                      "/var/lib/hapvm/<uuid>/<timestamp>.json). See docs/hapvm-fleet.md.");
    if (!g_option_context_parse(ctx, &argc, &argv, error)) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    if (argc < 2) {
        usage_error(error, "give result files or directories of results (hapvmd's: /var/lib/hapvm)");
        return -1;
    }
    for (guint i = 0; group_by_opt && group_by_opt[i]; i++) {
        g_auto(GStrv) parts = g_strsplit(group_by_opt[i], ",", -1);

        for (guint j = 0; parts[j]; j++) {
            g_strstrip(parts[j]);
            if (!*parts[j])
                continue;
            if (!hapvm_fleet_check_group_key(parts[j], error))
                return -1;
            g_ptr_array_add(keys, g_strdup(parts[j]));
        }
    }
    g_ptr_array_add(keys, NULL);
    if (!format || !strcmp(format, "text"))
        g_clear_pointer(&format, g_free);
    else if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return usage_error(error, "--format '%s': give text, csv or json", format), -1;
    if (table && (!format || strcmp(format, "csv") != 0))
        return usage_error(error, "--table %s applies to --format csv only", table), -1;
    if (table && strcmp(table, "ranking") != 0 && strcmp(table, "groups") != 0)
        return usage_error(error, "--table '%s': give ranking or groups", table), -1;
    if (!rank_by || !strcmp(rank_by, "auto"))
        opt.rank_by = HAPVM_FLEET_RANK_AUTO;
    else if (!strcmp(rank_by, "hap"))
        opt.rank_by = HAPVM_FLEET_RANK_HAP;
    else if (!strcmp(rank_by, "hap-f") || !strcmp(rank_by, "hap_f"))
        opt.rank_by = HAPVM_FLEET_RANK_HAP_F;
    else
        return usage_error(error, "--rank-by '%s': give auto, hap or hap-f", rank_by), -1;
    if (!reader || !strcmp(reader, "fast"))
        opt.reader = HAPVM_FLEET_READER_FAST;
    else if (!strcmp(reader, "json-glib"))
        opt.reader = HAPVM_FLEET_READER_REFERENCE;
    else
        return usage_error(error, "--reader '%s': give fast or json-glib", reader), -1;
    if (top < -1 || threads < 0 || threads > 64)
        return usage_error(error, "%s", top < -1 ? "--top must be 0 or more" : "--threads must be 0..64"), -1;
    if (top == -1)
        top = format ? 0 : 25;
    opt.group_by = (char **)keys->pdata;
    opt.latest = latest;
    opt.include_incomplete = include_incomplete;
    opt.build_id = build_id;
    opt.threads = (guint)threads;

    f = hapvm_fleet_new(&opt);
    for (int i = 1; i < argc; i++)
        if (!hapvm_fleet_add_path(f, argv[i], error))
            return -1;
    if (hapvm_fleet_get_n_files(f) == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED,
                    "no *.json files found in %s%s (hapvmd stores results as /var/lib/hapvm/<uuid>/<timestamp>.json)",
                    argv[1], argc > 2 ? " ..." : "");
        return -1;
    }
    hapvm_fleet_run(f);
    hapvm_fleet_print_warnings(f, stderr);
    if (hapvm_fleet_get_results(f)->len == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "none of the %u files is a readable hapvm result (reasons above)", hapvm_fleet_get_n_files(f));
        return -1;
    }
    if (!format) {
        hapvm_fleet_print_text(f, stdout, (guint)top);
    } else if (!strcmp(format, "csv")) {
        if (table && !strcmp(table, "groups"))
            hapvm_fleet_print_csv_groups(f, stdout);
        else
            hapvm_fleet_print_csv_ranking(f, stdout, (guint)top);
    } else {
        g_autoptr(JsonNode) root = hapvm_fleet_to_json(f, (guint)top);
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autofree char *s = NULL;

        json_generator_set_root(gen, root);
        json_generator_set_pretty(gen, TRUE);
        s = json_generator_to_data(gen, NULL);
        fputs(s, stdout);
        fputc('\n', stdout);
    }
    if (fflush(stdout) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write the output: %s", g_strerror(errno));
        return -1;
    }
    return 0;
}

/* Reports of results: comparison of several results (hapvm compare),
 * aggregation of repeated runs (hapvm aggregate), and the machine formats of
 * `hapvm report --format` (json, csv, lcov).  Everything reads result
 * objects (docs/result-schema.md); an aggregate is a result with an
 * "aggregate" member, so it can stand wherever a result can. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#define HAPVM_COMPARE_SCHEMA "hapvm-compare"
#define HAPVM_COMPARE_VERSION 1

/* Which functions[] of a result make its function set. */
typedef enum {
    HAPVM_FSET_HAP_F,     /* hap_f true: the HAP-F set (default) */
    HAPVM_FSET_ALL,       /* every function recorded (startup and interrupt included) */
    HAPVM_FSET_INTERRUPT, /* never in task context (the interrupt class) */
} HapvmFunctionSet;

typedef struct {
    char *label;      /* "A", "B", ... */
    char *file;       /* as named on the command line */
    JsonNode *node;   /* owns the result */
    JsonObject *result;
} HapvmReportInput;

void hapvm_report_input_free(HapvmReportInput *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmReportInput, hapvm_report_input_free)

/* Load results (or aggregates) and label them A, B, ... in order.
 * A GPtrArray of HapvmReportInput, or NULL with error (HAPVM_ERROR_PARSE). */
GPtrArray *hapvm_report_inputs_load(char *const *paths, guint n, GError **error);

/* Parse "all", "hap-f", "interrupt"; FALSE for anything else. */
gboolean hapvm_function_set_parse(const char *s, HapvmFunctionSet *out);
const char *hapvm_function_set_name(HapvmFunctionSet set);

/* The function set of a result: keys "name" (vmlinux) or "name [module]"
 * (as /proc/kallsyms writes them), owned by the table. */
GHashTable *hapvm_report_function_set(JsonObject *result, HapvmFunctionSet set);

/* |A ∩ B| / |A ∪ B|; 1 for two empty sets. */
double hapvm_report_jaccard(GHashTable *a, GHashTable *b);

/* Why the inputs' HAP figures cannot be compared: one line per member that
 * differs (kernel.build_id, method.tracer, method.hap_f_rule), naming the
 * inputs and their values.  Empty array when they agree. */
GPtrArray *hapvm_report_incomparable(GPtrArray *inputs);

/* Refuse (HAPVM_ERROR_BUILD_ID_MISMATCH, naming the member and --force)
 * unless comparable or force; *forced gets the differences that were
 * overridden (empty when none). */
gboolean hapvm_report_check_comparable(GPtrArray *inputs, gboolean force, GPtrArray **forced, GError **error);

typedef struct {
    HapvmFunctionSet set;
    gboolean list;   /* names of the functions that differ */
    gboolean force;  /* compare incomparable results */
} HapvmCompareOptions;

/* The comparison document (schema "hapvm-compare", docs/hapvm-compare.md);
 * NULL with error when refused. */
JsonNode *hapvm_compare_build(GPtrArray *inputs, const HapvmCompareOptions *opt, GError **error);
/* Render a comparison document. */
void hapvm_compare_print_text(JsonObject *cmp, FILE *out);
void hapvm_compare_print_csv(JsonObject *cmp, FILE *out);

/* Aggregate repeated runs of one workload (docs/result-schema.md,
 * "aggregate"): means of every score, the union function set, and mean ± sd
 * per score in the "aggregate" member.  Refuses incomparable runs unless
 * force. */
JsonNode *hapvm_aggregate_build(GPtrArray *inputs, gboolean force, GError **error);
/* One line per score: "HAP-F 812.4 ± 10.2 (n 10, min 790, max 830)". */
void hapvm_aggregate_print_text(JsonObject *agg, FILE *out);

/* Canonical pretty JSON of a node, with a final newline. */
void hapvm_report_print_json(JsonNode *node, FILE *out);

/* CSV tables of one result (docs/hapvm-report.md lists the columns). */
#define HAPVM_CSV_TABLES "functions, scores, roles, contexts, subsystems, syscalls"
gboolean hapvm_report_print_csv(JsonObject *result, const char *table, FILE *out, GError **error);

/* What `hapvm report --format F` passes to a format's renderer. */
typedef struct {
    const char *format;
    const char *output;      /* -o FILE; NULL = stdout */
    const char *csv_table;   /* --csv-table (csv) */
    HapvmFunctionSet set;    /* --set (lcov) */
    const char *debuginfo;   /* --debuginfo (lcov line numbers) */
    gboolean no_lines;       /* --no-lines (lcov: functions only) */
} HapvmReportArgs;

/* A renderer: inputs are HapvmReportInput; out is stdout or the -o file. */
typedef gboolean (*HapvmReportFunc)(GPtrArray *inputs, const HapvmReportArgs *args, FILE *out, GError **error);

/* The html format (hapvm-report-html.c). */
gboolean hapvm_report_html(GPtrArray *inputs, const HapvmReportArgs *args, FILE *out, GError **error);

/* lcov tracefile of one result (hapvm-lcov.c, docs/hapvm-report.md): one
 * record per source file, FN/FNDA per function of args->set.  Line numbers
 * (DA) come from the kernel's DWARF (args->debuginfo, as `hapvm index`
 * finds it); args->no_lines gives a functions-only file. */
gboolean hapvm_report_lcov(JsonObject *result, const HapvmReportArgs *args, FILE *out, GError **error);

/* Line numbers of kernel functions from the kernel's DWARF (the debuginfo
 * layouts `hapvm index` takes; NULL = /usr/lib/debug), counted by the rule of
 * docs/methodology.md.  build_id: the vmlinux must have it (NULL = any).
 * Errors: HAPVM_ERROR_NO_DEBUGINFO, HAPVM_ERROR_BUILD_ID_MISMATCH. */
typedef struct HapvmSrcLines HapvmSrcLines;
HapvmSrcLines *hapvm_src_lines_open(const char *debuginfo, const char *release, const char *build_id,
                                    GError **error);
/* module NULL = vmlinux.  *file (owned by sl) and lines (guint32, sorted,
 * distinct); FALSE when the function has no symbol or no line rows. */
gboolean hapvm_src_lines_lookup(HapvmSrcLines *sl, const char *module, const char *name, const char **file,
                                GArray *lines);
void hapvm_src_lines_free(HapvmSrcLines *sl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmSrcLines, hapvm_src_lines_free)

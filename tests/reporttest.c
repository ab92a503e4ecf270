/* Comparison, aggregation and lcov line numbers (common/hapvm-report.h).
 * Sets and scores are built here by hand, so every expected number is
 * worked out in the test, not read back from the code under test. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-report.h"
#include "hapvm-result.h"

/* A minimal result: kernel, method, scores, roles, and functions given as
 * "name", "name [module]", or with a leading '!' for a function that is not
 * in HAP-F (seen only in interrupt context). */
static JsonNode *
make_result(const char *build_id, const char *tracer, double hap_f, double hap_l, const char *const *fns)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, HAPVM_RESULT_SCHEMA);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, 1);
    json_builder_set_member_name(b, "target");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, "process");
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, "t");
    json_builder_end_object(b);
    json_builder_set_member_name(b, "kernel");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "release");
    json_builder_add_string_value(b, "6.1.0-test");
    json_builder_set_member_name(b, "build_id");
    json_builder_add_string_value(b, build_id);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "method");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "tracer");
    json_builder_add_string_value(b, tracer);
    json_builder_set_member_name(b, "hap_f_rule");
    json_builder_add_string_value(b, "unique functions hit in task context in the steady window");
    json_builder_end_object(b);
    json_builder_set_member_name(b, "loss");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "complete");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "hap_f");
    json_builder_add_double_value(b, hap_f);
    json_builder_set_member_name(b, "hap_l");
    if (isnan(hap_l))
        json_builder_add_null_value(b);
    else
        json_builder_add_double_value(b, hap_l);
    json_builder_set_member_name(b, "lines_available");
    json_builder_add_boolean_value(b, !isnan(hap_l));
    json_builder_end_object(b);
    json_builder_set_member_name(b, "roles");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "process");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "hap_f");
    json_builder_add_double_value(b, hap_f / 2);
    json_builder_end_object(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "functions");
    json_builder_begin_array(b);
    for (guint i = 0; fns && fns[i]; i++) {
        const char *s = fns[i];
        gboolean irq = s[0] == '!';
        g_auto(GStrv) parts = g_strsplit(s + irq, " [", 2);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, parts[0]);
        json_builder_set_member_name(b, "module");
        if (parts[1]) {
            parts[1][strlen(parts[1]) - 1] = '\0';
            json_builder_add_string_value(b, parts[1]);
        } else {
            json_builder_add_null_value(b);
        }
        json_builder_set_member_name(b, "contexts");
        json_builder_begin_array(b);
        json_builder_add_string_value(b, irq ? "hardirq" : "task");
        json_builder_end_array(b);
        json_builder_set_member_name(b, "count");
        json_builder_add_int_value(b, 1);
        json_builder_set_member_name(b, "hap_f");
        json_builder_add_boolean_value(b, !irq);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static HapvmReportInput *
input_of(JsonNode *node, const char *label)
{
    HapvmReportInput *in = g_new0(HapvmReportInput, 1);

    in->label = g_strdup(label);
    in->file = g_strdup_printf("%s.json", label);
    in->node = node;
    in->result = json_node_get_object(node);
    return in;
}

static GPtrArray *
inputs_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)hapvm_report_input_free);
}

#define BID "eb4fbcd037e7253717950bf2b93bd5566f47c56f"

static void
test_jaccard_two(void)
{
    /* A = {a, b, c, d}, B = {c, d, e}: shared 2, union 5, J = 0.4.  The
     * interrupt-only z is not in HAP-F; "c [kvm]" differs from "c". */
    static const char *const a[] = { "a", "b", "c", "d", "!z", "c [kvm]", NULL };
    static const char *const b[] = { "c", "d", "e", "!z", NULL };
    g_autoptr(GPtrArray) in = inputs_new();
    HapvmCompareOptions opt = { .set = HAPVM_FSET_HAP_F };
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(in, input_of(make_result(BID, "function", 5, NAN, a), "A"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 3, NAN, b), "B"));
    g_autoptr(GHashTable) sa = hapvm_report_function_set(((HapvmReportInput *)in->pdata[0])->result, opt.set);
    g_autoptr(GHashTable) sb = hapvm_report_function_set(((HapvmReportInput *)in->pdata[1])->result, opt.set);
    g_assert_cmpuint(g_hash_table_size(sa), ==, 5);
    g_assert_true(g_hash_table_contains(sa, "c [kvm]"));
    /* {a,b,c,d,c[kvm]} vs {c,d,e}: shared 2, union 6. */
    g_assert_cmpfloat_with_epsilon(hapvm_report_jaccard(sa, sb), 2.0 / 6.0, 1e-12);

    g_autoptr(JsonNode) cmp = hapvm_compare_build(in, &opt, &error);
    g_assert_no_error(error);
    JsonObject *fn = json_object_get_object_member(json_node_get_object(cmp), "functions");
    g_assert_cmpint(json_object_get_int_member(fn, "shared"), ==, 2);
    g_assert_cmpint(json_object_get_int_member(fn, "union"), ==, 6);
    JsonArray *u = json_object_get_array_member(fn, "unique");
    g_assert_cmpint(json_array_get_int_element(u, 0), ==, 3);
    g_assert_cmpint(json_array_get_int_element(u, 1), ==, 1);
    JsonArray *j = json_object_get_array_member(fn, "jaccard");
    g_assert_cmpfloat_with_epsilon(json_array_get_double_element(json_array_get_array_element(j, 0), 1),
                                   0.333333, 1e-6);
    g_assert_cmpfloat(json_array_get_double_element(json_array_get_array_element(j, 1), 1), ==, 1.0);
    g_assert_false(json_object_has_member(fn, "only"));

    /* The interrupt class: {z} both sides, J = 1. */
    opt.set = HAPVM_FSET_INTERRUPT;
    opt.list = TRUE;
    g_autoptr(JsonNode) cmp2 = hapvm_compare_build(in, &opt, &error);
    g_assert_no_error(error);
    fn = json_object_get_object_member(json_node_get_object(cmp2), "functions");
    g_assert_cmpint(json_object_get_int_member(fn, "union"), ==, 1);
    g_assert_cmpfloat(json_array_get_double_element(
                          json_array_get_array_element(json_object_get_array_member(fn, "jaccard"), 0), 1), ==, 1.0);

    /* --list of the HAP-F sets: the names only in each, sorted. */
    opt.set = HAPVM_FSET_HAP_F;
    g_autoptr(JsonNode) cmp3 = hapvm_compare_build(in, &opt, &error);
    g_assert_no_error(error);
    fn = json_object_get_object_member(json_node_get_object(cmp3), "functions");
    JsonArray *only = json_object_get_array_member(fn, "only");
    JsonArray *oa = json_array_get_array_element(only, 0);
    g_assert_cmpuint(json_array_get_length(oa), ==, 3);
    g_assert_cmpstr(json_array_get_string_element(oa, 0), ==, "a");
    g_assert_cmpstr(json_array_get_string_element(oa, 1), ==, "b");
    g_assert_cmpstr(json_array_get_string_element(oa, 2), ==, "c [kvm]");
    g_assert_cmpstr(json_array_get_string_element(json_array_get_array_element(only, 1), 0), ==, "e");

    /* The empty set against itself is identical (J = 1), against any other 0. */
    g_autoptr(GHashTable) e1 = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) e2 = g_hash_table_new(g_str_hash, g_str_equal);
    g_assert_cmpfloat(hapvm_report_jaccard(e1, e2), ==, 1.0);
    g_assert_cmpfloat(hapvm_report_jaccard(e1, sb), ==, 0.0);
}

static void
test_jaccard_matrix(void)
{
    /* A = {a,b,c,d}, B = {c,d,e,f}, C = {a,c,x}.
     * J(A,B) = 2/6, J(A,C) = 2/5, J(B,C) = 1/6; unique A {b}, B {e,f}, C {x};
     * in all three {c}; union 7. */
    static const char *const a[] = { "a", "b", "c", "d", NULL };
    static const char *const b[] = { "c", "d", "e", "f", NULL };
    static const char *const c[] = { "a", "c", "x", NULL };
    g_autoptr(GPtrArray) in = inputs_new();
    HapvmCompareOptions opt = { .set = HAPVM_FSET_HAP_F };
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(in, input_of(make_result(BID, "function", 4, NAN, a), "A"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 4, NAN, b), "B"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 3, NAN, c), "C"));
    g_autoptr(JsonNode) cmp = hapvm_compare_build(in, &opt, &error);
    g_assert_no_error(error);
    JsonObject *fn = json_object_get_object_member(json_node_get_object(cmp), "functions");
    JsonArray *j = json_object_get_array_member(fn, "jaccard");
    static const double want[3][3] = { { 1, 2.0 / 6, 2.0 / 5 }, { 2.0 / 6, 1, 1.0 / 6 }, { 2.0 / 5, 1.0 / 6, 1 } };
    for (guint r = 0; r < 3; r++)
        for (guint k = 0; k < 3; k++)
            g_assert_cmpfloat_with_epsilon(json_array_get_double_element(json_array_get_array_element(j, r), k),
                                           want[r][k], 1e-6);
    JsonArray *u = json_object_get_array_member(fn, "unique");
    g_assert_cmpint(json_array_get_int_element(u, 0), ==, 1);
    g_assert_cmpint(json_array_get_int_element(u, 1), ==, 2);
    g_assert_cmpint(json_array_get_int_element(u, 2), ==, 1);
    g_assert_cmpint(json_object_get_int_member(fn, "shared"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(fn, "union"), ==, 7);
}

static void
test_refuse_and_force(void)
{
    static const char *const a[] = { "a", NULL };
    g_autoptr(GPtrArray) in = inputs_new();
    HapvmCompareOptions opt = { .set = HAPVM_FSET_HAP_F };
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(in, input_of(make_result(BID, "function", 1, NAN, a), "A"));
    g_ptr_array_add(in, input_of(make_result("0123456789abcdef", "function", 1, NAN, a), "B"));
    g_assert_null(hapvm_compare_build(in, &opt, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_assert_nonnull(strstr(error->message, "kernel.build_id differs"));
    g_assert_nonnull(strstr(error->message, "B (B.json) \"0123456789abcdef\""));
    g_assert_nonnull(strstr(error->message, "--force"));
    g_clear_error(&error);
    g_assert_null(hapvm_aggregate_build(in, FALSE, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_clear_error(&error);

    opt.force = TRUE;
    g_autoptr(JsonNode) cmp = hapvm_compare_build(in, &opt, &error);
    g_assert_no_error(error);
    JsonArray *forced = json_object_get_array_member(json_node_get_object(cmp), "forced");
    g_assert_cmpuint(json_array_get_length(forced), ==, 1);
    g_assert_nonnull(strstr(json_array_get_string_element(forced, 0), "kernel.build_id"));
    g_autofree char *text = NULL;
    gsize len;
    FILE *f = open_memstream(&text, &len);
    hapvm_compare_print_text(json_node_get_object(cmp), f);
    fclose(f);
    g_assert_true(g_str_has_prefix(text, "*** WARNING: FORCED COMPARISON: kernel.build_id differs"));
    g_assert_nonnull(strstr(text, "*** WARNING: FORCED COMPARISON of results that are not comparable"));

    /* The tracer is a method member that refuses too; the density is not. */
    g_autoptr(GPtrArray) in2 = inputs_new();
    g_ptr_array_add(in2, input_of(make_result(BID, "function", 1, NAN, a), "A"));
    g_ptr_array_add(in2, input_of(make_result(BID, "function_graph", 1, NAN, a), "B"));
    opt.force = FALSE;
    g_assert_null(hapvm_compare_build(in2, &opt, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_assert_nonnull(strstr(error->message, "method.tracer differs"));
}

static void
test_aggregate(void)
{
    /* HAP-F 10, 20, 30: mean 20, sample sd 10; HAP-L 100, 200, 600: mean
     * 300, sd sqrt(((200)^2 + 100^2 + 300^2) / 2) = sqrt(70000).  Role
     * process = HAP-F / 2: mean 10, sd 5. */
    static const char *const r1[] = { "a", "b", NULL };
    static const char *const r2[] = { "a", "c", NULL };
    static const char *const r3[] = { "a", "b", "!z", NULL };
    g_autoptr(GPtrArray) in = inputs_new();
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(in, input_of(make_result(BID, "function", 10, 100, r1), "A"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 20, 200, r2), "B"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 30, 600, r3), "C"));
    g_autoptr(JsonNode) agg = hapvm_aggregate_build(in, FALSE, &error);
    g_assert_no_error(error);
    JsonObject *r = json_node_get_object(agg);
    g_assert_cmpstr(json_object_get_string_member(r, "schema"), ==, HAPVM_RESULT_SCHEMA);
    JsonObject *a = json_object_get_object_member(r, "aggregate");
    g_assert_cmpint(json_object_get_int_member(a, "n"), ==, 3);
    JsonObject *s = json_object_get_object_member(json_object_get_object_member(a, "scores"), "hap_f");
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "mean"), 20, 1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "sd"), 10, 1e-9);
    g_assert_cmpfloat(json_object_get_double_member(s, "min"), ==, 10);
    g_assert_cmpfloat(json_object_get_double_member(s, "max"), ==, 30);
    s = json_object_get_object_member(json_object_get_object_member(a, "scores"), "hap_l");
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "mean"), 300, 1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "sd"), sqrt(70000), 1e-9);
    s = json_object_get_object_member(
        json_object_get_object_member(json_object_get_object_member(a, "roles"), "process"), "hap_f");
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "mean"), 10, 1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(s, "sd"), 5, 1e-9);
    /* The result-shaped members hold the means. */
    g_assert_cmpfloat(json_object_get_double_member(json_object_get_object_member(r, "scores"), "hap_f"), ==, 20);
    /* Union HAP-F set {a, b, c}; a in all 3 runs, b in 2, c in 1; z recorded, not HAP-F. */
    JsonArray *fa = json_object_get_array_member(r, "functions");
    g_assert_cmpuint(json_array_get_length(fa), ==, 4);
    static const struct { const char *name; gint64 runs; gboolean hap_f; } want[] = {
        { "a", 3, TRUE }, { "b", 2, TRUE }, { "c", 1, TRUE }, { "z", 0, FALSE },
    };
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        JsonObject *f = NULL;
        for (guint k = 0; k < json_array_get_length(fa); k++)
            if (g_str_equal(json_object_get_string_member(json_array_get_object_element(fa, k), "name"),
                            want[i].name))
                f = json_array_get_object_element(fa, k);
        g_assert_nonnull(f);
        g_assert_cmpint(json_object_get_int_member(f, "hap_f_runs"), ==, want[i].runs);
        g_assert_cmpint(json_object_get_boolean_member(f, "hap_f"), ==, want[i].hap_f);
    }
    g_autoptr(GHashTable) set = hapvm_report_function_set(r, HAPVM_FSET_HAP_F);
    g_assert_cmpuint(g_hash_table_size(set), ==, 3);

    /* The aggregate compares as one input: its cells carry mean, sd and n. */
    g_autoptr(GPtrArray) in2 = inputs_new();
    g_ptr_array_add(in2, input_of(json_node_ref(agg), "A"));
    g_ptr_array_add(in2, input_of(make_result(BID, "function", 5, 50, r1), "B"));
    HapvmCompareOptions opt = { .set = HAPVM_FSET_HAP_F };
    g_autoptr(JsonNode) cmp = hapvm_compare_build(in2, &opt, &error);
    g_assert_no_error(error);
    JsonArray *hf = json_object_get_array_member(
        json_object_get_object_member(json_node_get_object(cmp), "scores"), "hap_f");
    JsonObject *c0 = json_array_get_object_element(hf, 0);
    g_assert_cmpfloat(json_object_get_double_member(c0, "mean"), ==, 20);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(c0, "sd"), 10, 1e-9);
    g_assert_cmpint(json_object_get_int_member(c0, "n"), ==, 3);
    g_assert_cmpfloat(json_array_get_double_element(hf, 1), ==, 5);

    /* An aggregate is not aggregated again. */
    g_assert_null(hapvm_aggregate_build(in2, FALSE, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
}

static void
test_aggregate_nulls(void)
{
    /* One run without lines: HAP-L has no mean (null), with the reason; one
     * run alone: sd null. */
    static const char *const r1[] = { "a", NULL };
    g_autoptr(GPtrArray) in = inputs_new();
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(in, input_of(make_result(BID, "function", 10, 100, r1), "A"));
    g_ptr_array_add(in, input_of(make_result(BID, "function", 12, NAN, r1), "B"));
    g_autoptr(JsonNode) agg = hapvm_aggregate_build(in, FALSE, &error);
    g_assert_no_error(error);
    JsonObject *r = json_node_get_object(agg);
    JsonObject *sc = json_object_get_object_member(r, "scores");
    g_assert_true(json_object_get_null_member(sc, "hap_l"));
    g_assert_false(json_object_get_boolean_member(sc, "lines_available"));
    g_assert_true(g_str_has_prefix(json_object_get_string_member(sc, "lines_unavailable_reason"),
                                   "not every run has lines"));
    JsonObject *as = json_object_get_object_member(json_object_get_object_member(r, "aggregate"), "scores");
    g_assert_true(json_object_get_null_member(as, "hap_l"));
    g_assert_cmpfloat(json_object_get_double_member(json_object_get_object_member(as, "hap_f"), "mean"), ==, 11);

    g_ptr_array_set_size(in, 1);
    g_autoptr(JsonNode) one = hapvm_aggregate_build(in, FALSE, &error);
    g_assert_no_error(error);
    JsonObject *hf = json_object_get_object_member(
        json_object_get_object_member(json_object_get_object_member(json_node_get_object(one), "aggregate"),
                                      "scores"), "hap_f");
    g_assert_true(json_object_get_null_member(hf, "sd"));
}

/* The report's JSON is the result itself. */
static void
test_json_roundtrip(void)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "results", "kvm-libvirt.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) r = hapvm_result_load(path, &error);
    g_autofree char *text = NULL;
    gsize len;

    g_assert_no_error(error);
    FILE *f = open_memstream(&text, &len);
    hapvm_report_print_json(r, f);
    fclose(f);
    g_autoptr(JsonParser) p = json_parser_new();
    g_assert_true(json_parser_load_from_data(p, text, len, &error));
    g_assert_true(json_node_equal(json_parser_get_root(p), r));
}

/* lcov line numbers agree with the line index's counts: for every HAP-F
 * function of the real result with lines, the number of distinct lines read
 * here from DWARF equals the result's `lines` (counted by hapvm index), and
 * the file is the same. */
static void
test_src_lines(void)
{
    const char *dbg = g_getenv("HAPVM_TEST_DEBUGINFO");
    g_autofree char *lab = g_strdup("/var/cache/hapvm-lab/dbg-6.1.0-56-amd64");
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "results", "cgroup-vmwork.json", NULL);
    g_autoptr(GError) error = NULL;

    if (!dbg && !g_file_test(lab, G_FILE_TEST_IS_DIR)) {
        g_test_skip("the lab kernel's debuginfo is not here (tests/lab/debuginfo fetches it; lineindextest does)");
        return;
    }
    g_autoptr(JsonNode) node = hapvm_result_load(path, &error);
    g_assert_no_error(error);
    JsonObject *r = json_node_get_object(node);
    JsonObject *k = json_object_get_object_member(r, "kernel");
    g_autoptr(HapvmSrcLines) sl = hapvm_src_lines_open(dbg ? dbg : lab, json_object_get_string_member(k, "release"),
                                                       json_object_get_string_member(k, "build_id"), &error);
    g_assert_no_error(error);
    JsonArray *fa = json_object_get_array_member(r, "functions");
    g_autoptr(GArray) lines = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint same = 0, checked = 0;
    for (guint i = 0; i < json_array_get_length(fa); i++) {
        JsonObject *f = json_array_get_object_element(fa, i);
        if (json_object_get_null_member(f, "lines"))
            continue;
        const char *file = NULL;
        const char *module = json_object_get_null_member(f, "module") ? NULL
                                                                      : json_object_get_string_member(f, "module");
        checked++;
        if (hapvm_src_lines_lookup(sl, module, json_object_get_string_member(f, "name"), &file, lines) &&
            lines->len == (guint)json_object_get_int_member(f, "lines") &&
            g_strcmp0(file, json_object_get_string_member(f, "file")) == 0)
            same++;
        else if (g_test_verbose())
            g_test_message("%s: %u lines in %s, index %" G_GINT64_FORMAT " in %s",
                           json_object_get_string_member(f, "name"), lines->len, file,
                           json_object_get_int_member(f, "lines"), json_object_get_string_member(f, "file"));
    }
    g_test_message("%u of %u functions agree with the line index", same, checked);
    g_assert_cmpuint(checked, >, 1500);
    /* Static functions of one name are looked up by name (first by
     * address), so a few may be another function of that name: 2072 of
     * 2073 agree (proc_single_open, two statics). */
    g_assert_cmpuint(same, >=, checked - 3);

    /* Another build-id: refused, naming both. */
    g_autoptr(HapvmSrcLines) other = hapvm_src_lines_open(dbg ? dbg : lab, "6.1.0-56-amd64", "00ff", &error);
    g_assert_null(other);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_clear_error(&error);
    /* No debuginfo: names the package and --no-lines. */
    g_autoptr(HapvmSrcLines) none = hapvm_src_lines_open("/nonexistent", "6.1.0-56-amd64", NULL, &error);
    g_assert_null(none);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO);
    g_assert_nonnull(strstr(error->message, "linux-image-6.1.0-56-amd64-dbg"));
    g_assert_nonnull(strstr(error->message, "--no-lines"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/report/jaccard-two", test_jaccard_two);
    g_test_add_func("/report/jaccard-matrix", test_jaccard_matrix);
    g_test_add_func("/report/refuse-and-force", test_refuse_and_force);
    g_test_add_func("/report/aggregate", test_aggregate);
    g_test_add_func("/report/aggregate-nulls", test_aggregate_nulls);
    g_test_add_func("/report/json-roundtrip", test_json_roundtrip);
    g_test_add_func("/report/src-lines", test_src_lines);
    return g_test_run();
}

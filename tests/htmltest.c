/* The HTML report (common/hapvm-html.c): golden pages from the real lab
 * results in tests/data/results/ (HAPVM_TEST_REGENERATE=1 rewrites them in
 * tests/data/report/), escaping of hostile strings, self-containment,
 * malformed results and write errors.  The rendering in a real browser is
 * tests/htmltest.sh. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hapvm-error.h"
#include "hapvm-html.h"
#include "hapvm-result.h"

static const char *const fixtures[] = { "cgroup-vmwork", "cgroup", "kvm-libvirt", "process-loss" };

static JsonNode *
load(const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.json", name);
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "results", file, NULL);
    g_autoptr(GError) error = NULL;
    JsonNode *r = hapvm_result_load(path, &error);

    g_assert_no_error(error);
    g_assert_nonnull(r);
    return r;
}

/* Render into memory. */
static char *
render(JsonObject *const *r, const char *const *files, guint n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    g_autoptr(GError) error = NULL;

    g_assert_nonnull(f);
    g_assert_true(hapvm_html_write(r, files, n, f, &error));
    g_assert_no_error(error);
    fclose(f);
    g_assert_cmpuint(strlen(buf), ==, len);
    return buf;
}

/* Compare with tests/data/report/<name>.html, or rewrite it on purpose. */
static void
check_golden(const char *name, const char *html)
{
    g_autofree char *file = g_strdup_printf("%s.html", name);
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "report", file, NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *want = NULL;

    if (g_strcmp0(g_getenv("HAPVM_TEST_REGENERATE"), "1") == 0) {
        g_assert_true(g_file_set_contents(path, html, -1, &error));
        g_test_message("regenerated %s", path);
        return;
    }
    if (!g_file_get_contents(path, &want, NULL, &error))
        g_error("%s: %s (HAPVM_TEST_REGENERATE=1 writes it)", path, error->message);
    if (g_strcmp0(want, html) != 0) {
        /* Name the first difference rather than dumping megabytes. */
        gsize i = 0, line = 1;
        while (want[i] && want[i] == html[i])
            line += want[i++] == '\n';
        g_autofree char *got = g_strndup(html + i, 80), *exp = g_strndup(want + i, 80);
        g_error("%s differs at line %" G_GSIZE_FORMAT ": got \"%s\", expected \"%s\" "
                "(HAPVM_TEST_REGENERATE=1 rewrites it if the change is intended)", path, line, got, exp);
    }
}

/* Self-contained: nothing that would fetch from anywhere, one script (ours). */
static void
check_self_contained(const char *html)
{
    static const char *const banned[] = { "http:", "https:", "//cdn", " src=", "<link", "@import", "url(",
                                          "<iframe", "<object", "<embed" };

    for (guint i = 0; i < G_N_ELEMENTS(banned); i++)
        if (strstr(html, banned[i]))
            g_error("the page refers to something outside it: \"%s\" at ...%.60s", banned[i], strstr(html, banned[i]));
    const char *s = strstr(html, "<script");
    g_assert_nonnull(s);
    g_assert_null(strstr(s + 1, "<script"));
    g_assert_true(g_str_has_prefix(html, "<!DOCTYPE html>\n"));
    g_assert_true(g_str_has_suffix(html, "</html>\n"));
}

static void
test_golden_one(gconstpointer data)
{
    const char *name = data;
    g_autoptr(JsonNode) node = load(name);
    JsonObject *r = json_node_get_object(node);
    g_autofree char *file = g_strdup_printf("%s.json", name);
    const char *files[] = { file };
    g_autofree char *html = render(&r, files, 1);

    check_self_contained(html);
    /* Independent of the golden file: the page shows the result's numbers. */
    JsonObject *scores = json_object_get_object_member(r, "scores");
    g_autofree char *hap_f = g_strdup_printf("data-score=\"hap_f\" data-value=\"%" G_GINT64_FORMAT "\"",
                                             json_object_get_int_member(scores, "hap_f"));
    g_assert_nonnull(strstr(html, hap_f));
    g_autofree char *nfun = g_strdup_printf("data-count=\"%u\"",
                                            json_array_get_length(json_object_get_array_member(r, "functions")));
    g_assert_nonnull(strstr(html, nfun));
    gboolean complete = json_object_get_boolean_member(json_object_get_object_member(r, "loss"), "complete");
    g_assert_true((strstr(html, "INCOMPLETE:") != NULL) == !complete);
    g_assert_true((strstr(html, "<h3>Exit reasons</h3>") != NULL) == json_object_has_member(r, "vm"));
    check_golden(name, html);
}

static void
test_golden_compare(void)
{
    JsonNode *nodes[G_N_ELEMENTS(fixtures)];
    JsonObject *r[G_N_ELEMENTS(fixtures)];
    char *files[G_N_ELEMENTS(fixtures) + 1] = { NULL };

    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        nodes[i] = load(fixtures[i]);
        r[i] = json_node_get_object(nodes[i]);
        files[i] = g_strdup_printf("%s.json", fixtures[i]);
    }
    g_autofree char *html = render(r, (const char *const *)files, G_N_ELEMENTS(fixtures));
    check_self_contained(html);
    /* No labels: one group, every result a bar in file order. */
    g_assert_nonnull(strstr(html, "data-workload=\"all results\""));
    g_assert_nonnull(strstr(strstr(strstr(strstr(html, "data-file=\"cgroup-vmwork.json\""), "data-file=\"cgroup.json\""),
                                   "data-file=\"kvm-libvirt.json\""), "data-file=\"process-loss.json\""));
    g_assert_nonnull(strstr(html, "INCOMPLETE: 1 of 4 results"));
    check_golden("compare", html);
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        json_node_unref(nodes[i]);
        g_free(files[i]);
    }
}

/* hapvmd's collector section: group by workload, colour by runtime. */
static void
add_labels(JsonObject *r, const char *workload, const char *runtime)
{
    JsonObject *c = json_object_new(), *l = json_object_new();

    json_object_set_string_member(c, "host", "node17");
    json_object_set_boolean_member(c, "partial", FALSE);
    if (workload)
        json_object_set_string_member(l, "workload", workload);
    if (runtime)
        json_object_set_string_member(l, "runtime", runtime);
    json_object_set_object_member(c, "labels", l);
    json_object_set_object_member(r, "collector", c);
}

static void
test_golden_labelled(void)
{
    static const char *const labels[][2] = {
        { "net+disk", "container" }, { "engine", "container" }, { "net+disk", "kvm" }, { NULL, "process" },
    };
    JsonNode *nodes[G_N_ELEMENTS(fixtures)];
    JsonObject *r[G_N_ELEMENTS(fixtures)];

    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        nodes[i] = load(fixtures[i]);
        r[i] = json_node_get_object(nodes[i]);
        add_labels(r[i], labels[i][0], labels[i][1]);
    }
    g_autofree char *html = render(r, NULL, G_N_ELEMENTS(fixtures));
    check_self_contained(html);
    /* Groups in order of first appearance, the unlabelled one last. */
    const char *g1 = strstr(html, "data-workload=\"net+disk\"");
    const char *g2 = strstr(html, "data-workload=\"engine\"");
    const char *g3 = strstr(html, "data-workload=\"(no workload label)\"");
    g_assert_true(g1 && g2 && g3 && g1 < g2 && g2 < g3);
    /* Both net+disk bars are in the first group, before "engine". */
    const char *b0 = strstr(g1, "data-index=\"0\"");
    const char *b2 = strstr(g1, "data-index=\"2\"");
    g_assert_true(b0 && b2 && b0 < g2 && b2 < g2);
    g_assert_nonnull(strstr(html, "data-runtime=\"container\""));
    g_assert_nonnull(strstr(html, "data-file=\"result 1\""));
    check_golden("compare-labelled", html);
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++)
        json_node_unref(nodes[i]);
}

/* Names, labels and keys come from kernels, users and hosts: all escaped. */
static void
test_escaping(void)
{
    static const char evil[] = "<script>alert(\"x&y\")</script>'\x01";
    static const char evil_esc[] = "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;\xEF\xBF\xBD";
    g_autoptr(JsonNode) a = load("kvm-libvirt");
    g_autoptr(JsonNode) b = load("process-loss");
    JsonObject *r[] = { json_node_get_object(a), json_node_get_object(b) };

    for (guint i = 0; i < 2; i++) {
        json_object_set_string_member(json_object_get_object_member(r[i], "target"), "name", evil);
        json_object_set_string_member(json_object_get_object_member(r[i], "kernel"), "release", evil);
        JsonObject *f = json_array_get_object_element(json_object_get_array_member(r[i], "functions"), 0);
        json_object_set_string_member(f, "name", evil);
        json_object_set_string_member(f, "file", evil);
        JsonObject *t = json_object_new();
        json_object_set_int_member(t, "hap_f", 1);
        json_object_set_null_member(t, "hap_l");
        json_object_set_object_member(json_object_get_object_member(r[i], "subsystems"), evil, t);
        json_object_set_object_member(json_object_get_object_member(r[i], "roles"), evil, json_object_ref(t));
        add_labels(r[i], evil, evil);
    }
    json_object_set_string_member(json_object_get_object_member(r[0], "vm"), "note", evil);
    const char *files[] = { evil, evil };
    for (guint n = 1; n <= 2; n++) {
        g_autofree char *html = render(r, files, n);
        check_self_contained(html);
        g_assert_null(strstr(html, "alert(\""));
        g_assert_null(strstr(html, "\x01"));
        g_assert_nonnull(strstr(html, evil_esc));
        /* Chart labels are cut, but escaped too. */
        g_assert_null(strstr(html, "<script>alert"));
    }
}

/* Missing or wrong-typed members: a page all the same, no criticals (fatal
 * in a GTest). */
static void
test_malformed(void)
{
    static const char *const docs[] = {
        "{}",
        "{\"target\": 3, \"scores\": [], \"roles\": {\"x\": 1}, \"curve\": [1, \"a\", [], [null, 2]],"
        " \"functions\": [3, {\"name\": 4, \"roles\": [1, \"vcpu\"]}], \"syscalls\": [\"x\"],"
        " \"vm\": {\"entry_points\": {\"exits\": [7], \"pio\": null, \"missing_events\": [1, \"kvm_msr\"]}},"
        " \"collector\": {\"labels\": {\"workload\": 5}, \"partial\": true}, \"loss\": {\"dropped\": \"x\"}}",
        "{\"curve\": [[-5, -3, -1]], \"timing\": {\"elapsed_s\": -2, \"steady_start_s\": 9},"
        " \"scores\": {\"hap_f\": -7, \"hap\": -1.5}, \"subsystems\": {\"a\": {\"hap_f\": -1}}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autoptr(JsonNode) n = json_from_string(docs[i], NULL);
        JsonObject *r[] = { json_node_get_object(n), json_node_get_object(n) };
        g_autofree char *one = render(r, NULL, 1);
        g_autofree char *two = render(r, NULL, 2);
        check_self_contained(one);
        check_self_contained(two);
    }
}

static void
test_errors(void)
{
    g_autoptr(JsonNode) node = load("process-loss");
    JsonObject *r = json_node_get_object(node);
    g_autoptr(GError) error = NULL;

    g_assert_false(hapvm_html_write(&r, NULL, 0, stdout, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED);
    g_clear_error(&error);

    FILE *full = fopen("/dev/full", "w");
    if (full) {
        g_assert_false(hapvm_html_write(&r, NULL, 1, full, &error));
        g_assert_nonnull(strstr(error->message, "cannot write the HTML report"));
        g_clear_error(&error);
        fclose(full);
    }

    g_autofree char *dir = g_dir_make_tmp("htmltest-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *path = g_build_filename(dir, "r.html", NULL);
    g_assert_true(hapvm_html_write_file(&r, NULL, 1, path, &error));
    g_assert_no_error(error);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_true(g_str_has_suffix(text, "</html>\n"));
    g_autofree char *bad = g_build_filename(dir, "missing", "r.html", NULL);
    g_assert_false(hapvm_html_write_file(&r, NULL, 1, bad, &error));
    g_assert_nonnull(strstr(error->message, "missing"));
    g_clear_error(&error);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_assert_cmpstr(g_dir_read_name(d), ==, "r.html"); /* no temporary left */
    g_assert_null(g_dir_read_name(d));
    unlink(path);
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        g_autofree char *name = g_strdup_printf("/html/golden/%s", fixtures[i]);
        g_test_add_data_func(name, fixtures[i], test_golden_one);
    }
    g_test_add_func("/html/golden/compare", test_golden_compare);
    g_test_add_func("/html/golden/compare-labelled", test_golden_labelled);
    g_test_add_func("/html/escaping", test_escaping);
    g_test_add_func("/html/malformed", test_malformed);
    g_test_add_func("/html/errors", test_errors);
    return g_test_run();
}

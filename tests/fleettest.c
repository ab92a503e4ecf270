/* hapvm fleet: the fast reader against the json-glib reference (fixtures,
 * variants, malformed and truncated files), and a small fleet made by hand
 * from one fixture with labels, scores and function lists set here, whose
 * ranking, group statistics, unions, outliers and flags are worked out by
 * hand below.  Golden outputs (text, CSV, JSON) in tests/data/fleet/;
 * HAPVM_TEST_REGENERATE=1 rewrites them. */
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-fleet.h"

static const char *const fixtures[] = {
    "cgroup-vmwork.json", "cgroup.json", "kvm-libvirt.json", "process-loss.json",
};

static char *
fixture_path(const char *name)
{
    return g_test_build_filename(G_TEST_DIST, "data", "results", name, NULL);
}

static char *
tmpdir(void)
{
    g_autoptr(GError) e = NULL;
    char *d = g_dir_make_tmp("fleettest-XXXXXX", &e);

    g_assert_no_error(e);
    return d;
}

static void
rm_rf(const char *path)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

    g_assert_cmpint(system(cmd), ==, 0);
}

static void
write_file(const char *path, const char *text, gssize len)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_file_set_contents(path, text, len, &e);
    g_assert_no_error(e);
}

/* Without g_file_set_contents()'s fsync: for the thousands of small files
 * of the mutation tests. */
static void
write_quick(const char *path, const char *text, gsize len)
{
    FILE *f = fopen(path, "wb");

    g_assert_nonnull(f);
    g_assert_cmpuint(fwrite(text, 1, len, f), ==, len);
    g_assert_cmpint(fclose(f), ==, 0);
}

static void
write_json(const char *path, JsonNode *root, gboolean pretty)
{
    g_autoptr(JsonGenerator) g = json_generator_new();
    g_autofree char *s = NULL;

    json_generator_set_root(g, root);
    json_generator_set_pretty(g, pretty);
    s = json_generator_to_data(g, NULL);
    write_file(path, s, -1);
}

static JsonNode *
load_fixture(const char *name)
{
    g_autofree char *p = fixture_path(name);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) e = NULL;

    json_parser_load_from_file(parser, p, &e);
    g_assert_no_error(e);
    return json_node_copy(json_parser_get_root(parser));
}

/* json_node_copy() shares objects and arrays: a deep copy. */
static JsonNode *
deep_copy(JsonNode *n)
{
    g_autofree char *s = json_to_string(n, FALSE);
    g_autoptr(GError) e = NULL;
    JsonNode *c = json_from_string(s, &e);

    g_assert_no_error(e);
    return c;
}

/* ------------------------------------------------------------------------ */
/* Readers */

/* Two records of the same file are the same (names compared as strings). */
static void
assert_same_record(const HapvmFleetResult *f, const HapvmFleetNames *nf, const HapvmFleetResult *r,
                   const HapvmFleetNames *nr)
{
    g_assert_cmpstr(f->path, ==, r->path);
    g_assert_cmpstr(f->uuid, ==, r->uuid);
    g_assert_cmpint(f->has_collector, ==, r->has_collector);
    g_assert_cmpstr(f->host, ==, r->host);
    g_assert_cmpstr(f->domain, ==, r->domain);
    g_assert_cmpstr(f->kind, ==, r->kind);
    g_assert_cmpstr(f->target, ==, r->target);
    g_assert_cmpstr(f->release, ==, r->release);
    g_assert_cmpstr(f->build_id, ==, r->build_id);
    g_assert_cmpstr(f->started, ==, r->started);
    g_assert_cmpfloat(f->hap_f, ==, r->hap_f);
    g_assert_cmpint(f->has_hap_l, ==, r->has_hap_l);
    g_assert_cmpfloat(f->hap_l, ==, r->hap_l);
    g_assert_cmpfloat(f->hap, ==, r->hap);
    g_assert_cmpint(f->loss_complete, ==, r->loss_complete);
    g_assert_cmpint(f->partial, ==, r->partial);
    g_assert_cmpuint(f->n_labels, ==, r->n_labels);
    for (guint i = 0; i < f->n_labels; i++) {
        g_assert_cmpstr(f->label_names[i], ==, r->label_names[i]);
        g_assert_cmpstr(f->label_values[i], ==, r->label_values[i]);
    }
    g_assert_cmpuint(f->n_functions, ==, r->n_functions);
    for (guint i = 0; i < f->n_functions; i++)
        g_assert_cmpstr(hapvm_fleet_names_get(nf, f->functions[i]), ==, hapvm_fleet_names_get(nr, r->functions[i]));
}

/* Both readers on one file: both fail, or both give the same record. */
static gboolean
readers_agree(const char *path, gboolean expect_ok)
{
    g_autoptr(HapvmFleetNames) nf = hapvm_fleet_names_new();
    g_autoptr(HapvmFleetNames) nr = hapvm_fleet_names_new();
    g_autoptr(GError) ef = NULL;
    g_autoptr(GError) er = NULL;
    g_autoptr(HapvmFleetResult) f = hapvm_fleet_read_file(path, HAPVM_FLEET_READER_FAST, nf, &ef);
    g_autoptr(HapvmFleetResult) r = hapvm_fleet_read_file(path, HAPVM_FLEET_READER_REFERENCE, nr, &er);

    if (!f || !r) {
        if (f || r)
            g_test_message("%s: fast %s, reference %s", path, f ? "ok" : ef->message, r ? "ok" : er->message);
        g_assert_true(!f && !r);
        g_assert_true(g_error_matches(ef, HAPVM_ERROR, HAPVM_ERROR_PARSE) || ef->domain == G_FILE_ERROR);
        g_assert_false(expect_ok);
        return FALSE;
    }
    assert_same_record(f, nf, r, nr);
    g_assert_true(expect_ok);
    return TRUE;
}

static void
test_readers_fixtures(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        g_autofree char *p = fixture_path(fixtures[i]);
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(GError) e = NULL;
        g_autoptr(HapvmFleetResult) r = NULL;

        readers_agree(p, TRUE);
        /* And against numbers read off the files (tests/data/results/README.md, python). */
        r = hapvm_fleet_read_file(p, HAPVM_FLEET_READER_FAST, n, &e);
        g_assert_no_error(e);
        g_assert_cmpstr(r->build_id, ==, "eb4fbcd037e7253717950bf2b93bd5566f47c56f");
        if (i == 0) {
            g_assert_cmpfloat(r->hap_f, ==, 1814);
            g_assert_cmpfloat(r->hap_l, ==, 38721);
            g_assert_cmpfloat(r->hap, ==, 12.907);
            g_assert_true(r->has_hap_l);
            g_assert_cmpuint(r->n_functions, ==, 1814);
            g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[0]), ==, "finish_task_switch.isra.0");
        } else if (i == 2) {
            g_assert_cmpstr(r->kind, ==, "kvm");
            g_assert_cmpfloat(r->hap_f, ==, 760);
            g_assert_false(r->has_hap_l);
            g_assert_cmpuint(r->n_functions, ==, 760);
        } else if (i == 3) {
            g_assert_false(r->loss_complete);
            g_assert_cmpuint(r->n_functions, ==, 81);
        }
        /* No collector: the uuid is the directory's name. */
        g_assert_false(r->has_collector);
        g_assert_cmpstr(r->uuid, ==, "results");
    }
}

/* Well-formed variants: compact, escaped names, members reordered,
 * a collector with labels, exotic numbers. */
static void
test_readers_variants(void)
{
    g_autofree char *dir = tmpdir();
    g_autoptr(JsonNode) root = load_fixture("cgroup-vmwork.json");
    JsonObject *o = json_node_get_object(root);
    JsonArray *fa = json_object_get_array_member(o, "functions");
    JsonObject *f0 = json_array_get_object_element(fa, 0);
    JsonObject *coll = json_object_new(), *labels = json_object_new();
    g_autofree char *p1 = g_build_filename(dir, "compact.json", NULL);
    g_autofree char *p2 = g_build_filename(dir, "pretty.json", NULL);
    g_autofree char *p3 = g_build_filename(dir, "odd.json", NULL);
    g_autofree char *p4 = g_build_filename(dir, "reordered.json", NULL);
    g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
    g_autoptr(HapvmFleetResult) r = NULL;
    g_autoptr(GError) e = NULL;

    json_object_set_string_member(f0, "name", "we\"ird\\name/\u00e9\u4e2d\U0001F600}{][,:");
    json_object_set_string_member(coll, "host", "node \"7\"");
    json_object_set_string_member(coll, "uuid", "4f6c-1");
    json_object_set_boolean_member(coll, "partial", TRUE);
    json_object_set_string_member(labels, "image", "debian-12");
    json_object_set_string_member(labels, "flavour", "m1.small");
    json_object_set_null_member(labels, "gone");
    json_object_set_object_member(coll, "labels", labels);
    json_object_set_object_member(o, "collector", coll);
    write_json(p1, root, FALSE);
    write_json(p2, root, TRUE);
    g_assert_true(readers_agree(p1, TRUE));
    g_assert_true(readers_agree(p2, TRUE));
    r = hapvm_fleet_read_file(p1, HAPVM_FLEET_READER_FAST, n, &e);
    g_assert_no_error(e);
    g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[0]), ==, "we\"ird\\name/\u00e9\u4e2d\U0001F600}{][,:");
    g_assert_cmpstr(r->host, ==, "node \"7\"");
    g_assert_cmpstr(r->uuid, ==, "4f6c-1");
    g_assert_true(r->partial);
    g_assert_cmpuint(r->n_labels, ==, 2);  /* the null label is absent */
    g_assert_cmpstr(hapvm_fleet_result_get_label(r, "flavour"), ==, "m1.small");

    /* By hand: \u escapes (a surrogate pair), exponents, whitespace of
     * every kind, nested values inside elements, members in any order. */
    write_file(p3,
               "\t{\"schema\":\"hapvm-result\",\"version\":1,\"target\":{\"kind\":\"kvm\",\"name\":\"v\\u006d\"},"
               "\r\n\"kernel\":{\"release\":\"r\",\"build_id\":null},\"loss\":{\"complete\":true},"
               "\"scores\":{\"hap_f\":3e0,\"hap_l\":1.25E2,\"hap\":-0.5},\"functions\":[ ],"
               "\"functions\":[{\"hap_f\":true,\"x\":{\"a\":[1,{\"b\":[]},\"}\"],\"c\":{}},\"name\":\"\\ud83d\\ude00a\"},"
               "{\"name\":\"b\",\"hap_f\":false},{\"roles\":[],\"name\":\"c\\/d\",\"count\":-1.5e-3,\"hap_f\":true},"
               "{\"name\":\"e\",\"hap_f\":true,\"lines\":null}],\"extra\":[[[]],{}]}\n  ",
               -1);
    g_assert_true(readers_agree(p3, TRUE));
    g_clear_pointer(&r, hapvm_fleet_result_free);
    r = hapvm_fleet_read_file(p3, HAPVM_FLEET_READER_FAST, n, &e);
    g_assert_no_error(e);
    g_assert_cmpstr(r->target, ==, "vm");
    g_assert_null(r->build_id);
    g_assert_cmpfloat(r->hap_f, ==, 3);
    g_assert_cmpfloat(r->hap_l, ==, 125);
    g_assert_cmpfloat(r->hap, ==, -0.5);
    g_assert_cmpuint(r->n_functions, ==, 3);
    g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[0]), ==, "\U0001F600a");
    g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[1]), ==, "c/d");
    g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[2]), ==, "e");

    /* Element boundaries at every offset within the 64-byte blocks. */
    for (guint pad = 0; pad < 70; pad++) {
        g_autofree char *sp = g_strnfill(pad, ' ');
        g_autofree char *t = g_strdup_printf(
            "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"cgroup\"},\"loss\":{\"complete\":false},"
            "\"scores\":{\"hap_f\":2,\"hap_l\":null,\"hap\":null},\"functions\":[%s{\"name\":\"a\\\\\",%s\"hap_f\":true},"
            "{\"name\":\"%s\\\"\",\"hap_f\":%strue%s}]}", sp, sp, sp, sp, sp);

        write_file(p4, t, -1);
        g_assert_true(readers_agree(p4, TRUE));
    }
    rm_rf(dir);
}

/* Broken files: both readers refuse each, with a reason; never a crash. */
static void
test_readers_malformed(void)
{
    static const char *const cases[] = {
        "",
        "   \n",
        "{}",
        "[]",
        "null",
        "{\"schema\":\"hapvm-result\"",
        "{\"schema\":\"other\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"version\":2,\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":\"1\"},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1}}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"scores\":{\"hap_f\":1},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":7},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":1}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\"}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"hap_f\":true}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[\"a\"]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":true,}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":true},]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"count\":12x3,\"hap_f\":true}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\" x,\"hap_f\":true}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":true} {\"name\":\"b\",\"hap_f\":true}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":true,\"x\":[}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[{\"name\":\"a\",\"hap_f\":tru}]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[]} x",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"functions\":[]}}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"collector\":{\"labels\":{\"a\":1}},\"functions\":[]}",
        "{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},\"collector\":{\"partial\":\"no\"},\"functions\":[]}",
        "\x01{}",
    };
    static const struct { const char *name, *reason; } strict[] = {
        { "a\nb", "control character in a string" },
        { "a\x01", "control character in a string" },
        { "a\\qb", "bad escape in a string" },
        { "a\\u12", "bad escape in a string" },
        { "a\\ud800", "bad escape in a string" },
    };
    g_autofree char *dir = tmpdir();
    g_autofree char *p = g_build_filename(dir, "bad.json", NULL);
    g_autofree char *small = fixture_path("process-loss.json");
    g_autofree char *text = NULL;
    gsize len;
    GRand *rnd = g_rand_new_with_seed(7);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        write_file(p, cases[i], -1);
        g_test_message("case %u", i);
        readers_agree(p, FALSE);
    }
    /* JSON forbids raw control characters and unknown or short escapes in
     * strings: the fast reader refuses them, json-glib 1.6 accepts some
     * (docs/hapvm-fleet.md). */
    for (guint i = 0; i < G_N_ELEMENTS(strict); i++) {
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(GError) e = NULL;
        g_autofree char *t = g_strdup_printf("{\"schema\":\"hapvm-result\",\"target\":{\"kind\":\"kvm\"},"
                                             "\"loss\":{\"complete\":true},\"scores\":{\"hap_f\":1},"
                                             "\"functions\":[{\"name\":\"%s\",\"hap_f\":true}]}", strict[i].name);

        write_file(p, t, -1);
        g_assert_null(hapvm_fleet_read_file(p, HAPVM_FLEET_READER_FAST, n, &e));
        g_assert_nonnull(strstr(e->message, strict[i].reason));
    }
    /* A directory, a missing file. */
    readers_agree(dir, FALSE);
    {
        g_autofree char *missing = g_build_filename(dir, "missing.json", NULL);
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(GError) e = NULL;

        g_assert_null(hapvm_fleet_read_file(missing, HAPVM_FLEET_READER_FAST, n, &e));
        g_assert_error(e, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    }
    /* Truncations of a real result (every 997 bytes) fails in both. */
    g_assert_true(g_file_get_contents(small, &text, &len, NULL));
    for (gsize cut = 0; cut < len - 2; cut += 997) {
        write_file(p, text, (gssize)cut);
        readers_agree(p, FALSE);
    }
    /* Random byte changes: no crash; when both accept, the same record
     * (the fast reader does not check UTF-8 or every number's grammar, so
     * it may accept what json-glib refuses). */
    for (guint i = 0; i < 60; i++) {
        g_autofree char *t = g_memdup2(text, len);
        g_autoptr(HapvmFleetNames) nf = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetNames) nr = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetResult) rf = NULL;
        g_autoptr(HapvmFleetResult) rr = NULL;

        for (guint k = 0; k < 3; k++)
            t[g_rand_int_range(rnd, 0, (gint32)len)] = "{}[]\",:\\ a0tn\x01"[g_rand_int_range(rnd, 0, 15)];
        write_file(p, t, (gssize)len);
        rf = hapvm_fleet_read_file(p, HAPVM_FLEET_READER_FAST, nf, NULL);
        rr = hapvm_fleet_read_file(p, HAPVM_FLEET_READER_REFERENCE, nr, NULL);
        if (rf && rr)
            readers_agree(p, TRUE);
    }
    g_rand_free(rnd);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* The layout fast path (hapvm's own pretty-printed functions[] elements) */

/* The fast reader on a file's bytes with the layout path on and off: the same
 * outcome both ways (the same record, or the same error message).  *fast and
 * *general: how many elements each path read with it on.  Returns the
 * record (layout path on), or NULL. */
static HapvmFleetResult *
layout_agree_bytes(const char *data, gsize len, const char *path, HapvmFleetNames *n, HapvmFleetNames *n2,
                   guint64 *fast, guint64 *general)
{
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(HapvmFleetResult) r2 = NULL;
    guint64 f0, g0, f1, g1, f2, g2;
    HapvmFleetResult *r1;

    hapvm_fleet_get_layout_counts(&f0, &g0);
    r1 = hapvm_fleet_read_bytes(data, len, path, n, &e1);
    hapvm_fleet_get_layout_counts(&f1, &g1);
    hapvm_fleet_set_layout_fast_path(FALSE);
    r2 = hapvm_fleet_read_bytes(data, len, path, n2, &e2);
    hapvm_fleet_set_layout_fast_path(TRUE);
    hapvm_fleet_get_layout_counts(&f2, &g2);
    g_assert_cmpuint(f2, ==, f1);  /* off means off */
    *fast = f1 - f0;
    *general = g1 - g0;
    if (!r1 || !r2) {
        if (r1 || r2)
            g_test_message("%s: layout path %s, general %s (fast %lu general %lu)", path, r1 ? "ok" : e1->message, r2 ? "ok" : e2->message, (gulong)*fast, (gulong)*general);
        g_assert_true(!r1 && !r2);
        g_assert_cmpstr(e1->message, ==, e2->message);
        return NULL;
    }
    assert_same_record(r1, n, r2, n2);
    return r1;
}

static HapvmFleetResult *
layout_agree(const char *path, HapvmFleetNames *n, guint64 *fast, guint64 *general)
{
    g_autoptr(HapvmFleetNames) n2 = hapvm_fleet_names_new();
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return layout_agree_bytes(data, len, path, n, n2, fast, general);
}

static void
test_layout_fixtures(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        /* len(functions) of each fixture, read with python's json module. */
        static const guint64 elements[] = { 2073, 1042, 853, 161 };
        g_autofree char *p = fixture_path(fixtures[i]);
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetResult) r = NULL;
        guint64 fast, general;

        r = layout_agree(p, n, &fast, &general);
        g_assert_nonnull(r);
        /* hapvm's own files: every element on the layout path. */
        g_assert_cmpuint(fast, ==, elements[i]);
        g_assert_cmpuint(general, ==, 0);
    }
}

/* A small result as hapvm writes it (json-glib's pretty printer, the member
 * order of hapvm_result_build): three elements, the middle one mutated. */
static char *
layout_doc(void)
{
    static const struct {
        const char *name, *module, *file, *subsystem;
        gint64 lines;  /* < 0: null */
        const char *roles[3], *contexts[3];
        gboolean hap_f, startup;
    } fn[] = {
        { "a_first", "kvm", NULL, NULL, -1, { NULL }, { "task", "softirq", NULL }, TRUE, TRUE },
        { "do_syscall_64", NULL, "arch/x86/entry/common.c", "arch/x86", 40, { "process", "vcpu", NULL }, { "task", NULL }, TRUE, FALSE },
        { "c_last", NULL, "mm/memory.c", "mm", 2, { "vcpu", NULL }, { "hardirq", NULL }, FALSE, FALSE },
    };
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(JsonGenerator) g = json_generator_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, "hapvm-result");
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, 1);
    json_builder_set_member_name(b, "target");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, "cgroup");
    json_builder_end_object(b);
    json_builder_set_member_name(b, "loss");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "complete");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "hap_f");
    json_builder_add_int_value(b, 2);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "functions");
    json_builder_begin_array(b);
    for (guint i = 0; i < G_N_ELEMENTS(fn); i++) {
        g_autofree char *addr = g_strdup_printf("0xffffffff8c64e%03x", i * 0x10);

        json_builder_begin_object(b);
#define STR(k, v) (json_builder_set_member_name(b, k), (v) ? json_builder_add_string_value(b, v) : json_builder_add_null_value(b))
        STR("name", fn[i].name);
        STR("module", fn[i].module);
        STR("address", addr);
        STR("file", fn[i].file);
#undef STR
        json_builder_set_member_name(b, "lines");
        if (fn[i].lines < 0)
            json_builder_add_null_value(b);
        else
            json_builder_add_int_value(b, fn[i].lines);
        json_builder_set_member_name(b, "subsystem");
        if (fn[i].subsystem)
            json_builder_add_string_value(b, fn[i].subsystem);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "roles");
        json_builder_begin_array(b);
        for (guint k = 0; fn[i].roles[k]; k++)
            json_builder_add_string_value(b, fn[i].roles[k]);
        json_builder_end_array(b);
        json_builder_set_member_name(b, "contexts");
        json_builder_begin_array(b);
        for (guint k = 0; fn[i].contexts[k]; k++)
            json_builder_add_string_value(b, fn[i].contexts[k]);
        json_builder_end_array(b);
        json_builder_set_member_name(b, "first_seen_s");
        json_builder_add_double_value(b, 0.25 * i);
        json_builder_set_member_name(b, "count");
        json_builder_add_int_value(b, 12);
        json_builder_set_member_name(b, "hap_f");
        json_builder_add_boolean_value(b, fn[i].hap_f);
        json_builder_set_member_name(b, "startup");
        json_builder_add_boolean_value(b, fn[i].startup);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(g, root);
    json_generator_set_pretty(g, TRUE);
    return json_generator_to_data(g, NULL);
}

/* doc with the first `old` from the "do_syscall_64" element's start on
 * replaced by `new` (which must be found there). */
static char *
layout_mutate(const char *doc, const char *old, const char *new)
{
    const char *el = strstr(doc, "\n    {\n      \"name\" : \"do_syscall_64\""), *at;

    g_assert_nonnull(el);
    at = strstr(el, old);
    if (!at)
        g_error("layout test: '%s' not found in the element", old);
    return g_strdup_printf("%.*s%s%s", (int)(at - doc), doc, new, at + strlen(old));
}

static void
test_layout_deviations(void)
{
    /* Each must leave the layout path for the general walk (the element,
     * or its end) and give the same outcome;
     * strict: json-glib agrees too (ok = a record, else both refuse). */
    static const struct {
        const char *old, *new;
        gboolean ok, strict;
    } dev[] = {
        { "\"name\" : ", "\"name\": ", TRUE, TRUE },                          /* whitespace */
        { "\n      \"module\"", "\n       \"module\"", TRUE, TRUE },         /* indentation */
        { "\n      \"address\"", "\r\n      \"address\"", TRUE, TRUE },      /* CRLF */
        { "\n      \"file\"", "\n\t\"file\"", TRUE, TRUE },                  /* a tab */
        { "\n    {\n      \"name\"", "\n  {\n    \"name\"", TRUE, TRUE },    /* another depth */
        { "\"module\" : null,\n      \"address\" : \"0xffffffff8c64e010\"",  /* reordered */
          "\"address\" : \"0xffffffff8c64e010\",\n      \"module\" : null", TRUE, TRUE },
        { ",\n      \"startup\" : false", "", TRUE, TRUE },                   /* a member missing */
        { ",\n      \"module\" : null", "", TRUE, TRUE },
        { "\"name\" : \"do_syscall_64\",\n      ", "", FALSE, TRUE },         /* no name */
        { ",\n      \"hap_f\" : true", "", FALSE, TRUE },                     /* no hap_f */
        { "\"startup\" : false", "\"startup\" : false,\n      \"new\" : 1", TRUE, TRUE },     /* a member added */
        { "\"count\" : 12,", "\"count\" : 12,\n      \"new\" : {\n        \"a\" : [ 1 ]\n      },", TRUE, TRUE },
        { "\"startup\" : false", "\"startup\" : false,\n      \"name\" : \"other\"", TRUE, TRUE }, /* name twice */
        { "\"hap_f\" : true", "\"hap_f\" : false,\n      \"hap_f\" : true", TRUE, TRUE },
        { "do_syscall_64", "do_sys\\u0063all_64", TRUE, TRUE },              /* escapes */
        { "do_syscall_64", "do_\\\"x\\\\", TRUE, TRUE },
        { "arch/x86/entry", "arch\\/x86\\/entry", TRUE, TRUE },
        { "\"process\"", "\"pro\\ncess\"", TRUE, TRUE },
        { "do_syscall_64", "do_\\q", FALSE, FALSE },                          /* bad escapes */
        { "do_syscall_64", "do_\\u12", FALSE, FALSE },
        { "do_syscall_64", "do_sys\x01" "call", FALSE, FALSE },               /* control character */
        { "\"arch/x86\"", "\"arch\t86\"", FALSE, FALSE },
        { "\"hap_f\" : true", "\"hap_f\" : 1", FALSE, TRUE },                 /* hap_f not a boolean */
        { "\"hap_f\" : true", "\"hap_f\" : \"true\"", FALSE, TRUE },
        { "\"hap_f\" : true", "\"hap_f\" : null", FALSE, TRUE },
        { "\"hap_f\" : true", "\"hap_f\" : tru", FALSE, TRUE },
        { "\"hap_f\" : true", "\"hap_f\" : truex", FALSE, TRUE },
        { "\"hap_f\" : true", "\"hap_f\" : [ true ]", FALSE, TRUE },
        { "\"name\" : \"do_syscall_64\"", "\"name\" : 7", FALSE, TRUE },       /* name not a string */
        { "\"name\" : \"do_syscall_64\"", "\"name\" : null", FALSE, TRUE },
        { "\"roles\" : [\n        \"process\",\n        \"vcpu\"\n      ]", "\"roles\" : {\n      }", TRUE, TRUE }, /* other values */
        { "\"process\",", "[ \"process\" ],", TRUE, TRUE },
        { "\"vcpu\"\n", "{ }\n", TRUE, TRUE },
        { "\"count\" : 12", "\"count\" : 12x", FALSE, TRUE },               /* bad scalars */
        { "\"count\" : 12", "\"count\" : x", FALSE, TRUE },
        { "\"lines\" : 40", "\"lines\" : nul", FALSE, TRUE },
        { "\"startup\" : false", "\"startup\" : falsey", FALSE, TRUE },
        { "\"vcpu\"\n", "12x\n", FALSE, TRUE },
        { "\"vcpu\"\n", "nullx\n", FALSE, TRUE },
        { "\"process\",", "\"process\",,", FALSE, TRUE },
        { "\"process\",", "\"process\"", FALSE, TRUE },
        { "\"startup\" : false", "\"startup\" : false,", FALSE, TRUE },       /* commas */
        { "\"count\" : 12,", "\"count\" : 12", FALSE, TRUE },
        { "\"count\" : 12,", "\"count\" : 12 x,", FALSE, TRUE },             /* a stray byte */
        { "\n    }", "\n    }x", FALSE, TRUE },
        { "\n    }", "\n    ]", FALSE, TRUE },
        { "\n    }", "", FALSE, TRUE },
        { "\n    {\n      \"name\" : \"do_syscall_64\"", "{\"name\":\"do_syscall_64\"", TRUE, TRUE }, /* compact */
    };
    /* These stay on the layout path (general == 0): other values it reads. */
    static const struct {
        const char *old, *new;
    } same[] = {
        { "\"count\" : 12", "\"count\" : -1.5e+3" },
        { "\"module\" : null", "\"module\" : \"kvm\"" },
        { "\"lines\" : 40", "\"lines\" : null" },
        { "\"hap_f\" : true", "\"hap_f\" : false" },
        { "do_syscall_64", "d\xc3\xa9j\xc3\xa0_vu" },
        { "do_syscall_64", "}{][,:" },
        { "\"process\",\n        \"vcpu\"\n      ]", "\"process\" ,\"vcpu\"]" },
        { "\"vcpu\"\n", "12\n" },
        { "\"vcpu\"\n", "null\n" },
        { "\"roles\" : [\n        \"process\",\n        \"vcpu\"\n      ]", "\"roles\" : [\n      ]" },
        { "\"startup\" : false", "\"startup\" : 3" },
        { "\n    }", "\n    } " },  /* ' ,' after it: the general walk takes the ',', the next element is on the path */
    };
    g_autofree char *dir = tmpdir();
    g_autofree char *p = g_build_filename(dir, "layout.json", NULL);
    g_autofree char *doc = layout_doc();
    guint64 fast, general;

    /* The document itself: all on the layout path, and the record right. */
    write_quick(p, doc, strlen(doc));
    {
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetResult) r = layout_agree(p, n, &fast, &general);

        g_assert_true(readers_agree(p, TRUE));
        g_assert_nonnull(r);
        g_assert_cmpuint(fast, ==, 3);
        g_assert_cmpuint(general, ==, 0);
        g_assert_cmpuint(r->n_functions, ==, 2);
        g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[0]), ==, "a_first");
        g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[1]), ==, "do_syscall_64");
    }
    for (guint i = 0; i < G_N_ELEMENTS(dev); i++) {
        g_autofree char *t = layout_mutate(doc, dev[i].old, dev[i].new);
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetResult) r = NULL;

        g_test_message("deviation %u: '%s' -> '%s'", i, dev[i].old, dev[i].new);
        write_quick(p, t, strlen(t));
        r = layout_agree(p, n, &fast, &general);
        g_assert_true((r != NULL) == dev[i].ok);
        if (r) {  /* the general walk read it (or its end) */
            g_assert_cmpuint(general, >=, 1);
            g_assert_cmpuint(fast + general, ==, 3);
        } else {  /* the last element is not reached (a stray byte after the
                   * element's '}' is the general walk's to find) */
            g_assert_cmpuint(fast, <=, 2);
        }
        if (dev[i].strict)
            readers_agree(p, dev[i].ok);
    }
    for (guint i = 0; i < G_N_ELEMENTS(same); i++) {
        g_autofree char *t = layout_mutate(doc, same[i].old, same[i].new);
        g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
        g_autoptr(HapvmFleetResult) r = NULL;

        g_test_message("still on the layout path %u: '%s' -> '%s'", i, same[i].old, same[i].new);
        write_quick(p, t, strlen(t));
        r = layout_agree(p, n, &fast, &general);
        g_assert_nonnull(r);
        g_assert_cmpuint(fast, ==, 3);
        g_assert_cmpuint(general, ==, 0);
        readers_agree(p, TRUE);
    }
    rm_rf(dir);
}

/* Every byte of the middle element deleted, or replaced by characters that
 * matter to the scanners, and the file cut at every byte of it: the same
 * outcome with the layout path on and off, and the same record as json-glib
 * whenever both accept. */
static void
test_layout_mutations(void)
{
    static const char repl[] = " \"\\x,}]:\n\x01";
    g_autofree char *dir = tmpdir();
    g_autofree char *p = g_build_filename(dir, "layout.json", NULL);
    g_autofree char *doc = layout_doc();
    const char *el = strstr(doc, "\n    {\n      \"name\" : \"do_syscall_64\"");
    const char *end = strstr(el, "\n    }") + 7;
    gsize len = strlen(doc), a = (gsize)(el - doc), z = (gsize)(end - doc);
    guint64 fast, general, fell_back = 0, cases = 0;
    /* One set of tables for all (fewer allocations: ASan's quarantine). */
    g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
    g_autoptr(HapvmFleetNames) n2 = hapvm_fleet_names_new();
    g_autoptr(HapvmFleetNames) nr = hapvm_fleet_names_new();

    g_assert_true(g_str_has_prefix(el, "\n    {"));
    for (gsize i = a; i < z; i++) {
        for (guint k = 0; k <= sizeof(repl) - 1; k++) {
            g_autofree char *t = g_malloc(len + 1);
            g_autoptr(HapvmFleetResult) r = NULL;
            gsize tl = len;

            memcpy(t, doc, len + 1);
            if (k == sizeof(repl) - 1) {  /* deleted */
                memmove(t + i, t + i + 1, len - i);
                tl--;
            } else if (t[i] == repl[k]) {
                continue;
            } else {
                t[i] = repl[k];
            }
            r = layout_agree_bytes(t, tl, p, n, n2, &fast, &general);
            cases++;
            fell_back += general > 0;
            if (r && (i - a) % 3 == 0) {  /* json-glib on a third of them (time) */
                g_autoptr(HapvmFleetResult) rr = NULL;

                write_quick(p, t, tl);
                rr = hapvm_fleet_read_file(p, HAPVM_FLEET_READER_REFERENCE, nr, NULL);
                if (rr)
                    assert_same_record(r, n, rr, nr);
            }
        }
        g_assert_null(layout_agree_bytes(doc, i, p, n, n2, &fast, &general));
    }
    g_test_message("%" G_GUINT64_FORMAT " mutations, %" G_GUINT64_FORMAT " left the layout path", cases, fell_back);
    /* Many must leave it (not all: a changed byte inside a string or a
     * number may keep the layout; and failures are not counted). */
    g_assert_cmpuint(fell_back, >, cases / 5);
    rm_rf(dir);
}

/* Elements on the general walk and on the layout path alternating, the
 * switches at every offset within stage 1's 64-byte blocks, with escapes
 * (a backslash just before a switch) and a stray byte before one. */
static void
test_layout_switches(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *p = g_build_filename(dir, "layout.json", NULL);
    g_autofree char *doc = layout_doc();
    const char *f = strstr(doc, "\"functions\" : [") + 15;
    const char *e1 = strstr(f, "\n    {\n      \"name\" : \"do_syscall_64\"");
    const char *e2 = strstr(e1 + 1, "\n    {");
    g_autofree char *head = g_strndup(doc, (gsize)(f - doc));
    g_autofree char *l0 = g_strndup(f, (gsize)(e1 - 1 - f));    /* the layout elements, without commas */
    g_autofree char *l1 = g_strndup(e1, (gsize)(e2 - 1 - e1));
    g_autofree char *l2 = g_strndup(e2, strstr(e2, "\n    }") + 6 - e2);

    for (guint pad = 0; pad < 70; pad++) {
        for (guint stray = 0; stray < 2; stray++) {
            g_autofree char *sp = g_strnfill(pad, ' ');
            g_autofree char *t = g_strdup_printf(
                "%s{\"name\":\"g\\\\\",%s\"hap_f\":true}%s,%s,{\"name\":\"h\\\"\",\"hap_f\":true%s},%s,%s\n  ]\n}\n",
                head, sp, stray ? "x" : "", l0, sp, l1, l2);
            g_autoptr(HapvmFleetNames) n = hapvm_fleet_names_new();
            g_autoptr(HapvmFleetResult) r = NULL;
            guint64 fast, general;

            write_quick(p, t, strlen(t));
            r = layout_agree(p, n, &fast, &general);
            g_test_message("pad %u stray %u: %" G_GUINT64_FORMAT " elements on the layout path, %" G_GUINT64_FORMAT " not",
                           pad, stray, fast, general);
            readers_agree(p, !stray);
            if (stray) {  /* found at the array's end; no layout path after it */
                g_assert_null(r);
                g_assert_cmpuint(fast, ==, 0);
                g_assert_cmpuint(general, ==, 5);
            } else {
                g_assert_nonnull(r);
                g_assert_cmpuint(general, ==, 2);
                g_assert_cmpuint(fast, ==, 3);
                g_assert_cmpuint(r->n_functions, ==, 4);
                g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[1]), ==, "a_first");
                g_assert_cmpstr(hapvm_fleet_names_get(n, r->functions[2]), ==, "h\"");
            }
        }
    }
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* A fleet made by hand */

typedef struct {
    const char *path;      /* under the fleet dir */
    const char *kind;
    const char *uuid;      /* NULL: no collector section */
    const char *image, *flavour;
    double hap_f, hap_l, hap; /* hap_l < 0: null */
    const char *functions; /* hap_f functions, space-separated; "-x" = hap_f false */
    gboolean loss, partial;
    const char *build_id;  /* NULL: the fixture's */
    const char *started;
} Spec;

#define BUILD "eb4fbcd037e7253717950bf2b93bd5566f47c56f"

/* Group image=A: HAP-F 100 110 120 130 500 (Q1 110, Q3 130, IQR 20: upper
 * fence 160, so 500 is an outlier); B: a VM (300); C: the newer of two of
 * uuid u-c (210; 200 is superseded with --latest); no image: 50.  Flagged:
 * loss (1000), partial, another build.  One malformed. */
static const Spec specs[] = {
    { "u-a1/20260101T000000Z.json", "cgroup", "u-a1", "A", "small", 100, -1, 0, "f1 f2 f3 -f9", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-a2/20260101T000000Z.json", "cgroup", "u-a2", "A", "small", 110, -1, 0, "f2 f3 f4", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-a3/20260101T000000Z.json", "process", "u-a3", "A", "large", 120, -1, 0, "f5", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-a4/20260101T000000Z.json", "command", "u-a4", "A", "large", 130, -1, 0, "f1", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-a5/20260101T000000Z.json", "cgroup", "u-a5", "A", NULL, 500, -1, 0, "f6 f7", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-b1/20260101T000000Z.json", "kvm", "u-b1", "B", "small", 300, -1, 0, "f1 k1 k2 -f2", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-c/20260101T000000Z.json", "xen", "u-c", "C", "small", 200, -1, 0, "x1", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-c/20260201T000000Z.json", "kvm", "u-c", "C", "small", 210, -1, 0, "x2 x3", FALSE, FALSE, NULL, "2026-02-01T00:00:00Z" },
    { "plain/n1.json", "process", NULL, NULL, NULL, 50, -1, 0, "f1 n1", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-l1/20260101T000000Z.json", "cgroup", "u-l1", "A", "small", 1000, -1, 0, "l1", TRUE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    { "u-p1/20260101T000000Z.json", "kvm", "u-p1", "B", "small", 400, -1, 0, "p1", FALSE, TRUE, NULL, "2026-01-01T00:00:00Z" },
    { "u-o1/20260101T000000Z.json", "kvm", "u-o1", "B", "small", 450, -1, 0, "o1", FALSE, FALSE, "00000000000000000000000000000000000000aa", "2026-01-01T00:00:00Z" },
};

static void
make_fleet(const char *dir, const Spec *sp, guint n, gboolean with_malformed)
{
    g_autoptr(JsonNode) tmpl = load_fixture("cgroup.json");

    for (guint i = 0; i < n; i++) {
        g_autoptr(JsonNode) root = deep_copy(tmpl);
        JsonObject *o = json_node_get_object(root);
        JsonObject *scores = json_object_get_object_member(o, "scores");
        JsonArray *fa = json_array_new();
        JsonNode *f0 = json_array_get_element(json_object_get_array_member(o, "functions"), 0);
        g_auto(GStrv) fn = g_strsplit(sp[i].functions, " ", -1);
        g_autofree char *path = g_build_filename(dir, sp[i].path, NULL);

        json_object_set_string_member(json_object_get_object_member(o, "target"), "kind", sp[i].kind);
        json_object_set_int_member(scores, "hap_f", (gint64)sp[i].hap_f);
        if (sp[i].hap_l < 0) {
            json_object_set_null_member(scores, "hap_l");
            json_object_set_null_member(scores, "hap");
        } else {
            json_object_set_int_member(scores, "hap_l", (gint64)sp[i].hap_l);
            json_object_set_double_member(scores, "hap", sp[i].hap);
        }
        json_object_set_boolean_member(json_object_get_object_member(o, "loss"), "complete", !sp[i].loss);
        if (sp[i].build_id)
            json_object_set_string_member(json_object_get_object_member(o, "kernel"), "build_id", sp[i].build_id);
        json_object_set_string_member(json_object_get_object_member(o, "timing"), "started", sp[i].started);
        /* Functions: copies of the fixture's first element, renamed. */
        for (guint k = 0; fn[k]; k++) {
            JsonNode *c = deep_copy(f0);
            JsonObject *co = json_node_get_object(c);

            json_object_set_string_member(co, "name", fn[k][0] == '-' ? fn[k] + 1 : fn[k]);
            json_object_set_boolean_member(co, "hap_f", fn[k][0] != '-');
            json_array_add_element(fa, c);
        }
        json_object_set_array_member(o, "functions", fa);
        if (sp[i].uuid) {
            JsonObject *coll = json_object_new(), *labels = json_object_new();

            json_object_set_string_member(coll, "host", i % 2 ? "node1" : "node2");
            json_object_set_string_member(coll, "domain", sp[i].uuid + 2);
            json_object_set_string_member(coll, "uuid", sp[i].uuid);
            json_object_set_string_member(coll, "driver", "qemu");
            if (sp[i].image)
                json_object_set_string_member(labels, "image", sp[i].image);
            if (sp[i].flavour)
                json_object_set_string_member(labels, "flavour", sp[i].flavour);
            json_object_set_object_member(coll, "labels", labels);
            json_object_set_string_member(coll, "trigger", "started");
            json_object_set_boolean_member(coll, "partial", sp[i].partial);
            json_object_set_object_member(o, "collector", coll);
        }
        write_json(path, root, TRUE);
    }
    if (with_malformed) {
        g_autofree char *bad = g_build_filename(dir, "u-m1", "20260101T000000Z.json", NULL);
        g_autofree char *hidden = g_build_filename(dir, "u-m1", ".20260101T000001Z.json.tmp", NULL);
        g_autofree char *other = g_build_filename(dir, "u-m1", "notes.txt", NULL);

        write_file(bad, "{\"schema\" : \"hapvm-result\", \"target\" : {", -1);
        write_file(hidden, "garbage", -1);
        write_file(other, "garbage", -1);
    }
}

static HapvmFleet *
run_fleet(const char *dir, const char *group_by, gboolean latest, gboolean incomplete, HapvmFleetReader reader,
          guint threads)
{
    g_auto(GStrv) keys = group_by ? g_strsplit(group_by, ",", -1) : NULL;
    HapvmFleetOptions opt = { .group_by = keys, .latest = latest, .include_incomplete = incomplete,
                              .reader = reader, .threads = threads };
    HapvmFleet *f = hapvm_fleet_new(&opt);
    g_autoptr(GError) e = NULL;

    g_assert_true(hapvm_fleet_add_path(f, dir, &e));
    g_assert_no_error(e);
    hapvm_fleet_run(f);
    return f;
}

static const char *
base_of(const HapvmFleetResult *r)
{
    return strstr(r->path, "/u-") ? strstr(r->path, "/u-") + 1 : strstr(r->path, "/plain/") + 1;
}

static const HapvmFleetGroup *
group(HapvmFleet *f, const char *key)
{
    GPtrArray *g = hapvm_fleet_get_groups(f);

    for (guint i = 0; i < g->len; i++)
        if (!strcmp(((HapvmFleetGroup *)g->pdata[i])->key, key))
            return g->pdata[i];
    g_assert_not_reached();
}

static void
test_fleet_small(void)
{
    g_autofree char *dir = tmpdir();

    make_fleet(dir, specs, G_N_ELEMENTS(specs), TRUE);
    for (int reader = 0; reader < 2; reader++) {
        g_autoptr(HapvmFleet) f = run_fleet(dir, "image", TRUE, FALSE, reader, reader ? 1 : 2);
        GPtrArray *rk = hapvm_fleet_get_ranking(f), *mal = hapvm_fleet_get_malformed(f);
        static const char *const order[] = {
            "u-a5/20260101T000000Z.json", "u-b1/20260101T000000Z.json", "u-c/20260201T000000Z.json",
            "u-a4/20260101T000000Z.json", "u-a3/20260101T000000Z.json", "u-a2/20260101T000000Z.json",
            "u-a1/20260101T000000Z.json", "plain/n1.json",
        };
        const HapvmFleetGroup *a = group(f, "image=A"), *g;
        const HapvmFleetResult *r;

        /* 12 results + 1 malformed; hidden and non-.json files not read. */
        g_assert_cmpuint(hapvm_fleet_get_n_files(f), ==, 13);
        g_assert_cmpuint(hapvm_fleet_get_results(f)->len, ==, 12);
        g_assert_cmpuint(mal->len, ==, 1);
        g_assert_true(g_str_has_suffix(((HapvmFleetMalformed *)mal->pdata[0])->path, "u-m1/20260101T000000Z.json"));
        g_test_message("reason: %s", ((HapvmFleetMalformed *)mal->pdata[0])->reason);
        if (reader == HAPVM_FLEET_READER_FAST)
            g_assert_cmpstr(((HapvmFleetMalformed *)mal->pdata[0])->reason, ==, "1:41: unexpected end of file (truncated?)");
        else
            g_assert_true(g_str_has_prefix(((HapvmFleetMalformed *)mal->pdata[0])->reason, "1:40: Parse error"));
        g_assert_cmpuint(hapvm_fleet_count_superseded(f), ==, 1);
        g_assert_cmpuint(hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_LOSS), ==, 1);
        g_assert_cmpuint(hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_PARTIAL), ==, 1);
        g_assert_cmpuint(hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_OTHER_BUILD), ==, 1);
        g_assert_cmpstr(hapvm_fleet_get_reference_build_id(f), ==, BUILD);
        g_assert_cmpuint(hapvm_fleet_get_excluded(f)->len, ==, 3);
        g_assert_false(hapvm_fleet_ranked_by_hap(f));

        g_assert_cmpuint(rk->len, ==, G_N_ELEMENTS(order));
        for (guint i = 0; i < rk->len; i++) {
            r = rk->pdata[i];
            g_assert_cmpstr(base_of(r), ==, order[i]);
            g_assert_cmpuint(r->rank, ==, i + 1);
        }
        /* Groups: A, B, C, (none), in key order. */
        g_assert_cmpuint(hapvm_fleet_get_groups(f)->len, ==, 4);
        g_assert_cmpstr(((HapvmFleetGroup *)hapvm_fleet_get_groups(f)->pdata[0])->key, ==, "image=(none)");
        g_assert_cmpuint(a->n, ==, 5);
        g_assert_cmpuint(a->n_lines, ==, 0);
        g_assert_cmpfloat(a->hap_f.min, ==, 100);
        g_assert_cmpfloat(a->hap_f.q1, ==, 110);
        g_assert_cmpfloat(a->hap_f.median, ==, 120);
        g_assert_cmpfloat(a->hap_f.q3, ==, 130);
        g_assert_cmpfloat(a->hap_f.max, ==, 500);
        g_assert_cmpfloat(a->hap_f.mean, ==, 192);
        /* sd = sqrt((92² + 82² + 72² + 62² + 308²) / 4) = sqrt(29770) */
        g_assert_cmpfloat_with_epsilon(a->hap_f.sd, 172.5398, 1e-4);
        g_assert_cmpuint(a->hap_l.n, ==, 0);
        /* f1 f2 f3 | f2 f3 f4 | f5 | f1 | f6 f7 (f9 is not in HAP-F) */
        g_assert_cmpuint(a->union_f, ==, 7);
        g_assert_cmpuint(a->n_outliers, ==, 1);
        r = rk->pdata[0];
        g_assert_cmpint(r->outlier, ==, 1);
        for (guint i = 1; i < rk->len; i++)
            g_assert_cmpint(((HapvmFleetResult *)rk->pdata[i])->outlier, ==, 0);
        g = group(f, "image=C");
        g_assert_cmpuint(g->n, ==, 1);
        g_assert_cmpuint(g->union_f, ==, 2);  /* the superseded result's x1 is not counted */
        g_assert_cmpfloat(g->hap_f.sd, ==, 0);
        g = group(f, "image=(none)");
        g_assert_cmpfloat(g->hap_f.median, ==, 50);
        /* VMs: b1 (kvm) and the newer u-c (kvm); the rest are containers. */
        g = hapvm_fleet_get_class(f, HAPVM_FLEET_CLASS_VM);
        g_assert_cmpuint(g->n, ==, 2);
        g_assert_cmpfloat(g->hap_f.median, ==, 255);
        g_assert_cmpuint(g->union_f, ==, 5);  /* f1 k1 k2 x2 x3 */
        g = hapvm_fleet_get_class(f, HAPVM_FLEET_CLASS_CONTAINER);
        g_assert_cmpuint(g->n, ==, 6);
        g_assert_cmpfloat(g->hap_f.median, ==, 115);  /* 50 100 110 120 130 500 */
        g_assert_cmpuint(g->union_f, ==, 8);  /* f1..f7 n1 */
        g_assert_cmpuint(hapvm_fleet_get_class(f, HAPVM_FLEET_CLASS_OTHER)->n, ==, 0);
    }
    {
        /* Without --latest both u-c results count; --include-incomplete
         * ranks the flagged ones (the lossy 1000 first); two keys. */
        g_autoptr(HapvmFleet) f = run_fleet(dir, "image,flavour", FALSE, TRUE, HAPVM_FLEET_READER_FAST, 0);
        GPtrArray *rk = hapvm_fleet_get_ranking(f);
        const HapvmFleetResult *r = rk->pdata[0];

        g_assert_cmpuint(rk->len, ==, 12);
        g_assert_cmpuint(hapvm_fleet_get_excluded(f)->len, ==, 0);
        g_assert_cmpstr(base_of(r), ==, "u-l1/20260101T000000Z.json");
        g_assert_cmpuint(r->flags, ==, HAPVM_FLEET_FLAG_LOSS);
        g_assert_cmpuint(group(f, "image=C,flavour=small")->n, ==, 2);
        g_assert_cmpuint(group(f, "image=C,flavour=small")->union_f, ==, 3);
        g_assert_cmpuint(group(f, "image=A,flavour=(none)")->n, ==, 1);
        g_assert_cmpuint(group(f, "image=(none),flavour=(none)")->n, ==, 1);
        /* image=A,flavour=small: 100, 110, 1000 (fewer than 4: no fences). */
        g_assert_cmpuint(group(f, "image=A,flavour=small")->n_outliers, ==, 0);
    }
    rm_rf(dir);
}

/* HAP when every ranked result has HAP-L, HAP-F otherwise. */
static void
test_fleet_rank_by(void)
{
    static const Spec s[] = {
        { "u-x/1.json", "kvm", "u-x", "A", NULL, 100, 30000, 10.0, "a", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
        { "u-y/1.json", "kvm", "u-y", "A", NULL, 200, 9000, 3.0, "b", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
        { "u-z/1.json", "kvm", "u-z", "A", NULL, 150, 15000, 5.0, "c", FALSE, FALSE, NULL, "2026-01-01T00:00:00Z" },
        { "u-w/1.json", "kvm", "u-w", "A", NULL, 300, -1, 0, "d", TRUE, FALSE, NULL, "2026-01-01T00:00:00Z" },
    };
    g_autofree char *dir = tmpdir();

    make_fleet(dir, s, G_N_ELEMENTS(s), FALSE);
    {
        g_autoptr(HapvmFleet) f = run_fleet(dir, NULL, FALSE, FALSE, HAPVM_FLEET_READER_FAST, 0);
        GPtrArray *rk = hapvm_fleet_get_ranking(f);
        const HapvmFleetGroup *g = hapvm_fleet_get_groups(f)->pdata[0];

        g_assert_true(hapvm_fleet_ranked_by_hap(f));
        g_assert_cmpstr(base_of(rk->pdata[0]), ==, "u-x/1.json");
        g_assert_cmpstr(base_of(rk->pdata[1]), ==, "u-z/1.json");
        g_assert_cmpstr(base_of(rk->pdata[2]), ==, "u-y/1.json");
        g_assert_cmpstr(g->key, ==, "(all)");
        g_assert_cmpuint(g->n_lines, ==, 3);
        g_assert_cmpfloat(g->hap.median, ==, 5.0);
        g_assert_cmpfloat(g->hap_l.mean, ==, 18000);
    }
    {
        /* The lossy one has no HAP-L: included, the ranking falls back to HAP-F. */
        g_autoptr(HapvmFleet) f = run_fleet(dir, NULL, FALSE, TRUE, HAPVM_FLEET_READER_FAST, 0);
        GPtrArray *rk = hapvm_fleet_get_ranking(f);

        g_assert_false(hapvm_fleet_ranked_by_hap(f));
        g_assert_cmpstr(base_of(rk->pdata[0]), ==, "u-w/1.json");
        g_assert_cmpstr(base_of(rk->pdata[3]), ==, "u-x/1.json");
    }
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Golden outputs (paths relative to the fleet dir, so they are stable). */

static void
check_golden(const char *name, const char *got)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "fleet", name, NULL);
    g_autofree char *want = NULL;
    g_autoptr(GError) e = NULL;

    if (g_getenv("HAPVM_TEST_REGENERATE")) {
        write_file(path, got, -1);
        g_test_message("regenerated %s", path);
        return;
    }
    g_file_get_contents(path, &want, NULL, &e);
    g_assert_no_error(e);
    g_assert_cmpstr(got, ==, want);
}

static void
test_golden(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *fleet = g_build_filename(dir, "fleet", NULL);

    make_fleet(fleet, specs, G_N_ELEMENTS(specs), TRUE);
    g_assert_cmpint(chdir(dir), ==, 0);
    {
        g_autoptr(HapvmFleet) f = run_fleet("fleet", "image", TRUE, FALSE, HAPVM_FLEET_READER_FAST, 0);
        g_autoptr(JsonNode) j = hapvm_fleet_to_json(f, 0);
        g_autoptr(JsonGenerator) gen = json_generator_new();
        char *buf[5] = { 0 };
        size_t len;
        FILE *out;

        out = open_memstream(&buf[0], &len);
        hapvm_fleet_print_text(f, out, 0);
        fclose(out);
        out = open_memstream(&buf[1], &len);
        hapvm_fleet_print_csv_ranking(f, out, 0);
        fclose(out);
        out = open_memstream(&buf[2], &len);
        hapvm_fleet_print_csv_groups(f, out);
        fclose(out);
        out = open_memstream(&buf[3], &len);
        hapvm_fleet_print_warnings(f, out);
        fclose(out);
        json_generator_set_root(gen, j);
        json_generator_set_pretty(gen, TRUE);
        buf[4] = json_generator_to_data(gen, NULL);
        g_assert_cmpint(chdir(cwd), ==, 0);
        check_golden("fleet.txt", buf[0]);
        check_golden("ranking.csv", buf[1]);
        check_golden("groups.csv", buf[2]);
        check_golden("warnings.txt", buf[3]);
        check_golden("fleet.json", buf[4]);
        for (guint i = 0; i < 5; i++)
            free(buf[i]);
    }
    {
        /* The JSON parses back and says what it is. */
        g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "fleet", "fleet.json", NULL);
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *o;

        g_assert_true(json_parser_load_from_file(p, path, NULL));
        o = json_node_get_object(json_parser_get_root(p));
        g_assert_cmpstr(json_object_get_string_member(o, "schema"), ==, HAPVM_FLEET_SCHEMA);
        g_assert_cmpint(json_object_get_int_member(o, "version"), ==, HAPVM_FLEET_VERSION);
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "ranking")), ==, 8);
    }
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* The CLI */

static int
run_cli(const char *const *args, char **out, char **err)
{
    g_autofree char *exe = g_test_build_filename(G_TEST_BUILT, "..", "hapvm", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) e = NULL;
    int status;

    g_ptr_array_add(argv, exe);
    g_ptr_array_add(argv, (gpointer) "fleet");
    for (; *args; args++)
        g_ptr_array_add(argv, (gpointer)*args);
    g_ptr_array_add(argv, NULL);
    g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, &e);
    g_assert_no_error(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_cli(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *empty = g_build_filename(dir, "empty", NULL);
    g_autofree char *bad = g_build_filename(dir, "bad", NULL);
    g_autofree char *badf = g_build_filename(bad, "x.json", NULL);
    g_autofree char *fleet = g_build_filename(dir, "fleet", NULL);

    make_fleet(fleet, specs, G_N_ELEMENTS(specs), TRUE);
    g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
    write_file(badf, "{", -1);
    {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_cli((const char *const[]){ "--format", "xml", fleet, NULL }, &out, &err), ==, 2);
        g_assert_nonnull(strstr(err, "give text, csv or json"));
    }
    {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_cli((const char *const[]){ "--group-by", "a-b", fleet, NULL }, &out, &err), ==, 2);
        g_assert_nonnull(strstr(err, "is not a group key"));
    }
    {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_cli((const char *const[]){ empty, NULL }, &out, &err), ==, 1);
        g_assert_nonnull(strstr(err, "no *.json files"));
    }
    {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_cli((const char *const[]){ bad, NULL }, &out, &err), ==, 10);
        g_assert_nonnull(strstr(err, "x.json: skipped"));
    }
    {
        g_autofree char *out = NULL, *err = NULL;
        g_autofree char *missing = g_build_filename(dir, "nope", NULL);

        g_assert_cmpint(run_cli((const char *const[]){ missing, NULL }, &out, &err), ==, 1);
        g_assert_nonnull(strstr(err, "cannot read"));
    }
    {
        /* Malformed files: warned about on stderr, counted, exit 0. */
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_cli((const char *const[]){ "--latest", "-g", "image", "--format", "csv", fleet, NULL },
                                &out, &err), ==, 0);
        g_assert_nonnull(strstr(err, "u-m1/20260101T000000Z.json: skipped: "));
        g_assert_nonnull(strstr(err, "1 file skipped"));
        g_assert_nonnull(strstr(err, "00000000000000000000000000000000000000aa (1 results)"));
        g_assert_true(g_str_has_prefix(out, "rank,file,uuid,host,"));
        /* 8 ranked + 3 excluded rows + header */
        {
            g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

            g_assert_cmpuint(g_strv_length(lines) - 1, ==, 12);
        }
    }
    rm_rf(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fleet/readers/fixtures", test_readers_fixtures);
    g_test_add_func("/fleet/readers/variants", test_readers_variants);
    g_test_add_func("/fleet/readers/malformed", test_readers_malformed);
    g_test_add_func("/fleet/layout/fixtures", test_layout_fixtures);
    g_test_add_func("/fleet/layout/deviations", test_layout_deviations);
    g_test_add_func("/fleet/layout/mutations", test_layout_mutations);
    g_test_add_func("/fleet/layout/switches", test_layout_switches);
    g_test_add_func("/fleet/small", test_fleet_small);
    g_test_add_func("/fleet/rank-by", test_fleet_rank_by);
    g_test_add_func("/fleet/golden", test_golden);
    g_test_add_func("/fleet/cli", test_cli);
    return g_test_run();
}

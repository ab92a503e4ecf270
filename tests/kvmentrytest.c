/* KVM entry points (kvm/hapvm-kvm-entry.c) on kvm tracepoint records of a
 * real nested-KVM guest recorded in the lab (tests/lab/record-kvm-fixture.sh),
 * against the kernel's own text rendering of the same buffer: every exit
 * reason, port, MSR, MMIO page, hypercall and exit to user space must have
 * the count the kernel printed. */
#include <gio/gio.h>
#include <string.h>

#include "hapvm-decode.h"
#include "hapvm-error.h"
#include "hapvm-kvm-entry.h"
#include "hapvm-measure.h"

#define PAGE 4096

static char *
read_gz(const char *path, gsize *len)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GInputStream) in = G_INPUT_STREAM(g_file_read(file, NULL, &error));
    if (!in)
        return NULL;
    g_autoptr(GZlibDecompressor) z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP);
    g_autoptr(GInputStream) cin = g_converter_input_stream_new(in, G_CONVERTER(z));
    g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable();
    g_output_stream_splice(out, cin, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GBytes) b = g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(out));
    *len = g_bytes_get_size(b);
    char *s = g_malloc(*len + 1);
    memcpy(s, g_bytes_get_data(b, NULL), *len);
    s[*len] = '\0';
    return s;
}

static void
count(GHashTable *h, const char *key)
{
    gpointer v = g_hash_table_lookup(h, key);
    g_hash_table_insert(h, g_strdup(key), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(v) + 1));
}

static void
add(GHashTable *h, const char *key, gint64 n)
{
    gpointer v = g_hash_table_lookup(h, key);
    g_hash_table_insert(h, g_strdup(key), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(v) + n));
}

/* The word after `after` in s. */
static char *
word_after(const char *s, const char *after)
{
    const char *p = strstr(s, after);
    if (!p)
        return NULL;
    p += strlen(after);
    return g_strndup(p, strcspn(p, " "));
}

/* Keys as "kind:..." from the kernel's text, e.g. "exit:npf", "pio:0x3f8/write". */
static GHashTable *
text_counts(char *text)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *lines = g_ptr_array_new();

    /* Split in place by hand: g_strsplit's strstr over the rest of a 9 MB
     * text is quadratic under ASan's interceptor (the test took 7 minutes). */
    g_ptr_array_add(lines, text);
    for (char *c = text; *c; c++)
        if (*c == '\n') {
            *c = '\0';
            g_ptr_array_add(lines, c + 1);
        }
    g_ptr_array_add(lines, NULL);

    for (char **l = (char **)lines->pdata; *l; l++) {
        const char *p;
        g_autofree char *k = NULL, *w = NULL;
        if ((p = strstr(*l, ": kvm_exit: "))) {
            w = word_after(p, " reason ");
            k = g_strdup_printf("exit:%s", w);
        } else if ((p = strstr(*l, ": kvm_pio: "))) {
            guint port;
            char dir[8];
            g_assert_cmpint(sscanf(p + 11, "pio_%7s at 0x%x", dir, &port), ==, 2);
            k = g_strdup_printf("pio:0x%x/%s", port, dir);
        } else if ((p = strstr(*l, ": kvm_msr: "))) {
            guint idx;
            char dir[8];
            g_assert_cmpint(sscanf(p + 11, "msr_%7s %x", dir, &idx), ==, 2);
            k = g_strdup_printf("msr:0x%x/%s", idx, dir);
        } else if ((p = strstr(*l, ": kvm_mmio: "))) {
            guint64 gpa;
            g_autofree char *type = word_after(p, "mmio ");
            const char *g = strstr(p, " gpa 0x");
            g_assert_nonnull(g);
            gpa = g_ascii_strtoull(g + 7, NULL, 16);
            k = g_strdup_printf("mmio:0x%" G_GINT64_MODIFIER "x/%s", gpa & ~(guint64)0xfff, type);
        } else if ((p = strstr(*l, ": kvm_hypercall: "))) {
            const char *nr = strstr(p, " nr 0x");
            g_assert_nonnull(nr);
            k = g_strdup_printf("hypercall:%" G_GUINT64_FORMAT, g_ascii_strtoull(nr + 6, NULL, 16));
        } else if ((p = strstr(*l, ": kvm_userspace_exit: "))) {
            w = word_after(p, "reason ");
            k = g_strdup_printf("user:%s", w);
        }
        if (k)
            count(h, k);
    }
    g_ptr_array_free(lines, TRUE);
    return h;
}

static const char *
str(JsonObject *o, const char *m)
{
    return json_object_has_member(o, m) && !json_object_get_null_member(o, m) ? json_object_get_string_member(o, m)
                                                                                : NULL;
}

/* Our counts, from the JSON the module writes, in the same keys. */
static GHashTable *
json_counts(JsonObject *ep)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    static const char *const kinds[] = { "exits", "pio", "msr", "mmio", "hypercalls", "userspace_exits" };

    for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
        JsonArray *a = json_object_get_array_member(ep, kinds[k]);
        g_assert_nonnull(a);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonObject *e = json_array_get_object_element(a, i);
            gint64 n = json_object_get_int_member(e, "count");
            g_autofree char *key = NULL;
            switch (k) {
            case 0: key = g_strdup_printf("exit:%s", str(e, "name")); break;
            case 1: key = g_strdup_printf("pio:%s/%s", str(e, "port"), str(e, "access")); break;
            case 2: key = g_strdup_printf("msr:%s/%s", str(e, "index"), str(e, "access")); break;
            case 3: key = g_strdup_printf("mmio:%s/%s", str(e, "gpa_page"), str(e, "access")); break;
            case 4: key = g_strdup_printf("hypercall:%" G_GINT64_FORMAT, json_object_get_int_member(e, "nr")); break;
            default: {
                gint64 err = json_object_get_int_member(e, "errno");
                /* The kernel prints "restart" for -EINTR, "error" for others. */
                key = g_strdup_printf("user:%s", err == 0 ? str(e, "name") : err == 4 ? "restart" : "error");
            }
            }
            add(h, key, n);
        }
    }
    return h;
}

static void
test_against_kernel_text(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "kvm", "trace-l2", NULL);
    g_autofree char *tpath = g_build_filename(dir, "trace.txt.gz", NULL);
    static const char *const events[] = {
        "ftrace/function", "kvm/kvm_exit", "kvm/kvm_hypercall", "kvm/kvm_pio", "kvm/kvm_mmio", "kvm/kvm_msr",
        "kvm/kvm_userspace_exit", NULL,
    };
    struct tep_handle *tep = hapvm_tep_load_dir(dir, events, &error);
    g_assert_no_error(error);
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(tep, &error);
    g_assert_no_error(error);
    /* Every task of the fixture is taken as a vCPU thread here (records
     * only come from vCPU threads); the role filter has its own test. */
    hapvm_decoder_set_default_role(dec, HAPVM_ROLE_VCPU);
    g_autoptr(HapvmKvmEntry) e = hapvm_kvm_entry_new(tep, dec, HAPVM_ROLE_VCPU);

    guint pages = 0;
    for (int c = 0; c < 64; c++) {
        g_autofree char *name = g_strdup_printf("cpu%d.raw.gz", c);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        gsize len;
        g_autofree char *raw = read_gz(path, &len);
        if (!raw)
            break;
        g_assert_cmpuint(len % PAGE, ==, 0);
        for (gsize off = 0; off < len; off += PAGE, pages++)
            hapvm_decoder_feed_page(dec, raw + off, PAGE, c);
    }
    g_assert_cmpuint(pages, >, 0);
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    g_assert_cmpuint(st->missed_events + st->pages_with_loss + st->bad_pages, ==, 0);

    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    hapvm_kvm_entry_to_json(e, b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    JsonObject *ep = json_object_get_object_member(json_node_get_object(root), "entry_points");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(ep, "missing_events")), ==, 0);

    gsize tlen;
    g_autofree char *text = read_gz(tpath, &tlen);
    g_assert_nonnull(text);
    g_autoptr(GHashTable) want = text_counts(text);
    g_autoptr(GHashTable) got = json_counts(ep);
    guint64 total = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, want);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_test_message("%s: kernel %zu, hapvm %zu", (char *)k, GPOINTER_TO_SIZE(v),
                       GPOINTER_TO_SIZE(g_hash_table_lookup(got, k)));
        g_assert_cmpuint(GPOINTER_TO_SIZE(g_hash_table_lookup(got, k)), ==, GPOINTER_TO_SIZE(v));
        total += GPOINTER_TO_SIZE(v);
    }
    g_assert_cmpuint(g_hash_table_size(got), ==, g_hash_table_size(want));
    g_assert_cmpuint(st->handled_events, ==, total);
    /* The workload's own entry points are there (see the fixture's l2.out). */
    g_assert_cmpuint(hapvm_kvm_entry_get_exit_count(e, "cpuid"), >=, 2000);
    g_assert_cmpuint(hapvm_kvm_entry_get_exit_count(e, "io"), >, 0);
    g_assert_cmpuint(hapvm_kvm_entry_get_exit_count(e, "npf"), >, 0);
    g_assert_cmpuint(hapvm_kvm_entry_get_exit_count(e, "msr"), >, 0);
    g_assert_cmpuint(json_object_get_int_member(ep, "exits_total"), ==, hapvm_kvm_entry_get_exits(e));
    tep_free(tep);
}

/* Records of the VM's non-vCPU tasks are counted apart, never as entry
 * points. */
static void
test_other_roles(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "kvm", "trace-l2", NULL);
    static const char *const events[] = { "ftrace/function", "kvm/kvm_exit", NULL };
    struct tep_handle *tep = hapvm_tep_load_dir(dir, events, &error);
    g_assert_no_error(error);
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(tep, &error);
    g_assert_no_error(error);
    hapvm_decoder_set_default_role(dec, HAPVM_ROLE_EMULATOR);
    g_autoptr(HapvmKvmEntry) e = hapvm_kvm_entry_new(tep, dec, HAPVM_ROLE_VCPU);
    g_autofree char *path = g_build_filename(dir, "cpu0.raw.gz", NULL);
    gsize len;
    g_autofree char *raw = read_gz(path, &len);
    g_assert_nonnull(raw);
    for (gsize off = 0; off < len; off += PAGE)
        hapvm_decoder_feed_page(dec, raw + off, PAGE, 0);
    g_assert_cmpuint(hapvm_kvm_entry_get_exits(e), ==, 0);

    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    hapvm_kvm_entry_to_json(e, b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    JsonObject *ep = json_object_get_object_member(json_node_get_object(root), "entry_points");
    g_assert_cmpint(json_object_get_int_member(ep, "records_from_other_roles"), >, 0);
    /* Only kvm_exit's format was loaded: the others are reported missing. */
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(ep, "missing_events")), ==, 5);
    g_assert_true(json_object_get_null_member(ep, "pio"));
    tep_free(tep);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/entry/against-kernel-text", test_against_kernel_text);
    g_test_add_func("/kvm/entry/other-roles", test_other_roles);
    return g_test_run();
}

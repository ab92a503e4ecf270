/* trace.dat reader: files recorded by trace-cmd 3.1.6 in the lab
 * (tests/lab/record-tracedat.sh), checked against what `trace-cmd report`
 * printed for them (expected.txt), through two decoders: libtraceevent's
 * kbuffer (exact records per task and function) and hapvm_decoder.  Then
 * truncated and corrupted copies, which must fail cleanly (run under ASan). */
#include <errno.h>
#include <fcntl.h>
#include <kbuffer.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <zlib.h>
#include <zstd.h>

#include "hapvm-decode.h"
#include "hapvm-error.h"
#include "hapvm-tracedat.h"

#define MAX_TEST_ROLES 15

/* Under ASan: libtraceevent 1.7 leaks the tokens of a format it fails to
 * parse (corrupted copies below); not ours to fix. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:tep_parse_event\n";
}

static const char *const fixtures[] = { "fork-v6", "fork-v7zstd", "getppid-v7none" };

/* What trace-cmd said about a fixture. */
typedef struct {
    guint version;
    char *compression;
    guint cpus;
    char *clock;
    GHashTable *func;    /* "pid:ip" → records */
    GHashTable *ip;      /* ip → records, all tasks */
    GHashTable *ip_pids; /* ip → GPtrArray-less: bit mask of pid roles */
    GHashTable *sys;     /* "pid:nr" → records */
    GArray *pids;        /* guint32, sorted; role = index + 1 */
    guint64 function_events, syscall_events, other_events;
} Expected;

typedef struct {
    char *tmpdir;
    char *path; /* the trace.dat, decompressed */
    GBytes *bytes;
    guint32 sysloop_pid; /* from its stdout */
    Expected ex;
} Fixture;

static guint
pid_role(const Expected *ex, guint32 pid)
{
    for (guint i = 0; i < ex->pids->len; i++)
        if (g_array_index(ex->pids, guint32, i) == pid)
            return i + 1;
    return 0;
}

static void
add_count(GHashTable *h, char *key, guint64 n)
{
    guint64 *v = g_hash_table_lookup(h, key);

    if (v) {
        *v += n;
        g_free(key);
    } else {
        v = g_new(guint64, 1);
        *v = n;
        g_hash_table_insert(h, key, v);
    }
}

static gint
cmp_u32(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
    return x < y ? -1 : x > y;
}

static void
expected_load(Expected *ex, const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "expected.txt", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) pidset = g_hash_table_new(g_direct_hash, g_direct_equal);

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    memset(ex, 0, sizeof(*ex));
    ex->func = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->ip_pids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->sys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->pids = g_array_new(FALSE, FALSE, sizeof(guint32));
    lines = g_strsplit(text, "\n", -1);
    /* Pids first: roles are their ranks. */
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        if ((g_strcmp0(f[0], "function") == 0 || g_strcmp0(f[0], "sys_enter") == 0) &&
            !g_hash_table_contains(pidset, GUINT_TO_POINTER(atoi(f[1]) + 1))) {
            guint32 pid = atoi(f[1]);
            g_hash_table_add(pidset, GUINT_TO_POINTER(pid + 1));
            g_array_append_val(ex->pids, pid);
        }
    }
    g_array_sort(ex->pids, cmp_u32);
    g_assert_cmpuint(ex->pids->len, <=, MAX_TEST_ROLES);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        guint n = g_strv_length(f);
        if (n == 0 || !**l)
            continue;
        if (strcmp(f[0], "file") == 0 && n == 3) {
            ex->version = atoi(f[1]);
            ex->compression = g_strdup(f[2]);
        } else if (strcmp(f[0], "cpus") == 0 && n == 2) {
            ex->cpus = atoi(f[1]);
        } else if (strcmp(f[0], "clock") == 0 && n == 2) {
            ex->clock = g_strdup(f[1]);
        } else if (strcmp(f[0], "function") == 0 && n == 5) {
            guint64 ip = g_ascii_strtoull(f[2], NULL, 16), c = g_ascii_strtoull(f[4], NULL, 10);
            guint32 pid = atoi(f[1]);
            add_count(ex->func, g_strdup_printf("%u:%" G_GINT64_MODIFIER "x", pid, ip), c);
            add_count(ex->ip, g_strdup_printf("%" G_GINT64_MODIFIER "x", ip), c);
            guint64 *m = g_hash_table_lookup(ex->ip_pids, f[2] + 2);
            if (!m) {
                m = g_new0(guint64, 1);
                g_hash_table_insert(ex->ip_pids, g_strdup_printf("%" G_GINT64_MODIFIER "x", ip), m);
            }
            *m |= 1u << pid_role(ex, pid);
        } else if (strcmp(f[0], "sys_enter") == 0 && n == 4) {
            add_count(ex->sys, g_strdup_printf("%s:%s", f[1], f[2]), g_ascii_strtoull(f[3], NULL, 10));
        } else if (strcmp(f[0], "events") == 0 && n == 3) {
            guint64 c = g_ascii_strtoull(f[2], NULL, 10);
            if (strcmp(f[1], "function") == 0)
                ex->function_events = c;
            else if (strcmp(f[1], "sys_enter") == 0)
                ex->syscall_events = c;
            else
                ex->other_events += c;
        } else {
            g_error("%s: bad line \"%s\"", path, *l);
        }
    }
    g_assert_cmpuint(ex->version, >=, 6);
    g_assert_cmpuint(ex->function_events, >, 1000);
}

static void
expected_clear(Expected *ex)
{
    g_free(ex->compression);
    g_free(ex->clock);
    g_hash_table_unref(ex->func);
    g_hash_table_unref(ex->ip);
    g_hash_table_unref(ex->ip_pids);
    g_hash_table_unref(ex->sys);
    g_array_unref(ex->pids);
}

/* trace.dat or trace.dat.gz of the fixture, as a plain file in a temp dir. */
static void
fixture_load(Fixture *fx, const char *name)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "tracedat", name, NULL);
    g_autofree char *gz = g_build_filename(dir, "trace.dat.gz", NULL);
    g_autofree char *plain = g_build_filename(dir, "trace.dat", NULL);
    GByteArray *buf = g_byte_array_new();
    g_autoptr(GError) error = NULL;

    memset(fx, 0, sizeof(*fx));
    if (g_file_test(gz, G_FILE_TEST_EXISTS)) {
        gzFile z = gzopen(gz, "rb");
        guint8 chunk[65536];
        int n;
        g_assert_nonnull(z);
        while ((n = gzread(z, chunk, sizeof(chunk))) > 0)
            g_byte_array_append(buf, chunk, n);
        g_assert_cmpint(n, ==, 0);
        gzclose(z);
    } else {
        char *data;
        gsize len;
        g_assert_true(g_file_get_contents(plain, &data, &len, NULL));
        g_byte_array_append(buf, (guint8 *)data, len);
        g_free(data);
    }
    fx->bytes = g_byte_array_free_to_bytes(buf);
    fx->tmpdir = g_dir_make_tmp("tracedattest-XXXXXX", &error);
    g_assert_no_error(error);
    fx->path = g_build_filename(fx->tmpdir, "trace.dat", NULL);
    g_assert_true(g_file_set_contents(fx->path, g_bytes_get_data(fx->bytes, NULL),
                                      g_bytes_get_size(fx->bytes), NULL));
    expected_load(&fx->ex, dir);

    g_autofree char *out_path = g_build_filename(dir, "stdout", NULL);
    g_autofree char *out = NULL;
    g_assert_true(g_file_get_contents(out_path, &out, NULL, NULL));
    g_assert_cmpint(sscanf(out, "sysloop: pid %u", &fx->sysloop_pid), ==, 1);
}

static void
fixture_clear(Fixture *fx)
{
    unlink(fx->path);
    g_rmdir(fx->tmpdir);
    g_free(fx->path);
    g_free(fx->tmpdir);
    g_bytes_unref(fx->bytes);
    expected_clear(&fx->ex);
}

/* ---- reference pass: kbuffer over the pages the reader hands out ---------- */

typedef struct {
    struct tep_handle *tep;
    struct kbuffer *kb;
    struct tep_event *fn, *se;
    struct tep_format_field *ip_field, *id_field;
    gsize page_size;
    GHashTable *func, *sys;
    guint64 pages, bytes, last_page_ts, order_errors, short_pages, events;
    GHashTable *cpus_seen;
} KbufPass;

static void
kbuf_page(gpointer data, const void *page, gsize size, int cpu)
{
    KbufPass *k = data;
    unsigned long long ts, v;
    guint64 page_ts;
    void *rec;

    k->pages++;
    k->bytes += size;
    g_hash_table_add(k->cpus_seen, GINT_TO_POINTER(cpu + 1));
    if (size < k->page_size) {
        k->short_pages++;
        return;
    }
    memcpy(&page_ts, page, 8);
    if (page_ts < k->last_page_ts)
        k->order_errors++;
    k->last_page_ts = page_ts;
    g_assert_cmpint(kbuffer_load_subbuffer(k->kb, (void *)page), ==, 0);
    for (rec = kbuffer_read_event(k->kb, &ts); rec; rec = kbuffer_next_event(k->kb, &ts)) {
        struct tep_record r = { .data = rec, .size = kbuffer_event_size(k->kb), .ts = ts, .cpu = cpu };
        int type = tep_data_type(k->tep, &r);
        int pid = tep_data_pid(k->tep, &r);

        k->events++;
        if (type == k->fn->id) {
            g_assert_cmpint(tep_read_number_field(k->ip_field, rec, &v), ==, 0);
            add_count(k->func, g_strdup_printf("%d:%llx", pid, v), 1);
        } else if (k->se && type == k->se->id) {
            g_assert_cmpint(tep_read_number_field(k->id_field, rec, &v), ==, 0);
            add_count(k->sys, g_strdup_printf("%d:%lld", pid, (long long)v), 1);
        }
    }
}

static void
assert_same_counts(GHashTable *got, GHashTable *want, const char *what)
{
    GHashTableIter it;
    gpointer key, val;

    g_hash_table_iter_init(&it, want);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        guint64 *g = g_hash_table_lookup(got, key);
        if (!g || *g != *(guint64 *)val)
            g_error("%s %s: %" G_GUINT64_FORMAT " records, trace-cmd report says %" G_GUINT64_FORMAT,
                    what, (char *)key, g ? *g : 0, *(guint64 *)val);
    }
    g_assert_cmpuint(g_hash_table_size(got), ==, g_hash_table_size(want));
}

static void
check_metadata(HapvmTraceDat *td, const Fixture *fx)
{
    g_autofree char *ksyms_path = g_test_build_filename(G_TEST_DIST, "data", "tracedat", "kallsyms", NULL);
    g_autofree char *ksyms = NULL;
    gsize ksyms_len, len;
    const char *s;

    g_assert_cmpuint(hapvm_trace_dat_get_version(td), ==, fx->ex.version);
    g_assert_cmpstr(hapvm_trace_dat_get_compression(td), ==, fx->ex.compression);
    g_assert_cmpuint(hapvm_trace_dat_get_cpus(td), ==, fx->ex.cpus);
    g_assert_false(hapvm_trace_dat_is_big_endian(td));
    g_assert_cmpuint(hapvm_trace_dat_get_long_size(td), ==, 8);
    g_assert_cmpuint(hapvm_trace_dat_get_page_size(td), ==, 4096);
    g_assert_cmpstr(hapvm_trace_dat_get_buffer_name(td), ==, "");
    if (fx->ex.clock)
        g_assert_cmpstr(hapvm_trace_dat_get_clock(td), ==, fx->ex.clock);
    g_assert_cmpuint(hapvm_trace_dat_get_parse_failures(td), ==, 0);

    /* kallsyms: exactly what trace-cmd read from /proc/kallsyms. */
    g_assert_true(g_file_get_contents(ksyms_path, &ksyms, &ksyms_len, NULL));
    s = hapvm_trace_dat_get_kallsyms(td, &len);
    g_assert_nonnull(s);
    g_assert_cmpuint(len, ==, ksyms_len);
    g_assert_true(memcmp(s, ksyms, len) == 0);
    g_assert_cmpint(s[len], ==, 0);

    /* The traced program's pid (it printed it) is in the saved command lines. */
    s = hapvm_trace_dat_get_cmdlines(td, &len);
    g_assert_nonnull(s);
    g_assert_cmpuint(strlen(s), ==, len);
    g_autofree char *line = g_strdup_printf("%u sysloop\n", fx->sysloop_pid);
    g_assert_nonnull(strstr(s, line));
    g_assert_cmpstr(tep_data_comm_from_pid(hapvm_trace_dat_get_tep(td), fx->sysloop_pid), ==, "sysloop");
    g_assert_cmpuint(pid_role(&fx->ex, fx->sysloop_pid), >, 0);

    s = hapvm_trace_dat_get_cpustats(td, &len);
    g_assert_nonnull(s);
    g_assert_nonnull(strstr(s, "CPU: 0\n"));
    g_assert_nonnull(strstr(s, "CPU: 1\n"));
    g_assert_nonnull(hapvm_trace_dat_get_uname(td));
    g_assert_nonnull(strstr(hapvm_trace_dat_get_uname(td), "6.1.0-"));
    s = hapvm_trace_dat_get_printk_formats(td, &len);
    g_assert_nonnull(s);
    g_assert_cmpuint(len, >, 0);
}

static void
test_fixture(gconstpointer data)
{
    const char *name = data;
    Fixture fx;
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmTraceDat) td = NULL;
    struct tep_handle *tep;
    KbufPass k = { 0 };

    fixture_load(&fx, name);
    td = hapvm_trace_dat_open(fx.path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(td);
    check_metadata(td, &fx);
    tep = hapvm_trace_dat_get_tep(td);

    /* Reference: kbuffer + libtraceevent over the pages we hand out. */
    k.tep = tep;
    k.kb = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
    k.fn = tep_find_event_by_name(tep, "ftrace", "function");
    k.se = tep_find_event_by_name(tep, "raw_syscalls", "sys_enter");
    g_assert_nonnull(k.fn);
    k.ip_field = tep_find_field(k.fn, "ip");
    if (k.se)
        k.id_field = tep_find_field(k.se, "id");
    k.page_size = hapvm_trace_dat_get_page_size(td);
    k.func = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    k.sys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    k.cpus_seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_assert_true(hapvm_trace_dat_foreach_page(td, kbuf_page, &k, &error));
    g_assert_no_error(error);
    assert_same_counts(k.func, fx.ex.func, "task:function");
    assert_same_counts(k.sys, fx.ex.sys, "task:syscall");
    g_assert_cmpuint(k.bytes, ==, hapvm_trace_dat_get_data_size(td));
    g_assert_cmpuint(k.bytes, ==, k.pages * k.page_size);
    g_assert_cmpuint(k.short_pages, ==, 0);
    g_assert_cmpuint(k.order_errors, ==, 0); /* merged by page time */
    g_assert_cmpuint(k.events, ==, fx.ex.function_events + fx.ex.syscall_events + fx.ex.other_events);
    guint64 per_cpu = 0;
    for (guint c = 0; c < hapvm_trace_dat_get_cpus(td); c++)
        per_cpu += hapvm_trace_dat_get_cpu_data_size(td, c);
    g_assert_cmpuint(per_cpu, ==, k.bytes);

    /* The hot path, fed by the reader. */
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(tep, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < fx.ex.pids->len; i++)
        hapvm_decoder_set_role(dec, g_array_index(fx.ex.pids, guint32, i), i + 1);
    g_assert_true(hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, dec, &error));
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    HapvmFuncSet *set = hapvm_decoder_get_functions(dec);
    g_assert_cmpuint(st->function_events, ==, fx.ex.function_events);
    g_assert_cmpuint(st->syscall_events, ==, fx.ex.syscall_events);
    g_assert_cmpuint(st->bad_pages, ==, 0);
    g_assert_cmpuint(st->missed_events, ==, 0);
    g_assert_cmpuint(st->pages_with_loss, ==, 0);
    g_assert_cmpuint(st->unknown_pid_events, ==, 0);
    g_assert_cmpuint(hapvm_func_set_size(set), ==, g_hash_table_size(fx.ex.ip));
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, fx.ex.ip);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        HapvmFuncHit h;
        g_assert_true(hapvm_func_set_find(set, g_ascii_strtoull(key, NULL, 16), &h));
        g_assert_cmpuint(h.count, ==, *(guint64 *)val);
        g_assert_cmpuint(h.role_mask, ==, *(guint64 *)g_hash_table_lookup(fx.ex.ip_pids, key));
    }
    g_hash_table_iter_init(&it, fx.ex.sys);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        guint32 pid;
        gint64 nr;
        g_assert_cmpint(sscanf(key, "%u:%" G_GINT64_MODIFIER "d", &pid, &nr), ==, 2);
        g_assert_cmpint(nr, >=, 0);
        g_assert_cmpint(nr, <, HAPVM_MAX_SYSCALL);
        g_assert_cmpuint(hapvm_decoder_get_syscalls(dec, pid_role(&fx.ex, pid))[nr], ==, *(guint64 *)val);
    }

    kbuffer_free(k.kb);
    g_hash_table_unref(k.func);
    g_hash_table_unref(k.sys);
    g_hash_table_unref(k.cpus_seen);
    fixture_clear(&fx);
}

/* Only the listed systems' formats reach libtraceevent; ftrace's always do,
 * and the decoder gives the same result. */
static void
test_open_systems(void)
{
    Fixture fx;
    g_autoptr(GError) error = NULL;
    static const char *const only[] = { "raw_syscalls", NULL };

    fixture_load(&fx, "fork-v7zstd");
    g_autoptr(HapvmTraceDat) all = hapvm_trace_dat_open(fx.path, &error);
    g_assert_no_error(error);
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(fx.path, only, &error);
    g_assert_no_error(error);
    struct tep_handle *tep = hapvm_trace_dat_get_tep(td);
    g_assert_nonnull(tep_find_event_by_name(tep, "ftrace", "function"));
    g_assert_nonnull(tep_find_event_by_name(tep, "raw_syscalls", "sys_enter"));
    g_assert_null(tep_find_event_by_name(tep, "sched", "sched_switch"));
    g_assert_nonnull(tep_find_event_by_name(hapvm_trace_dat_get_tep(all), "sched", "sched_switch"));
    g_assert_cmpint(tep_get_events_count(tep), <, tep_get_events_count(hapvm_trace_dat_get_tep(all)));

    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(tep, &error);
    g_assert_no_error(error);
    g_assert_true(hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, dec, &error));
    g_assert_cmpuint(hapvm_decoder_get_stats(dec)->function_events, ==, fx.ex.function_events);
    g_assert_cmpuint(hapvm_func_set_size(hapvm_decoder_get_functions(dec)), ==, g_hash_table_size(fx.ex.ip));
    fixture_clear(&fx);
}

/* ---- a v7 file written here, zlib or zstd ------------------------------------- */

static void
put(GByteArray *b, guint64 v, guint n)
{
    for (guint i = 0; i < n; i++) {
        guint8 c = v >> (8 * i);
        g_byte_array_append(b, &c, 1);
    }
}

static void
put_bytes(GByteArray *b, const void *p, gsize n)
{
    g_byte_array_append(b, p, n);
}

static GBytes *
compress_block(gboolean zlib, const guint8 *in, gsize n)
{
    gsize cap = zlib ? compressBound(n) : ZSTD_compressBound(n);
    guint8 *out = g_malloc(cap);

    if (zlib) {
        uLongf got = cap;
        g_assert_cmpint(compress2(out, &got, in, n, 9), ==, Z_OK);
        cap = got;
    } else {
        cap = ZSTD_compress(out, cap, in, n, 3);
        g_assert_false(ZSTD_isError(cap));
    }
    return g_bytes_new_take(out, cap);
}

/* A compressed metadata section: header, then compressed size, size, data. */
static guint64
put_section(GByteArray *b, gboolean zlib, guint id, GByteArray *payload)
{
    guint64 at = b->len;
    g_autoptr(GBytes) z = compress_block(zlib, payload->data, payload->len);

    put(b, id, 2);
    put(b, 1, 2);
    put(b, 0, 4);
    put(b, 8 + g_bytes_get_size(z), 8);
    put(b, g_bytes_get_size(z), 4);
    put(b, payload->len, 4);
    put_bytes(b, g_bytes_get_data(z, NULL), g_bytes_get_size(z));
    return at;
}

/* The lab recording of tests/data/trace/ (header_page, function format, the
 * pages of CPU 0) as trace-cmd would write it compressed with zlib or zstd:
 * sections, chunks of 10 pages, the options last.  With instance, the data
 * are that instance's and the top buffer is empty, as `trace-cmd record -B
 * NAME` writes them. */
static GBytes *
synth_v7(gboolean zlib, const char *instance, GBytes **pages_out)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", NULL);
    g_autofree char *hp_path = g_build_filename(dir, "header_page", NULL);
    g_autofree char *fmt_path = g_build_filename(dir, "events", "ftrace", "function", "format", NULL);
    g_autofree char *cpu_path = g_build_filename(dir, "cpu0.raw", NULL);
    g_autofree char *hp = NULL, *fmt = NULL, *pages = NULL;
    gsize hp_len, fmt_len, pages_len;
    GByteArray *b = g_byte_array_new();
    g_autoptr(GByteArray) sec = NULL;
    const char *zname = zlib ? "zlib" : "zstd";
    const char *zver = zlib ? zlibVersion() : ZSTD_versionString();

    g_assert_true(g_file_get_contents(hp_path, &hp, &hp_len, NULL));
    g_assert_true(g_file_get_contents(fmt_path, &fmt, &fmt_len, NULL));
    g_assert_true(g_file_get_contents(cpu_path, &pages, &pages_len, NULL));
    g_assert_cmpuint(pages_len % 4096, ==, 0);

    put_bytes(b, "\x17\x08\x44tracing7", 12);
    put(b, 0, 1); /* little endian */
    put(b, 8, 1);
    put(b, 4096, 4);
    put_bytes(b, zname, strlen(zname) + 1);
    put_bytes(b, zver, strlen(zver) + 1);
    guint64 opt_ptr = b->len;
    put(b, 0, 8);

    sec = g_byte_array_new();
    put_bytes(sec, "header_page", 12);
    put(sec, hp_len, 8);
    put_bytes(sec, hp, hp_len);
    put_bytes(sec, "header_event", 13);
    put(sec, 0, 8);
    guint64 hdr_at = put_section(b, zlib, 16, sec);
    g_byte_array_set_size(sec, 0);
    put(sec, 1, 4);
    put(sec, fmt_len, 8);
    put_bytes(sec, fmt, fmt_len);
    guint64 fmt_at = put_section(b, zlib, 17, sec);

    /* Flyrecord: section header, then the CPU's chunks at a page boundary. */
    guint64 data_at = b->len;
    put(b, 3, 2);
    put(b, 1, 2);
    put(b, 0, 4);
    guint64 size_at = b->len;
    put(b, 0, 8);
    g_byte_array_set_size(b, (b->len + 4095) / 4096 * 4096);
    guint64 cpu_at = b->len;
    guint32 nchunks = (pages_len + 10 * 4096 - 1) / (10 * 4096);
    put(b, nchunks, 4);
    for (gsize off = 0; off < pages_len; off += 10 * 4096) {
        gsize n = MIN(10 * 4096, pages_len - off);
        g_autoptr(GBytes) z = compress_block(zlib, (guint8 *)pages + off, n);
        put(b, g_bytes_get_size(z), 4);
        put(b, n, 4);
        put_bytes(b, g_bytes_get_data(z, NULL), g_bytes_get_size(z));
    }
    guint64 cpu_size = b->len - cpu_at - 4; /* trace-cmd leaves the count out */
    guint64 v = b->len - size_at - 8;
    memcpy(b->data + size_at, &v, 8);

    /* Options, last, as trace-cmd appends the BUFFER option after the data. */
    guint64 opt_at = b->len;
    memcpy(b->data + opt_ptr, &opt_at, 8);
    put(b, 0, 2);
    put(b, 0, 2);
    put(b, 0, 4);
    guint64 opt_size_at = b->len;
    put(b, 0, 8);
    put(b, 16, 2), put(b, 8, 4), put(b, hdr_at, 8);
    put(b, 17, 2), put(b, 8, 4), put(b, fmt_at, 8);
    if (instance) {
        put(b, 3, 2), put(b, 8 + 1 + 6 + 4 + 4, 4);
        put(b, data_at, 8), put_bytes(b, "", 1), put_bytes(b, "local", 6), put(b, 4096, 4), put(b, 0, 4);
    } else {
        instance = "";
    }
    put(b, 3, 2), put(b, 8 + strlen(instance) + 1 + 6 + 4 + 4 + 20, 4);
    put(b, data_at, 8), put_bytes(b, instance, strlen(instance) + 1), put_bytes(b, "local", 6);
    put(b, 4096, 4), put(b, 1, 4);
    put(b, 0, 4), put(b, cpu_at, 8), put(b, cpu_size, 8);
    put(b, 0, 2), put(b, 8, 4), put(b, 0, 8);
    v = b->len - opt_size_at - 8;
    memcpy(b->data + opt_size_at, &v, 8);

    *pages_out = g_bytes_new_take(g_steal_pointer(&pages), pages_len);
    return g_byte_array_free_to_bytes(b);
}

typedef struct {
    GBytes *pages;
    gsize next;
    guint mismatches;
} PageCompare;

static void
compare_page(gpointer data, const void *page, gsize size, int cpu)
{
    PageCompare *pc = data;
    gsize len;
    const guint8 *want = g_bytes_get_data(pc->pages, &len);

    if (cpu != 0 || size != 4096 || pc->next + size > len || memcmp(page, want + pc->next, size) != 0)
        pc->mismatches++;
    pc->next += size;
}

static void count_page(gpointer data, const void *page, gsize size, int cpu);

/* Every page comes back as recorded, through both compressors; a damaged zlib
 * chunk (it has a checksum) is an error of foreach_page, not of open. */
static void
test_synthetic_v7(void)
{
    for (int zlib = 0; zlib < 2; zlib++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) pages = NULL;
        /* zstd: in an instance, after an empty top buffer (trace-cmd -B). */
        g_autoptr(GBytes) file = synth_v7(zlib, zlib ? NULL : "tc", &pages);
        g_autofree char *dir = g_dir_make_tmp("tracedattest-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "synth.dat", NULL);
        gsize len;
        const guint8 *d = g_bytes_get_data(file, &len);

        g_assert_true(g_file_set_contents(path, (const char *)d, len, NULL));
        g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open(path, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(hapvm_trace_dat_get_compression(td), ==, zlib ? "zlib" : "zstd");
        g_assert_cmpuint(hapvm_trace_dat_get_cpus(td), ==, 1);
        g_assert_cmpuint(hapvm_trace_dat_get_data_size(td), ==, g_bytes_get_size(pages));
        g_assert_cmpstr(hapvm_trace_dat_get_clock(td), ==, "local");
        g_assert_cmpstr(hapvm_trace_dat_get_buffer_name(td), ==, zlib ? "" : "tc");
        g_assert_null(hapvm_trace_dat_get_kallsyms(td, NULL));
        PageCompare pc = { .pages = pages };
        g_assert_true(hapvm_trace_dat_foreach_page(td, compare_page, &pc, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(pc.mismatches, ==, 0);
        g_assert_cmpuint(pc.next, ==, g_bytes_get_size(pages));

        /* The decoder through the reader = the decoder on the raw pages. */
        g_autoptr(HapvmDecoder) a = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), &error);
        g_autoptr(HapvmDecoder) b = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), &error);
        g_assert_true(hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, a, &error));
        for (gsize off = 0; off < g_bytes_get_size(pages); off += 4096)
            hapvm_decoder_feed_page(b, (const guint8 *)g_bytes_get_data(pages, NULL) + off, 4096, 0);
        g_assert_cmpuint(hapvm_decoder_get_stats(a)->function_events, >, 1000);
        g_assert_cmpuint(hapvm_decoder_get_stats(a)->function_events, ==,
                         hapvm_decoder_get_stats(b)->function_events);
        g_assert_cmpuint(hapvm_func_set_size(hapvm_decoder_get_functions(a)), ==,
                         hapvm_func_set_size(hapvm_decoder_get_functions(b)));

        if (zlib) {
            g_autofree guint8 *bad = g_memdup2(d, len);
            bad[len - 200] ^= 0x55; /* inside the last chunk's deflate data */
            g_assert_true(g_file_set_contents(path, (const char *)bad, len, NULL));
            g_autoptr(HapvmTraceDat) td2 = hapvm_trace_dat_open(path, &error);
            g_assert_no_error(error);
            guint64 sum = 0;
            g_assert_false(hapvm_trace_dat_foreach_page(td2, count_page, &sum, &error));
            g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
            g_assert_nonnull(strstr(error->message, "corrupt zlib chunk"));
        }
        unlink(path);
        g_rmdir(dir);
    }
}

/* ---- malformed files -------------------------------------------------------- */

static void
count_page(gpointer data, const void *page, gsize size, int cpu)
{
    /* Touch every byte handed out, so ASan sees any overrun. */
    const guint8 *p = page;
    guint64 *sum = data;
    for (gsize i = 0; i < size; i++)
        *sum += p[i];
    (void)cpu;
}

/* Opens path; if that works, reads every page and decodes it. */
static gboolean
try_file(const char *path, GError **error)
{
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open(path, error);
    guint64 sum = 0;

    if (!td)
        return FALSE;
    if (!hapvm_trace_dat_foreach_page(td, count_page, &sum, error))
        return FALSE;
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), NULL);
    if (dec && !hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, dec, error))
        return FALSE;
    return TRUE;
}

static void
assert_parse_error(const char *path, gsize len)
{
    g_autoptr(GError) error = NULL;

    if (try_file(path, &error))
        g_error("a copy truncated to %" G_GSIZE_FORMAT " bytes was accepted", len);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "offset "));
}

/* v7: where the trailing strings section (section descriptions, not needed)
 * starts, found by walking the sections in file order; else the file size. */
static gsize
needed_size(GBytes *bytes)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(bytes, &len);
    gsize p = 10, last = len;

    if (d[p] != '7')
        return len; /* v6 ends with the CPU data */
    p += 2 + 2 + 4;
    p += strlen((const char *)d + p) + 1; /* compression name, version */
    p += strlen((const char *)d + p) + 1;
    p += 8;
    while (p + 16 <= len) {
        guint16 id;
        guint64 size;
        memcpy(&id, d + p, 2);
        memcpy(&size, d + p + 8, 8);
        last = id == 15 ? p : len;
        p += 16 + size;
    }
    g_assert_cmpuint(p, ==, len);
    return last;
}

/* Every truncation fails (v6 ends in CPU data, v7 in an options section),
 * except inside a trailing strings section. */
static void
test_truncated(gconstpointer data)
{
    Fixture fx;
    gsize full, needed;
    int fd;
    GArray *lens = g_array_new(FALSE, FALSE, sizeof(gsize));

    fixture_load(&fx, data);
    full = g_bytes_get_size(fx.bytes);
    needed = needed_size(fx.bytes);
    g_test_message("%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes needed", (char *)data, needed, full);
    /* The header byte by byte, then spread out, and around both ends. */
    for (gsize l = 0; l < 160; l += l < 64 ? 1 : 7)
        g_array_append_val(lens, l);
    for (gsize i = 1; i < 40; i++) {
        gsize l = full * i / 40;
        g_array_append_val(lens, l);
    }
    for (gsize l = full - 16; l < full; l++)
        g_array_append_val(lens, l);
    for (gsize l = needed - 16; l < needed + 16 && l < full; l++)
        g_array_append_val(lens, l);
    fd = open(fx.path, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    /* Shrinking one copy: longest first. */
    for (guint i = lens->len; i-- > 0;) {
        gsize l = g_array_index(lens, gsize, i);
        g_assert_cmpint(ftruncate(fd, l), ==, 0);
        if (l < needed) {
            assert_parse_error(fx.path, l);
        } else {
            g_autoptr(GError) error = NULL;
            try_file(fx.path, &error);
        }
    }
    close(fd);
    g_array_unref(lens);
    fixture_clear(&fx);
}

/* Random bytes changed anywhere: open may fail (with an error) or succeed;
 * never a crash or an overrun (ASan). */
static void
test_corrupted(gconstpointer data)
{
    Fixture fx;
    gsize full;
    g_autoptr(GRand) rand = g_rand_new_with_seed(0x4a9);
    guint failures = 0, n = g_test_slow() ? 2000 : 60;

    fixture_load(&fx, data);
    full = g_bytes_get_size(fx.bytes);
    g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(fx.bytes, NULL), full);
    for (guint i = 0; i < n; i++) {
        g_autoptr(GError) error = NULL;
        guint flips = g_rand_int_range(rand, 1, 9);
        gsize at[8];
        guint8 was[8];

        for (guint f = 0; f < flips; f++) {
            /* Mostly the metadata and headers: the head and, for v7, the tail. */
            gsize region = g_rand_boolean(rand) ? MIN(full, 4096) : full;
            at[f] = g_rand_boolean(rand) ? (gsize)g_rand_int_range(rand, 0, region)
                                         : full - 1 - g_rand_int_range(rand, 0, MIN(full, 8192));
            was[f] = copy[at[f]];
            copy[at[f]] = g_rand_boolean(rand) ? 0xff : (guint8)g_rand_int(rand);
        }
        g_assert_true(g_file_set_contents(fx.path, (char *)copy, full, NULL));
        if (!try_file(fx.path, &error)) {
            g_assert_nonnull(error);
            g_assert_true(error->domain == HAPVM_ERROR);
            failures++;
        }
        for (guint f = flips; f-- > 0;)
            copy[at[f]] = was[f];
    }
    g_test_message("%s: %u of %u corrupted copies rejected", (char *)data, failures, n);
    g_assert_cmpuint(failures, >, 0);
    fixture_clear(&fx);
}

/* Fields set to extreme values at places trace-cmd writes sizes and offsets. */
static void
test_hostile_sizes(void)
{
    Fixture fx;
    gsize full;

    fixture_load(&fx, "fork-v7zstd");
    full = g_bytes_get_size(fx.bytes);
    const guint8 *orig = g_bytes_get_data(fx.bytes, NULL);
    /* v7: magic(10) "7\0" endian long page(4) "zstd\0" "1.5.4\0" options(8) */
    gsize opt_at = 10 + 2 + 1 + 1 + 4;
    opt_at += strlen((const char *)orig + opt_at) + 1;
    opt_at += strlen((const char *)orig + opt_at) + 1;
    guint64 first_opt;
    memcpy(&first_opt, orig + opt_at, 8);
    g_assert_cmpuint(first_opt, <, full);
    static const guint64 values[] = { 0, 1, 0x7fffffff, 0xffffffff, 0x100000000ull,
                                      G_MAXUINT64 - 15, G_MAXUINT64 };
    /* The options pointer; the first options section's size; its first option's size. */
    gsize fields[][2] = { { opt_at, 8 }, { first_opt + 8, 8 }, { first_opt + 16 + 2, 4 },
                          { first_opt + 4, 4 } };
    for (guint f = 0; f < G_N_ELEMENTS(fields); f++) {
        for (guint v = 0; v < G_N_ELEMENTS(values); v++) {
            g_autofree guint8 *copy = g_memdup2(orig, full);
            g_autoptr(GError) error = NULL;
            memcpy(copy + fields[f][0], &values[v], fields[f][1]);
            g_assert_true(g_file_set_contents(fx.path, (char *)copy, full, NULL));
            if (!try_file(fx.path, &error))
                g_assert_true(error->domain == HAPVM_ERROR);
        }
    }
    fixture_clear(&fx);
}

static void
test_not_trace_dat(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("tracedattest-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "x.dat", NULL);
#define B(x) { x, sizeof(x) - 1 }
    static const struct {
        const char *s;
        gsize len;
    } bad[] = {
        B(""),
        B("hello, world\n"),
        B("\x17\x08\x44tracing"),
        B("\x17\x08\x44tracing" "8\0"),
        B("\x17\x08\x44tracing" "6\0\0\x08\x00\x10\x00\x00"),
        B("\x17\x08\x44tracing" "6\0\0\x08\x00\x10\x00\x00" "header_page\0\xff\xff\xff\xff\xff\xff\xff\xff"),
        B("\x17\x08\x44tracing" "6\0\0\x08\x00\x10\x00\x00" "header_page\0\0\0\0\0\0\0\0\0"
          "header_event\0\0\0\0\0\0\0\0\0" "\xff\xff\xff\xff"),
        B("\x17\x08\x44tracing" "6\0\2\x08\x00\x10\x00\x00"),
        B("\x17\x08\x44tracing" "6\0\0\x08\x01\x10\x00\x00"),
        B("\x17\x08\x44tracing" "7\0\0\x08\x00\x10\x00\x00" "lz4\0" "1\0"),
        B("\x17\x08\x44tracing" "7\0\0\x08\x00\x10\x00\x00" "none\0\0" "\x1a\0\0\0\0\0\0\0"),
        B("\x17\x08\x44tracing" "7\0\0\x08\x00\x10\x00\x00" "none\0\0" "\x1a\0\0\0\0\0\0\0"
          "\0\0\0\0\0\0\0\0\x0a\0\0\0\0\0\0\0" "\0\0\x08\0\0\0\x1a\0\0\0\0\0\0\0"),
    };
#undef B

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&error);
        g_assert_true(g_file_set_contents(path, bad[i].s, bad[i].len, NULL));
        g_assert_null(hapvm_trace_dat_open(path, &error));
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
        g_test_message("%s", error->message);
    }
    unlink(path);
    g_clear_error(&error);
    g_assert_null(hapvm_trace_dat_open(path, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_clear_error(&error);
    g_assert_null(hapvm_trace_dat_open(dir, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        g_autofree char *a = g_strdup_printf("/tracedat/trace-cmd-report/%s", fixtures[i]);
        g_autofree char *b = g_strdup_printf("/tracedat/truncated/%s", fixtures[i]);
        g_autofree char *c = g_strdup_printf("/tracedat/corrupted/%s", fixtures[i]);
        g_test_add_data_func(a, fixtures[i], test_fixture);
        g_test_add_data_func(b, fixtures[i], test_truncated);
        g_test_add_data_func(c, fixtures[i], test_corrupted);
    }
    g_test_add_func("/tracedat/open-systems", test_open_systems);
    g_test_add_func("/tracedat/synthetic-v7-zlib-zstd", test_synthetic_v7);
    g_test_add_func("/tracedat/hostile-sizes", test_hostile_sizes);
    g_test_add_func("/tracedat/not-trace-dat", test_not_trace_dat);
    return g_test_run();
}

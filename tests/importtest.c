/* hapvm import: trace-cmd recordings (tests/data/tracedat/, recorded in the
 * lab by tests/lab/record-tracedat.sh) scored through hapvm_import_trace_dat
 * and hapvm_result_build, checked against what `trace-cmd report` printed
 * for them (expected.txt: records per task and function, by exact address
 * and by SYMBOL+OFF of the file's own kallsyms).  Then target selection (tid,
 * comm, fork following on a recording with a sched_process_fork record),
 * loss (a page flagged "missed events", overruns in the CPU stats) and
 * malformed input. */
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <zlib.h>

#include "hapvm-error.h"
#include "hapvm-import.h"
#include "hapvm-ksyms.h"
#include "hapvm-result.h"

/* libtraceevent 1.7 leaks the tokens of formats it fails to parse. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:tep_parse_event\n";
}

static const char *const fixtures[] = { "fork-v6", "fork-v7zstd", "getppid-v7none" };

typedef struct {
    GHashTable *ip;     /* "pid:ip" and "*:ip" (hex) → records */
    GHashTable *names;  /* "pid:SYMBOL" and "*:SYMBOL" → 1 */
    GHashTable *sys;    /* "nr" → records, all tasks */
    GHashTable *pid_events; /* pid → function records */
    GArray *pids;
    guint64 function_events;
} Expected;

static void
add_count(GHashTable *h, char *key, guint64 n)
{
    guint64 *v = g_hash_table_lookup(h, key);

    if (!v) {
        v = g_new0(guint64, 1);
        g_hash_table_insert(h, g_strdup(key), v);
    }
    *v += n;
    g_free(key);
}

static void
expected_load(Expected *ex, const char *name)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "tracedat", name, "expected.txt", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    ex->ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->sys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->pid_events = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ex->pids = g_array_new(FALSE, FALSE, sizeof(guint32));
    ex->function_events = 0;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        guint n = g_strv_length(f);
        if (n == 5 && strcmp(f[0], "function") == 0) {
            guint64 c = g_ascii_strtoull(f[4], NULL, 10);
            guint64 ip = g_ascii_strtoull(f[2], NULL, 16);
            g_autofree char *sym = g_strndup(f[3], strrchr(f[3], '+') ? (gsize)(strrchr(f[3], '+') - f[3])
                                                                      : strlen(f[3]));
            add_count(ex->ip, g_strdup_printf("%s:%" G_GINT64_MODIFIER "x", f[1], ip), c);
            add_count(ex->ip, g_strdup_printf("*:%" G_GINT64_MODIFIER "x", ip), c);
            add_count(ex->names, g_strdup_printf("%s:%s", f[1], sym), 1);
            add_count(ex->names, g_strdup_printf("*:%s", sym), 1);
            if (!g_hash_table_contains(ex->pid_events, f[1])) {
                guint32 pid = atoi(f[1]);
                g_array_append_val(ex->pids, pid);
            }
            add_count(ex->pid_events, g_strdup(f[1]), c);
            ex->function_events += c;
        } else if (n == 4 && strcmp(f[0], "sys_enter") == 0) {
            add_count(ex->sys, g_strdup(f[2]), g_ascii_strtoull(f[3], NULL, 10));
        }
    }
    g_assert_cmpuint(ex->pids->len, >=, 1);
}

static void
expected_clear(Expected *ex)
{
    g_hash_table_unref(ex->ip);
    g_hash_table_unref(ex->names);
    g_hash_table_unref(ex->sys);
    g_hash_table_unref(ex->pid_events);
    g_array_unref(ex->pids);
}

/* The fixture's trace.dat, decompressed, in a temp dir. */
static char *
fixture_file(const char *name, char **tmpdir, GBytes **bytes)
{
    g_autofree char *gz = g_test_build_filename(G_TEST_DIST, "data", "tracedat", name, "trace.dat.gz", NULL);
    g_autoptr(GError) error = NULL;
    GByteArray *buf = g_byte_array_new();
    gzFile z = gzopen(gz, "rb");
    guint8 chunk[65536];
    int n;

    g_assert_nonnull(z);
    while ((n = gzread(z, chunk, sizeof(chunk))) > 0)
        g_byte_array_append(buf, chunk, n);
    g_assert_cmpint(n, ==, 0);
    gzclose(z);
    *tmpdir = g_dir_make_tmp("importtest-XXXXXX", &error);
    g_assert_no_error(error);
    char *path = g_build_filename(*tmpdir, "trace.dat", NULL);
    g_assert_true(g_file_set_contents(path, (char *)buf->data, buf->len, NULL));
    if (bytes)
        *bytes = g_byte_array_free_to_bytes(buf);
    else
        g_byte_array_unref(buf);
    return path;
}

static void
remove_file(char *tmpdir, char *path)
{
    g_unlink(path);
    g_rmdir(tmpdir);
    g_free(path);
    g_free(tmpdir);
}

/* Import and score, as hapvm import does; NULL with error set on failure. */
static JsonNode *
import(const char *path, const HapvmImportOpts *o, gboolean symbols, HapvmImportInfo *info, GError **error)
{
    static const char *const systems[] = { "ftrace", "raw_syscalls", "sched", NULL };
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, systems, error);
    g_autoptr(HapvmKsyms) ksyms = NULL;
    HapvmImportInfo local;

    if (!td)
        return NULL;
    if (symbols) {
        gsize len;
        const char *k = hapvm_trace_dat_get_kallsyms(td, &len);
        g_assert_nonnull(k);
        ksyms = hapvm_ksyms_load_data(k, len, path, error);
        g_assert_nonnull(ksyms);
    }
    g_autoptr(HapvmMeasurement) m = hapvm_import_trace_dat(td, o, info ? info : &local, error);
    if (!info && m)
        hapvm_import_info_clear(&local);
    if (!m)
        return NULL;
    HapvmResultInput in = { .target_kind = "recording", .target = path, .ksyms = ksyms,
                            .lines_error = "test", .density = HAPVM_DEFAULT_DENSITY };
    return hapvm_result_build(m, &in);
}

static JsonObject *
member(JsonObject *o, const char *name)
{
    return json_object_get_object_member(o, name);
}

/* functions[] as "key → count": by address (no symbols) or name. */
static GHashTable *
result_functions(JsonObject *r, const char *key, gboolean task_only)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    JsonArray *a = json_object_get_array_member(r, "functions");

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *f = json_array_get_object_element(a, i);
        if (task_only && !json_object_get_boolean_member(f, "hap_f"))
            continue;
        const char *k = json_object_get_string_member(f, key);
        g_assert_false(g_hash_table_contains(h, k)); /* one record per function */
        guint64 *v = g_new(guint64, 1);
        *v = json_object_get_int_member(f, "count");
        g_hash_table_insert(h, g_strdup(k), v);
    }
    return h;
}

/* got (address → count) equals the expected records of pid ("*" = all). */
static void
assert_same_ips(GHashTable *got, const Expected *ex, const char *pid)
{
    GHashTableIter it;
    gpointer k, v;
    guint want_n = 0, bad = 0;
    g_autofree char *prefix = g_strdup_printf("%s:", pid);

    g_hash_table_iter_init(&it, ex->ip);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!g_str_has_prefix(k, prefix))
            continue;
        want_n++;
        g_autofree char *addr = g_strdup_printf("0x%s", (char *)k + strlen(prefix));
        guint64 *c = g_hash_table_lookup(got, addr);
        if (!c || *c != *(guint64 *)v) {
            if (bad++ < 5)
                g_test_message("pid %s %s: import %" G_GUINT64_FORMAT ", trace-cmd %" G_GUINT64_FORMAT,
                               pid, addr, c ? *c : 0, *(guint64 *)v);
        }
    }
    g_assert_cmpuint(bad, ==, 0);
    g_assert_cmpuint(g_hash_table_size(got), ==, want_n);
}

static void
assert_same_names(GHashTable *got, const Expected *ex, const char *pid)
{
    GHashTableIter it;
    gpointer k;
    guint want_n = 0;
    g_autofree char *prefix = g_strdup_printf("%s:", pid);

    g_hash_table_iter_init(&it, ex->names);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (!g_str_has_prefix(k, prefix))
            continue;
        want_n++;
        if (!g_hash_table_contains(got, (char *)k + strlen(prefix)))
            g_test_message("pid %s: %s missing", pid, (char *)k + strlen(prefix));
        g_assert_true(g_hash_table_contains(got, (char *)k + strlen(prefix)));
    }
    g_assert_cmpuint(g_hash_table_size(got), ==, want_n);
}

static void
test_fixture(gconstpointer data)
{
    const char *name = data;
    char *tmpdir;
    char *path = fixture_file(name, &tmpdir, NULL);
    Expected ex;
    g_autoptr(GError) error = NULL;

    expected_load(&ex, name);

    /* Every task: the addresses and their record counts. */
    HapvmImportOpts all = { .all = TRUE };
    g_auto(HapvmImportInfo) info = { 0 };
    g_autoptr(JsonNode) r = import(path, &all, FALSE, &info, &error);
    g_assert_no_error(error);
    JsonObject *ro = json_node_get_object(r);
    g_autoptr(GHashTable) got = result_functions(ro, "address", FALSE);
    assert_same_ips(got, &ex, "*");
    g_assert_cmpuint(json_object_get_int_member(member(ro, "events"), "function"), ==, ex.function_events);
    g_assert_cmpuint(info.tasks_recorded, ==, ex.pids->len);
    g_assert_cmpuint(info.ignored_events, ==, 0);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(member(ro, "target"), "tasks")), ==,
                     ex.pids->len);
    g_assert_true(json_object_get_boolean_member(member(ro, "loss"), "complete"));
    g_assert_cmpstr(json_object_get_string_member(member(ro, "timing"), "end_reason"), ==, "end-of-recording");
    g_assert_cmpstr(json_object_get_string_member(member(ro, "method"), "trace_clock"), ==, "global");
    /* Warm-up 0: every task-context function is steady state, none startup. */
    g_assert_cmpint(json_object_get_int_member(member(ro, "scores"), "startup_functions"), ==, 0);
    JsonArray *curve = json_object_get_array_member(ro, "curve");
    JsonArray *lastp = json_array_get_array_element(curve, json_array_get_length(curve) - 1);
    g_assert_cmpint(json_array_get_int_element(lastp, 1), ==,
                    json_object_get_int_member(member(ro, "scores"), "nabla_f"));

    /* System calls, all tasks (fork-v6 recorded raw_syscalls:sys_enter). */
    JsonArray *sc = json_object_get_array_member(ro, "syscalls");
    g_assert_cmpuint(json_array_get_length(sc), ==, g_hash_table_size(ex.sys));
    for (guint i = 0; i < json_array_get_length(sc); i++) {
        JsonObject *s = json_array_get_object_element(sc, i);
        g_autofree char *nr = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(s, "nr"));
        guint64 *want = g_hash_table_lookup(ex.sys, nr);
        g_assert_nonnull(want);
        g_assert_cmpint(json_object_get_int_member(s, "count"), ==, *want);
    }
    g_assert_true(json_object_get_boolean_member(member(ro, "method"), "syscalls") == (g_hash_table_size(ex.sys) > 0));

    /* By symbol of the file's own kallsyms: trace-cmd's SYMBOL of SYMBOL+OFF. */
    g_autoptr(JsonNode) rn = import(path, &all, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GHashTable) gotn = result_functions(json_node_get_object(rn), "name", FALSE);
    assert_same_names(gotn, &ex, "*");

    /* Each task alone (--tid): its own records only, the rest ignored. */
    for (guint i = 0; i < ex.pids->len; i++) {
        guint32 tid = g_array_index(ex.pids, guint32, i);
        g_autofree char *pid = g_strdup_printf("%u", tid);
        HapvmImportOpts one = { .tids = &tid, .n_tids = 1 };
        g_auto(HapvmImportInfo) oi = { 0 };
        g_autoptr(JsonNode) r1 = import(path, &one, FALSE, &oi, &error);
        g_assert_no_error(error);
        g_autoptr(GHashTable) g1 = result_functions(json_node_get_object(r1), "address", FALSE);
        assert_same_ips(g1, &ex, pid);
        guint64 mine = *(guint64 *)g_hash_table_lookup(ex.pid_events, pid);
        g_assert_cmpuint(json_object_get_int_member(member(json_node_get_object(r1), "events"), "function"), ==,
                         mine);
        g_assert_cmpuint(oi.ignored_events, >=, ex.function_events - mine);
        g_autoptr(JsonNode) r2 = import(path, &one, TRUE, NULL, &error);
        g_assert_no_error(error);
        g_autoptr(GHashTable) g2 = result_functions(json_node_get_object(r2), "name", FALSE);
        assert_same_names(g2, &ex, pid);
    }
    expected_clear(&ex);
    remove_file(tmpdir, path);
}

static char *
functions_json(JsonNode *r)
{
    JsonNode *f = json_object_get_member(json_node_get_object(r), "functions");
    return json_to_string(f, FALSE);
}

/* Comm filter against tid filter; selection errors. */
static void
test_selection(void)
{
    char *tmpdir;
    char *path = fixture_file("fork-v7zstd", &tmpdir, NULL);
    g_autoptr(GError) error = NULL;
    HapvmImportOpts all = { .all = TRUE };
    guint32 both[] = { 136, 137 };
    HapvmImportOpts tids = { .tids = both, .n_tids = 2 };
    HapvmImportOpts exact = { .comm = "sysloop" };
    HapvmImportOpts pattern = { .comm = "sys.*|nothing" };

    g_autoptr(JsonNode) ra = import(path, &all, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(JsonNode) rt = import(path, &tids, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(JsonNode) rc = import(path, &exact, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(JsonNode) rp = import(path, &pattern, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *fa = functions_json(ra), *ft = functions_json(rt), *fc = functions_json(rc),
                    *fp = functions_json(rp);
    g_assert_cmpstr(ft, ==, fa);
    g_assert_cmpstr(fc, ==, fa);
    g_assert_cmpstr(fp, ==, fa);
    JsonArray *tasks = json_object_get_array_member(member(json_node_get_object(rc), "target"), "tasks");
    g_assert_cmpuint(json_array_get_length(tasks), ==, 2);
    for (guint i = 0; i < 2; i++)
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(tasks, i), "comm"), ==,
                        "sysloop");

    /* The regex matches the whole comm: "sys" alone matches nothing. */
    HapvmImportOpts partial = { .comm = "sys" };
    g_assert_null(import(path, &partial, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_assert_nonnull(strstr(error->message, "136 sysloop, 137 sysloop"));
    g_clear_error(&error);
    HapvmImportOpts badre = { .comm = "(" };
    g_assert_null(import(path, &badre, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);
    /* trace-cmd itself (pid 135) has a saved comm but no records. */
    HapvmImportOpts tc = { .comm = "trace-cmd" };
    g_assert_null(import(path, &tc, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_clear_error(&error);
    HapvmImportOpts none = { 0 };
    g_assert_null(import(path, &none, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);
    HapvmImportOpts mixed = { .all = TRUE, .tids = both, .n_tids = 1 };
    g_assert_null(import(path, &mixed, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);
    HapvmImportOpts longwarm = { .all = TRUE, .warmup_s = 5 };
    g_assert_null(import(path, &longwarm, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);

    /* A tid without records is reported, the others scored. */
    guint32 some[] = { 136, 4242 };
    HapvmImportOpts absent = { .tids = some, .n_tids = 2 };
    g_auto(HapvmImportInfo) info = { 0 };
    g_autoptr(JsonNode) rs = import(path, &absent, FALSE, &info, &error);
    g_assert_no_error(error);
    g_assert_nonnull(info.absent);
    g_assert_cmpstr(info.absent[0], ==, "4242");
    g_assert_null(info.absent[1]);

    /* A warm-up: functions first hit before it are startup, not HAP-F. */
    HapvmImportOpts warm = { .all = TRUE, .warmup_s = 0.05 };
    g_autoptr(JsonNode) rw = import(path, &warm, TRUE, NULL, &error);
    g_assert_no_error(error);
    JsonObject *sw = member(json_node_get_object(rw), "scores"), *s0 = member(json_node_get_object(ra), "scores");
    g_assert_cmpint(json_object_get_int_member(sw, "startup_functions"), >, 0);
    g_assert_cmpint(json_object_get_int_member(sw, "hap_f"), <, json_object_get_int_member(s0, "hap_f"));
    g_assert_cmpint(json_object_get_int_member(sw, "nabla_f"), ==, json_object_get_int_member(s0, "nabla_f"));
    remove_file(tmpdir, path);
}

/* ---- a v6 file written here from the lab pages of tests/data/trace/ ------- */

static void
put(GByteArray *b, guint64 v, guint n)
{
    for (guint i = 0; i < n; i++) {
        guint8 c = v >> (8 * i);
        g_byte_array_append(b, &c, 1);
    }
}

static void
put_text(GByteArray *b, const char *dir, const char *rel, guint size_bytes)
{
    g_autofree char *p = g_build_filename(dir, rel, NULL);
    g_autofree char *t = NULL;
    gsize n;

    g_assert_true(g_file_get_contents(p, &t, &n, NULL));
    put(b, n, size_bytes);
    g_byte_array_append(b, (guint8 *)t, n);
}

/* sysloop fork 50 traced live by hapvm's engine in the lab with
 * sched_process_fork (130 forks 131), laid out as trace-cmd's v6. */
static char *
synth_fork_v6(const char *tmpdir, const char *cpustats)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", NULL);
    g_autoptr(GByteArray) b = g_byte_array_new();
    const char *cmdlines = "130 sysloop\n131 sysloop\n";

    g_byte_array_append(b, (const guint8 *)"\x17\x08\x44tracing6", 12);
    put(b, 0, 1);
    put(b, 8, 1);
    put(b, 4096, 4);
    g_byte_array_append(b, (const guint8 *)"header_page", 12);
    put_text(b, dir, "header_page", 8);
    g_byte_array_append(b, (const guint8 *)"header_event", 13);
    put(b, 0, 8);
    put(b, 1, 4);
    put_text(b, dir, "events/ftrace/function/format", 8);
    put(b, 2, 4);
    g_byte_array_append(b, (const guint8 *)"raw_syscalls", 13);
    put(b, 1, 4);
    put_text(b, dir, "events/raw_syscalls/sys_enter/format", 8);
    g_byte_array_append(b, (const guint8 *)"sched", 6);
    put(b, 1, 4);
    put_text(b, dir, "events/sched/sched_process_fork/format", 8);
    put(b, 0, 4); /* kallsyms */
    put(b, 0, 4); /* printk */
    put(b, strlen(cmdlines), 8);
    g_byte_array_append(b, (const guint8 *)cmdlines, strlen(cmdlines));
    put(b, 2, 4);
    g_byte_array_append(b, (const guint8 *)"options  ", 10);
    put(b, 2, 2); /* CPUSTAT */
    put(b, strlen(cpustats) + 1, 4);
    g_byte_array_append(b, (const guint8 *)cpustats, strlen(cpustats) + 1);
    put(b, 0, 2);
    g_byte_array_append(b, (const guint8 *)"flyrecord", 10);
    guint at = b->len;
    g_byte_array_set_size(b, b->len + 32); /* CPU offsets and sizes, set below */
    memset(b->data + at, 0, 32);
    put(b, 16, 8);
    g_byte_array_append(b, (const guint8 *)"[local] global\n", 16);
    for (guint cpu = 0; cpu < 2; cpu++) {
        g_autofree char *rel = g_strdup_printf("cpu%u.raw", cpu);
        while (b->len % 4096)
            put(b, 0, 1);
        guint64 off = b->len;
        put_text(b, dir, rel, 0);
        guint64 size = b->len - off;
        memcpy(b->data + at + cpu * 16, &off, 8);
        memcpy(b->data + at + cpu * 16 + 8, &size, 8);
    }
    char *path = g_build_filename(tmpdir, "fork.dat", NULL);
    g_assert_true(g_file_set_contents(path, (char *)b->data, b->len, NULL));
    return path;
}

static GHashTable *
task_set(JsonObject *r)
{
    GHashTable *h = g_hash_table_new(g_direct_hash, g_direct_equal);
    JsonArray *a = json_object_get_array_member(member(r, "target"), "tasks");

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *t = json_array_get_object_element(a, i);
        g_hash_table_insert(h, GINT_TO_POINTER(json_object_get_int_member(t, "tid")),
                            GINT_TO_POINTER(json_object_get_boolean_member(t, "from_fork") ? 2 : 1));
    }
    return h;
}

static void
test_forks(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmpdir = g_dir_make_tmp("importtest-XXXXXX", &error);
    g_autofree char *stats_path = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", "stats", NULL);
    g_autofree char *stats = NULL;

    g_assert_true(g_file_get_contents(stats_path, &stats, NULL, NULL));
    /* trace-cmd writes one "CPU: N" block per CPU. */
    g_autofree char *blocks = g_strdup_printf("CPU: 0\n%.*sCPU: 1\n%s", (int)(strstr(stats, "read events: 0\n") + 15 - stats),
                                              stats, strstr(stats, "read events: 0\n") + 15);
    g_autofree char *path = synth_fork_v6(tmpdir, blocks);

    guint32 parent = 130;
    HapvmImportOpts pid = { .pids = &parent, .n_pids = 1 };
    HapvmImportOpts tid = { .tids = &parent, .n_tids = 1 };
    HapvmImportOpts all = { .all = TRUE };
    g_auto(HapvmImportInfo) info = { 0 };
    g_autoptr(JsonNode) rp = import(path, &pid, FALSE, &info, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(info.fork_events, ==, 1);
    g_assert_cmpuint(info.tasks_from_forks, ==, 1);
    g_autoptr(GHashTable) tp = task_set(json_node_get_object(rp));
    g_assert_cmpuint(g_hash_table_size(tp), ==, 2);
    g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(tp, GINT_TO_POINTER(130))), ==, 1);
    g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(tp, GINT_TO_POINTER(131))), ==, 2);
    g_assert_true(json_object_get_boolean_member(member(json_node_get_object(rp), "method"), "follow_forks"));
    g_autoptr(JsonNode) ra = import(path, &all, FALSE, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *fp = functions_json(rp), *fa = functions_json(ra);
    g_assert_cmpstr(fp, ==, fa);

    /* --tid: the task alone; the child's records are ignored. */
    g_autoptr(JsonNode) rt = import(path, &tid, FALSE, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GHashTable) tt = task_set(json_node_get_object(rt));
    g_assert_cmpuint(g_hash_table_size(tt), ==, 1);
    g_assert_cmpint(json_object_get_int_member(member(json_node_get_object(rt), "events"), "function"), <,
                    json_object_get_int_member(member(json_node_get_object(rp), "events"), "function"));
    /* The child alone, by comm: both are sysloop, so comm gives both. */
    HapvmImportOpts comm = { .comm = "sysloop" };
    g_autoptr(JsonNode) rc = import(path, &comm, FALSE, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *fc = functions_json(rc);
    g_assert_cmpstr(fc, ==, fa);

    /* Loss in the CPU stats, exactly as the live path counts it. */
    JsonObject *l = member(json_node_get_object(rp), "loss");
    g_assert_true(json_object_get_boolean_member(l, "complete"));
    g_assert_cmpint(json_object_get_int_member(l, "unread_entries"), ==, 7262 + 36968);
    g_unlink(path);
    g_free(path);
    g_autofree char *lossy = g_strdup(blocks);
    char *o = strstr(lossy, "\noverrun: 0\n");
    g_assert_nonnull(o);
    o[10] = '7';
    o = strstr(lossy, "dropped events: 0\n");
    g_assert_nonnull(o);
    o[16] = '2';
    path = synth_fork_v6(tmpdir, lossy);
    g_autoptr(JsonNode) rl = import(path, &pid, FALSE, NULL, &error);
    g_assert_no_error(error);
    l = member(json_node_get_object(rl), "loss");
    g_assert_false(json_object_get_boolean_member(l, "complete"));
    g_assert_cmpint(json_object_get_int_member(l, "overrun"), ==, 7);
    g_assert_cmpint(json_object_get_int_member(l, "dropped"), ==, 2);
    g_assert_cmpint(json_object_get_int_member(l, "commit_overrun"), ==, 0);
    g_assert_cmpuint(hapvm_result_get_lost(json_node_get_object(rl)), ==, 9);
    g_unlink(path);
    g_rmdir(tmpdir);
}

/* ---- missed events flagged in pages -------------------------------------- */

typedef struct {
    guint8 head[64];  /* the first bytes of a page with room after its data */
    gsize size;
    gboolean found;
} PickPage;

static void
pick_page(gpointer data, const void *page, gsize size, int cpu)
{
    PickPage *p = data;
    guint64 commit;

    memcpy(&commit, (const guint8 *)page + 8, 8);
    if (p->found || size < 4096 || (commit & 0xffffff) + 16 + 8 > 4096 || (commit & 0xffffff) < 64)
        return;
    memcpy(p->head, page, 64);
    p->size = commit & 0xffffff;
    p->found = TRUE;
}

static void
test_missed_pages(void)
{
    char *tmpdir;
    GBytes *bytes;
    char *path = fixture_file("getppid-v7none", &tmpdir, &bytes);
    g_autoptr(GError) error = NULL;
    HapvmImportOpts all = { .all = TRUE };
    PickPage pp = { 0 };

    {
        g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open(path, &error);
        g_assert_no_error(error);
        g_assert_true(hapvm_trace_dat_foreach_page(td, pick_page, &pp, &error));
        g_assert_true(pp.found);
    }
    gsize len;
    const guint8 *orig = g_bytes_get_data(bytes, &len);
    const guint8 *at = memmem(orig, len, pp.head, 64);
    g_assert_nonnull(at);
    gsize off = at - orig;

    /* "Missed events" without a count: one page of unknown loss. */
    g_autofree guint8 *copy = g_memdup2(orig, len);
    guint64 commit;
    memcpy(&commit, copy + off + 8, 8);
    commit |= 1ULL << 31;
    memcpy(copy + off + 8, &commit, 8);
    g_assert_true(g_file_set_contents(path, (char *)copy, len, NULL));
    g_autoptr(JsonNode) r1 = import(path, &all, FALSE, NULL, &error);
    g_assert_no_error(error);
    JsonObject *l = member(json_node_get_object(r1), "loss");
    g_assert_false(json_object_get_boolean_member(l, "complete"));
    g_assert_cmpint(json_object_get_int_member(l, "pages_with_unknown_loss"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(l, "missed_in_pages"), ==, 0);

    /* With the count stored after the data, as the kernel does when room. */
    commit |= 1ULL << 30;
    memcpy(copy + off + 8, &commit, 8);
    guint64 missed = 1234;
    memcpy(copy + off + 16 + pp.size, &missed, 8);
    g_assert_true(g_file_set_contents(path, (char *)copy, len, NULL));
    g_autoptr(JsonNode) r2 = import(path, &all, FALSE, NULL, &error);
    g_assert_no_error(error);
    l = member(json_node_get_object(r2), "loss");
    g_assert_false(json_object_get_boolean_member(l, "complete"));
    g_assert_cmpint(json_object_get_int_member(l, "missed_in_pages"), ==, 1234);
    g_assert_cmpuint(hapvm_result_get_lost(json_node_get_object(r2)), ==, 1234);

    /* The unchanged file: complete. */
    g_assert_true(g_file_set_contents(path, (char *)orig, len, NULL));
    g_autoptr(JsonNode) r0 = import(path, &all, FALSE, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(json_object_get_boolean_member(member(json_node_get_object(r0), "loss"), "complete"));
    g_bytes_unref(bytes);
    remove_file(tmpdir, path);
}

static void
test_malformed(void)
{
    char *tmpdir;
    GBytes *bytes;
    char *path = fixture_file("fork-v7zstd", &tmpdir, &bytes);
    g_autoptr(GError) error = NULL;
    HapvmImportOpts all = { .all = TRUE };
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);

    /* Cut in the middle of the ring-buffer data. */
    g_assert_true(g_file_set_contents(path, data, len / 2, NULL));
    g_assert_null(import(path, &all, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, path));
    g_clear_error(&error);
    g_assert_true(g_file_set_contents(path, "{\"not\": \"a trace\"}\n", -1, NULL));
    g_assert_null(import(path, &all, FALSE, NULL, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_clear_error(&error);
    g_bytes_unref(bytes);
    remove_file(tmpdir, path);
}

static void
test_cpustats(void)
{
    HapvmTraceLoss l;

    hapvm_import_parse_cpustats("CPU: 0\nentries: 5\noverrun: 3\ncommit overrun: 1\ndropped events: 2\n"
                                "CPU: 1\nentries: 1\noverrun: 10\ncommit overrun: 0\ndropped events: 0\n", &l);
    g_assert_cmpuint(l.ncpus, ==, 2);
    g_assert_cmpuint(l.overrun, ==, 13);
    g_assert_cmpuint(l.commit_overrun, ==, 1);
    g_assert_cmpuint(l.dropped, ==, 2);
    g_assert_cmpuint(l.entries_left, ==, 6);
    hapvm_import_parse_cpustats(NULL, &l);
    g_assert_cmpuint(l.overrun + l.ncpus, ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        g_autofree char *a = g_strdup_printf("/import/trace-cmd-report/%s", fixtures[i]);
        g_test_add_data_func(a, fixtures[i], test_fixture);
    }
    g_test_add_func("/import/selection", test_selection);
    g_test_add_func("/import/forks-and-cpustats", test_forks);
    g_test_add_func("/import/missed-pages", test_missed_pages);
    g_test_add_func("/import/malformed", test_malformed);
    g_test_add_func("/import/cpustats", test_cpustats);
    return g_test_run();
}

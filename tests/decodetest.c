/* Decoder: our in-place ring-buffer parser against libtraceevent's kbuffer
 * (an independent implementation) and against the kernel's own text output,
 * on sub-buffers recorded in the lab (tests/lab/record-fixture.sh). */
#include <gio/gio.h>
#include <kbuffer.h>
#include <string.h>

#include "hapvm-decode.h"
#include "hapvm-error.h"

#define PAGE 4096

static const char *const fixture_events[] = {
    "ftrace/function", "raw_syscalls/sys_enter", "sched/sched_process_fork",
    "sched/sched_process_exit", NULL,
};

typedef struct {
    struct tep_handle *tep;
    GBytes *cpu[2];
} Fixture;

static void
fixture_load(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", NULL);

    fx->tep = hapvm_tep_load_dir(dir, fixture_events, &error);
    g_assert_no_error(error);
    for (int c = 0; c < 2; c++) {
        g_autofree char *name = g_strdup_printf("cpu%d.raw", c);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        char *data;
        gsize len;
        g_assert_true(g_file_get_contents(path, &data, &len, NULL));
        g_assert_cmpuint(len % PAGE, ==, 0);
        fx->cpu[c] = g_bytes_new_take(data, len);
    }
}

static void
fixture_clear(Fixture *fx)
{
    tep_free(fx->tep);
    for (int c = 0; c < 2; c++)
        g_bytes_unref(fx->cpu[c]);
}

static HapvmDecoder *
decode_all(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    HapvmDecoder *dec = hapvm_decoder_new(fx->tep, &error);

    g_assert_no_error(error);
    for (int c = 0; c < 2; c++) {
        gsize len;
        const guint8 *d = g_bytes_get_data(fx->cpu[c], &len);
        for (gsize off = 0; off < len; off += PAGE)
            hapvm_decoder_feed_page(dec, d + off, PAGE, c);
    }
    return dec;
}

/* Reference decode with kbuffer + tep field accessors. */
typedef struct {
    guint64 function_events, syscall_events, fork_events, exit_events;
    GHashTable *ips;        /* ip → count */
    GHashTable *pid_events; /* pid → function records */
    guint64 last_ts;
} Reference;

static void
reference_decode(Fixture *fx, Reference *ref)
{
    struct kbuffer *kb = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
    struct tep_event *fn = tep_find_event_by_name(fx->tep, "ftrace", "function");
    struct tep_event *se = tep_find_event_by_name(fx->tep, "raw_syscalls", "sys_enter");
    struct tep_event *fk = tep_find_event_by_name(fx->tep, "sched", "sched_process_fork");
    struct tep_event *ex = tep_find_event_by_name(fx->tep, "sched", "sched_process_exit");

    memset(ref, 0, sizeof(*ref));
    ref->ips = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    ref->pid_events = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int c = 0; c < 2; c++) {
        gsize len;
        const guint8 *d = g_bytes_get_data(fx->cpu[c], &len);
        for (gsize off = 0; off < len; off += PAGE) {
            unsigned long long ts;
            void *rec;
            g_assert_cmpint(kbuffer_load_subbuffer(kb, (void *)(d + off)), ==, 0);
            for (rec = kbuffer_read_event(kb, &ts); rec; rec = kbuffer_next_event(kb, &ts)) {
                struct tep_record r = { .data = rec, .size = kbuffer_event_size(kb), .ts = ts };
                int type = tep_data_type(fx->tep, &r);
                unsigned long long v;
                if (ts > ref->last_ts)
                    ref->last_ts = ts;
                if (type == fn->id) {
                    ref->function_events++;
                    g_assert_cmpint(tep_read_number_field(tep_find_field(fn, "ip"), rec, &v), ==, 0);
                    gint64 key = (gint64)v;
                    gpointer old = NULL;
                    if (g_hash_table_lookup_extended(ref->ips, &key, NULL, &old))
                        g_hash_table_insert(ref->ips, g_memdup2(&key, sizeof(key)), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + 1));
                    else
                        g_hash_table_insert(ref->ips, g_memdup2(&key, sizeof(key)), GSIZE_TO_POINTER(1));
                    int pid = tep_data_pid(fx->tep, &r);
                    gpointer n = g_hash_table_lookup(ref->pid_events, GINT_TO_POINTER(pid));
                    g_hash_table_insert(ref->pid_events, GINT_TO_POINTER(pid), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
                } else if (type == se->id) {
                    ref->syscall_events++;
                } else if (type == fk->id) {
                    ref->fork_events++;
                } else if (type == ex->id) {
                    ref->exit_events++;
                }
            }
        }
    }
    kbuffer_free(kb);
}

static void
reference_clear(Reference *ref)
{
    g_hash_table_unref(ref->ips);
    g_hash_table_unref(ref->pid_events);
}

static void
test_against_kbuffer(void)
{
    Fixture fx;
    Reference ref;

    fixture_load(&fx);
    reference_decode(&fx, &ref);
    g_autoptr(HapvmDecoder) dec = decode_all(&fx);
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    HapvmFuncSet *set = hapvm_decoder_get_functions(dec);

    g_assert_cmpuint(ref.function_events, >, 10000);
    g_assert_cmpuint(st->function_events, ==, ref.function_events);
    g_assert_cmpuint(st->syscall_events, ==, ref.syscall_events);
    g_assert_cmpuint(st->fork_events, ==, ref.fork_events);
    g_assert_cmpuint(st->other_events, ==, ref.exit_events);
    g_assert_cmpuint(st->bad_pages, ==, 0);
    g_assert_cmpuint(st->last_ts, ==, ref.last_ts);
    g_assert_cmpuint(hapvm_func_set_size(set), ==, g_hash_table_size(ref.ips));

    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ref.ips);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        HapvmFuncHit h;
        g_assert_true(hapvm_func_set_find(set, (guint64) * (gint64 *)k, &h));
        g_assert_cmpuint(h.count, ==, GPOINTER_TO_SIZE(v));
    }
    reference_clear(&ref);
    fixture_clear(&fx);
}

static char *
read_gz(const char *path)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GInputStream) in = G_INPUT_STREAM(g_file_read(file, NULL, &error));
    g_assert_no_error(error);
    g_autoptr(GZlibDecompressor) z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP);
    g_autoptr(GInputStream) cin = g_converter_input_stream_new(in, G_CONVERTER(z));
    g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable();
    g_output_stream_splice(out, cin, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GBytes) b = g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(out));
    return g_strndup(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* The kernel's own rendering of the same buffer (read with `cat trace`
 * before the raw pages were consumed): records per task must agree. */
static void
test_against_kernel_text(void)
{
    Fixture fx;
    Reference ref;
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", "trace.txt.gz", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GHashTable) text_pids = g_hash_table_new(g_direct_hash, g_direct_equal);
    guint64 text_function = 0, text_all = 0;

    text = read_gz(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (**l == '#' || !**l)
            continue;
        text_all++;
        /* "  comm-PID  [CPU] flags  TS: func <-parent" vs "TS: event: ..." */
        char *colon = strstr(*l, ": ");
        g_assert_nonnull(colon);
        char *rest = colon + 2;
        char *sp = strchr(rest, ' ');
        if (sp && sp > rest && sp[-1] == ':')
            continue; /* an event record, not a function record */
        text_function++;
        char *bracket = strstr(*l, " [");
        char *dash = bracket;
        while (dash > *l && *dash != '-')
            dash--;
        int pid = atoi(dash + 1);
        gpointer n = g_hash_table_lookup(text_pids, GINT_TO_POINTER(pid));
        g_hash_table_insert(text_pids, GINT_TO_POINTER(pid), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
    }

    fixture_load(&fx);
    reference_decode(&fx, &ref);
    g_autoptr(HapvmDecoder) dec = decode_all(&fx);
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);

    g_assert_cmpuint(st->function_events, ==, text_function);
    g_assert_cmpuint(st->events, ==, text_all);
    g_assert_cmpuint(g_hash_table_size(text_pids), ==, g_hash_table_size(ref.pid_events));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, text_pids);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_assert_cmpuint(GPOINTER_TO_SIZE(g_hash_table_lookup(ref.pid_events, k)), ==, GPOINTER_TO_SIZE(v));
    reference_clear(&ref);
    fixture_clear(&fx);
}

static void
count_forks(gpointer data, guint32 parent, guint32 child)
{
    GArray *a = data;
    guint32 pair[2] = { parent, child };
    g_array_append_vals(a, pair, 2);
}

static void
test_roles_and_forks(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", NULL);
    g_autofree char *out = NULL;
    g_autoptr(GArray) forks = g_array_new(FALSE, FALSE, sizeof(guint32));
    Fixture fx;
    int parent = 0, child = 0;

    g_autofree char *stdout_path = g_build_filename(dir, "stdout", NULL);
    g_assert_true(g_file_get_contents(stdout_path, &out, NULL, NULL));
    g_assert_cmpint(sscanf(strstr(out, "pid "), "pid %d", &parent), ==, 1);
    g_assert_cmpint(sscanf(strstr(out, "child "), "child %d", &child), ==, 1);

    fixture_load(&fx);
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(fx.tep, &error);
    g_assert_no_error(error);
    hapvm_decoder_set_role(dec, parent, 3);
    hapvm_decoder_set_default_role(dec, 5);
    hapvm_decoder_set_fork_func(dec, count_forks, forks);
    for (int c = 0; c < 2; c++) {
        gsize len;
        const guint8 *d = g_bytes_get_data(fx.cpu[c], &len);
        for (gsize off = 0; off < len; off += PAGE)
            hapvm_decoder_feed_page(dec, d + off, PAGE, c);
    }
    /* The workload forked once: parent → child. */
    g_assert_cmpuint(forks->len, ==, 2);
    g_assert_cmpuint(g_array_index(forks, guint32, 0), ==, (guint32)parent);
    g_assert_cmpuint(g_array_index(forks, guint32, 1), ==, (guint32)child);

    /* 50 getppid (nr 110) in the child, which had no role: the default. */
    const guint64 *sc5 = hapvm_decoder_get_syscalls(dec, 5);
    const guint64 *sc3 = hapvm_decoder_get_syscalls(dec, 3);
    g_assert_cmpuint(sc5[110], ==, 50);
    g_assert_cmpuint(sc3[110], ==, 0);
    g_assert_cmpuint(sc3[56], ==, 1); /* clone */
    g_assert_cmpuint(hapvm_decoder_get_syscall_total(dec, 110), ==, 50);
    g_assert_cmpuint(hapvm_decoder_get_syscall_total(dec, 56), ==, 1);
    g_assert_cmpuint(hapvm_decoder_get_syscall_total(dec, HAPVM_MAX_SYSCALL), ==, 0);
    g_assert_cmpuint(hapvm_decoder_get_stats(dec)->unknown_pid_events, >, 0);

    guint n;
    g_autofree HapvmFuncHit *arr = hapvm_func_set_to_array(hapvm_decoder_get_functions(dec), &n);
    guint both = 0;
    for (guint i = 0; i < n; i++) {
        g_assert_cmpuint(arr[i].role_mask & ~((1u << 3) | (1u << 5)), ==, 0);
        if (arr[i].role_mask == ((1u << 3) | (1u << 5)))
            both++;
        if (i)
            g_assert_cmpuint(arr[i - 1].first_ts, <=, arr[i].first_ts);
        g_assert_cmpuint(arr[i].ctx_mask, !=, 0);
    }
    g_assert_cmpuint(both, >, 100);
    fixture_clear(&fx);
}

/* Functions by context bit of one decode of the sysloop-fork fixture:
 * parent and child with the given roles (-1: unknown, skipped). */
static GHashTable *
ctx_set(Fixture *fx, int parent, int parent_role, int child, int child_role, HapvmContext ctx)
{
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(fx->tep, NULL);
    GHashTable *set = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    guint n;

    hapvm_decoder_set_known_only(dec, TRUE);
    if (parent_role >= 0)
        hapvm_decoder_set_role(dec, parent, parent_role);
    if (child_role >= 0)
        hapvm_decoder_set_role(dec, child, child_role);
    for (int c = 0; c < 2; c++) {
        gsize len;
        const guint8 *d = g_bytes_get_data(fx->cpu[c], &len);
        for (gsize off = 0; off < len; off += PAGE)
            hapvm_decoder_feed_page(dec, d + off, PAGE, c);
    }
    g_autofree HapvmFuncHit *arr = hapvm_func_set_to_array(hapvm_decoder_get_functions(dec), &n);
    for (guint i = 0; i < n; i++) {
        /* Only non-shared task context makes the task times. */
        g_assert_true(!arr[i].task_first_ts == !(arr[i].ctx_mask & (1u << HAPVM_CTX_TASK)));
        if (arr[i].ctx_mask & (1u << ctx))
            g_hash_table_add(set, g_memdup2(&arr[i].ip, sizeof(guint64)));
    }
    return set;
}

static gboolean
same_set(GHashTable *a, GHashTable *b)
{
    GHashTableIter it;
    gpointer k;

    if (g_hash_table_size(a) != g_hash_table_size(b))
        return FALSE;
    g_hash_table_iter_init(&it, a);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(b, k))
            return FALSE;
    return TRUE;
}

/* A task with the role shared (Xen's xenstored, ...) has its task context
 * counted as shared-task, never as task: decoded together with another
 * task, the task set is exactly the other's alone and the shared-task set
 * exactly the shared one's task set when it is decoded alone with an
 * ordinary role. */
static void
test_shared_role(void)
{
    g_autofree char *dir = g_test_build_filename(G_TEST_DIST, "data", "trace", "sysloop-fork", NULL);
    g_autofree char *stdout_path = g_build_filename(dir, "stdout", NULL);
    g_autofree char *out = NULL;
    int parent = 0, child = 0;
    Fixture fx;
    const int S = HAPVM_DECODE_SHARED_ROLE;

    g_assert_true(g_file_get_contents(stdout_path, &out, NULL, NULL));
    g_assert_cmpint(sscanf(strstr(out, "pid "), "pid %d", &parent), ==, 1);
    g_assert_cmpint(sscanf(strstr(out, "child "), "child %d", &child), ==, 1);
    fixture_load(&fx);
    g_autoptr(GHashTable) both_task = ctx_set(&fx, parent, S, child, 5, HAPVM_CTX_TASK);
    g_autoptr(GHashTable) both_shared = ctx_set(&fx, parent, S, child, 5, HAPVM_CTX_SHARED_TASK);
    g_autoptr(GHashTable) child_task = ctx_set(&fx, parent, -1, child, 5, HAPVM_CTX_TASK);
    g_autoptr(GHashTable) parent_task = ctx_set(&fx, parent, 3, child, -1, HAPVM_CTX_TASK);
    g_autoptr(GHashTable) parent_shared_task = ctx_set(&fx, parent, S, child, -1, HAPVM_CTX_TASK);
    g_test_message("task: both %u, child alone %u; shared-task: both %u, parent alone (role 3) %u",
                   g_hash_table_size(both_task), g_hash_table_size(child_task), g_hash_table_size(both_shared),
                   g_hash_table_size(parent_task));
    g_assert_cmpuint(g_hash_table_size(parent_task), >, 100);
    g_assert_cmpuint(g_hash_table_size(child_task), >, 10);
    g_assert_true(same_set(both_task, child_task));
    g_assert_true(same_set(both_shared, parent_task));
    g_assert_cmpuint(g_hash_table_size(parent_shared_task), ==, 0);
    fixture_clear(&fx);
}

static void
test_hostile_pages(void)
{
    Fixture fx;
    g_autoptr(GError) error = NULL;
    g_autoptr(GRand) rnd = g_rand_new_with_seed(42);

    fixture_load(&fx);
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(fx.tep, &error);
    g_assert_no_error(error);
    gsize len;
    const guint8 *d = g_bytes_get_data(fx.cpu[0], &len);
    for (int i = 0; i < 2000; i++) {
        /* Exact-size heap copies so ASan sees any over-read. */
        gsize sz = i < 100 ? (gsize)i : PAGE;
        g_autofree guint8 *page = g_malloc(sz ? sz : 1);
        memcpy(page, d + (i % (len / PAGE)) * PAGE, MIN(sz, (gsize)PAGE));
        for (int j = 0; j < 1 + i % 8 && sz > 0; j++)
            page[g_rand_int_range(rnd, 0, (gint32)sz)] = (guint8)g_rand_int(rnd);
        hapvm_decoder_feed_page(dec, page, sz, 0);
    }
    g_assert_cmpuint(hapvm_decoder_get_stats(dec)->bad_pages, >, 0);
    fixture_clear(&fx);
}

static void
test_missed_events(void)
{
    Fixture fx;
    g_autoptr(GError) error = NULL;

    fixture_load(&fx);
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(fx.tep, &error);
    g_assert_no_error(error);
    gsize len;
    const guint8 *d = g_bytes_get_data(fx.cpu[0], &len);
    guint8 page[PAGE];
    memcpy(page, d, PAGE);
    guint64 commit;
    memcpy(&commit, page + 8, 8);
    guint64 size = commit & ((1ULL << 27) - 1);
    if (size + 16 + 8 > PAGE)
        size = PAGE - 16 - 8; /* keep room for the stored count */
    /* As the kernel marks a page after an overrun: flag + stored count. */
    commit = size | (1ULL << 31) | (1ULL << 30);
    memcpy(page + 8, &commit, 8);
    guint64 missed = 12345;
    memcpy(page + 16 + size, &missed, 8);
    hapvm_decoder_feed_page(dec, page, PAGE, 0);
    commit = size | (1ULL << 31);
    memcpy(page + 8, &commit, 8);
    hapvm_decoder_feed_page(dec, page, PAGE, 0);
    g_assert_cmpuint(hapvm_decoder_get_stats(dec)->missed_events, ==, 12345);
    g_assert_cmpuint(hapvm_decoder_get_stats(dec)->pages_with_loss, ==, 1);
    fixture_clear(&fx);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/decode/against-kbuffer", test_against_kbuffer);
    g_test_add_func("/decode/against-kernel-text", test_against_kernel_text);
    g_test_add_func("/decode/roles-and-forks", test_roles_and_forks);
    g_test_add_func("/decode/shared-role", test_shared_role);
    g_test_add_func("/decode/hostile-pages", test_hostile_pages);
    g_test_add_func("/decode/missed-events", test_missed_events);
    return g_test_run();
}

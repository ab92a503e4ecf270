/* P1 (tests/bench/p1-decode): time to open a trace.dat and decode and dedupe
 * all its pages with hapvm_decoder, and memcpy throughput over the same file
 * mapping, each the best of --runs.
 *
 *   decodebench [--runs N] FILE
 *   decodebench --dump FILE
 *
 * --dump prints everything the decoder found, for comparing two builds on the
 * same file: stats, every hit's fields (sorted by address), per-role syscall
 * counts, in a plain pass and in passes with roles (some tasks left unknown,
 * roles inherited by forks), a steady start mid-trace, and known-only mode.
 *
 * Prints "key value" lines: events, function_events, data_bytes, pages,
 * unique, hapvm_s (formats of the systems hapvm decodes), hapvm_all_formats_s
 * (all ~1500 formats given to libtraceevent), memcpy_s (memcpy time for
 * data_bytes), memcpy_gbs, memcpy_fresh_mmap_gbs, decode_only_s (decoding
 * the pages from memory, without open and read; and its thread's CPU time,
 * decode_only_cpu_s, less sensitive to other load), read_only_s (open and
 * foreach_page without decoding). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hapvm-decode.h"
#include "hapvm-tracedat.h"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    guint64 events, function_events, pages, bytes;
    guint unique;
} Result;

static void
feed(gpointer dec, const void *page, gsize size, int cpu)
{
    hapvm_decoder_feed_page(dec, page, size, cpu);
}

/* The event systems hapvm's decoder reads (as the live engine loads them). */
static const char *const systems[] = { "ftrace", "raw_syscalls", "sched", NULL };

static double
run_hapvm(const char *path, gboolean all_formats, Result *r)
{
    g_autoptr(GError) error = NULL;
    double t0 = now();
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, all_formats ? NULL : systems, &error);

    if (!td) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), &error);
    if (!dec || !hapvm_trace_dat_foreach_page(td, feed, dec, &error)) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    r->unique = hapvm_func_set_size(hapvm_decoder_get_functions(dec));
    double t = now() - t0;
    r->events = st->events;
    r->function_events = st->function_events;
    r->pages = st->pages;
    r->bytes = hapvm_trace_dat_get_data_size(td);
    return t;
}

/* Every page of the file in memory, in foreach_page's order. */
typedef struct {
    GByteArray *bytes;
    GArray *pages; /* Page */
} Pages;

typedef struct {
    gsize off, size;
    int cpu;
} Page;

static void
keep_page(gpointer data, const void *page, gsize size, int cpu)
{
    Pages *ps = data;
    Page pg = { ps->bytes->len, size, cpu };

    g_byte_array_append(ps->bytes, page, size);
    g_array_append_val(ps->pages, pg);
}

/* Decoding alone: the pages already in memory (no file read, no open). */
static double
run_decode_only(const char *path, double *cpu)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, systems, &error);
    Pages ps = { g_byte_array_sized_new(hapvm_trace_dat_get_data_size(td)),
                 g_array_new(FALSE, FALSE, sizeof(Page)) };

    if (!hapvm_trace_dat_foreach_page(td, keep_page, &ps, &error)) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), &error);
    double t0 = now(), c0 = cpu_now();
    for (guint i = 0; i < ps.pages->len; i++) {
        const Page *pg = &g_array_index(ps.pages, Page, i);
        hapvm_decoder_feed_page(dec, ps.bytes->data + pg->off, pg->size, pg->cpu);
    }
    double t = now() - t0;
    *cpu = cpu_now() - c0;
    g_byte_array_unref(ps.bytes);
    g_array_unref(ps.pages);
    return t;
}

static void
no_page(gpointer data, const void *page, gsize size, int cpu)
{
    (void)data, (void)page, (void)size, (void)cpu;
}

/* Reading alone: open, and every page handed to a function doing nothing. */
static double
run_read_only(const char *path)
{
    g_autoptr(GError) error = NULL;
    double t0 = now();
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, systems, &error);

    if (!td || !hapvm_trace_dat_foreach_page(td, no_page, NULL, &error)) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    return now() - t0;
}

/* The file's bytes copied in 1 MiB blocks into one buffer, from a mapping
 * already touched (memory bandwidth, no fault costs: the strict baseline) or,
 * with fresh, from a new one (what mmap-based readers pay here); returns
 * seconds per byte. */
static double
run_memcpy(const char *path, guint8 *dst, gboolean fresh)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    const gsize block = 1 << 20;

    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        exit(1);
    }
    double t0 = now();
    const guint8 *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    if (!fresh) {
        for (gsize off = 0; off < (gsize)st.st_size; off += 4096)
            dst[0] += m[off];
        t0 = now();
    }
    for (gsize off = 0; off < (gsize)st.st_size; off += block)
        memcpy(dst, m + off, MIN(block, st.st_size - off));
    double t = now() - t0;
    /* Keep the copies from being optimised away. */
    volatile guint8 sink = dst[block - 1];
    (void)sink;
    munmap((void *)m, st.st_size);
    close(fd);
    return t / st.st_size;
}

/* ---- --dump ---- */

typedef struct {
    HapvmDecoder *dec;
    guint forks;
} Dump;

/* Tasks get roles by pid; every third one stays unknown. */
static void
dump_new_task(gpointer data, guint32 pid)
{
    Dump *d = data;

    if (pid % 3)
        hapvm_decoder_set_role(d->dec, pid, 1 + pid % 5);
}

static void
dump_fork(gpointer data, guint32 parent, guint32 child)
{
    Dump *d = data;
    guint role;

    d->forks++;
    if (hapvm_decoder_get_role(d->dec, parent, &role))
        hapvm_decoder_set_role(d->dec, child, role == 15 ? 1 : role + 1);
}

static gint
cmp_ip(gconstpointer a, gconstpointer b)
{
    const HapvmFuncHit *x = a, *y = b;

    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static void
dump_pass(const char *path, const char *name, gboolean roles, guint64 steady, gboolean known_only,
          guint64 *first, guint64 *last)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, systems, &error);
    Dump d = { 0 };
    guint n;

    if (!td) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    g_autoptr(HapvmDecoder) dec = hapvm_decoder_new(hapvm_trace_dat_get_tep(td), &error);
    if (!dec) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    d.dec = dec;
    if (roles) {
        hapvm_decoder_set_default_role(dec, 7);
        hapvm_decoder_set_new_task_func(dec, dump_new_task, &d);
        hapvm_decoder_set_fork_func(dec, dump_fork, &d);
    }
    hapvm_decoder_set_known_only(dec, known_only);
    hapvm_decoder_set_steady_start(dec, steady);
    if (!hapvm_trace_dat_foreach_page(td, feed, dec, &error)) {
        fprintf(stderr, "decodebench: %s\n", error->message);
        exit(1);
    }
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    printf("== %s steady_start=%" G_GUINT64_FORMAT "\n", name, steady);
    printf("stats pages=%" G_GUINT64_FORMAT " events=%" G_GUINT64_FORMAT " function=%" G_GUINT64_FORMAT
           " syscall=%" G_GUINT64_FORMAT " fork=%" G_GUINT64_FORMAT " handled=%" G_GUINT64_FORMAT
           " other=%" G_GUINT64_FORMAT " missed=%" G_GUINT64_FORMAT " pages_with_loss=%" G_GUINT64_FORMAT
           " bad_pages=%" G_GUINT64_FORMAT " unknown_pid=%" G_GUINT64_FORMAT " ignored=%" G_GUINT64_FORMAT
           " first_ts=%" G_GUINT64_FORMAT " last_ts=%" G_GUINT64_FORMAT " forks_seen=%u\n",
           st->pages, st->events, st->function_events, st->syscall_events, st->fork_events,
           st->handled_events, st->other_events, st->missed_events, st->pages_with_loss,
           st->bad_pages, st->unknown_pid_events, st->ignored_events, st->first_ts, st->last_ts,
           d.forks);
    *first = st->first_ts;
    *last = st->last_ts;
    HapvmFuncSet *set = hapvm_decoder_get_functions(dec);
    g_autofree HapvmFuncHit *arr = hapvm_func_set_to_array(set, &n);
    printf("unique %u\n", n);
    /* to_array's order (first_ts, then ip) is part of the output too. */
    for (guint i = 0; i < n; i++)
        printf("order %u %" G_GINT64_MODIFIER "x\n", i, arr[i].ip);
    qsort(arr, n, sizeof(*arr), cmp_ip);
    for (guint i = 0; i < n; i++)
        printf("hit %" G_GINT64_MODIFIER "x first=%" G_GUINT64_FORMAT " count=%" G_GUINT64_FORMAT
               " ctx=%x roles=%x task_first=%" G_GUINT64_FORMAT " steady=%" G_GUINT64_FORMAT
               " task_steady=%" G_GUINT64_FORMAT "\n",
               arr[i].ip, arr[i].first_ts, arr[i].count, arr[i].ctx_mask, arr[i].role_mask,
               arr[i].task_first_ts, arr[i].steady_ts, arr[i].task_steady_ts);
    for (guint role = 0; role < HAPVM_MAX_ROLES; role++) {
        const guint64 *sc = hapvm_decoder_get_syscalls(dec, role);
        for (guint nr = 0; nr < HAPVM_MAX_SYSCALL; nr++)
            if (sc[nr])
                printf("syscall role=%u nr=%u %" G_GUINT64_FORMAT "\n", role, nr, sc[nr]);
    }
    printf("syscall_overflow %" G_GUINT64_FORMAT "\n", hapvm_decoder_get_syscall_overflow(dec));
}

static int
dump(const char *path)
{
    guint64 first, last, f2, l2;

    dump_pass(path, "plain", FALSE, 0, FALSE, &first, &last);
    dump_pass(path, "roles+steady-mid", TRUE, first + (last - first) / 2, FALSE, &f2, &l2);
    dump_pass(path, "roles+steady-third+known-only", TRUE, first + (last - first) / 3, TRUE, &f2, &l2);
    return 0;
}

int
main(int argc, char **argv)
{
    int runs = 3;
    const char *path = NULL;
    Result r = { 0 };
    double best_h = 1e30, best_a = 1e30, best_m = 1e30, best_f = 1e30, best_d = 1e30, best_r = 1e30, best_dc = 1e30;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
            return dump(argv[i + 1]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: decodebench [--runs N] FILE\n");
            return 2;
        }
    }
    if (!path || runs < 1) {
        fprintf(stderr, "usage: decodebench [--runs N] FILE\n");
        return 2;
    }
    g_autofree guint8 *dst = g_malloc(1 << 20);
    memset(dst, 1, 1 << 20);
    for (int i = 0; i < runs; i++) {
        best_h = MIN(best_h, run_hapvm(path, FALSE, &r));
        best_a = MIN(best_a, run_hapvm(path, TRUE, &r));
        best_m = MIN(best_m, run_memcpy(path, dst, FALSE));
        best_f = MIN(best_f, run_memcpy(path, dst, TRUE));
    }
    for (int i = 0; i < runs; i++) {
        double cpu;
        best_d = MIN(best_d, run_decode_only(path, &cpu));
        best_dc = MIN(best_dc, cpu);
        best_r = MIN(best_r, run_read_only(path));
    }
    printf("events %" G_GUINT64_FORMAT "\n", r.events);
    printf("function_events %" G_GUINT64_FORMAT "\n", r.function_events);
    printf("data_bytes %" G_GUINT64_FORMAT "\n", r.bytes);
    printf("pages %" G_GUINT64_FORMAT "\n", r.pages);
    printf("unique %u\n", r.unique);
    printf("hapvm_s %.4f\n", best_h);
    printf("hapvm_all_formats_s %.4f\n", best_a);
    printf("decode_only_s %.4f\n", best_d);
    printf("decode_only_cpu_s %.4f\n", best_dc);
    printf("read_only_s %.4f\n", best_r);
    printf("memcpy_s %.4f\n", best_m * r.bytes);
    printf("memcpy_gbs %.2f\n", 1 / best_m / 1e9);
    printf("memcpy_fresh_mmap_gbs %.2f\n", 1 / best_f / 1e9);
    return 0;
}

#include "hapvm-measure.h"

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "hapvm-error.h"
#include "hapvm-syscalls.h"

G_STATIC_ASSERT(HAPVM_ROLE_SHARED == HAPVM_DECODE_SHARED_ROLE);

const char *
hapvm_role_name(HapvmRole role)
{
    static const char *const names[] = {
        "process", "vcpu", "emulator", "iothread", "vhost", "kthread", "shared", "backend",
    };
    return role < HAPVM_N_ROLES ? names[role] : "?";
}

const char *
hapvm_end_reason_name(HapvmEndReason r)
{
    static const char *const names[] = {
        "none", "steady", "duration", "max-duration", "targets-exited", "interrupted",
        "end-of-recording",
    };
    return r <= HAPVM_END_RECORDING ? names[r] : "?";
}

void
hapvm_measure_opts_init(HapvmMeasureOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->trace.buffer_kb = 32768;
    o->trace.syscalls = TRUE;
    o->trace.follow_forks = TRUE;
    o->warmup_s = 5;
    o->quiet_s = 10;
    o->max_s = 600;
    o->until_steady = TRUE;
    o->poll_s = 0.2;
    o->notrace_interval_s = 2;
    o->notrace_batch = 100;
    o->syscall_quiet_s = 10;
}

struct HapvmMeasurement {
    HapvmMeasureOpts opts;
    HapvmTrace *trace;          /* NULL: offline (a recording) */
    HapvmDecoder *dec;          /* offline only, owned */
    char *instance, *clock;     /* offline only */
    GHashTable *tasks;          /* tid → HapvmTaskInfo */
    GHashTable *orphan_forks;   /* child → parent, parent not known yet */
    HapvmRescanFunc rescan;
    gpointer rescan_data;
    HapvmNameFunc namer;
    gpointer namer_data;
    HapvmProgressFunc progress;
    gpointer progress_data;
    HapvmRescanFunc start_hook;
    gpointer start_data;
    GPid child;
    gboolean child_exited;
    volatile sig_atomic_t interrupted;
    gboolean targets_gone; /* said by the front end */
    HapvmEndReason end;
    HapvmTraceLoss loss;
    GArray *curve;
    guint64 start_ts;           /* CLOCK_MONOTONIC ns = trace clock "mono" */
    guint64 steady_ts;
    double elapsed;
    GDateTime *start_time;
    GHashTable *notraced;       /* ip set */
    guint notrace_written;
    double notrace_seconds;
    /* Low-overhead mode: sys_enter paused in steady state. */
    gboolean sys_paused;
    guint64 sys_pause_ts, sys_last_new_ts;
    guint sys_numbers;          /* distinct numbers counted so far */
    guint sys_funcs_at_pause;   /* size of the function set when last looked at */
    guint sys_pauses;
    double sys_paused_s;
    GArray *sys_from_functions; /* HapvmSyscallByFunction */
};

static guint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (guint64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void
task_info_free(gpointer p)
{
    HapvmTaskInfo *t = p;

    g_free(t->comm);
    g_free(t);
}

static char *
read_comm(guint32 tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%u/comm", tid);
    char *comm = NULL;

    if (!g_file_get_contents(path, &comm, NULL, NULL))
        return g_strdup("?");
    return g_strchomp(comm);
}

static void adopt_orphans(HapvmMeasurement *m, guint32 parent, HapvmRole role);

static void
add_forked(HapvmMeasurement *m, guint32 child, HapvmRole role)
{
    /* function-fork already traces the child; it inherits the role. */
    HapvmTaskInfo *t = g_new0(HapvmTaskInfo, 1);
    t->tid = child;
    t->role = role;
    t->comm = read_comm(child);
    t->from_fork = TRUE;
    g_hash_table_insert(m->tasks, GUINT_TO_POINTER(child), t);
    hapvm_decoder_set_role(hapvm_measurement_get_decoder(m), child, role);
    adopt_orphans(m, child, role);
}

/* The per-CPU buffers are read one CPU after the other, not merged by
 * time: a grandchild's fork record can come before its parent's.  Such a
 * child waits here until its parent is known (the recording's fork events
 * are only of traced tasks, so this stays small). */
static void
adopt_orphans(HapvmMeasurement *m, guint32 parent, HapvmRole role)
{
    g_autoptr(GArray) kids = g_array_new(FALSE, FALSE, sizeof(guint32));
    GHashTableIter it;
    gpointer k, v;

    if (!m->orphan_forks || !g_hash_table_size(m->orphan_forks))
        return;
    g_hash_table_iter_init(&it, m->orphan_forks);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (GPOINTER_TO_UINT(v) == parent) {
            guint32 c = GPOINTER_TO_UINT(k);
            g_array_append_val(kids, c);
            g_hash_table_iter_remove(&it);
        }
    for (guint i = 0; i < kids->len; i++)
        if (!g_hash_table_contains(m->tasks, GUINT_TO_POINTER(g_array_index(kids, guint32, i))))
            add_forked(m, g_array_index(kids, guint32, i), role);
}

static void
on_fork(gpointer data, guint32 parent, guint32 child)
{
    HapvmMeasurement *m = data;
    HapvmTaskInfo *p = g_hash_table_lookup(m->tasks, GUINT_TO_POINTER(parent));

    if (g_hash_table_contains(m->tasks, GUINT_TO_POINTER(child)))
        return;
    if (!p) {
        g_hash_table_insert(m->orphan_forks, GUINT_TO_POINTER(child), GUINT_TO_POINTER(parent));
        return;
    }
    add_forked(m, child, p->role);
}

static void
clear_by_function(gpointer p)
{
    g_free(((HapvmSyscallByFunction *)p)->function);
}

HapvmMeasurement *
hapvm_measurement_new(const HapvmMeasureOpts *opts, GError **error)
{
    g_autoptr(HapvmMeasurement) m = g_new0(HapvmMeasurement, 1);

    m->opts = *opts;
    m->tasks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, task_info_free);
    m->orphan_forks = g_hash_table_new(g_direct_hash, g_direct_equal);
    m->curve = g_array_new(FALSE, FALSE, sizeof(HapvmCurvePoint));
    m->notraced = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    m->sys_from_functions = g_array_new(FALSE, FALSE, sizeof(HapvmSyscallByFunction));
    g_array_set_clear_func(m->sys_from_functions, clear_by_function);
    m->trace = hapvm_trace_new(&m->opts.trace, error);
    if (!m->trace)
        return NULL;
    hapvm_decoder_set_fork_func(hapvm_trace_get_decoder(m->trace), on_fork, m);
    return g_steal_pointer(&m);
}

HapvmMeasurement *
hapvm_measurement_new_offline(const HapvmMeasureOpts *opts, HapvmDecoder *dec, const char *instance,
                              const char *clock)
{
    HapvmMeasurement *m = g_new0(HapvmMeasurement, 1);

    m->opts = *opts;
    m->dec = dec;
    m->instance = g_strdup(instance);
    m->clock = g_strdup(clock);
    m->tasks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, task_info_free);
    m->curve = g_array_new(FALSE, FALSE, sizeof(HapvmCurvePoint));
    m->notraced = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    m->sys_from_functions = g_array_new(FALSE, FALSE, sizeof(HapvmSyscallByFunction));
    return m;
}

void
hapvm_measurement_add_recorded_task(HapvmMeasurement *m, guint32 tid, HapvmRole role, const char *comm,
                                    gboolean from_fork)
{
    HapvmTaskInfo *t;

    g_return_if_fail(!m->trace);
    t = g_new0(HapvmTaskInfo, 1);
    t->tid = tid;
    t->role = role;
    t->comm = g_strdup(comm ? comm : "?");
    t->from_fork = from_fork;
    g_hash_table_replace(m->tasks, GUINT_TO_POINTER(tid), t);
    hapvm_decoder_set_role(m->dec, tid, role);
}

void
hapvm_measurement_set_window(HapvmMeasurement *m, guint64 start_ts, guint64 end_ts, GDateTime *start_time)
{
    g_return_if_fail(!m->trace);
    m->start_ts = start_ts;
    m->steady_ts = start_ts + (guint64)(m->opts.warmup_s * 1e9);
    m->elapsed = end_ts > start_ts ? (end_ts - start_ts) / 1e9 : 0;
    if (m->start_time)
        g_date_time_unref(m->start_time);
    m->start_time = g_date_time_ref(start_time);
    hapvm_decoder_set_steady_start(m->dec, m->steady_ts);
}

static int
cmp_u64(const void *a, const void *b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

    return x < y ? -1 : x > y;
}

typedef struct {
    GArray *first, *steady;
} FirstHits;

static void
collect_first(const HapvmFuncHit *h, gpointer data)
{
    FirstHits *f = data;

    if (h->task_first_ts)
        g_array_append_val(f->first, h->task_first_ts);
    if (h->task_steady_ts)
        g_array_append_val(f->steady, h->task_steady_ts);
}

void
hapvm_measurement_finish_offline(HapvmMeasurement *m, const HapvmTraceLoss *loss)
{
    g_autoptr(GArray) first = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_autoptr(GArray) steady = g_array_new(FALSE, FALSE, sizeof(guint64));
    FirstHits f = { first, steady };
    guint i = 0, j = 0;

    g_return_if_fail(!m->trace);
    m->loss = *loss;
    m->end = HAPVM_END_RECORDING;
    /* The live curve samples the counts once a second; here they are
     * counted from the first-hit times, at the same instants. */
    hapvm_func_set_foreach(hapvm_decoder_get_functions(m->dec), collect_first, &f);
    qsort(first->data, first->len, sizeof(guint64), cmp_u64);
    qsort(steady->data, steady->len, sizeof(guint64), cmp_u64);
    g_array_set_size(m->curve, 0);
    for (guint s = 1;; s++) {
        HapvmCurvePoint p = { .t = MIN((double)s, m->elapsed) };
        guint64 at = m->start_ts + (guint64)(p.t * 1e9);
        while (i < first->len && g_array_index(first, guint64, i) <= at)
            i++;
        while (j < steady->len && g_array_index(steady, guint64, j) <= at)
            j++;
        p.total = i;
        p.steady = j;
        g_array_append_val(m->curve, p);
        if (s >= m->elapsed)
            break;
    }
}

void
hapvm_measurement_free(HapvmMeasurement *m)
{
    if (!m)
        return;
    hapvm_trace_free(m->trace);
    hapvm_decoder_free(m->dec);
    g_free(m->instance);
    g_free(m->clock);
    g_hash_table_unref(m->tasks);
    if (m->orphan_forks)
        g_hash_table_unref(m->orphan_forks);
    g_array_unref(m->curve);
    g_hash_table_unref(m->notraced);
    g_array_unref(m->sys_from_functions);
    if (m->start_time)
        g_date_time_unref(m->start_time);
    g_free(m);
}

gboolean
hapvm_measurement_add_task(HapvmMeasurement *m, guint32 tid, HapvmRole role, GError **error)
{
    HapvmTaskInfo *t = g_hash_table_lookup(m->tasks, GUINT_TO_POINTER(tid));

    if (t) {
        /* A task learnt from a fork may be named more precisely by a rescan
         * (a QEMU thread that became "CPU 0/KVM"). */
        if (t->from_fork && t->role != role) {
            t->role = role;
            g_free(t->comm);
            t->comm = read_comm(tid);
            hapvm_decoder_set_role(hapvm_measurement_get_decoder(m), tid, role);
        }
        return TRUE;
    }
    g_return_val_if_fail(m->trace, FALSE);
    if (!hapvm_trace_add_tasks(m->trace, &tid, 1, role, error))
        return FALSE;
    t = g_new0(HapvmTaskInfo, 1);
    t->tid = tid;
    t->role = role;
    t->comm = read_comm(tid);
    g_hash_table_insert(m->tasks, GUINT_TO_POINTER(tid), t);
    adopt_orphans(m, tid, role);
    return TRUE;
}

gboolean
hapvm_measurement_add_listed_task(HapvmMeasurement *m, guint32 tid, HapvmRole role, gboolean *gone, GError **error)
{
    g_autoptr(GError) e = NULL;
    gboolean ok = hapvm_measurement_add_task(m, tid, role, &e);
    gboolean vanished = !ok && g_error_matches(e, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);

    if (gone)
        *gone = vanished;
    if (ok || vanished)
        return TRUE;
    g_propagate_error(error, g_steal_pointer(&e));
    return FALSE;
}

void
hapvm_measurement_set_rescan(HapvmMeasurement *m, HapvmRescanFunc func, gpointer data)
{
    m->rescan = func;
    m->rescan_data = data;
}

void
hapvm_measurement_set_child(HapvmMeasurement *m, GPid pid)
{
    m->child = pid;
}

void
hapvm_measurement_set_namer(HapvmMeasurement *m, HapvmNameFunc func, gpointer data)
{
    m->namer = func;
    m->namer_data = data;
}

void
hapvm_measurement_set_progress(HapvmMeasurement *m, HapvmProgressFunc func, gpointer data)
{
    m->progress = func;
    m->progress_data = data;
}

void
hapvm_measurement_set_start_hook(HapvmMeasurement *m, HapvmRescanFunc func, gpointer data)
{
    m->start_hook = func;
    m->start_data = data;
}

void
hapvm_measurement_interrupt(HapvmMeasurement *m)
{
    m->interrupted = 1;
}

void
hapvm_measurement_set_targets_gone(HapvmMeasurement *m)
{
    m->targets_gone = TRUE;
}

typedef struct {
    guint total, steady;
} FunctionCount;

static void
count_hit(const HapvmFuncHit *h, gpointer data)
{
    FunctionCount *c = data;

    c->total += h->task_first_ts != 0;
    c->steady += h->task_steady_ts != 0;
}

/* Task-context functions so far, and those of them hit in the steady window. */
static void
count_functions(HapvmMeasurement *m, guint *total, guint *steady)
{
    FunctionCount c = { 0, 0 };

    hapvm_func_set_foreach(hapvm_decoder_get_functions(hapvm_measurement_get_decoder(m)), count_hit, &c);
    *total = c.total;
    *steady = c.steady;
}

static gboolean
all_tasks_gone(HapvmMeasurement *m)
{
    GHashTableIter it;
    gpointer v;
    gboolean any = FALSE;

    g_hash_table_iter_init(&it, m->tasks);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        HapvmTaskInfo *t = v;
        if (t->gone)
            continue;
        g_autofree char *path = g_strdup_printf("/proc/%u/stat", t->tid);
        g_autofree char *stat = NULL;
        /* A zombie ("Z") runs no kernel code for us any more. */
        if (!g_file_get_contents(path, &stat, NULL, NULL) ||
            (strrchr(stat, ')') && strrchr(stat, ')')[2] == 'Z' && (GPid)t->tid != m->child)) {
            t->gone = TRUE;
            continue;
        }
        any = TRUE;
    }
    return !any;
}

static guint
low_overhead_update(HapvmMeasurement *m)
{
    HapvmFuncSet *set = hapvm_decoder_get_functions(hapvm_trace_get_decoder(m->trace));
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    guint n;
    g_autofree HapvmFuncHit *arr = hapvm_func_set_to_array(set, &n);
    guint64 t0 = now_ns();

    if (!m->namer)
        return 0;
    for (guint i = 0; i < n && names->len < m->opts.notrace_batch; i++) {
        /* Only functions already hit in task context in the steady window:
         * one seen only during warm-up, or only in interrupt context, must
         * stay traced so that a later task-context hit is still seen. */
        if (!arr[i].task_steady_ts || g_hash_table_contains(m->notraced, &arr[i].ip))
            continue;
        const char *name = m->namer(m->namer_data, arr[i].ip);
        g_hash_table_add(m->notraced, g_memdup2(&arr[i].ip, sizeof(arr[i].ip)));
        if (name)
            g_ptr_array_add(names, (gpointer)name);
    }
    if (names->len) {
        g_autoptr(GError) error = NULL;
        guint w = hapvm_trace_notrace(m->trace, (const char *const *)names->pdata, names->len, &error);
        if (error)
            g_warning("low-overhead mode: %s", error->message);
        m->notrace_written += w;
    }
    m->notrace_seconds += (now_ns() - t0) / 1e9;
    return names->len;
}

static guint
syscall_numbers(HapvmMeasurement *m)
{
    HapvmDecoder *dec = hapvm_trace_get_decoder(m->trace);
    guint n = 0;

    for (guint nr = 0; nr < HAPVM_MAX_SYSCALL; nr++)
        n += hapvm_decoder_get_syscall_total(dec, nr) != 0;
    return n;
}

/* Kernel entry names that differ from the UAPI names of their numbers. */
static gint64
entry_syscall_nr(const char *name)
{
    static const char *const renamed[][2] = {
        { "newstat", "stat" }, { "newfstat", "fstat" }, { "newlstat", "lstat" },
        { "newuname", "uname" }, { "umount", "umount2" }, { "sysctl", "_sysctl" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(renamed); i++)
        if (strcmp(name, renamed[i][0]) == 0)
            return hapvm_syscall_nr(renamed[i][1]);
    return strcmp(name, "ni_syscall") == 0 ? -1 : hapvm_syscall_nr(name);
}

/* Functions first hit while counting was paused that are system-call entry
 * points: a number never counted is kept by its entry function, so that the
 * set of entry points stays complete.  Returns how many there are. */
static guint
note_entry_functions(HapvmMeasurement *m)
{
    HapvmDecoder *dec = hapvm_trace_get_decoder(m->trace);
    guint n;
    g_autofree HapvmFuncHit *arr = hapvm_func_set_to_array(hapvm_decoder_get_functions(dec), &n);
    static const char *const prefixes[] = { "__x64_sys_", "__ia32_sys_", "__x64_compat_sys_",
                                            "__ia32_compat_sys_" };
    guint entries = 0;

    for (guint i = 0; i < n && m->namer; i++) {
        const char *name;
        gint64 nr = -1;
        guint p;

        if (arr[i].first_ts < m->sys_pause_ts || !(name = m->namer(m->namer_data, arr[i].ip)))
            continue;
        for (p = 0; p < G_N_ELEMENTS(prefixes) && !g_str_has_prefix(name, prefixes[p]); p++)
            ;
        if (p == G_N_ELEMENTS(prefixes))
            continue;
        entries++;
        if (p == 0)
            nr = entry_syscall_nr(name + strlen(prefixes[0]));
        if (nr >= 0 && hapvm_decoder_get_syscall_total(dec, (guint)nr))
            continue;
        gboolean known = FALSE;
        for (guint k = 0; k < m->sys_from_functions->len && !known; k++)
            known = strcmp(g_array_index(m->sys_from_functions, HapvmSyscallByFunction, k).function, name) == 0;
        if (!known) {
            HapvmSyscallByFunction e = { nr, g_strdup(name) };
            g_array_append_val(m->sys_from_functions, e);
        }
    }
    return entries;
}

static void
syscalls_pause_end(HapvmMeasurement *m, guint64 now)
{
    m->sys_paused = FALSE;
    m->sys_paused_s += (now - m->sys_pause_ts) / 1e9;
}

/* The caller has noted the entry functions that call for it. */
static void
syscalls_resume(HapvmMeasurement *m, guint64 now)
{
    g_autoptr(GError) error = NULL;

    if (!hapvm_trace_set_syscalls(m->trace, TRUE, &error))
        g_warning("low-overhead mode: cannot switch system-call counting on again: %s", error->message);
    syscalls_pause_end(m, now);
    m->sys_last_new_ts = now;
}

/* Pause sys_enter once steady (no notrace added, no new number for
 * syscall_quiet_s); resume when a system-call entry function is hit for
 * the first time (a new number).  Other new functions (a rare path, an
 * interrupt) do not need the counts back: resuming on any of them kept
 * counting on through most of P2's timed passes. */
static void
syscall_pause_update(HapvmMeasurement *m, guint notraced_now, guint64 now)
{
    HapvmFuncSet *set = hapvm_decoder_get_functions(hapvm_trace_get_decoder(m->trace));
    g_autoptr(GError) error = NULL;
    guint k;

    if (!m->opts.trace.syscalls || m->opts.keep_syscalls)
        return;
    if (m->sys_paused) {
        guint size = hapvm_func_set_size(set);

        if (size != m->sys_funcs_at_pause) {
            m->sys_funcs_at_pause = size;
            if (note_entry_functions(m))
                syscalls_resume(m, now);
        }
        return;
    }
    k = syscall_numbers(m);
    if (k != m->sys_numbers || !m->sys_last_new_ts) {
        m->sys_numbers = k;
        m->sys_last_new_ts = now;
        return;
    }
    if (notraced_now || now < m->steady_ts || (now - m->sys_last_new_ts) / 1e9 < m->opts.syscall_quiet_s)
        return;
    m->sys_funcs_at_pause = hapvm_func_set_size(set);
    if (!hapvm_trace_set_syscalls(m->trace, FALSE, &error)) {
        g_warning("low-overhead mode: system calls stay counted: %s", error->message);
        m->opts.keep_syscalls = TRUE;
        return;
    }
    m->sys_paused = TRUE;
    m->sys_pause_ts = now;
    m->sys_pauses++;
}

void
hapvm_measurement_get_syscall_pauses(const HapvmMeasurement *m, HapvmSyscallPauses *out)
{
    out->pauses = m->sys_pauses;
    out->paused_s = m->sys_paused_s;
    out->from_functions = m->sys_from_functions;
}

gboolean
hapvm_measurement_run(HapvmMeasurement *m, GError **error)
{
    g_return_val_if_fail(m->trace, FALSE);
    HapvmDecoder *dec = hapvm_trace_get_decoder(m->trace);
    guint last_steady = 0;
    guint64 last_new, next_tick, next_notrace;
    double steady_after = m->opts.duration_s > 0 ? MIN(m->opts.warmup_s, m->opts.duration_s) : m->opts.warmup_s;

    if (g_hash_table_size(m->tasks) == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "nothing to measure: no target task");
        return FALSE;
    }
    m->start_ts = now_ns();
    m->steady_ts = m->start_ts + (guint64)(steady_after * 1e9);
    hapvm_decoder_set_steady_start(dec, m->steady_ts);
    m->start_time = g_date_time_new_now_utc();
    if (!hapvm_trace_start(m->trace, error))
        return FALSE;
    if (m->start_hook && !m->start_hook(m, m->start_data, error)) {
        hapvm_trace_stop(m->trace, &m->loss);
        return FALSE;
    }

    last_new = m->start_ts;
    next_tick = m->start_ts + 1000000000ULL;
    next_notrace = m->steady_ts + (guint64)(m->opts.notrace_interval_s * 1e9);
    /* In steady state (above all in low-overhead mode) the buffers are
     * mostly empty: poll less often, so that hapvm's own work does not
     * become the cost it is trying to avoid. */
    double poll = m->opts.poll_s;
    guint64 counted_events = G_MAXUINT64;
    HapvmCurvePoint last = { 0 };
    while (m->end == HAPVM_END_NONE) {
        g_usleep((gulong)(poll * 1e6));
        poll = hapvm_trace_drain(m->trace) ? m->opts.poll_s : MIN(poll * 2, 0.5);
        guint64 now = now_ns();
        double elapsed = (now - m->start_ts) / 1e9;

        if (m->child && !m->child_exited) {
            int st;
            if (waitpid(m->child, &st, WNOHANG) == m->child)
                m->child_exited = TRUE;
        }
        if (now >= next_tick) {
            HapvmCurvePoint p = { .t = elapsed };
            guint64 fe = hapvm_decoder_get_stats(dec)->function_events;
            if (fe != counted_events) { /* no new record, no new function */
                count_functions(m, &last.total, &last.steady);
                counted_events = fe;
            }
            p.total = last.total;
            p.steady = last.steady;
            g_array_append_val(m->curve, p);
            if (p.steady != last_steady) {
                last_steady = p.steady;
                last_new = now;
            }
            if (m->rescan && !m->rescan(m, m->rescan_data, error)) {
                hapvm_trace_stop(m->trace, &m->loss);
                return FALSE;
            }
            if (m->progress)
                m->progress(m, m->progress_data);
            next_tick += 1000000000ULL;
            if (m->targets_gone || (all_tasks_gone(m) && (!m->child || m->child_exited)))
                m->end = HAPVM_END_TARGETS_EXITED;
        }
        if (m->opts.low_overhead && now >= next_notrace) {
            syscall_pause_update(m, low_overhead_update(m), now);
            next_notrace = now_ns() + (guint64)(m->opts.notrace_interval_s * 1e9);
        }
        if (m->interrupted)
            m->end = HAPVM_END_INTERRUPTED;
        else if (m->opts.duration_s > 0 && elapsed >= m->opts.duration_s)
            m->end = HAPVM_END_DURATION;
        else if (m->opts.duration_s <= 0 && m->opts.until_steady && now >= m->steady_ts &&
                 (now - MAX(last_new, m->steady_ts)) / 1e9 >= m->opts.quiet_s)
            m->end = HAPVM_END_STEADY;
        else if (elapsed >= m->opts.max_s)
            m->end = HAPVM_END_MAX_DURATION;
        else if (m->child && m->child_exited)
            m->end = HAPVM_END_TARGETS_EXITED;
    }
    m->elapsed = (now_ns() - m->start_ts) / 1e9;
    hapvm_trace_stop(m->trace, &m->loss);
    if (m->sys_paused) {
        note_entry_functions(m);
        syscalls_pause_end(m, now_ns());
    }
    HapvmCurvePoint p = { .t = m->elapsed };
    count_functions(m, &p.total, &p.steady);
    g_array_append_val(m->curve, p);
    return TRUE;
}

HapvmTrace *
hapvm_measurement_get_trace(HapvmMeasurement *m)
{
    return m->trace;
}

HapvmDecoder *
hapvm_measurement_get_decoder(HapvmMeasurement *m)
{
    return m->trace ? hapvm_trace_get_decoder(m->trace) : m->dec;
}

const HapvmMeasureOpts *
hapvm_measurement_get_opts(const HapvmMeasurement *m)
{
    return &m->opts;
}

const HapvmTraceLoss *
hapvm_measurement_get_loss(const HapvmMeasurement *m)
{
    return &m->loss;
}

HapvmEndReason
hapvm_measurement_get_end_reason(const HapvmMeasurement *m)
{
    return m->end;
}

double
hapvm_measurement_get_elapsed(const HapvmMeasurement *m)
{
    return m->elapsed;
}

double
hapvm_measurement_get_steady_start(const HapvmMeasurement *m)
{
    return (m->steady_ts - m->start_ts) / 1e9;
}

guint64
hapvm_measurement_get_start_ts(const HapvmMeasurement *m)
{
    return m->start_ts;
}

guint64
hapvm_measurement_get_steady_ts(const HapvmMeasurement *m)
{
    return m->steady_ts;
}

const GArray *
hapvm_measurement_get_curve(const HapvmMeasurement *m)
{
    return m->curve;
}

GHashTable *
hapvm_measurement_get_tasks(const HapvmMeasurement *m)
{
    return m->tasks;
}

guint
hapvm_measurement_get_notrace_written(const HapvmMeasurement *m)
{
    return m->notrace_written;
}

double
hapvm_measurement_get_notrace_seconds(const HapvmMeasurement *m)
{
    return m->notrace_seconds;
}

const char *
hapvm_measurement_get_instance(const HapvmMeasurement *m)
{
    return m->trace ? hapvm_trace_get_instance_name(m->trace) : m->instance;
}

const char *
hapvm_measurement_get_clock(const HapvmMeasurement *m)
{
    return m->trace ? "mono" : m->clock;
}

GDateTime *
hapvm_measurement_get_start_time(const HapvmMeasurement *m)
{
    return m->start_time;
}

#include "hapvm-trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tracefs.h>

#include "hapvm-error.h"

struct HapvmTrace {
    HapvmTraceOpts opts;
    char *tdir;                 /* tracing dir */
    char *name;
    char *idir;                 /* instance dir */
    struct tep_handle *tep;
    HapvmDecoder *dec;
    int *fds;                   /* per CPU trace_pipe_raw */
    guint ncpus;
    guint nfds;                 /* opened so far */
    gsize page_size;
    guint8 *page;
    gboolean started;
    gboolean pids_set;
    GHashTable *filter_index;   /* name → index in available_filter_functions, 0 = ambiguous */
};

static int instance_seq;

static gboolean
write_file(const char *dir, const char *file, const char *val, gboolean append, GError **error)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC);
    gsize len = strlen(val), done = 0;
    ssize_t w = 0;

    /* ftrace filter files take one word per write() and return a short
     * count: keep writing until all is consumed. */
    if (fd >= 0)
        errno = 0;
    while (fd >= 0 && done < len && (w = write(fd, val + done, len - done)) > 0)
        done += w;
    if (fd < 0 || done < len) {
        int e = errno ? errno : EIO;
        if (fd >= 0)
            close(fd);
        if (e == EPERM || e == EACCES)
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TRACER_DENIED,
                        "the kernel refused a write to %s (%s): function tracing is forbidden here, by "
                        "kernel lockdown or a security policy (see /sys/kernel/security/lockdown); "
                        "measure on a kernel that allows it, e.g. the lab host (tests/lab/run)",
                        path, g_strerror(e));
        else
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write '%.40s%s' to %s: %s",
                        val, len > 40 ? "..." : "", path, g_strerror(e));
        errno = e;
        return FALSE;
    }
    close(fd);
    return TRUE;
}

static void
remove_instance(const char *idir)
{
    /* Quiesce first: an instance with a live tracer or open readers cannot go. */
    write_file(idir, "tracing_on", "0", FALSE, NULL);
    write_file(idir, "current_tracer", "nop", FALSE, NULL);
    write_file(idir, "events/enable", "0", FALSE, NULL);
    write_file(idir, "set_ftrace_notrace", "", FALSE, NULL);
    if (rmdir(idir) != 0)
        g_warning("cannot remove tracefs instance %s: %s", idir, g_strerror(errno));
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot.  With
 * the pid it names a process uniquely, so a recycled pid is not mistaken
 * for the owner. */
static guint64
process_start_time(guint pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%u/stat", pid);
    g_autofree char *buf = NULL;
    const char *p;

    if (!g_file_get_contents(path, &buf, NULL, NULL))
        return 0;
    p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p)
        return 0;
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? g_ascii_strtoull(p + 1, NULL, 10) : 0;
}

guint
hapvm_trace_cleanup_stale(const char *tracing_dir)
{
    g_autofree char *inst = g_build_filename(tracing_dir, "instances", NULL);
    g_autoptr(GDir) d = g_dir_open(inst, 0, NULL);
    const char *n;
    guint removed = 0;

    if (!d)
        return 0;
    while ((n = g_dir_read_name(d))) {
        guint pid;
        guint64 start;
        if (sscanf(n, "hapvm-%u-%" G_GUINT64_FORMAT "-", &pid, &start) != 2 ||
            process_start_time(pid) == start)
            continue;
        g_autofree char *path = g_build_filename(inst, n, NULL);
        remove_instance(path);
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_message("removed stale tracefs instance %s (owner %u is gone)", n, pid);
            removed++;
        }
    }
    return removed;
}

static const char *const trace_events[] = {
    "ftrace/function", "raw_syscalls/sys_enter", "sched/sched_process_fork", NULL,
};

HapvmTrace *
hapvm_trace_new(const HapvmTraceOpts *opts, GError **error)
{
    g_autoptr(HapvmTrace) t = g_new0(HapvmTrace, 1);
    const char *tdir;
    g_autofree char *avail = NULL;
    g_autofree char *buf = NULL;

    t->opts = *opts;
    if (!t->opts.buffer_kb)
        t->opts.buffer_kb = 32768;
    if (geteuid() != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT,
                    "tracing needs root (CAP_SYS_ADMIN for tracefs); run hapvm as root or with sudo");
        return NULL;
    }
    tdir = g_getenv("HAPVM_TRACEFS");
    if (!tdir) {
        /* Finds tracefs, mounting it if needed. */
        tdir = tracefs_tracing_dir();
        if (!tdir) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_TRACEFS,
                        "tracefs is not mounted and could not be mounted; mount it with "
                        "'mount -t tracefs nodev /sys/kernel/tracing' (kernel needs CONFIG_FTRACE)");
            return NULL;
        }
    }
    t->tdir = g_strdup(tdir);
    avail = g_build_filename(t->tdir, "available_tracers", NULL);
    if (!g_file_get_contents(avail, &buf, NULL, NULL)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_TRACEFS,
                    "%s is not a tracefs mount (no available_tracers); mount tracefs there or set HAPVM_TRACEFS",
                    t->tdir);
        return NULL;
    }
    g_auto(GStrv) tracers = g_strsplit_set(g_strstrip(buf), " \n", -1);
    if (!g_strv_contains((const char *const *)tracers, "function")) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TRACER_DENIED,
                    "this kernel has no function tracer (available: %s); it needs CONFIG_FUNCTION_TRACER",
                    buf);
        return NULL;
    }

    hapvm_trace_cleanup_stale(t->tdir);
    t->name = g_strdup_printf("hapvm-%u-%" G_GUINT64_FORMAT "-%d", (guint)getpid(),
                              process_start_time(getpid()), instance_seq++);
    t->idir = g_build_filename(t->tdir, "instances", t->name, NULL);
    if (mkdir(t->idir, 0700) != 0) {
        int e = errno;
        g_set_error(error, HAPVM_ERROR, e == EPERM || e == EACCES ? HAPVM_ERROR_TRACER_DENIED : HAPVM_ERROR_FAILED,
                    "cannot create tracefs instance %s: %s", t->idir, g_strerror(e));
        g_clear_pointer(&t->idir, g_free);
        return NULL;
    }
    if (!write_file(t->idir, "tracing_on", "0", FALSE, error))
        return NULL;

    /* Formats come from the instance's tracefs: what this kernel writes. */
    g_autoptr(GPtrArray) evs = g_ptr_array_new();
    for (const char *const *e = trace_events; *e; e++)
        g_ptr_array_add(evs, (gpointer)*e);
    for (const char *const *e = t->opts.events; e && *e; e++)
        g_ptr_array_add(evs, (gpointer)*e);
    g_ptr_array_add(evs, NULL);
    t->tep = hapvm_tep_load_dir(t->tdir, (const char *const *)evs->pdata, error);
    if (!t->tep)
        return NULL;
    t->dec = hapvm_decoder_new(t->tep, error);
    if (!t->dec)
        return NULL;

    g_autofree char *kb = g_strdup_printf("%u", t->opts.buffer_kb);
    if (!write_file(t->idir, "buffer_size_kb", kb, FALSE, error)) {
        g_prefix_error(error, "cannot size the trace buffer (%u KiB per CPU; lower --buffer-kb?): ",
                       t->opts.buffer_kb);
        return NULL;
    }
    /* Drop new events rather than overwrite unread ones: both are counted,
     * but this way what we have is a prefix, never a hole. */
    write_file(t->idir, "options/overwrite", "0", FALSE, NULL);
    /* Wake-ups are ours to schedule (periodic drain). */
    write_file(t->idir, "buffer_percent", "0", FALSE, NULL);
    /* CLOCK_MONOTONIC timestamps, so the engine can place the warm-up
     * boundary in trace time. */
    if (!write_file(t->idir, "trace_clock", "mono", FALSE, error))
        return NULL;
    if (t->opts.follow_forks) {
        if (!write_file(t->idir, "options/function-fork", "1", FALSE, error) ||
            !write_file(t->idir, "options/event-fork", "1", FALSE, error))
            return NULL;
    }

    t->ncpus = 0;
    for (;;) {
        g_autofree char *c = g_strdup_printf("%s/per_cpu/cpu%u", t->idir, t->ncpus);
        if (!g_file_test(c, G_FILE_TEST_IS_DIR))
            break;
        t->ncpus++;
    }
    t->page_size = sysconf(_SC_PAGESIZE);
    t->page = g_malloc(t->page_size);
    t->fds = g_new(int, MAX(t->ncpus, 1));
    return g_steal_pointer(&t);
}

void
hapvm_trace_free(HapvmTrace *t)
{
    if (!t)
        return;
    for (guint c = 0; c < t->nfds; c++)
        close(t->fds[c]);
    if (t->idir)
        remove_instance(t->idir);
    g_free(t->fds);
    g_free(t->page);
    hapvm_decoder_free(t->dec);
    if (t->tep)
        tep_free(t->tep);
    if (t->filter_index)
        g_hash_table_unref(t->filter_index);
    g_free(t->tdir);
    g_free(t->name);
    g_free(t->idir);
    g_free(t);
}

const char *
hapvm_trace_get_instance_name(const HapvmTrace *t)
{
    return t->name;
}

HapvmDecoder *
hapvm_trace_get_decoder(HapvmTrace *t)
{
    return t->dec;
}

struct tep_handle *
hapvm_trace_get_tep(HapvmTrace *t)
{
    return t->tep;
}

gboolean
hapvm_trace_has_event(const HapvmTrace *t, const char *event)
{
    g_auto(GStrv) sv = g_strsplit(event, "/", 2);

    return sv[0] && sv[1] && tep_find_event_by_name(t->tep, sv[0], sv[1]) != NULL;
}

gboolean
hapvm_trace_add_tasks(HapvmTrace *t, const guint32 *tids, guint n, guint role, GError **error)
{
    g_autoptr(GString) s = g_string_new(NULL);

    if (!n)
        return TRUE;
    for (guint i = 0; i < n; i++) {
        g_string_append_printf(s, "%s%u", i ? " " : "", tids[i]);
        hapvm_decoder_set_role(t->dec, tids[i], role);
    }
    /* The first write replaces the (empty = everything) filter. */
    gboolean append = t->pids_set;
    if (!write_file(t->idir, "set_ftrace_pid", s->str, append, error))
        goto fail;
    if (!write_file(t->idir, "set_event_pid", s->str, append, error))
        goto fail;
    t->pids_set = TRUE;
    return TRUE;
fail:;
    /* A task that exited between discovery and the write: ESRCH/EINVAL. */
    char proc[32];
    g_snprintf(proc, sizeof(proc), "/proc/%u", tids[0]);
    if (n == 1 && !g_file_test(proc, G_FILE_TEST_EXISTS)) {
        g_clear_error(error);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE, "task %u is gone", tids[0]);
    }
    return FALSE;
}

gboolean
hapvm_trace_start(HapvmTrace *t, GError **error)
{
    if (!t->pids_set) {
        /* An empty set_ftrace_pid means every task: never that. */
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "no task to trace");
        return FALSE;
    }
    if (t->opts.syscalls &&
        !write_file(t->idir, "events/raw_syscalls/sys_enter/enable", "1", FALSE, error))
        return FALSE;
    for (const char *const *e = t->opts.events; e && *e; e++) {
        if (!hapvm_trace_has_event(t, *e))
            continue;
        g_autofree char *en = g_strdup_printf("events/%s/enable", *e);
        if (!write_file(t->idir, en, "1", FALSE, error))
            return FALSE;
    }
    /* Forks tell the engine which task a new one came from (its role). */
    if (t->opts.follow_forks &&
        !write_file(t->idir, "events/sched/sched_process_fork/enable", "1", FALSE, error))
        return FALSE;
    if (!write_file(t->idir, "current_tracer", "function", FALSE, error))
        return FALSE;
    /* Readers only now: the kernel refuses a tracer change (EBUSY) while
     * trace_pipe_raw is open. */
    for (; t->nfds < t->ncpus; t->nfds++) {
        g_autofree char *p = g_strdup_printf("%s/per_cpu/cpu%u/trace_pipe_raw", t->idir, t->nfds);
        t->fds[t->nfds] = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (t->fds[t->nfds] < 0) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot open %s: %s", p, g_strerror(errno));
            return FALSE;
        }
    }
    if (!write_file(t->idir, "tracing_on", "1", FALSE, error))
        return FALSE;
    t->started = TRUE;
    return TRUE;
}

guint
hapvm_trace_drain(HapvmTrace *t)
{
    guint pages = 0;

    for (guint c = 0; c < t->nfds; c++) {
        for (;;) {
            ssize_t r = read(t->fds[c], t->page, t->page_size);
            if (r <= 0)
                break; /* EAGAIN: empty for now */
            hapvm_decoder_feed_page(t->dec, t->page, (gsize)r, (int)c);
            pages++;
        }
    }
    return pages;
}

/* The value of a "key: value" line of a per_cpu/cpuN/stats file; the key
 * must start the line ("overrun: " is also the tail of "commit overrun: "). */
static guint64
stat_value(const char *stats, const char *key)
{
    for (const char *line = stats; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (g_str_has_prefix(line, key))
            return g_ascii_strtoull(line + strlen(key), NULL, 10);
    return 0;
}

void
hapvm_trace_stop(HapvmTrace *t, HapvmTraceLoss *loss)
{
    memset(loss, 0, sizeof(*loss));
    write_file(t->idir, "tracing_on", "0", FALSE, NULL);
    hapvm_trace_drain(t);
    loss->ncpus = t->ncpus;
    for (guint c = 0; c < t->ncpus; c++) {
        g_autofree char *p = g_strdup_printf("%s/per_cpu/cpu%u/stats", t->idir, c);
        g_autofree char *s = NULL;
        if (!g_file_get_contents(p, &s, NULL, NULL))
            continue;
        loss->overrun += stat_value(s, "overrun: ");
        loss->commit_overrun += stat_value(s, "commit overrun: ");
        loss->dropped += stat_value(s, "dropped events: ");
        loss->entries_left += stat_value(s, "entries: ");
    }
    /* Function records stop now (readers closed first, or EBUSY); the
     * instance goes in hapvm_trace_free. */
    for (guint c = 0; c < t->nfds; c++)
        close(t->fds[c]);
    t->nfds = 0;
    write_file(t->idir, "current_tracer", "nop", FALSE, NULL);
    t->started = FALSE;
}

static gboolean
load_filter_index(HapvmTrace *t, GError **error)
{
    g_autofree char *path = g_build_filename(t->tdir, "available_filter_functions", NULL);
    g_autofree char *buf = NULL;
    guint idx = 0;

    if (!g_file_get_contents(path, &buf, NULL, error))
        return FALSE;
    t->filter_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        idx++;
        char *sp = strchr(line, ' ');
        if (sp)
            *sp = '\0'; /* "name [module]" */
        gpointer old;
        if (g_hash_table_lookup_extended(t->filter_index, line, NULL, &old))
            g_hash_table_insert(t->filter_index, g_strdup(line), GUINT_TO_POINTER(0));
        else
            g_hash_table_insert(t->filter_index, g_strdup(line), GUINT_TO_POINTER(idx));
    }
    return TRUE;
}

gboolean
hapvm_trace_set_syscalls(HapvmTrace *t, gboolean on, GError **error)
{
    g_return_val_if_fail(t->opts.syscalls, FALSE);
    return write_file(t->idir, "events/raw_syscalls/sys_enter/enable", on ? "1" : "0", FALSE, error);
}

guint
hapvm_trace_notrace(HapvmTrace *t, const char *const *names, guint n, GError **error)
{
    g_autoptr(GString) s = g_string_new(NULL);
    guint written = 0;

    if (!t->filter_index && !load_filter_index(t, error))
        return 0;
    for (guint i = 0; i < n; i++) {
        guint idx = GPOINTER_TO_UINT(g_hash_table_lookup(t->filter_index, names[i]));
        if (!idx)
            continue; /* unknown or ambiguous: stays traced, costs only time */
        g_string_append_printf(s, "%u ", idx);
        written++;
    }
    /* Indices (kernel ≥ 5.1) select exactly one function each, without the
     * kernel matching names against every traceable function. */
    if (written && !write_file(t->idir, "set_ftrace_notrace", s->str, TRUE, error))
        return 0;
    return written;
}

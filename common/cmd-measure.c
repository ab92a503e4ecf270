/* hapvm measure: the HAP of a process, a cgroup or a launched command. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hapvm-baseline.h"
#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-html.h"
#include "hapvm-kvm-target.h"
#include "hapvm-kernel.h"
#include "hapvm-ksyms.h"
#include "hapvm-lineindex.h"
#include "hapvm-measure.h"
#include "hapvm-result.h"
#include "hapvm-xen-target.h"

typedef struct {
    char **pids;
    char *cgroup;
    GPid child;
    HapvmKvmTarget *vm;    /* a libvirt domain or --qemu-pid */
    HapvmXenTarget *xen;   /* a Xen domain, measured from dom0 */
    const char *xentrace;  /* --xentrace PATH */
    gboolean no_xentrace;
    const char *xen_coverage;
    gboolean live;         /* progress line on a terminal */
    int status_fd;         /* --status-fd: one JSON line a second (hapvmd) */
    double last_new_s;     /* when the function count last grew */
    guint last_total;
} Targets;

static void
targets_clear(Targets *t)
{
    g_strfreev(t->pids);
    g_free(t->cgroup);
    hapvm_kvm_target_free(t->vm);
    hapvm_xen_target_free(t->xen);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Targets, targets_clear)

static HapvmMeasurement *current;

static void
on_signal(int sig)
{
    if (current)
        hapvm_measurement_interrupt(current);
}

/* A task that exited between its listing and our write is not an error. */
static gboolean
add_listed_task(HapvmMeasurement *m, const char *tid, GError **error)
{
    return hapvm_measurement_add_listed_task(m, (guint32)atoi(tid), HAPVM_ROLE_PROCESS, NULL, error);
}

static gboolean
add_threads(HapvmMeasurement *m, guint pid, GError **error)
{
    g_autofree char *dir = g_strdup_printf("/proc/%u/task", pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;

    if (!d)
        return TRUE; /* gone; the engine notices */
    while ((n = g_dir_read_name(d)))
        if (!add_listed_task(m, n, error))
            return FALSE;
    return TRUE;
}

static char *
cgroup_threads_path(const char *cg)
{
    g_autofree char *base = g_path_is_absolute(cg) ? g_strdup(cg) : g_build_filename("/sys/fs/cgroup", cg, NULL);
    char *p = g_build_filename(base, "cgroup.threads", NULL);

    if (g_file_test(p, G_FILE_TEST_EXISTS))
        return p;
    g_free(p);
    return g_build_filename(base, "tasks", NULL); /* cgroup v1 */
}

static gboolean
add_cgroup(HapvmMeasurement *m, const char *cg, gboolean first, GError **error)
{
    g_autofree char *path = cgroup_threads_path(cg);
    g_autofree char *buf = NULL;

    if (!g_file_get_contents(path, &buf, NULL, NULL)) {
        if (!first)
            return TRUE; /* removed: its tasks are gone too */
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE,
                    "cgroup %s not found (no %s); give a path under /sys/fs/cgroup", cg, path);
        return FALSE;
    }
    g_auto(GStrv) lines = g_strsplit(buf, "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l && !add_listed_task(m, *l, error))
            return FALSE;
    return TRUE;
}

static gboolean
rescan(HapvmMeasurement *m, gpointer data, GError **error)
{
    Targets *t = data;

    for (char **p = t->pids; p && *p; p++)
        if (!add_threads(m, (guint)atoi(*p), error))
            return FALSE;
    if (t->cgroup && !add_cgroup(m, t->cgroup, FALSE, error))
        return FALSE;
    return TRUE;
}

static const char *
namer(gpointer data, guint64 ip)
{
    HapvmKsym s;

    return hapvm_ksyms_lookup(data, ip, &s) ? s.name : NULL;
}

/* One JSON line a second for a supervisor (hapvmd): what `hapvm status`
 * shows.  Written with one write(2); a reader that went away is ignored. */
static void
status_line(HapvmMeasurement *m, Targets *t, const HapvmCurvePoint *p, const HapvmDecodeStats *st)
{
    const HapvmMeasureOpts *o = hapvm_measurement_get_opts(m);
    const char *state;

    if (p->total != t->last_total) {
        t->last_total = p->total;
        t->last_new_s = p->t;
    }
    if (p->t < o->warmup_s)
        state = "warmup";
    else if (p->t - MAX(t->last_new_s, o->warmup_s) >= o->quiet_s)
        state = "steady";
    else
        state = "measuring";
    g_autofree char *line = g_strdup_printf(
        "{\"elapsed_s\":%.1f,\"functions\":%u,\"steady_functions\":%u,\"steady\":%s,\"state\":\"%s\","
        "\"lost\":%" G_GUINT64_FORMAT ",\"events\":%" G_GUINT64_FORMAT ",\"exits\":%" G_GUINT64_FORMAT "}\n",
        p->t, p->total, p->steady, strcmp(state, "steady") ? "false" : "true", state,
        st->missed_events + st->pages_with_loss, st->events,
        t->vm && t->vm->entry ? hapvm_kvm_entry_get_exits(t->vm->entry) : 0);
    if (write(t->status_fd, line, strlen(line)) < 0 && errno == EPIPE) {
        close(t->status_fd);
        t->status_fd = -1;
    }
}

static void
progress(HapvmMeasurement *m, gpointer data)
{
    Targets *t = data;
    const GArray *c = hapvm_measurement_get_curve(m);
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(hapvm_measurement_get_decoder(m));
    static guint64 last_events, last_exits;

    if (!c->len)
        return;
    const HapvmCurvePoint *p = &g_array_index(c, HapvmCurvePoint, c->len - 1);
    if (t->status_fd >= 0)
        status_line(m, t, p, st);
    if (!t->live)
        return;
    guint prev = c->len > 1 ? g_array_index(c, HapvmCurvePoint, c->len - 2).total : 0;
    fprintf(stderr, "\r%6.0f s  functions %6u (+%u/s)  steady %6u  events/s %8" G_GUINT64_FORMAT,
            p->t, p->total, p->total - prev, p->steady, st->events - last_events);
    if (t->vm && t->vm->entry) {
        guint64 exits = hapvm_kvm_entry_get_exits(t->vm->entry);
        fprintf(stderr, "  exits/s %7" G_GUINT64_FORMAT, exits - last_exits);
        last_exits = exits;
    }
    fprintf(stderr, "  lost %" G_GUINT64_FORMAT "   ", st->missed_events + st->pages_with_loss);
    last_events = st->events;
}

static void
add_vm_members(JsonBuilder *b, gpointer data)
{
    Targets *t = data;

    if (t->xen)
        hapvm_xen_target_to_json(t->xen, b);
    else
        hapvm_kvm_target_to_json(t->vm, b);
}

/* Hypercalls and coverage for the window in which functions are traced. */
static gboolean
xen_start(HapvmMeasurement *m, gpointer data, GError **error)
{
    Targets *t = data;

    hapvm_xen_target_coverage_begin(t->xen, t->xen_coverage);
    if (t->no_xentrace)
        t->xen->xentrace_unavailable = g_strdup("disabled with --no-xentrace");
    else if (!hapvm_xen_target_start_xentrace(t->xen, t->xentrace))
        g_printerr("hapvm measure: warning: no hypercall counts: %s\n", t->xen->xentrace_unavailable);
    return TRUE;
}

static gboolean
xen_uri(const char *uri)
{
    return uri && (g_str_has_prefix(uri, "xen:") || g_str_has_prefix(uri, "xen+"));
}

/* Fork the command stopped on a pipe; it execs once we release it, so the
 * pid filter is in place before its first instruction. */
static GPid
spawn_held(char **argv, int *release_fd, GError **error)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "pipe: %s", g_strerror(errno));
        return 0;
    }
    pid = fork();
    if (pid < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "fork: %s", g_strerror(errno));
        return 0;
    }
    if (pid == 0) {
        char c;
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(127); /* hapvm gave up before starting */
        execvp(argv[0], argv);
        fprintf(stderr, "hapvm measure: cannot run %s: %s\n", argv[0], g_strerror(errno));
        _exit(127);
    }
    close(p[0]);
    *release_fd = p[1];
    return pid;
}

static gboolean
release_child(HapvmMeasurement *m, gpointer data, GError **error)
{
    int *fd = data;

    if (*fd >= 0) {
        if (write(*fd, "x", 1) != 1) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot start the command: %s", g_strerror(errno));
            return FALSE;
        }
        close(*fd);
        *fd = -1;
    }
    return TRUE;
}

/* Set by `hapvm baseline`, which is `hapvm measure` of an idle target. */
static gboolean as_baseline;

int
hapvm_cmd_measure(int argc, char **argv, GError **error)
{
    HapvmMeasureOpts o;
    g_auto(Targets) t = { 0 };
    g_autofree char *json = NULL, *debuginfo = NULL, *index_cache = NULL, *uri = NULL;
    int qemu_pid = 0;
    gboolean until_steady = FALSE;
    gboolean accept_loss = FALSE, no_lines = FALSE, no_syscalls = FALSE, quiet = FALSE;
    double density = HAPVM_DEFAULT_DENSITY * 1000;
    int buffer_kb = 0;
    int release_fd = -1;
    char **command = NULL;
    int status_fd = -1;
    g_autofree char *baseline = NULL;
    gboolean any_baseline = FALSE;
    gboolean xen = FALSE;
    g_autofree char *xentrace = NULL, *xen_coverage = NULL, *xentrace_save = NULL;

    hapvm_measure_opts_init(&o);
    GOptionEntry entries[] = {
        { "pid", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &t.pids, "measure process PID (all its threads); repeatable", "PID" },
        { "cgroup", 'g', 0, G_OPTION_ARG_FILENAME, &t.cgroup, "measure every task of a cgroup", "PATH" },
        { "qemu-pid", 0, 0, G_OPTION_ARG_INT, &qemu_pid, "measure the QEMU/KVM VM of process PID (no libvirt)", "PID" },
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI for DOMAIN (default: as virsh)", "URI" },
        { "xen", 'x', 0, G_OPTION_ARG_NONE, &xen, "DOMAIN is a Xen domain (name, domid or UUID; the default in a dom0)", NULL },
        { "xentrace", 0, 0, G_OPTION_ARG_FILENAME, &xentrace, "xentrace program for Xen hypercall counts", "PATH" },
        { "xentrace-save", 0, 0, G_OPTION_ARG_FILENAME, &xentrace_save,
          "also save xentrace's raw stream to FILE (for xenalyze)", "FILE" },
        { "no-xentrace", 0, 0, G_OPTION_ARG_NONE, &t.no_xentrace, "no Xen hypercall counts (xentrace is global)", NULL },
        { "xen-coverage", 0, 0, G_OPTION_ARG_FILENAME, &xen_coverage,
          "reset Xen's coverage counters and save them to FILE at the end (Xen built with coverage)", "FILE" },
        { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &o.duration_s, "measure for S seconds (no steady-state stop)", "S" },
        { "until-steady", 0, 0, G_OPTION_ARG_NONE, &until_steady, "stop at steady state (the default)", NULL },
        { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &o.warmup_s, "startup window before steady state (default 5)", "S" },
        { "quiet", 'q', 0, G_OPTION_ARG_DOUBLE, &o.quiet_s, "steady when no new function for S seconds (default 10)", "S" },
        { "max-duration", 0, 0, G_OPTION_ARG_DOUBLE, &o.max_s, "stop after S seconds at most (default 600)", "S" },
        { "low-overhead", 'l', 0, G_OPTION_ARG_NONE, &o.low_overhead, "stop tracing functions already seen", NULL },
        { "keep-syscalls", 0, 0, G_OPTION_ARG_NONE, &o.keep_syscalls,
          "with --low-overhead: keep counting system calls in steady state", NULL },
        { "buffer-kb", 'b', 0, G_OPTION_ARG_INT, &buffer_kb, "trace buffer per CPU in KiB (default 32768)", "KB" },
        { "accept-loss", 0, 0, G_OPTION_ARG_NONE, &accept_loss, "exit 0 even if events were lost", NULL },
        { "no-syscalls", 0, 0, G_OPTION_ARG_NONE, &no_syscalls, "do not record system call numbers", NULL },
        { "json", 'o', 0, G_OPTION_ARG_FILENAME, &json, "write the result as JSON to FILE", "FILE" },
        { "debuginfo", 0, 0, G_OPTION_ARG_FILENAME, &debuginfo, "kernel debuginfo (vmlinux or a /usr/lib/debug-like dir)", "PATH" },
        { "index-cache", 0, 0, G_OPTION_ARG_FILENAME, &index_cache, "line index cache dir", "DIR" },
        { "no-lines", 0, 0, G_OPTION_ARG_NONE, &no_lines, "skip HAP-L (no debuginfo lookup)", NULL },
        { "density", 0, 0, G_OPTION_ARG_DOUBLE, &density, "defects per 1000 lines for HAP (default 0.333)", "D" },
        { "quiet-summary", 0, 0, G_OPTION_ARG_NONE, &quiet, "no summary on stdout", NULL },
        { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
          "subtract an idle baseline (hapvm baseline): raw and baseline-subtracted scores", "FILE" },
        { "any-baseline", 0, 0, G_OPTION_ARG_NONE, &any_baseline, "accept any result as the baseline", NULL },
        { "status-fd", 0, 0, G_OPTION_ARG_INT, &status_fd, "write a JSON status line a second to FD (for hapvmd)", "FD" },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("[[--xen] DOMAIN | --qemu-pid PID | --pid PID | --cgroup PATH | -- COMMAND [ARGS...]]");
    g_option_context_set_summary(ctx, "Measure the host-kernel functions (HAP) a workload makes the kernel run.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_strict_posix(ctx, FALSE);

    /* Everything after "--" is the command, untouched by option parsing. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            command = &argv[i + 1];
            argv[i] = NULL;
            argc = i;
            break;
        }
    }
    if (!g_option_context_parse(ctx, &argc, &argv, error)) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    const char *domain = argc > 1 ? argv[1] : NULL;
    if (argc > 2) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unexpected argument '%s' (one DOMAIN; a command goes "
                    "after --)", argv[2]);
        return -1;
    }
    if (command && !*command)
        command = NULL;
    if ((domain != NULL) + (qemu_pid != 0) + (t.pids || t.cgroup || command) > 1) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "give one kind of target: a DOMAIN, --qemu-pid, or --pid/--cgroup/-- COMMAND");
        return -1;
    }
    if (!domain && !qemu_pid && !t.pids && !t.cgroup && !command) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "nothing to measure: give a libvirt DOMAIN, --qemu-pid, --pid, --cgroup or -- COMMAND");
        return -1;
    }
    if ((xen || xentrace || xen_coverage || t.no_xentrace || xentrace_save) && !domain) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--xen, --xentrace, --xentrace-save, --no-xentrace and "
                    "--xen-coverage apply to a Xen DOMAIN");
        return -1;
    }
    if (qemu_pid < 0 || (uri && !domain)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, qemu_pid < 0 ? "--qemu-pid %d: not a process id"
                    : "--connect applies to a DOMAIN", qemu_pid);
        return -1;
    }
    if (until_steady && o.duration_s > 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--duration and --until-steady exclude each other");
        return -1;
    }
    if (o.warmup_s < 0 || o.quiet_s <= 0 || o.max_s <= 0 || o.duration_s < 0 || density < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "durations must be positive");
        return -1;
    }
    for (char **p = t.pids; p && *p; p++) {
        g_autofree char *proc = g_strdup_printf("/proc/%s/task", *p);
        char *end;
        strtoul(*p, &end, 10);
        if (*end || !**p) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--pid %s: not a process id", *p);
            return -1;
        }
        if (!g_file_test(proc, G_FILE_TEST_IS_DIR)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE, "process %s does not exist", *p);
            return -1;
        }
    }
    /* A bad baseline is found before anything is traced. */
    g_autoptr(JsonNode) base = NULL;
    if (baseline) {
        if (as_baseline) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "a baseline is not measured against a baseline");
            return -1;
        }
        if (!(base = hapvm_result_load(baseline, error)))
            return -1;
        if (!any_baseline && !hapvm_json_boolean(hapvm_json_object(json_node_get_object(base), "method"), "baseline")) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s is not a baseline recording (record one with "
                        "hapvm baseline, or use --any-baseline)", baseline);
            return -1;
        }
    }
    if (status_fd >= 0 && fcntl(status_fd, F_GETFD) < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--status-fd %d: not an open file descriptor", status_fd);
        return -1;
    }
    t.status_fd = status_fd;
    if (status_fd >= 0)
        signal(SIGPIPE, SIG_IGN); /* a supervisor that went away must not kill the measurement */
    if (buffer_kb > 0)
        o.trace.buffer_kb = buffer_kb;
    o.trace.syscalls = !no_syscalls;

    /* Resolve a VM before touching tracefs: bad input leaves nothing.  In
     * a Xen dom0 a DOMAIN is a Xen domain unless a libvirt URI says
     * otherwise. */
    if (domain && (xen || xen_uri(uri) || (!uri && hapvm_xen_is_dom0(NULL)))) {
        if (uri && !xen_uri(uri) && xen) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--xen with --connect %s: give a xen:// URI", uri);
            return -1;
        }
        if (uri)
            t.xen = hapvm_xen_target_open_libvirt(uri, domain, error);
        else {
            HapvmXenSys *sys = hapvm_xen_sys_open(error);
            t.xen = sys ? hapvm_xen_target_open(sys, domain, NULL, error) : NULL;
        }
        if (!t.xen)
            return -1;
        t.xentrace = xentrace;
        t.xen_coverage = xen_coverage;
        t.xen->xentrace_save = g_strdup(xentrace_save);
    } else if (domain)
        t.vm = hapvm_kvm_target_open_domain(uri, domain, NULL, error);
    else if (qemu_pid)
        t.vm = hapvm_kvm_target_open_pid(NULL, (guint32)qemu_pid, error);
    if ((domain || qemu_pid) && !t.vm && !t.xen)
        return -1;
    if (t.vm)
        o.trace.events = hapvm_kvm_entry_events;

    g_autoptr(HapvmKernelInfo) kernel = hapvm_kernel_info_read(NULL, NULL);
    g_autoptr(GError) ksyms_error = NULL;
    g_autoptr(HapvmKsyms) ksyms = hapvm_ksyms_load(NULL, &ksyms_error);
    if (!ksyms && geteuid() == 0)
        g_printerr("hapvm measure: warning: no kernel symbols (%s); functions will be addresses\n",
                   ksyms_error->message);
    else if (hapvm_ksyms_rereads(ksyms))
        g_printerr("hapvm measure: warning: /proc/kallsyms had a malformed line on %u read(s); "
                   "the next read was clean and is used\n", hapvm_ksyms_rereads(ksyms));

    g_autoptr(HapvmMeasurement) m = hapvm_measurement_new(&o, error);
    if (!m)
        return -1;
    for (char **p = t.pids; p && *p; p++)
        if (!add_threads(m, (guint)atoi(*p), error))
            return -1;
    if (t.cgroup && !add_cgroup(m, t.cgroup, TRUE, error))
        return -1;
    if (t.vm) {
        if (!hapvm_kvm_target_scan(m, t.vm, error))
            return -1;
        hapvm_kvm_target_attach(t.vm, m);
    }
    if (t.xen && !hapvm_xen_target_scan(m, t.xen, error))
        return -1;
    if (command) {
        t.child = spawn_held(command, &release_fd, error);
        if (!t.child)
            return -1;
        hapvm_measurement_set_child(m, t.child);
        if (!hapvm_measurement_add_task(m, t.child, HAPVM_ROLE_PROCESS, error)) {
            kill(t.child, SIGKILL);
            waitpid(t.child, NULL, 0);
            return -1;
        }
    }
    if (t.vm)
        hapvm_measurement_set_rescan(m, hapvm_kvm_target_scan, t.vm);
    else if (t.xen)
        hapvm_measurement_set_rescan(m, hapvm_xen_target_scan, t.xen);
    else
        hapvm_measurement_set_rescan(m, rescan, &t);
    if (ksyms)
        hapvm_measurement_set_namer(m, namer, ksyms);
    /* Live progress for people: a terminal that says what it is (the lab's
     * serial line is a tty too, but carries logs). */
    gboolean live = isatty(2) && g_getenv("TERM") && g_strcmp0(g_getenv("TERM"), "dumb") != 0;
    t.live = live;
    if (live || t.status_fd >= 0)
        hapvm_measurement_set_progress(m, progress, &t);

    current = m;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* The command execs only once tracing is on. */
    if (command)
        hapvm_measurement_set_start_hook(m, release_child, &release_fd);
    else if (t.xen)
        hapvm_measurement_set_start_hook(m, xen_start, &t);
    gboolean ok = hapvm_measurement_run(m, error);
    current = NULL;
    if (t.xen) {
        hapvm_xen_target_stop_xentrace(t.xen);
        hapvm_xen_target_coverage_end(t.xen);
    }
    if (release_fd >= 0)
        close(release_fd);
    if (t.child && hapvm_measurement_get_end_reason(m) != HAPVM_END_TARGETS_EXITED) {
        /* The command outlived the window: it was only the load. */
        kill(t.child, SIGTERM);
        waitpid(t.child, NULL, 0);
    }
    if (!ok)
        return -1;
    if (live)
        fprintf(stderr, "\n");

    /* Lines: never invented; without debuginfo the result says why. */
    g_autoptr(HapvmLineIndex) idx = NULL;
    g_autoptr(GError) idx_error = NULL;
    if (!no_lines && kernel)
        idx = hapvm_line_index_open(kernel, debuginfo, index_cache, &idx_error);
    if (!idx && idx_error)
        g_printerr("hapvm measure: HAP-L unavailable: %s\n", idx_error->message);

    g_autofree char *desc = NULL;
    const char *kind;
    if (t.vm) {
        kind = "kvm";
        desc = g_strdup(t.vm->name);
    } else if (t.xen) {
        kind = "xen";
        desc = t.xen->name ? g_strdup(t.xen->name) : g_strdup_printf("domid %u", t.xen->domid);
    } else if (command) {
        kind = "command";
        desc = g_strjoinv(" ", command);
    } else if (t.cgroup) {
        kind = "cgroup";
        desc = g_strdup(t.cgroup);
    } else {
        kind = "process";
        desc = g_strjoinv(",", t.pids);
    }
    HapvmResultInput in = {
        .target_kind = kind,
        .target = desc,
        .kernel = kernel,
        .ksyms = ksyms,
        .lines = idx,
        .lines_error = no_lines ? "disabled with --no-lines" : idx_error ? idx_error->message : "no kernel identity",
        .density = density / 1000.0,
        .accept_loss = accept_loss,
        .baseline = as_baseline,
        .add_members = t.vm || t.xen ? add_vm_members : NULL,
        .add_data = &t,
    };
    g_autoptr(JsonNode) result = hapvm_result_build(m, &in);
    if (base) {
        JsonNode *bm = hapvm_baseline_subtract(json_node_get_object(result), json_node_get_object(base), baseline,
                                               any_baseline, error);
        if (!bm)
            return -1;
        json_object_set_member(json_node_get_object(result), "baseline", bm);
    }
    return hapvm_result_emit(result, json, quiet, accept_loss, "",
                             "use a larger --buffer-kb, --low-overhead, or", error) ? 0 : -1;
}

int
hapvm_cmd_baseline(int argc, char **argv, GError **error)
{
    as_baseline = TRUE;
    return hapvm_cmd_measure(argc, argv, error);
}

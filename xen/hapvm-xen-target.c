/* A Xen domain as a measurement target (hapvm-xen-target.h). */
#include "hapvm-xen-target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"

/* TRC_SCHED | TRC_HVM | TRC_MEM | TRC_PV (public/trace.h): the schedule
 * records attribute the others to domains; TRC_GEN (lost records, CPU
 * windows) is always on. */
#define XENTRACE_MASK "0x003af000"
/* Trace buffer pages per pCPU: loss at a few hundred thousand hypercalls
 * a second per pCPU is still counted (TRC_LOST_RECORDS). */
#define XENTRACE_PAGES "256"

void
hapvm_xen_target_free(HapvmXenTarget *t)
{
    if (!t)
        return;
    if (t->xentrace_pid || t->xentrace_lock_fd >= 0)
        hapvm_xen_target_stop_xentrace(t);
    hapvm_xen_sys_free(t->sys);
    g_free(t->proc_root);
    g_free(t->sysfs_net);
    g_free(t->uri);
    g_free(t->name);
    g_free(t->uuid);
    g_free(t->type);
    if (t->tasks)
        g_array_unref(t->tasks);
    if (t->seen)
        g_hash_table_unref(t->seen);
    g_free(t->ended);
    hapvm_xen_trace_free(t->trace);
    g_free(t->xentrace_path);
    g_free(t->xentrace_save);
    g_free(t->xentrace_out);
    g_free(t->xentrace_unavailable);
    g_free(t->reader_error);
    g_free(t->coverage_unavailable);
    g_free(t->coverage_file);
    g_free(t);
}

gboolean
hapvm_xen_is_dom0(const char *proc_root)
{
    g_autofree char *path = g_build_filename(proc_root ? proc_root : "/proc", "xen", "capabilities", NULL);
    g_autofree char *caps = NULL;

    return g_file_get_contents(path, &caps, NULL, NULL) && strstr(caps, "control_d");
}

/* libxl's own word for the type ("pv", "pvh", "hvm"); the hvm flag
 * otherwise (PVH sets it too). */
static char *
domain_type(HapvmXenSys *sys, const HapvmXenDomain *d)
{
    g_autofree char *path = g_strdup_printf("/libxl/%u/type", d->info.domid);
    g_autofree char *v = hapvm_xen_sys_read(sys, path, NULL);

    if (v && *g_strstrip(v))
        return g_steal_pointer(&v);
    return g_strdup(d->info.hvm ? "hvm-or-pvh" : "pv");
}

HapvmXenTarget *
hapvm_xen_target_open(HapvmXenSys *sys, const char *what, const char *proc_root, GError **error)
{
    g_autoptr(HapvmXenTarget) t = g_new0(HapvmXenTarget, 1);
    g_autoptr(HapvmXenDomain) d = NULL;

    t->sys = sys;
    t->xentrace_fd = -1;
    t->xentrace_err_fd = -1;
    t->xentrace_lock_fd = -1;
    t->xentrace_save_fd = -1;
    t->proc_root = g_strdup(proc_root);
    t->tasks = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
    t->seen = g_hash_table_new(NULL, NULL);
    d = hapvm_xen_domain_lookup(sys, what, error);
    if (!d)
        return NULL;
    if (d->info.domid == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "'%s' is dom0, the host itself: name a guest domain (see 'xl list')", what);
        return NULL;
    }
    t->domid = d->info.domid;
    t->dm_pid = d->dm_pid;
    t->name = g_steal_pointer(&d->name);
    t->uuid = g_steal_pointer(&d->uuid);
    t->type = domain_type(sys, d);
    return g_steal_pointer(&t);
}

static void
silent_libvirt_errors(void *data, virErrorPtr err)
{
}

HapvmXenTarget *
hapvm_xen_target_open_libvirt(const char *uri, const char *domain, GError **error)
{
    virConnectPtr conn;
    virDomainPtr d = NULL;
    g_autofree char *id_text = NULL;
    int active;

    virSetErrorFunc(NULL, silent_libvirt_errors);
    conn = virConnectOpenReadOnly(uri);
    if (!conn) {
        const char *m = virGetLastErrorMessage();
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_LIBVIRT,
                    "cannot connect to libvirt at %s: %s; is libvirtd running with its libxl driver?",
                    uri, m ? m : "unknown libvirt error");
        return NULL;
    }
    const char *type = virConnectGetType(conn);
    if (!type || g_ascii_strcasecmp(type, "Xen") != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "libvirt connection %s uses the %s driver, not Xen's (libxl): measure its domains without "
                    "--xen", uri, type ? type : "unknown");
        virConnectClose(conn);
        return NULL;
    }
    d = virDomainLookupByName(conn, domain);
    if (!d && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1)
        d = virDomainLookupByUUIDString(conn, domain);
    if (!d) {
        guint64 id;
        if (g_ascii_string_to_unsigned(domain, 10, 0, G_MAXINT, &id, NULL))
            d = virDomainLookupByID(conn, (int)id);
    }
    if (!d) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN,
                    "no domain '%s' (by name, UUID or ID) on %s; 'virsh -c %s list' shows them", domain, uri, uri);
        virConnectClose(conn);
        return NULL;
    }
    active = virDomainIsActive(d);
    id_text = g_strdup_printf("%u", virDomainGetID(d));
    g_autofree char *name = g_strdup(virDomainGetName(d));
    virDomainFree(d);
    virConnectClose(conn);
    if (active != 1) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_RUNNING,
                    "domain '%s' is not running; start it ('virsh -c %s start %s') and measure it while it works",
                    name, uri, name);
        return NULL;
    }
    HapvmXenSys *sys = hapvm_xen_sys_open(error);
    if (!sys)
        return NULL;
    HapvmXenTarget *t = hapvm_xen_target_open(sys, id_text, NULL, error);
    if (t)
        t->uri = g_strdup(uri);
    return t;
}

static gboolean
gone_error(const GError *e)
{
    return g_error_matches(e, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN) ||
           g_error_matches(e, HAPVM_ERROR, HAPVM_ERROR_NOT_RUNNING);
}

/* Is the domain still the one we measure?  Sets t->ended when not. */
static gboolean
check_domain(HapvmXenTarget *t, GError **error)
{
    g_autofree char *id = g_strdup_printf("%u", t->domid);
    g_autoptr(GError) e = NULL;
    g_autoptr(HapvmXenDomain) d = hapvm_xen_domain_lookup(t->sys, id, &e);

    if (!d) {
        if (!gone_error(e)) {
            g_propagate_error(error, g_steal_pointer(&e));
            return FALSE;
        }
        if (!t->n_scans) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE, "%s", e->message);
            return FALSE;
        }
        t->ended = g_strdup(e->message);
        return TRUE;
    }
    /* Domids are not reused at once, but a UUID settles it. */
    if (t->uuid && d->uuid && g_ascii_strcasecmp(t->uuid, d->uuid) != 0) {
        t->ended = g_strdup_printf("domid %u now belongs to another domain (UUID %s)", t->domid, d->uuid);
        return TRUE;
    }
    if (d->dm_pid)
        t->dm_pid = d->dm_pid;
    return TRUE;
}

gboolean
hapvm_xen_target_refresh(HapvmXenTarget *t, GArray *fresh, GError **error)
{
    g_autoptr(GArray) tasks = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
    HapvmXenScanHints hints = { .dm_pid = t->dm_pid, .shared = TRUE };

    if (t->ended)
        return TRUE;
    if (!check_domain(t, error))
        return FALSE;
    if (t->ended)
        return TRUE; /* its backends are being torn down: nothing to add */
    hints.dm_pid = t->dm_pid;
    if (!hapvm_xen_scan_tasks(t->proc_root, t->domid, &hints, tasks, error))
        return FALSE;
    for (guint i = 0; i < tasks->len; i++) {
        const HapvmXenTask *k = &g_array_index(tasks, HapvmXenTask, i);
        gpointer key = GUINT_TO_POINTER(k->tid);
        gpointer val = GUINT_TO_POINTER((guint)k->role + 1);
        gpointer old = g_hash_table_lookup(t->seen, key);
        if (old == val)
            continue;
        if (!old) {
            g_array_append_val(t->tasks, *k);
            if (t->n_scans)
                t->n_added_late++;
        }
        g_hash_table_insert(t->seen, key, val);
        g_array_append_val(fresh, *k);
    }
    t->n_scans++;
    return TRUE;
}

gboolean
hapvm_xen_target_scan(HapvmMeasurement *m, gpointer target, GError **error)
{
    HapvmXenTarget *t = target;
    g_autoptr(GArray) fresh = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    if (!hapvm_xen_target_refresh(t, fresh, error))
        return FALSE;
    for (guint i = 0; i < fresh->len; i++) {
        const HapvmXenTask *k = &g_array_index(fresh, HapvmXenTask, i);
        if (!hapvm_measurement_add_listed_task(m, k->tid, k->role, NULL, error))
            return FALSE;
    }
    if (t->ended)
        hapvm_measurement_set_targets_gone(m);
    return TRUE;
}

/* xentrace: Debian installs it in /usr/lib/xen-<version>/bin, which is not
 * on PATH. */
static char *
find_xentrace(void)
{
    char *p = g_find_program_in_path("xentrace");
    g_autoptr(GDir) d = NULL;
    const char *n;

    if (p)
        return p;
    d = g_dir_open("/usr/lib", 0, NULL);
    while (d && (n = g_dir_read_name(d))) {
        if (!g_str_has_prefix(n, "xen-"))
            continue;
        p = g_build_filename("/usr/lib", n, "bin", "xentrace", NULL);
        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            return p;
        g_free(p);
    }
    return NULL;
}

/* Follows xentrace's output file: reads what is there, sleeps 50 ms at its
 * end while xentrace runs, and reads to the end once it has stopped. */
static gpointer
reader_main(gpointer data)
{
    HapvmXenTarget *t = data;
    gsize size = 256 * 1024;
    g_autofree guint8 *buf = g_malloc(size);

    for (;;) {
        gboolean done = g_atomic_int_get(&t->xentrace_done);
        ssize_t n = read(t->xentrace_fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (!t->reader_error)
                t->reader_error = g_strdup_printf("reading xentrace's output %s: %s", t->xentrace_out,
                                                  g_strerror(errno));
            break;
        }
        if (n == 0) {
            if (done)
                break; /* ended before this read: nothing more comes */
            g_usleep(50000);
            continue;
        }
        t->xentrace_bytes += (guint64)n;
        if (t->xentrace_save_fd >= 0) {
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(t->xentrace_save_fd, buf + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    if (!t->reader_error)
                        t->reader_error = g_strdup_printf("writing %s: %s", t->xentrace_save, g_strerror(errno));
                    close(t->xentrace_save_fd);
                    t->xentrace_save_fd = -1;
                    break;
                }
                off += w;
            }
        }
        if (!t->reader_error) {
            g_autoptr(GError) e = NULL;
            if (!hapvm_xen_trace_feed(t->trace, buf, (gsize)n, &e))
                t->reader_error = g_strdup(e->message); /* go on reading: the byte count stays right */
        }
    }
    return NULL;
}

static void
reader_join(HapvmXenTarget *t)
{
    g_atomic_int_set(&t->xentrace_done, 1);
    if (t->reader) {
        g_thread_join(t->reader);
        t->reader = NULL;
    }
}

static char *
read_err_file(int fd)
{
    char buf[2048];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0)
        return g_strdup("");
    buf[n] = '\0';
    return g_strstrip(g_strdup(buf));
}

/* Xen has one set of trace buffers: two xentrace readers would each get
 * part of the records, and both counts would be silently low.  hapvm
 * measurements take a lock; a xentrace run by someone else is looked for
 * in /proc. */
static gboolean
claim_xentrace(HapvmXenTarget *t)
{
    const char *path = g_getenv("HAPVM_XENTRACE_LOCK") ?: "/run/hapvm-xentrace.lock";
    g_autoptr(GDir) d = NULL;
    const char *n;

    t->xentrace_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (t->xentrace_lock_fd < 0) {
        t->xentrace_unavailable = g_strdup_printf("cannot open %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    if (flock(t->xentrace_lock_fd, LOCK_EX | LOCK_NB) != 0) {
        t->xentrace_unavailable = g_strdup_printf(
            "another hapvm measurement holds Xen's trace buffers (%s): hypercalls are counted for one "
            "measurement at a time", path);
        close(t->xentrace_lock_fd);
        t->xentrace_lock_fd = -1;
        return FALSE;
    }
    d = g_dir_open(t->proc_root ? t->proc_root : "/proc", 0, NULL);
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *cpath = g_build_filename(t->proc_root ? t->proc_root : "/proc", n, "comm", NULL);
        g_autofree char *comm = NULL;
        if (g_ascii_isdigit(*n) && g_file_get_contents(cpath, &comm, NULL, NULL) &&
            g_str_equal(g_strchomp(comm), "xentrace")) {
            t->xentrace_unavailable = g_strdup_printf(
                "xentrace is already running (pid %s) and would share Xen's trace buffers with ours: stop it, "
                "or measure with --no-xentrace", n);
            return FALSE;
        }
    }
    return TRUE;
}

/* Close xentrace's files and remove its output (the copy stays). */
static void
xentrace_files_close(HapvmXenTarget *t)
{
    if (t->xentrace_fd >= 0) {
        close(t->xentrace_fd);
        t->xentrace_fd = -1;
    }
    if (t->xentrace_err_fd >= 0) {
        close(t->xentrace_err_fd);
        t->xentrace_err_fd = -1;
    }
    if (t->xentrace_save_fd >= 0) {
        close(t->xentrace_save_fd);
        t->xentrace_save_fd = -1;
    }
    if (t->xentrace_out)
        unlink(t->xentrace_out);
}

gboolean
hapvm_xen_target_start_xentrace(HapvmXenTarget *t, const char *path)
{
    char tmpl[] = "/tmp/hapvm-xentrace-XXXXXX";
    pid_t pid;
    int out;

    t->xentrace_path = path ? g_strdup(path) : find_xentrace();
    if (!t->xentrace_path || !g_file_test(t->xentrace_path, G_FILE_TEST_IS_EXECUTABLE)) {
        t->xentrace_unavailable = g_strdup_printf(
            "xentrace %s: install Xen's tools (Debian: xen-utils-4.17) or give --xentrace PATH",
            t->xentrace_path ? "is not executable" : "not found on PATH or in /usr/lib/xen-*/bin");
        return FALSE;
    }
    if (!claim_xentrace(t))
        return FALSE;
    if (t->xentrace_save) {
        t->xentrace_save_fd = open(t->xentrace_save, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (t->xentrace_save_fd < 0) {
            t->xentrace_unavailable = g_strdup_printf("cannot write %s: %s", t->xentrace_save, g_strerror(errno));
            return FALSE;
        }
    }
    /* Removed at stop; a crashed hapvm leaves it in $TMPDIR. */
    t->xentrace_out = g_build_filename(g_get_tmp_dir(), "hapvm-xentrace-XXXXXX.bin", NULL);
    out = g_mkstemp_full(t->xentrace_out, O_WRONLY | O_CLOEXEC, 0600);
    if (out < 0) {
        t->xentrace_unavailable = g_strdup_printf("cannot write %s: %s", t->xentrace_out, g_strerror(errno));
        g_clear_pointer(&t->xentrace_out, g_free);
        xentrace_files_close(t);
        return FALSE;
    }
    close(out);
    t->xentrace_fd = open(t->xentrace_out, O_RDONLY | O_CLOEXEC);
    t->xentrace_err_fd = mkostemp(tmpl, O_CLOEXEC);
    if (t->xentrace_fd < 0 || t->xentrace_err_fd < 0) {
        t->xentrace_unavailable = g_strdup_printf("cannot start xentrace: %s", g_strerror(errno));
        xentrace_files_close(t);
        return FALSE;
    }
    unlink(tmpl);
    /* vfork: the child only execs, so hapvm's address space (line index,
     * buffers) is not copied for it. */
    pid = vfork();
    if (pid < 0) {
        t->xentrace_unavailable = g_strdup_printf("cannot start xentrace: vfork: %s", g_strerror(errno));
        xentrace_files_close(t);
        return FALSE;
    }
    if (pid == 0) {
        /* Xen's trace buffers stay on while xentrace runs: it must not
         * outlive us.  Its usage text goes to stdout: keep both. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(t->xentrace_err_fd, STDOUT_FILENO);
        dup2(t->xentrace_err_fd, STDERR_FILENO);
        execl(t->xentrace_path, "xentrace", "-D", "-e", XENTRACE_MASK, "-S", XENTRACE_PAGES, t->xentrace_out,
              (char *)NULL);
        /* vfork child: no stdio, no allocation. */
        static const char msg[] = "cannot run xentrace\n";
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
    t->xentrace_pid = pid;
    t->trace = hapvm_xen_trace_new();
    t->reader = g_thread_new("hapvm-xentrace", reader_main, t);
    /* A xentrace that cannot get Xen's buffers says so at once. */
    for (int i = 0; i < 10; i++) {
        int st;
        g_usleep(50000);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            t->xentrace_pid = 0;
            reader_join(t);
            g_autofree char *msg = read_err_file(t->xentrace_err_fd);
            t->xentrace_unavailable = g_strdup_printf("xentrace exited at start (%s %d): %s", WIFEXITED(st) ?
                                                      "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) :
                                                      WTERMSIG(st), *msg ? msg : "no message");
            hapvm_xen_trace_free(t->trace);
            t->trace = NULL;
            xentrace_files_close(t);
            return FALSE;
        }
    }
    return TRUE;
}

void
hapvm_xen_target_stop_xentrace(HapvmXenTarget *t)
{
    g_autofree char *why = NULL;
    int st = 0;

    if (t->xentrace_pid) {
        kill(t->xentrace_pid, SIGINT);
        for (int i = 0; i < 200; i++) {
            if (waitpid(t->xentrace_pid, &st, WNOHANG) == t->xentrace_pid)
                goto reaped;
            g_usleep(50000);
        }
        kill(t->xentrace_pid, SIGKILL);
        waitpid(t->xentrace_pid, &st, 0);
        why = g_strdup("xentrace did not stop within 10 s of SIGINT and was killed");
    reaped:
        t->xentrace_pid = 0;
        if (!why && (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 130))) {
            g_autofree char *msg = read_err_file(t->xentrace_err_fd);
            why = g_strdup_printf("xentrace ended with %s %d: %s", WIFEXITED(st) ? "status" : "signal",
                                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), msg);
        }
    }
    /* xentrace is gone: the reader reads its file to the end. */
    reader_join(t);
    if (why && !t->reader_error)
        t->reader_error = g_steal_pointer(&why);
    xentrace_files_close(t);
    if (t->xentrace_lock_fd >= 0) {
        close(t->xentrace_lock_fd);
        t->xentrace_lock_fd = -1;
    }
    if (t->trace)
        hapvm_xen_trace_finish(t->trace);
}

void
hapvm_xen_target_coverage_begin(HapvmXenTarget *t, const char *file)
{
    g_autoptr(GError) e = NULL;

    if (!hapvm_xen_sys_coverage(t->sys, HAPVM_XEN_COVERAGE_SIZE, NULL, &e)) {
        t->coverage_unavailable = g_strdup(e->message);
        return;
    }
    if (!file)
        return;
    t->coverage_file = g_strdup(file);
    if (!hapvm_xen_sys_coverage(t->sys, HAPVM_XEN_COVERAGE_RESET, NULL, &e))
        t->coverage_unavailable = g_strdup_printf("cannot reset Xen's coverage counters: %s", e->message);
    else
        t->coverage_reset = TRUE;
}

void
hapvm_xen_target_coverage_end(HapvmXenTarget *t)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    g_autoptr(GError) e = NULL;

    if (!t->coverage_reset)
        return;
    if (!hapvm_xen_sys_coverage(t->sys, HAPVM_XEN_COVERAGE_READ, data, &e) ||
        !g_file_set_contents(t->coverage_file, (const char *)data->data, data->len, &e)) {
        g_free(t->coverage_unavailable);
        t->coverage_unavailable = g_strdup_printf("cannot save Xen's coverage data: %s", e->message);
        return;
    }
    t->coverage_bytes = data->len;
}

static int
cmp_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* netback's NAPI polls in softirq unless the vif is threaded. */
static void
napi_to_json(const HapvmXenTarget *t, JsonBuilder *b)
{
    const char *root = t->sysfs_net ? t->sysfs_net : "/sys/class/net";
    g_autofree char *prefix = g_strdup_printf("vif%u.", t->domid);
    g_autoptr(GDir) d = g_dir_open(root, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;

    while (d && (n = g_dir_read_name(d)))
        if (g_str_has_prefix(n, prefix))
            g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, cmp_str_ptr);
    json_builder_set_member_name(b, "netback_napi");
    json_builder_begin_array(b);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(root, names->pdata[i], "threaded", NULL);
        g_autofree char *v = NULL;
        json_builder_begin_object(b);
        hapvm_json_set_str(b, "interface", names->pdata[i]);
        json_builder_set_member_name(b, "threaded");
        if (g_file_get_contents(path, &v, NULL, NULL))
            json_builder_add_boolean_value(b, atoi(v) == 1);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

void
hapvm_xen_target_to_json(const HapvmXenTarget *t, JsonBuilder *b)
{
    json_builder_set_member_name(b, "vm");
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "hypervisor", "xen");
    hapvm_json_set_str(b, "name", t->name);
    hapvm_json_set_str(b, "uuid", t->uuid);
    hapvm_json_set_int(b, "domid", t->domid);
    hapvm_json_set_str(b, "type", t->type);
    hapvm_json_set_str(b, "libvirt_uri", t->uri);
    hapvm_json_set_int(b, "device_model_pid", t->dm_pid);
    hapvm_json_set_int(b, "rescans", t->n_scans);
    hapvm_json_set_int(b, "tasks_added_by_rescan", t->n_added_late);
    hapvm_json_set_str(b, "domain_ended", t->ended);
    hapvm_json_set_str(b, "shared_rule",
                       "tasks that serve every domain (xenstored, xenconsoled, dom0's qdisk QEMU, xenbus, "
                       "xenwatch) have the role 'shared'; functions only they ran are not in HAP-F");
    json_builder_set_member_name(b, "tasks");
    json_builder_begin_array(b);
    for (guint i = 0; i < t->tasks->len; i++) {
        const HapvmXenTask *k = &g_array_index(t->tasks, HapvmXenTask, i);
        json_builder_begin_object(b);
        hapvm_json_set_int(b, "tid", k->tid);
        hapvm_json_set_int(b, "pid", k->pid);
        hapvm_json_set_str(b, "comm", k->comm);
        hapvm_json_set_str(b, "role", hapvm_role_name(k->role));
        hapvm_json_set_str(b, "kind", hapvm_xen_task_kind_name(k->kind));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    napi_to_json(t, b);

    json_builder_set_member_name(b, "xentrace");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, t->trace != NULL);
    hapvm_json_set_str(b, "reason", t->xentrace_unavailable);
    hapvm_json_set_str(b, "path", t->xentrace_path);
    hapvm_json_set_str(b, "event_mask", XENTRACE_MASK);
    hapvm_json_set_int(b, "buffer_pages_per_cpu", atoi(XENTRACE_PAGES));
    hapvm_json_set_int(b, "bytes", (gint64)t->xentrace_bytes);
    hapvm_json_set_str(b, "error", t->reader_error);
    hapvm_json_set_str(b, "saved_to", t->trace ? t->xentrace_save : NULL);
    json_builder_end_object(b);
    if (t->trace)
        hapvm_xen_trace_to_json(t->trace, t->domid, b);

    json_builder_set_member_name(b, "hypervisor_coverage");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, t->coverage_unavailable == NULL);
    hapvm_json_set_str(b, "reason", t->coverage_unavailable);
    hapvm_json_set_str(b, "scope", "hypervisor-wide: every domain's and Xen's own work in the window");
    hapvm_json_set_str(b, "file", t->coverage_bytes ? t->coverage_file : NULL);
    hapvm_json_set_int(b, "bytes", (gint64)t->coverage_bytes);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

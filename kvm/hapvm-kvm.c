/* KVM/QEMU target discovery: libvirt status XML and /proc thread roles. */
#include "hapvm-kvm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-proc.h"

#define DEFAULT_RUN_DIR "/run/libvirt/qemu"
#define DEFAULT_PROC "/proc"
/* kvm_vm_create_worker_thread() names its kthread "%s-%d" from
 * "kvm-nx-lpage-recovery"; TASK_COMM_LEN cuts it (and the pid) to this.  On
 * Linux >= 6.13 it is a vhost_task named "kvm-nx-lpage-recovery", which is
 * cut the same way. */
#define NX_COMM "kvm-nx-lpage-re"
/* ... but /proc/<pid>/comm of a kernel thread gives its full name (Linux
 * >= 5.17, get_kthread_comm()), pid included: seen in the lab on 6.1. */
#define NX_FULL_PREFIX "kvm-nx-lpage-recovery-"

/* ---- status XML ------------------------------------------------------- */

void
hapvm_kvm_status_free(HapvmKvmStatus *st)
{
    if (!st)
        return;
    g_free(st->state);
    g_free(st->name);
    g_free(st->uuid);
    g_free(st->type);
    if (st->vcpus)
        g_array_unref(st->vcpus);
    if (st->iothread_ids)
        g_array_unref(st->iothread_ids);
    g_free(st);
}

guint32
hapvm_kvm_status_vcpu_tid(const HapvmKvmStatus *st, guint vcpu)
{
    for (guint i = 0; i < st->vcpus->len; i++) {
        const HapvmKvmVcpu *v = &g_array_index(st->vcpus, HapvmKvmVcpu, i);
        if (v->id == vcpu)
            return v->tid;
    }
    return 0;
}

typedef enum { TEXT_NONE, TEXT_NAME, TEXT_UUID, TEXT_IOTHREADS } TextField;

typedef struct {
    HapvmKvmStatus *st;
    gboolean seen_pid;
    gboolean seen_domain;
    gboolean seen_status_vcpus;
    TextField field;
    GString *text;
} ParseState;

static const char *
attr(const char **names, const char **values, const char *want)
{
    for (guint i = 0; names[i]; i++)
        if (strcmp(names[i], want) == 0)
            return values[i];
    return NULL;
}

static gboolean
parse_uint_attr(const char *elem, const char *name, const char *value, guint64 min, guint64 max, guint64 *out,
                GError **error)
{
    if (!value) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "<%s> has no %s attribute", elem, name);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(value, 10, min, max, out, NULL)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "<%s %s='%s'>: not a number in %" G_GUINT64_FORMAT
                    "..%" G_GUINT64_FORMAT, elem, name, value, min, max);
        return FALSE;
    }
    return TRUE;
}

/* The element stack, innermost first, compared with a path given outermost
 * first: path_is(ctx, 3, "domstatus", "domain", "name"). */
static gboolean
path_is(GMarkupParseContext *ctx, guint depth, ...)
{
    const GSList *stack = g_markup_parse_context_get_element_stack(ctx);
    const char *want[8];
    va_list ap;

    g_assert(depth <= G_N_ELEMENTS(want));
    if (g_slist_length((GSList *)stack) != depth)
        return FALSE;
    va_start(ap, depth);
    for (guint i = 0; i < depth; i++)
        want[i] = va_arg(ap, const char *);
    va_end(ap);
    for (guint i = depth; i-- > 0; stack = stack->next)
        if (strcmp(stack->data, want[i]) != 0)
            return FALSE;
    return TRUE;
}

static void
on_start(GMarkupParseContext *ctx, const char *elem, const char **names, const char **values, gpointer data,
         GError **error)
{
    ParseState *ps = data;
    HapvmKvmStatus *st = ps->st;
    guint64 v;

    if (path_is(ctx, 1, elem)) {
        if (strcmp(elem, "domstatus") != 0) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "root element is <%s>, not <domstatus>", elem);
            return;
        }
        if (!parse_uint_attr(elem, "pid", attr(names, values, "pid"), 1, G_MAXINT32, &v, error))
            return;
        st->qemu_pid = (guint32)v;
        ps->seen_pid = TRUE;
        st->state = g_strdup(attr(names, values, "state"));
    } else if (path_is(ctx, 2, "domstatus", "vcpus")) {
        /* The domain definition has a <vcpus> of its own (hotplug layout,
         * no tids); only domstatus's carries tids. */
        ps->seen_status_vcpus = TRUE;
    } else if (path_is(ctx, 3, "domstatus", "vcpus", "vcpu")) {
        HapvmKvmVcpu vc;
        if (!parse_uint_attr(elem, "id", attr(names, values, "id"), 0, G_MAXUINT32, &v, error))
            return;
        vc.id = (guint)v;
        if (!parse_uint_attr(elem, "pid", attr(names, values, "pid"), 1, G_MAXINT32, &v, error))
            return;
        vc.tid = (guint32)v;
        if (hapvm_kvm_status_vcpu_tid(st, vc.id)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "vCPU %u listed twice", vc.id);
            return;
        }
        g_array_append_val(st->vcpus, vc);
    } else if (path_is(ctx, 2, "domstatus", "domain")) {
        const char *type = attr(names, values, "type");
        const char *id = attr(names, values, "id");
        if (ps->seen_domain) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "more than one <domain>");
            return;
        }
        ps->seen_domain = TRUE;
        st->type = g_strdup(type);
        if (g_strcmp0(type, "kvm") == 0)
            st->domain_type = HAPVM_KVM_DOMAIN_KVM;
        else if (g_strcmp0(type, "qemu") == 0)
            st->domain_type = HAPVM_KVM_DOMAIN_TCG;
        else
            st->domain_type = HAPVM_KVM_DOMAIN_OTHER;
        if (id) {
            if (!parse_uint_attr(elem, "id", id, 0, G_MAXINT, &v, error))
                return;
            st->id = (int)v;
        }
    } else if (path_is(ctx, 3, "domstatus", "domain", "name")) {
        ps->field = TEXT_NAME;
    } else if (path_is(ctx, 3, "domstatus", "domain", "uuid")) {
        ps->field = TEXT_UUID;
    } else if (path_is(ctx, 3, "domstatus", "domain", "iothreads")) {
        ps->field = TEXT_IOTHREADS;
    } else if (path_is(ctx, 4, "domstatus", "domain", "iothreadids", "iothread")) {
        if (!parse_uint_attr(elem, "id", attr(names, values, "id"), 1, G_MAXUINT32, &v, error))
            return;
        guint id = (guint)v;
        g_array_append_val(st->iothread_ids, id);
    }
    if (ps->field != TEXT_NONE)
        g_string_truncate(ps->text, 0);
}

static void
on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
    ParseState *ps = data;

    if (ps->field != TEXT_NONE)
        g_string_append_len(ps->text, text, (gssize)len);
}

static void
on_end(GMarkupParseContext *ctx, const char *elem, gpointer data, GError **error)
{
    ParseState *ps = data;
    HapvmKvmStatus *st = ps->st;
    guint64 v;
    char *t;

    if (ps->field == TEXT_NONE)
        return;
    t = g_strstrip(ps->text->str);
    switch (ps->field) {
    case TEXT_NAME:
        g_free(st->name);
        st->name = g_strdup(t);
        break;
    case TEXT_UUID:
        g_free(st->uuid);
        st->uuid = g_strdup(t);
        break;
    case TEXT_IOTHREADS:
        if (!g_ascii_string_to_unsigned(t, 10, 0, G_MAXUINT32, &v, NULL)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "<iothreads>%s</iothreads>: not a number", t);
            break;
        }
        st->n_iothreads = (guint)v;
        break;
    case TEXT_NONE:
        break;
    }
    ps->field = TEXT_NONE;
}

static gint
cmp_vcpu(gconstpointer a, gconstpointer b)
{
    const HapvmKvmVcpu *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

HapvmKvmStatus *
hapvm_kvm_status_parse(const char *xml, gsize len, GError **error)
{
    static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
    g_autoptr(HapvmKvmStatus) st = g_new0(HapvmKvmStatus, 1);
    g_autoptr(GString) text = g_string_new(NULL);
    ParseState ps = { .st = st, .text = text };
    g_autoptr(GMarkupParseContext) ctx = NULL;
    g_autoptr(GError) e = NULL;

    g_return_val_if_fail(xml != NULL || len == 0, NULL);
    if (len > G_MAXSSIZE) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "status XML: too large");
        return NULL;
    }
    st->id = -1;
    st->vcpus = g_array_new(FALSE, FALSE, sizeof(HapvmKvmVcpu));
    st->iothread_ids = g_array_new(FALSE, FALSE, sizeof(guint));
    ctx = g_markup_parse_context_new(&parser, G_MARKUP_PREFIX_ERROR_POSITION, &ps, NULL);
    if (!g_markup_parse_context_parse(ctx, xml ? xml : "", (gssize)len, &e) ||
        !g_markup_parse_context_end_parse(ctx, &e)) {
        if (e->domain == HAPVM_ERROR)
            g_propagate_prefixed_error(error, g_steal_pointer(&e), "status XML: ");
        else
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "status XML: %s", e->message);
        return NULL;
    }
    if (!ps.seen_pid) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "status XML: no <domstatus pid=...>");
        return NULL;
    }
    if (!ps.seen_domain || !st->name || !*st->name) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "status XML: no <domain> with a <name>");
        return NULL;
    }
    g_array_sort(st->vcpus, cmp_vcpu);
    return g_steal_pointer(&st);
}

HapvmKvmStatus *
hapvm_kvm_status_load(const char *run_dir, const char *name, GError **error)
{
    g_autofree char *file = NULL;
    g_autofree char *path = NULL;
    g_autofree char *buf = NULL;
    g_autoptr(GError) e = NULL;
    gsize len = 0;

    /* libvirt refuses '/' in names; "." and ".." would leave run_dir. */
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "'%s' is not a libvirt domain name", name ? name : "");
        return NULL;
    }
    file = g_strconcat(name, ".xml", NULL);
    path = g_build_filename(run_dir ? run_dir : DEFAULT_RUN_DIR, file, NULL);
    if (!g_file_get_contents(path, &buf, &len, &e)) {
        if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE,
                        "domain %s is not running (no status file %s)", name, path);
        else if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_ACCES) ||
                 g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_PERM))
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT,
                        "cannot read %s (libvirt's status files are root-only): %s", path, e->message);
        else
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "%s", e->message);
        return NULL;
    }
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_parse(buf, len, &e);
    if (!st) {
        g_propagate_prefixed_error(error, g_steal_pointer(&e), "%s: ", path);
        return NULL;
    }
    if (strcmp(st->name, name) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: describes domain '%s', not '%s'", path, st->name,
                    name);
        return NULL;
    }
    return g_steal_pointer(&st);
}

/* ---- /proc thread discovery ------------------------------------------ */

/* Comms of user threads are at most 15 characters (TASK_COMM_LEN 16 with
 * the NUL), kernel threads' up to 63 (see NX_FULL_PREFIX); longer names are
 * cut, never rejected.  Every rule below is written so it holds
 * for the cut form:
 *  - "CPU <n>/KVM" needs n >= 10^8 to be cut;
 *  - "vhost-<pid>": 6 + at most 7 digits (pid_max <= 4194304) = 13;
 *  - "kvm-pit/<pid>": 8 + 7 = 15, fits exactly;
 *  - "IO <id>" and "iothread*" are matched by prefix, so a long iothread
 *    id ("IO iothread12345" → "IO iothread1234") is still an iothread;
 *  - "kvm-nx-lpage-recovery[-<pid>]" is cut to "kvm-nx-lpage-re" in a
 *    user thread (>= 6.13) and in kthreads before 5.17, which loses the pid
 *    (hence the ambiguity rule in scan_outside()).
 *  - QEMU's main thread "qemu-system-x86_64" is "qemu-system-x86". */

static gboolean
parse_tid(const char *s, guint32 *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT32, &v, NULL))
        return FALSE;
    *out = (guint32)v;
    return TRUE;
}

/* Digits only, at least one, fitting a tid. */
static gboolean
parse_digits(const char *s, guint32 *out)
{
    if (!*s)
        return FALSE;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isdigit(*p))
            return FALSE;
    return parse_tid(s, out);
}

HapvmRole
hapvm_kvm_classify_thread(const char *comm, int *vcpu)
{
    *vcpu = -1;
    /* QEMU with debug-threads=on (libvirt always sets it) names vCPU
     * threads "CPU %d/%s" with the accelerator's name (KVM, TCG, ...), and
     * single-threaded TCG runs every vCPU in "ALL CPUs/TCG". */
    if (g_str_has_prefix(comm, "CPU ")) {
        const char *p = comm + 4, *slash = strchr(p, '/');
        if (slash && slash > p && slash[1]) {
            g_autofree char *num = g_strndup(p, (gsize)(slash - p));
            guint64 n;
            if (g_ascii_string_to_unsigned(num, 10, 0, G_MAXINT, &n, NULL)) {
                *vcpu = (int)n;
                return HAPVM_ROLE_VCPU;
            }
        }
    }
    if (g_str_has_prefix(comm, "ALL CPUs/"))
        return HAPVM_ROLE_VCPU;
    /* QEMU's own monitor iothread serves QMP, not guest I/O. */
    if (strcmp(comm, "IO mon_iothread") == 0)
        return HAPVM_ROLE_EMULATOR;
    if (g_str_has_prefix(comm, "IO ") || g_str_has_prefix(comm, "iothread"))
        return HAPVM_ROLE_IOTHREAD;
    /* vhost_task (Linux >= 6.4): a user worker in QEMU's thread group. */
    guint32 owner;
    if (g_str_has_prefix(comm, "vhost-") && parse_digits(comm + 6, &owner))
        return HAPVM_ROLE_VHOST;
    /* NX huge page recovery as a vhost_task (Linux >= 6.13). */
    if (strcmp(comm, NX_COMM) == 0)
        return HAPVM_ROLE_KTHREAD;
    /* Main loop, call_rcu, worker (thread pool), vnc_worker, io_uring's
     * iou-wrk-* / iou-sqp-*: QEMU's device model and its helpers. */
    return HAPVM_ROLE_EMULATOR;
}

static void
append_task(GArray *out, guint32 tid, HapvmRole role, const char *comm, int vcpu, gboolean in_group)
{
    HapvmKvmTask t = { .tid = tid, .role = role, .vcpu = vcpu, .in_group = in_group };

    g_strlcpy(t.comm, comm, sizeof t.comm);
    g_array_append_val(out, t);
}

/* Kernel threads outside the QEMU thread group that work for it:
 *  - vhost workers before Linux 6.4: kthreads "vhost-<owner>" where owner
 *    is the tid (global pid namespace) of the QEMU thread that issued
 *    VHOST_SET_OWNER (normally the main thread); one per vhost device.
 *  - the in-kernel PIT: kthread worker "kvm-pit/<QEMU tgid>" (the tgid as
 *    seen in QEMU's pid namespace: same as ours unless QEMU runs in a
 *    container with its own).
 *  - NX huge page recovery before 6.13: one kthread per VM named
 *    "kvm-nx-lpage-recovery-<pid>" (pid: the VM creator's, QEMU's tgid).
 *    /proc shows that full name since 5.17; older kernels show only
 *    "kvm-nx-lpage-re": the pid is lost, so the comm cannot tell VMs apart.
 *    Then we attribute it only when it is unambiguous: this QEMU runs KVM vCPUs
 *    and that kthread is the only one on the host (each KVM VM has exactly
 *    one, so: a single KVM VM).  With several VMs it is left out of every
 *    VM's task set (its cgroup, inherited from the VM's creator, could
 *    tell them apart; not done yet). */
static gboolean
scan_outside(const char *root, guint qemu_pid, GHashTable *group, gboolean runs_kvm, GArray *out, GError **error)
{
    g_autoptr(GError) e = NULL;
    g_autoptr(GDir) d = g_dir_open(root, 0, &e);
    const char *n;
    guint n_nx = 0;
    guint32 nx_tid = 0;

    if (!d) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot list %s: %s", root, e->message);
        return FALSE;
    }
    while ((n = g_dir_read_name(d))) {
        guint32 tid, owner;
        char comm[HAPVM_KVM_COMM_LEN];
        HapvmRole role;

        if (!parse_tid(n, &tid) || g_hash_table_contains(group, GUINT_TO_POINTER(tid)))
            continue;
        g_autofree char *dir = g_build_filename(root, n, NULL);
        if (!hapvm_proc_read_comm(dir, comm, HAPVM_KVM_COMM_LEN))
            continue; /* exited, or not a task */
        if (g_str_has_prefix(comm, "vhost-") && parse_digits(comm + 6, &owner) &&
            g_hash_table_contains(group, GUINT_TO_POINTER(owner)))
            role = HAPVM_ROLE_VHOST;
        else if (g_str_has_prefix(comm, "kvm-pit/") && parse_digits(comm + 8, &owner) && owner == qemu_pid)
            role = HAPVM_ROLE_KTHREAD;
        else if (g_str_has_prefix(comm, NX_FULL_PREFIX) &&
                 parse_digits(comm + strlen(NX_FULL_PREFIX), &owner) && owner == qemu_pid)
            role = HAPVM_ROLE_KTHREAD;
        else if (strcmp(comm, NX_COMM) == 0) {
            if (hapvm_proc_is_kthread(dir)) {
                n_nx++;
                nx_tid = tid;
            }
            continue;
        } else
            continue;
        if (hapvm_proc_is_kthread(dir))
            append_task(out, tid, role, comm, -1, FALSE);
    }
    if (n_nx == 1 && runs_kvm)
        append_task(out, nx_tid, HAPVM_ROLE_KTHREAD, NX_COMM, -1, FALSE);
    return TRUE;
}

static gint
cmp_task(gconstpointer a, gconstpointer b)
{
    const HapvmKvmTask *x = a, *y = b;

    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

gboolean
hapvm_kvm_scan_tasks(const char *proc_root, guint qemu_pid, GArray *out, GError **error)
{
    const char *root = proc_root ? proc_root : DEFAULT_PROC;
    g_autofree char *pid_s = g_strdup_printf("%u", qemu_pid);
    g_autofree char *task_dir = g_build_filename(root, pid_s, "task", NULL);
    g_autoptr(GHashTable) group = g_hash_table_new(NULL, NULL);
    g_autoptr(GError) e = NULL;
    g_autoptr(GDir) d = NULL;
    guint start = out->len;
    gboolean runs_kvm = FALSE, has_nx = FALSE;
    const char *n;

    g_return_val_if_fail(g_array_get_element_size(out) == sizeof(HapvmKvmTask), FALSE);
    if (qemu_pid == 0 || qemu_pid > G_MAXINT32) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%u is not a process id", qemu_pid);
        return FALSE;
    }
    d = g_dir_open(task_dir, 0, &e);
    if (!d) {
        if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
            g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE, "QEMU process %u does not exist (no %s)",
                        qemu_pid, task_dir);
        else
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot list %s: %s", task_dir, e->message);
        return FALSE;
    }
    while ((n = g_dir_read_name(d))) {
        guint32 tid;
        char comm[HAPVM_KVM_COMM_LEN];
        int vcpu;

        if (!parse_tid(n, &tid))
            continue;
        g_autofree char *dir = g_build_filename(task_dir, n, NULL);
        if (!hapvm_proc_read_comm(dir, comm, HAPVM_KVM_COMM_LEN))
            continue; /* exited since the listing */
        HapvmRole role = hapvm_kvm_classify_thread(comm, &vcpu);
        if (role == HAPVM_ROLE_VCPU && g_str_has_suffix(comm, "/KVM"))
            runs_kvm = TRUE;
        if (strcmp(comm, NX_COMM) == 0)
            has_nx = TRUE;
        g_hash_table_add(group, GUINT_TO_POINTER(tid));
        append_task(out, tid, role, comm, vcpu, TRUE);
    }
    if (!g_hash_table_size(group)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE, "QEMU process %u has no threads left", qemu_pid);
        g_array_set_size(out, start);
        return FALSE;
    }
    /* With an in-group recovery worker (>= 6.13) any kthread of that name
     * is another VM's. */
    if (!scan_outside(root, qemu_pid, group, runs_kvm && !has_nx, out, error)) {
        g_array_set_size(out, start);
        return FALSE;
    }
    if (out->len > start)
        qsort(&g_array_index(out, HapvmKvmTask, start), out->len - start, sizeof(HapvmKvmTask), cmp_task);
    return TRUE;
}

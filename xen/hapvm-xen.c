/* Xen dom0 task discovery from /proc (formats: hapvm-xen.h). */
#include "hapvm-xen.h"

#include <stdio.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-proc.h"

#define DEFAULT_PROC "/proc"
#define COMM_CUT 15            /* TASK_COMM_LEN - 1: a name this long may have been cut */

const char *
hapvm_xen_task_kind_name(HapvmXenTaskKind kind)
{
    static const char *const names[HAPVM_XEN_N_TASK_KINDS] = {
        "blkback", "netback-rx", "netback-dealloc", "netback", "napi",
        "device-model", "qdisk-dom0", "xenstored", "xenconsoled", "xenbus",
    };

    return (guint)kind < G_N_ELEMENTS(names) ? names[kind] : "unknown";
}

/* ---- names ---------------------------------------------------------- */

/* Read a run of decimal digits at *p (at least one, no sign) into *out and
 * advance *p.  FALSE when there is no digit or the number overflows. */
static gboolean
eat_uint(const char **p, guint *out)
{
    guint64 v = 0;
    const char *s = *p;

    if (!g_ascii_isdigit(*s))
        return FALSE;
    while (g_ascii_isdigit(*s)) {
        v = v * 10 + (guint64)(*s - '0');
        if (v > G_MAXUINT32)
            return FALSE;
        s++;
    }
    *p = s;
    *out = (guint)v;
    return TRUE;
}

/* The remainder @rest of a name is @word, or (when the name was possibly
 * cut) a non-empty prefix of it. */
static gboolean
is_word_or_cut(const char *rest, const char *word, gboolean cut)
{
    if (strcmp(rest, word) == 0)
        return TRUE;
    return cut && *rest && g_str_has_prefix(word, rest);
}

/* "<d>.<h>" of a vif name, at *p just after "vif": the domid, then the
 * handle (either may be cut).  1 when more follows the handle (*p there),
 * 0 when the name ends before, -1 when this is not a vif name. */
static int
eat_vif(const char **p, guint *domid)
{
    guint h;

    if (!eat_uint(p, domid) || **p != '.')
        return -1;
    (*p)++;
    if (!**p)
        return 0;
    if (!eat_uint(p, &h))
        return -1;
    return **p ? 1 : 0;
}

/* netback: "vif<d>.<h>-q<k>-guest-rx" / "-dealloc", possibly cut.  The
 * domid always survives a cut ("vif" + at most 5 digits + "." is 9
 * characters); the handle, the queue and the kind may not.  Only the two
 * kthread kinds of 6.1 start with "-q<k>-" so a kind cut to "g..." or
 * "d..." is still told apart; cut before that, the kind is unknown (e.g.
 * "vif12345.10-q10" from "vif12345.10-q10-guest-rx"). */
static gboolean
classify_netback(const char *comm, gboolean cut, guint *domid, HapvmXenTaskKind *kind)
{
    const char *p = comm + 3;
    guint n;
    int more = eat_vif(&p, domid);

    if (more < 0)
        return FALSE;
    *kind = HAPVM_XEN_TASK_NETBACK;
    if (!more)
        return cut;               /* "vif3.12" + cut: handle maybe longer */
    if (strcmp(p, "-") == 0)
        return cut;
    if (!g_str_has_prefix(p, "-q"))
        return FALSE;
    p += 2;
    if (!*p)
        return cut;
    if (!eat_uint(&p, &n))
        return FALSE;
    if (!*p)
        return cut;
    if (*p != '-')
        return FALSE;
    p++;
    if (!*p)
        return cut;
    if (is_word_or_cut(p, "guest-rx", cut)) {
        *kind = HAPVM_XEN_TASK_NETBACK_RX;
        return TRUE;
    }
    if (is_word_or_cut(p, "dealloc", cut)) {
        *kind = HAPVM_XEN_TASK_NETBACK_DEALLOC;
        return TRUE;
    }
    return FALSE;
}

/* napi/<netdev>-<napi id>: the netdev "vif<d>.<h>", possibly cut. */
static gboolean
classify_napi(const char *comm, gboolean cut, guint *domid)
{
    const char *p = comm + strlen("napi/vif");
    guint n;
    int more = eat_vif(&p, domid);

    if (more < 0)
        return FALSE;
    if (!more)
        return cut;
    if (*p != '-')
        return FALSE;
    p++;
    if (!*p)
        return cut;
    return eat_uint(&p, &n) && (!*p);
}

/* blkback since Linux 4.6: "<d>.<dev>-<ring>" where "<d>.<dev>" was itself
 * cut to 15 characters by blkback_name().  The device name can hold '-',
 * so the ring is after the last '-'.  A cut comm may have lost the ring
 * (and part of the device): then any "<d>.<something>" is taken. */
static gboolean
classify_blkback(const char *comm, gboolean cut, guint *domid)
{
    const char *p = comm, *dash;
    guint d, ring;

    if (!eat_uint(&p, &d) || *p != '.' || !p[1])
        return FALSE;
    *domid = d;
    p++;
    dash = strrchr(p, '-');
    if (dash && dash > p) {
        const char *r = dash + 1;
        if (eat_uint(&r, &ring) && !*r)
            return TRUE;
    }
    return cut;
}

gboolean
hapvm_xen_classify_kthread(const char *comm, guint *domid, HapvmXenTaskKind *kind)
{
    gboolean cut = strlen(comm) == COMM_CUT;
    guint d = 0;
    HapvmXenTaskKind k = HAPVM_XEN_TASK_BLKBACK;
    gboolean ok = FALSE;

    if (g_str_has_prefix(comm, "vif"))
        ok = classify_netback(comm, cut, &d, &k);
    else if (g_str_has_prefix(comm, "napi/vif")) {
        ok = classify_napi(comm, cut, &d);
        k = HAPVM_XEN_TASK_NAPI;
    } else if (g_str_has_prefix(comm, "blkback.")) {
        /* Before Linux 4.6: "blkback.%d.%s", no ring. */
        const char *p = comm + strlen("blkback.");
        ok = eat_uint(&p, &d) && *p == '.' && p[1];
        k = HAPVM_XEN_TASK_BLKBACK;
    } else if (g_ascii_isdigit(comm[0])) {
        ok = classify_blkback(comm, cut, &d);
        k = HAPVM_XEN_TASK_BLKBACK;
    }
    if (!ok || d > HAPVM_XEN_DOMID_MAX)
        return FALSE;
    *domid = d;
    *kind = k;
    return TRUE;
}

/* ---- /proc ---------------------------------------------------------- */

static gboolean
parse_tid(const char *s, guint32 *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT32, &v, NULL))
        return FALSE;
    *out = (guint32)v;
    return TRUE;
}

/* The value of QEMU's -xen-domid in <dir>/cmdline (NUL-separated
 * arguments): 1 found, 0 absent, -1 unreadable.  "-xen-domid-restrict" is
 * another option. */
static int
xen_domid_arg(const char *dir, guint *out)
{
    g_autofree char *path = g_build_filename(dir, "cmdline", NULL);
    g_autofree char *buf = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &buf, &len, NULL))
        return -1;
    for (gsize i = 0; i < len;) {
        const char *arg = buf + i;
        gsize n = strnlen(arg, len - i);
        if (i + n + 1 < len && (strcmp(arg, "-xen-domid") == 0 || strcmp(arg, "--xen-domid") == 0)) {
            const char *v = arg + n + 1;
            guint64 d;
            if (strnlen(v, len - (i + n + 1)) < len - (i + n + 1) &&
                g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT16, &d, NULL)) {
                *out = (guint)d;
                return 1;
            }
            return 0;
        }
        i += n + 1;
    }
    return 0;
}

static void
append_task(GArray *out, guint32 tid, guint32 pid, HapvmRole role, HapvmXenTaskKind kind, int domid,
            const char *comm)
{
    HapvmXenTask t = { .tid = tid, .pid = pid, .role = role, .kind = kind, .domid = domid };

    g_strlcpy(t.comm, comm, sizeof t.comm);
    g_array_append_val(out, t);
}

/* Every thread of process <root>/<pid>; the leader alone when its task/
 * directory cannot be listed (it exited). */
static void
append_threads(GArray *out, const char *pid_dir, guint32 pid, HapvmRole role, HapvmXenTaskKind kind, int domid,
               const char *leader_comm)
{
    g_autofree char *task_dir = g_build_filename(pid_dir, "task", NULL);
    g_autoptr(GDir) d = g_dir_open(task_dir, 0, NULL);
    const char *n;

    if (!d) {
        append_task(out, pid, pid, role, kind, domid, leader_comm);
        return;
    }
    while ((n = g_dir_read_name(d))) {
        guint32 tid;
        char comm[HAPVM_XEN_COMM_LEN];

        if (!parse_tid(n, &tid))
            continue;
        g_autofree char *dir = g_build_filename(task_dir, n, NULL);
        if (!hapvm_proc_read_comm(dir, comm, HAPVM_XEN_COMM_LEN))
            continue;
        append_task(out, tid, pid, role, kind, domid, comm);
    }
}

static gint
cmp_task(gconstpointer a, gconstpointer b)
{
    const HapvmXenTask *x = a, *y = b;

    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

gboolean
hapvm_xen_scan_tasks(const char *proc_root, guint domid, const HapvmXenScanHints *hints, GArray *out,
                     GError **error)
{
    static const HapvmXenScanHints no_hints = { 0 };
    const char *root = proc_root ? proc_root : DEFAULT_PROC;
    g_autoptr(GError) e = NULL;
    g_autoptr(GDir) d = NULL;
    guint start = out->len;
    const char *n;

    g_return_val_if_fail(g_array_get_element_size(out) == sizeof(HapvmXenTask), FALSE);
    if (!hints)
        hints = &no_hints;
    if (domid == 0 || domid > HAPVM_XEN_DOMID_MAX) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    domid == 0 ? "domain 0 is dom0, the host itself: name a guest domain"
                               : "%u is not a guest domain id (1..%u)", domid, HAPVM_XEN_DOMID_MAX);
        return FALSE;
    }
    d = g_dir_open(root, 0, &e);
    if (!d) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot list %s: %s", root, e->message);
        return FALSE;
    }
    while ((n = g_dir_read_name(d))) {
        guint32 pid;
        char comm[HAPVM_XEN_COMM_LEN];
        guint task_domid, qemu_domid;
        HapvmXenTaskKind kind;

        if (!parse_tid(n, &pid))
            continue;
        g_autofree char *dir = g_build_filename(root, n, NULL);
        if (!hapvm_proc_read_comm(dir, comm, HAPVM_XEN_COMM_LEN))
            continue; /* exited, or not a task */
        if (hapvm_proc_is_kthread(dir)) {
            if (hapvm_xen_classify_kthread(comm, &task_domid, &kind)) {
                if (task_domid == domid)
                    append_task(out, pid, pid, HAPVM_ROLE_BACKEND, kind, (int)domid, comm);
            } else if (hints->shared && (strcmp(comm, "xenbus") == 0 || strcmp(comm, "xenwatch") == 0))
                append_task(out, pid, pid, HAPVM_ROLE_SHARED, HAPVM_XEN_TASK_XENBUS, -1, comm);
            continue;
        }
        switch (xen_domid_arg(dir, &qemu_domid)) {
        case 1:
            /* The cmdline is the truth, also over a stale xenstore pid. */
            if (qemu_domid == domid)
                append_threads(out, dir, pid, HAPVM_ROLE_EMULATOR, HAPVM_XEN_TASK_DEVICE_MODEL, (int)domid, comm);
            else if (qemu_domid == 0 && hints->shared)
                append_threads(out, dir, pid, HAPVM_ROLE_SHARED, HAPVM_XEN_TASK_QDISK_DOM0, -1, comm);
            continue;
        case -1:
            continue; /* exited */
        default:
            break;
        }
        if (hints->dm_pid && pid == hints->dm_pid)
            append_threads(out, dir, pid, HAPVM_ROLE_EMULATOR, HAPVM_XEN_TASK_DEVICE_MODEL, (int)domid, comm);
        else if (hints->shared && (strcmp(comm, "xenstored") == 0 || strcmp(comm, "oxenstored") == 0))
            append_threads(out, dir, pid, HAPVM_ROLE_SHARED, HAPVM_XEN_TASK_XENSTORED, -1, comm);
        else if (hints->shared && strcmp(comm, "xenconsoled") == 0)
            append_threads(out, dir, pid, HAPVM_ROLE_SHARED, HAPVM_XEN_TASK_XENCONSOLED, -1, comm);
    }
    if (out->len > start)
        qsort(&g_array_index(out, HapvmXenTask, start), out->len - start, sizeof(HapvmXenTask), cmp_task);
    return TRUE;
}

/* The Xen system interface on a dom0: libxenctrl for the domain list,
 * libxenstore for names and the device model's pid.  Built only with the
 * meson feature `xen` (hapvm-xen-sys-stub.c otherwise).  Read-only: no
 * call here changes a domain or xenstore. */
#include <errno.h>
#include <string.h>

#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "hapvm-error.h"
#include "hapvm-xen-domain.h"

#define BATCH 256

typedef struct {
    xentoollog_logger_stdiostream *log;
    xc_interface *xch;
    struct xs_handle *xsh;
} Sys;

static void
sys_close(gpointer self)
{
    Sys *s = self;

    if (s->xsh)
        xs_close(s->xsh);
    if (s->xch)
        xc_interface_close(s->xch);
    if (s->log)
        xtl_logger_destroy((xentoollog_logger *)s->log);
    g_free(s);
}

static gboolean
sys_list(gpointer self, GArray *out, GError **error)
{
    Sys *s = self;
    xc_domaininfo_t info[BATCH];
    uint32_t first = 0;

    for (;;) {
        int n = xc_domain_getinfolist(s->xch, first, BATCH, info);
        if (n < 0) {
            g_set_error(error, HAPVM_ERROR, errno == EPERM || errno == EACCES ? HAPVM_ERROR_NOT_ROOT : HAPVM_ERROR_FAILED,
                        "xc_domain_getinfolist: %s", g_strerror(errno));
            return FALSE;
        }
        for (int i = 0; i < n; i++) {
            HapvmXenDomInfo d = {
                .domid = info[i].domain,
                .dying = !!(info[i].flags & XEN_DOMINF_dying),
                .shutdown = !!(info[i].flags & XEN_DOMINF_shutdown),
                .paused = !!(info[i].flags & XEN_DOMINF_paused),
                .running = !!(info[i].flags & XEN_DOMINF_running),
                .blocked = !!(info[i].flags & XEN_DOMINF_blocked),
                .hvm = !!(info[i].flags & XEN_DOMINF_hvm_guest),
                .shutdown_reason = (info[i].flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask,
                .n_online_vcpus = info[i].nr_online_vcpus,
                .cpu_time_ns = info[i].cpu_time,
            };
            g_array_append_val(out, d);
        }
        /* A full batch: there may be more after the last domid. */
        if (n < BATCH)
            return TRUE;
        first = info[n - 1].domain + 1;
    }
}

static char *
sys_read(gpointer self, const char *path, GError **error)
{
    Sys *s = self;
    unsigned int len = 0;
    char *v = xs_read(s->xsh, XBT_NULL, path, &len);
    char *copy;

    if (!v) {
        if (errno == ENOENT)
            return NULL;
        g_set_error(error, HAPVM_ERROR, errno == EACCES ? HAPVM_ERROR_NOT_ROOT : HAPVM_ERROR_FAILED,
                    "xenstore read %s: %s", path, g_strerror(errno));
        return NULL;
    }
    copy = g_strndup(v, len);
    free(v);
    return copy;
}

static gboolean
coverage_fail(HapvmXenCoverageOp op, GError **error)
{
    static const char *const names[] = { "get_size", "reset", "read" };

    if (errno == EOPNOTSUPP || errno == ENOSYS)
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED,
                    "this Xen is built without coverage (CONFIG_COVERAGE; Debian's Xen is not): no hypervisor "
                    "code coverage");
    else
        g_set_error(error, HAPVM_ERROR, errno == EPERM || errno == EACCES ? HAPVM_ERROR_NOT_ROOT : HAPVM_ERROR_FAILED,
                    "XEN_SYSCTL_coverage_op %s: %s", names[op], g_strerror(errno));
    return FALSE;
}

static gboolean
sys_coverage(gpointer self, HapvmXenCoverageOp op, GByteArray *out, GError **error)
{
    Sys *s = self;
    struct xen_sysctl sysctl = { .cmd = XEN_SYSCTL_coverage_op };
    DECLARE_HYPERCALL_BUFFER(char, buf);
    guint32 size;

    sysctl.u.coverage_op.cmd = XEN_SYSCTL_COVERAGE_get_size;
    if (op != HAPVM_XEN_COVERAGE_READ) {
        if (op == HAPVM_XEN_COVERAGE_RESET)
            sysctl.u.coverage_op.cmd = XEN_SYSCTL_COVERAGE_reset;
        return xc_sysctl(s->xch, &sysctl) == 0 || coverage_fail(op, error);
    }
    if (xc_sysctl(s->xch, &sysctl) < 0)
        return coverage_fail(HAPVM_XEN_COVERAGE_SIZE, error);
    size = sysctl.u.coverage_op.size;
    buf = xc_hypercall_buffer_alloc(s->xch, buf, MAX(size, 1));
    if (!buf) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot allocate %u bytes for Xen's coverage data", size);
        return FALSE;
    }
    memset(&sysctl, 0, sizeof(sysctl));
    sysctl.cmd = XEN_SYSCTL_coverage_op;
    sysctl.u.coverage_op.cmd = XEN_SYSCTL_COVERAGE_read;
    sysctl.u.coverage_op.size = size;
    set_xen_guest_handle(sysctl.u.coverage_op.buffer, buf);
    if (xc_sysctl(s->xch, &sysctl) < 0) {
        int e = errno;
        xc_hypercall_buffer_free(s->xch, buf);
        errno = e;
        return coverage_fail(op, error);
    }
    g_byte_array_append(out, (const guint8 *)buf, MIN(size, sysctl.u.coverage_op.size));
    xc_hypercall_buffer_free(s->xch, buf);
    return TRUE;
}

static const HapvmXenSysOps sys_ops = { sys_list, sys_read, sys_close, sys_coverage };

gboolean
hapvm_xen_sys_available(void)
{
    return TRUE;
}

HapvmXenSys *
hapvm_xen_sys_open(GError **error)
{
    Sys *s = g_new0(Sys, 1);
    int err;

    /* libxenctrl logs its own failures to stderr; ours say more. */
    s->log = xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
    s->xch = xc_interface_open((xentoollog_logger *)s->log, (xentoollog_logger *)s->log, 0);
    if (!s->xch) {
        err = errno;
        if (err == EACCES || err == EPERM)
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT,
                        "cannot open Xen's control interface (/dev/xen/privcmd): %s; run as root in dom0",
                        g_strerror(err));
        else
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED,
                        "cannot open Xen's control interface: %s; hapvm must run in a Xen dom0 with the "
                        "xen_privcmd module loaded and xenfs mounted",
                        g_strerror(err));
        sys_close(s);
        return NULL;
    }
    s->xsh = xs_open(0);
    if (!s->xsh) {
        err = errno;
        g_set_error(error, HAPVM_ERROR, err == EACCES ? HAPVM_ERROR_NOT_ROOT : HAPVM_ERROR_FAILED,
                    "cannot connect to xenstore: %s; is xenstored running?", g_strerror(err));
        sys_close(s);
        return NULL;
    }
    return hapvm_xen_sys_new(&sys_ops, s);
}

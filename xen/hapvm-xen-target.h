/* A Xen domain as a measurement target, seen from dom0: its backend
 * kernel threads and device model (rescanned while measuring, they come
 * and go with hotplug), the shared services labelled apart, its
 * hypercalls from xentrace, and what Xen says about hypervisor coverage. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hapvm-measure.h"
#include "hapvm-xen.h"
#include "hapvm-xen-domain.h"
#include "hapvm-xen-trace.h"

typedef struct {
    HapvmXenSys *sys;
    char *proc_root;       /* NULL = /proc */
    char *sysfs_net;       /* NULL = /sys/class/net */
    char *uri;             /* libvirt connection it was resolved through, or NULL */
    char *name;            /* NULL if xenstore has none */
    char *uuid;
    char *type;            /* "pv", "pvh", "hvm" (libxl's) */
    guint32 domid;
    guint32 dm_pid;
    GArray *tasks;         /* HapvmXenTask: every task ever added, first scan first */
    GHashTable *seen;      /* tid → role + 1 */
    guint n_scans;
    guint n_added_late;
    char *ended;           /* why the domain ended mid-run, NULL while it lives */
    /* xentrace */
    HapvmXenTrace *trace;
    char *xentrace_path;
    char *xentrace_unavailable; /* why there are no entry points */
    GPid xentrace_pid;
    int xentrace_fd;       /* its output file, read as it grows */
    char *xentrace_out;    /* that file, temporary */
    gint xentrace_done;    /* atomic: xentrace has ended, read to the end */
    int xentrace_err_fd;   /* its stdout and stderr, a temporary file */
    int xentrace_lock_fd;  /* one xentrace reader at a time */
    GThread *reader;
    char *reader_error;
    guint64 xentrace_bytes;
    char *xentrace_save;   /* a copy of the raw stream (for xenalyze), or NULL */
    int xentrace_save_fd;
    /* hypervisor coverage */
    char *coverage_unavailable;
    char *coverage_file;
    gsize coverage_bytes;
    gboolean coverage_reset;
} HapvmXenTarget;

/* Resolve @what (domid, name or UUID; dom0 refused) over @sys, which the
 * target takes.  Errors: HAPVM_ERROR_USAGE (dom0), and lookup's. */
HapvmXenTarget *hapvm_xen_target_open(HapvmXenSys *sys, const char *what, const char *proc_root, GError **error);
/* The same through libvirt's libxl driver at @uri (xen:///system): the
 * domain's ID from libvirt, then the system interface.  Errors:
 * HAPVM_ERROR_LIBVIRT, HAPVM_ERROR_NO_DOMAIN, HAPVM_ERROR_NOT_RUNNING. */
HapvmXenTarget *hapvm_xen_target_open_libvirt(const char *uri, const char *domain, GError **error);
void hapvm_xen_target_free(HapvmXenTarget *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmXenTarget, hapvm_xen_target_free)

/* TRUE if this is a Xen dom0 (/proc/xen/capabilities says control_d). */
gboolean hapvm_xen_is_dom0(const char *proc_root);

/* One rescan without a measurement: the domain's state (t->ended set once
 * it is gone), then its tasks; the new ones (HapvmXenTask) go to @fresh.
 * The first call fails with HAPVM_ERROR_TARGET_GONE if the domain is. */
gboolean hapvm_xen_target_refresh(HapvmXenTarget *t, GArray *fresh, GError **error);
/* hapvm_xen_target_refresh + hand the new tasks to m; a HapvmRescanFunc
 * when data is the target.  Ends the run when the domain is gone. */
gboolean hapvm_xen_target_scan(HapvmMeasurement *m, gpointer target, GError **error);

/* Start xentrace (@path, NULL: found on PATH or in /usr/lib/xen-*\/bin)
 * writing a temporary file that a thread follows into the hypercall parser
 * (and copies to t->xentrace_save when set).  Not a pipe, nor the user's
 * file: xentrace write()s straight from Xen's mapped buffers, which failed
 * (EFAULT) into a 9p file and gave nothing through a pipe.  FALSE with
 * t->xentrace_unavailable set when it cannot run; the measurement goes on without entry points. */
gboolean hapvm_xen_target_start_xentrace(HapvmXenTarget *t, const char *path);
/* Stop xentrace (SIGINT, then wait) and finish the parse. */
void hapvm_xen_target_stop_xentrace(HapvmXenTarget *t);

/* Probe hypervisor coverage; with @file, reset the counters now and write
 * Xen's raw coverage stream there at hapvm_xen_target_coverage_end. */
void hapvm_xen_target_coverage_begin(HapvmXenTarget *t, const char *file);
void hapvm_xen_target_coverage_end(HapvmXenTarget *t);

/* Add the member "vm" (identity, tasks, entry points, hypervisor) to b. */
void hapvm_xen_target_to_json(const HapvmXenTarget *t, JsonBuilder *b);

/* Xen dom0 task discovery: the dom0 tasks that work for one domain (its
 * backend kernel threads and device model) and the shared services that
 * work for every domain, found in a /proc tree.
 *
 * Name formats (Linux 6.1.192 as shipped by Debian, linux-source-6.1, and
 * Xen 4.17.7 libxl; see xen/README.md for the quotes):
 *  - blkback (drivers/block/xen-blkback/xenbus.c): blkback_name() writes
 *    "%d.%s" (domid, the vbd's xenstore "dev" without "/dev/") into a
 *    TASK_COMM_LEN buffer, then one kthread per ring is started as
 *    kthread_run(..., "%s-%d", name, ring): "3.xvda-0".  Before Linux 4.6
 *    (single ring) the name was "blkback.%d.%s": "blkback.3.xvda".
 *  - netback (drivers/net/xen-netback/): the netdev is "vif%u.%u" (domid,
 *    handle; interface.c xenvif_alloc), each queue "%s-q%u" (xenbus.c
 *    connect), and per queue two kthreads "%s-guest-rx" and "%s-dealloc"
 *    (interface.c xenvif_connect_data): "vif3.0-q0-guest-rx".  With
 *    threaded NAPI (echo 1 > /sys/class/net/vif3.0/threaded) each queue's
 *    NAPI poll runs in a kthread "napi/%s-%d" (net/core/dev.c): the netdev
 *    name and the NAPI id, "napi/vif3.0-8193".
 *  - device model: libxl starts QEMU as "<qemu> -xen-domid <domid> ..."
 *    (libxl_dm.c; PV domains with a vfb or qdisk get one too, with
 *    -xen-attach), and records its pid in xenstore at
 *    /local/domain/<domid>/image/device-model-pid.  A QEMU with
 *    "-xen-domid 0" is dom0's qdisk backend, which serves every domain's
 *    qdisk disks: shared.
 *  - shared: xenstored / oxenstored, xenconsoled, the kthreads "xenbus"
 *    and "xenwatch" (drivers/xen/xenbus/).
 *
 * Truncation: a comm is cut at 15 characters (TASK_COMM_LEN 16), but since
 * Linux 5.17 /proc/<pid>/comm and /proc/<pid>/stat of a kernel thread show
 * its full name (fs/proc/array.c proc_task_name → get_kthread_comm, up to
 * 63 characters; kernel/kthread.c keeps full_name when the name is longer
 * than 15) — as kvm/ found for kvm-nx-lpage-recovery-<pid>.  /proc/<pid>/
 * cmdline is empty for a kthread, so it does not help.  On older kernels
 * the cut names are all we have; what survives is in the .c file. */
#pragma once

#include <glib.h>

#include "hapvm-measure.h"

#define HAPVM_XEN_COMM_LEN 64

/* Domain ids: DOMID_FIRST_RESERVED is 0x7FF0 (public/xen.h), so a guest's
 * domid has at most 5 digits. */
#define HAPVM_XEN_DOMID_MAX 0x7FEFu

typedef enum {
    HAPVM_XEN_TASK_BLKBACK = 0,   /* "<domid>.<dev>-<ring>" or "blkback.<domid>.<dev>" */
    HAPVM_XEN_TASK_NETBACK_RX,    /* "vif<d>.<h>-q<k>-guest-rx" */
    HAPVM_XEN_TASK_NETBACK_DEALLOC, /* "vif<d>.<h>-q<k>-dealloc" */
    HAPVM_XEN_TASK_NETBACK,       /* a netback queue kthread whose kind was cut off */
    HAPVM_XEN_TASK_NAPI,          /* "napi/vif<d>.<h>-<id>" (threaded NAPI) */
    HAPVM_XEN_TASK_DEVICE_MODEL,  /* QEMU with -xen-domid <domid> (one entry per thread) */
    HAPVM_XEN_TASK_QDISK_DOM0,    /* QEMU with -xen-domid 0: dom0's qdisk backend (shared) */
    HAPVM_XEN_TASK_XENSTORED,     /* xenstored / oxenstored (shared) */
    HAPVM_XEN_TASK_XENCONSOLED,   /* xenconsoled (shared) */
    HAPVM_XEN_TASK_XENBUS,        /* kthreads xenbus, xenwatch (shared) */
    HAPVM_XEN_N_TASK_KINDS
} HapvmXenTaskKind;

/* "blkback", "netback-rx", "netback-dealloc", "netback", "napi",
 * "device-model", "qdisk-dom0", "xenstored", "xenconsoled", "xenbus". */
const char *hapvm_xen_task_kind_name(HapvmXenTaskKind kind);

typedef struct {
    guint32 tid;
    guint32 pid;          /* thread-group leader (== tid for a kthread) */
    HapvmRole role;       /* BACKEND (in-kernel backend), EMULATOR (device model), SHARED */
    HapvmXenTaskKind kind;
    int domid;            /* the domain it serves; -1 for a shared service */
    char comm[HAPVM_XEN_COMM_LEN];
} HapvmXenTask;

/* Facts from xenstore that sharpen the scan (all optional). */
typedef struct {
    guint32 dm_pid;       /* /local/domain/<domid>/image/device-model-pid, 0 if none */
    gboolean shared;      /* also list the shared services (role SHARED) */
} HapvmXenScanHints;

/* What a thread name says, without looking at /proc: the domain a backend
 * kthread name belongs to and its kind.  FALSE for any other name. */
gboolean hapvm_xen_classify_kthread(const char *comm, guint *domid, HapvmXenTaskKind *kind);

/* Append to @out (HapvmXenTask) the dom0 tasks of domain @domid found
 * through <proc_root> (NULL = /proc), sorted by tid: its backend kernel
 * threads (only real kthreads: ppid 2 and PF_KTHREAD), every thread of its
 * device model, and with hints->shared the shared services.  Tasks that
 * exit while being read are skipped.  HAPVM_ERROR_USAGE for domid 0 (dom0
 * is the host) or a domid above HAPVM_XEN_DOMID_MAX; on error @out is left
 * unchanged. */
gboolean hapvm_xen_scan_tasks(const char *proc_root, guint domid, const HapvmXenScanHints *hints, GArray *out,
                              GError **error);

/* KVM/QEMU target discovery: a libvirt domain's status file, and the host
 * tasks of a QEMU process with their roles.
 *
 * Sources of the formats (see also docs in /work/shared/notes apis.md §3-4):
 *  - libvirt's status XML /run/libvirt/qemu/<name>.xml is internal, written by
 *    qemu_domain.c (qemuDomainObjPrivateXMLFormat, ...FormatVcpus):
 *      <domstatus state='running' reason='booted' pid='QEMU_PID'>
 *        <vcpus><vcpu id='0' pid='TID'/>...</vcpus>   (online vCPUs with a tid)
 *        ...
 *        <domain type='kvm' id='N'> <name>, <uuid>, <iothreadids>... </domain>
 *      </domstatus>
 *    It holds no iothread tids (libvirt re-queries QEMU on reconnect); only
 *    the iothread ids of the domain definition.
 *  - /proc/<pid>/task/<tid>/comm and /proc/<pid>/stat: proc(5). */
#pragma once

#include <glib.h>

#include "hapvm-measure.h"

typedef enum {
    HAPVM_KVM_DOMAIN_OTHER = 0, /* a type this front end does not know */
    HAPVM_KVM_DOMAIN_KVM,       /* <domain type='kvm'> */
    HAPVM_KVM_DOMAIN_TCG,       /* <domain type='qemu'>: QEMU's TCG, no KVM */
} HapvmKvmDomainType;

typedef struct {
    guint id;     /* libvirt vCPU number (cpu-index) */
    guint32 tid;
} HapvmKvmVcpu;

typedef struct {
    guint32 qemu_pid;         /* <domstatus pid=...> */
    char *state;              /* <domstatus state=...>, e.g. "running", "paused" */
    char *name;               /* <domain><name> */
    char *uuid;               /* <domain><uuid>, NULL if absent */
    int id;                   /* <domain id=...>, -1 if absent */
    char *type;               /* <domain type=...> as written */
    HapvmKvmDomainType domain_type;
    GArray *vcpus;            /* HapvmKvmVcpu, sorted by id */
    GArray *iothread_ids;     /* guint, from <iothreadids><iothread id=.../> */
    guint n_iothreads;        /* <iothreads>N</iothreads>, 0 if absent */
} HapvmKvmStatus;

/* Parse a status XML document of @len bytes (GMarkup).
 * HAPVM_ERROR_PARSE on malformed XML or missing/invalid required fields
 * (domstatus pid, domain name, vcpu ids and pids). */
HapvmKvmStatus *hapvm_kvm_status_parse(const char *xml, gsize len, GError **error);

/* Read and parse <run_dir>/<name>.xml (run_dir NULL = /run/libvirt/qemu).
 * HAPVM_ERROR_TARGET_GONE when there is no status file (domain not running),
 * HAPVM_ERROR_USAGE for an impossible name, HAPVM_ERROR_NOT_ROOT when the
 * file cannot be read for lack of permission, HAPVM_ERROR_PARSE as above
 * (also when the file's domain name is not @name). */
HapvmKvmStatus *hapvm_kvm_status_load(const char *run_dir, const char *name, GError **error);

void hapvm_kvm_status_free(HapvmKvmStatus *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmKvmStatus, hapvm_kvm_status_free)

/* The tid of vCPU @vcpu, 0 if not listed. */
guint32 hapvm_kvm_status_vcpu_tid(const HapvmKvmStatus *st, guint vcpu);

/* /proc shows a kernel thread's full name (up to 63 characters, since Linux
 * 5.17); other tasks' comms are cut at 15 (TASK_COMM_LEN). */
#define HAPVM_KVM_COMM_LEN 64

typedef struct {
    guint32 tid;
    HapvmRole role;
    char comm[HAPVM_KVM_COMM_LEN];
    int vcpu;             /* vCPU number for HAPVM_ROLE_VCPU, else -1 */
    gboolean in_group;    /* a thread of the QEMU process (else a kthread) */
} HapvmKvmTask;

/* Append to @out (HapvmKvmTask) every task working for QEMU process
 * @qemu_pid, found through <proc_root> (NULL = /proc):
 *  - threads of the process (<proc_root>/<pid>/task/<tid>/comm), by comm:
 *      "CPU <n>/KVM", "CPU <n>/TCG"        vCPU n
 *      "IO <id>" (not "IO mon_iothread"),
 *      "iothread*"                          iothread
 *      "vhost-<tid>"                        vhost (vhost_task, Linux >= 6.4)
 *      "kvm-nx-lpage-re"                    kthread (vhost_task, Linux >= 6.13)
 *      anything else                        emulator
 *  - kernel threads (ppid 2 = kthreadd, PF_KTHREAD in /proc/<pid>/stat)
 *    outside the group: "vhost-<tid of the group>" (Linux < 6.4) → vhost,
 *    "kvm-pit/<qemu pid>" → kthread, "kvm-nx-lpage-recovery-<qemu pid>"
 *    (5.17 <= Linux < 6.13: full kthread names in /proc) → kthread, and the
 *    truncated "kvm-nx-lpage-re" (older kernels) → kthread only when
 *    unambiguous (see the .c file).
 * Threads that exit while being read are skipped.  HAPVM_ERROR_TARGET_GONE
 * when the process does not exist; on error @out is left unchanged. */
gboolean hapvm_kvm_scan_tasks(const char *proc_root, guint qemu_pid, GArray *out, GError **error);

/* Role of a thread inside the QEMU thread group from its comm alone;
 * *vcpu is set to the vCPU number or -1. */
HapvmRole hapvm_kvm_classify_thread(const char *comm, int *vcpu);

/* A KVM/QEMU VM as a measurement target: a libvirt domain or a bare QEMU
 * process, its tasks by role (rescanned while measuring) and its entry
 * points. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hapvm-kvm.h"
#include "hapvm-kvm-entry.h"
#include "hapvm-measure.h"

typedef struct {
    char *uri;             /* libvirt connection, NULL for --qemu-pid */
    char *name;            /* domain name, or "qemu-<pid>" */
    char *uuid;            /* NULL if unknown */
    int id;                /* libvirt domain id, -1 if none */
    guint32 qemu_pid;
    char *accel;           /* "kvm", "tcg" or "unknown" */
    GHashTable *seen;      /* tid → role + 1, every task ever added */
    guint n_scans;
    guint n_added_late;    /* tasks found by rescans after the start */
    guint n_left_out;      /* e.g. an ambiguous kvm-nx-lpage-re kthread */
    HapvmKvmEntry *entry;  /* set by hapvm_kvm_target_attach */
} HapvmKvmTarget;

/* Resolve a libvirt domain by name, UUID or ID on uri (NULL: the default
 * connection, like virsh).  Errors: HAPVM_ERROR_LIBVIRT (cannot connect),
 * HAPVM_ERROR_NOT_QEMU (the driver is not QEMU), HAPVM_ERROR_NO_DOMAIN,
 * HAPVM_ERROR_NOT_RUNNING, HAPVM_ERROR_TARGET_GONE / PARSE (status file).
 * run_dir: libvirt's QEMU state dir (NULL: from the URI). */
HapvmKvmTarget *hapvm_kvm_target_open_domain(const char *uri, const char *domain, const char *run_dir,
                                             GError **error);
/* A QEMU process given by pid (proc_root NULL = /proc).  Errors:
 * HAPVM_ERROR_TARGET_GONE, HAPVM_ERROR_NOT_QEMU (no vCPU threads). */
HapvmKvmTarget *hapvm_kvm_target_open_pid(const char *proc_root, guint32 pid, GError **error);
void hapvm_kvm_target_free(HapvmKvmTarget *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmKvmTarget, hapvm_kvm_target_free)

/* Scan the VM's tasks and hand new ones to m (a HapvmRescanFunc when data
 * is the target).  The first call fails with TARGET_GONE if QEMU is gone;
 * later ones let the engine notice the end. */
gboolean hapvm_kvm_target_scan(HapvmMeasurement *m, gpointer target, GError **error);
/* Count entry points from m's kvm tracepoints (m created with
 * hapvm_kvm_entry_events among its trace events). */
void hapvm_kvm_target_attach(HapvmKvmTarget *t, HapvmMeasurement *m);
/* Add the member "vm" (identity, accelerator, entry points) to b. */
void hapvm_kvm_target_to_json(const HapvmKvmTarget *t, JsonBuilder *b);

/* Running domains of uri (NULL: default) with their QEMU pid and tasks,
 * as text on out ("hapvm list"). */
gboolean hapvm_kvm_list(const char *uri, const char *run_dir, FILE *out, GError **error);

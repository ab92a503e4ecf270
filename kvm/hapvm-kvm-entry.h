/* A VM's entry points into the host kernel: what its vCPUs make KVM handle,
 * from KVM's tracepoints (the VM's counterpart of a container's syscall
 * list).  Counted in the decoder's hot path without per-event allocation. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <event-parse.h>

#include "hapvm-decode.h"

/* The tracepoints to record ("system/event", NULL-terminated): kvm_exit,
 * kvm_hypercall, kvm_pio, kvm_mmio, kvm_msr, kvm_userspace_exit. */
extern const char *const hapvm_kvm_entry_events[];

typedef struct HapvmKvmEntry HapvmKvmEntry;

/* Register handlers on dec for the events tep knows; records are counted
 * only when they come from a task of role vcpu_role (the others are counted
 * apart).  Never fails: events the kernel lacks are listed as missing. */
HapvmKvmEntry *hapvm_kvm_entry_new(struct tep_handle *tep, HapvmDecoder *dec, guint vcpu_role);
void hapvm_kvm_entry_free(HapvmKvmEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmKvmEntry, hapvm_kvm_entry_free)

/* kvm_exit records counted so far (for live progress). */
guint64 hapvm_kvm_entry_get_exits(const HapvmKvmEntry *e);
/* Count of one exit reason by its name as this kernel prints it ("npf",
 * "io", "EPT_VIOLATION", ...); 0 if never seen. */
guint64 hapvm_kvm_entry_get_exit_count(const HapvmKvmEntry *e, const char *name);

/* Add the member "entry_points" (an object) to the open object in b;
 * schema: docs/result-schema.md. */
void hapvm_kvm_entry_to_json(const HapvmKvmEntry *e, JsonBuilder *b);

/* xentrace files: per-domain hypercall histograms, event-channel and
 * grant-table operations, attributed to domains the way xenalyze does.
 *
 * Format (Xen 4.17.7: xen/include/public/trace.h, xen/common/trace.c,
 * tools/xentrace/xentrace.c; attribution: tools/xentrace/xenalyze.c):
 *  - A record (struct t_rec) is a header word, little-endian on x86:
 *    bits 0-27 event, 28-30 number of extra words (0-7), bit 31 "cycles
 *    included"; then the TSC as two words (lo, hi) when bit 31 is set;
 *    then the extra words.
 *  - xentrace writes each pCPU's buffer as windows: a TRC_TRACE_CPU_CHANGE
 *    record (0x0001f003, 2 extra words {cpu, window size in bytes}, no TSC;
 *    header 0x2001f003), then that many bytes of that pCPU's records.
 *  - Most records carry no domain: they belong to the vCPU running on
 *    their pCPU.  xenalyze tracks it from TRC_SCHED_RUNSTATE_CHANGE
 *    (0x00021001 | old << 8 | new << 4, extra[0] = domid << 16 | vcpu;
 *    new = running makes that vCPU current on the record's pCPU, old =
 *    running leaves the pCPU without one), TRC_SCHED_CONTINUE_RUNNING
 *    (0x00021002, same word) and TRC_LOST_RECORDS (0x0001f001: {lost
 *    count, domid | vcpu << 16, first TSC lo, hi}: the vCPU current when
 *    tracing resumed).  TRC_SCHED_SWITCH (0x0002800a) is not used for that
 *    by xenalyze 4.17 and not here either.
 *  - PV hypercalls: TRC_PV_HYPERCALL_V2 (0x0020100d) and multicall
 *    sub-calls TRC_PV_HYPERCALL_SUBCALL (0x0020200e): extra[0] = op (bits
 *    0-19) | 2-bit presence of args A0..A5 from bit 20 (01 32-bit, 10
 *    64-bit), then the present args packed; Xen records args only for
 *    mmu_update, multicall, grant_table_op (cmd, count), vcpu_op,
 *    mmuext_op and sched_op.  The old TRC_PV_HYPERCALL (0x00201001, +0x100
 *    for 64-bit guests) is {eip (1 or 2 words), eax}.
 *  - HVM (and PVH) hypercalls: TRC_HVM_VMMCALL (0x00082012), extra[0] =
 *    eax, no TSC; the grant-table cmd is not recorded.
 *  - TRC_MEM_PAGE_GRANT_MAP / _UNMAP (0x0010f001 / 0x0010f002), extra[0] =
 *    the domain whose grant is mapped: a backend (dom0) working for it.
 * Event-channel operations are the event_channel_op hypercalls (32, and
 * the old 16); Xen does not record their EVTCHNOP command. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#define HAPVM_XEN_TRC_LOST_RECORDS 0x0001f001u
#define HAPVM_XEN_TRC_WRAP_BUFFER 0x0001f002u
#define HAPVM_XEN_TRC_CPU_CHANGE 0x0001f003u
#define HAPVM_XEN_TRC_RUNSTATE_CHANGE 0x00021001u
#define HAPVM_XEN_TRC_CONTINUE_RUNNING 0x00021002u
#define HAPVM_XEN_TRC_SCHED_SWITCH 0x0002800au
#define HAPVM_XEN_TRC_HVM_VMEXIT 0x00081002u
#define HAPVM_XEN_TRC_HVM_VMEXIT64 0x00081102u
#define HAPVM_XEN_TRC_HVM_VMMCALL 0x00082012u
#define HAPVM_XEN_TRC_MEM_GRANT_MAP 0x0010f001u
#define HAPVM_XEN_TRC_MEM_GRANT_UNMAP 0x0010f002u
#define HAPVM_XEN_TRC_PV_HYPERCALL 0x00201001u
#define HAPVM_XEN_TRC_PV_HYPERCALL_V2 0x0020100du
#define HAPVM_XEN_TRC_PV_SUBCALL 0x0020200eu

#define HAPVM_XEN_DOMID_IDLE 0x7fffu

#define HAPVM_XEN_HC_GRANT_TABLE_OP 20
#define HAPVM_XEN_HC_EVTCHN_OP_COMPAT 16
#define HAPVM_XEN_HC_EVTCHN_OP 32

typedef struct {
    guint64 bytes;
    guint64 records;             /* every record, CPU changes included */
    guint64 windows;             /* TRC_TRACE_CPU_CHANGE records */
    guint64 lost_records;        /* sum of TRC_LOST_RECORDS counts */
    guint64 lost_record_events;  /* TRC_LOST_RECORDS records */
    guint64 unattributed;        /* hypercall/exit records on a pCPU with no known current vCPU */
    guint64 short_records;       /* known events with fewer extra words than their format */
    guint64 inconsistent;        /* a vCPU left a pCPU it was not current on (xenalyze: "Strange") */
    guint64 truncated_bytes;     /* a last record or window cut short (xentrace stopped mid-write) */
    guint n_cpus;                /* highest pCPU seen + 1 */
} HapvmXenTraceStats;

typedef struct HapvmXenTrace HapvmXenTrace;

HapvmXenTrace *hapvm_xen_trace_new(void);
void hapvm_xen_trace_free(HapvmXenTrace *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmXenTrace, hapvm_xen_trace_free)

/* Feed the next @len bytes of a xentrace stream (any split: a record cut
 * between two calls is kept).  HAPVM_ERROR_PARSE when the stream does not
 * start with a CPU-change record, a record crosses its window, or a CPU
 * number is absurd (>= 4096); the trace is unusable after that. */
gboolean hapvm_xen_trace_feed(HapvmXenTrace *t, const void *data, gsize len, GError **error);
/* End of stream: bytes of a record or window cut short are counted in
 * truncated_bytes (xentrace killed while writing), not an error. */
void hapvm_xen_trace_finish(HapvmXenTrace *t);
/* Read a whole file (feed + finish).  HAPVM_ERROR_FAILED when unreadable. */
gboolean hapvm_xen_trace_load_file(HapvmXenTrace *t, const char *path, GError **error);

const HapvmXenTraceStats *hapvm_xen_trace_get_stats(const HapvmXenTrace *t);

typedef enum {
    HAPVM_XEN_HC_PV = 0,   /* TRC_PV_HYPERCALL(_V2) */
    HAPVM_XEN_HC_HVM,      /* TRC_HVM_VMMCALL */
    HAPVM_XEN_HC_SUBCALL,  /* TRC_PV_HYPERCALL_SUBCALL (inside a multicall) */
    HAPVM_XEN_N_HC_KINDS
} HapvmXenHcKind;

/* Domains with at least one attributed record, ascending (guint). */
GArray *hapvm_xen_trace_domains(const HapvmXenTrace *t);
/* Records attributed to @domid's vCPUs. */
guint64 hapvm_xen_trace_domain_records(const HapvmXenTrace *t, guint domid);
guint64 hapvm_xen_trace_hypercalls(const HapvmXenTrace *t, guint domid, HapvmXenHcKind kind, guint32 nr);
guint64 hapvm_xen_trace_hypercalls_total(const HapvmXenTrace *t, guint domid, HapvmXenHcKind kind);
/* grant_table_op calls with command @cmd (PV only: HVM records lack it);
 * *ops (may be NULL) gets the sum of their recorded counts. */
guint64 hapvm_xen_trace_gnttab_calls(const HapvmXenTrace *t, guint domid, guint32 cmd, guint64 *ops);
/* event_channel_op hypercalls (16 and 32, PV and HVM, sub-calls included). */
guint64 hapvm_xen_trace_evtchn_ops(const HapvmXenTrace *t, guint domid);
/* Grant maps / unmaps of @domid's pages done by other domains (backends). */
guint64 hapvm_xen_trace_grant_maps_of(const HapvmXenTrace *t, guint domid, gboolean unmap);
guint64 hapvm_xen_trace_vmexits(const HapvmXenTrace *t, guint domid);

/* "mmu_update", "grant_table_op", ...: Xen 4.17 public/xen.h; NULL if
 * unnamed. */
const char *hapvm_xen_hypercall_name(guint32 nr);
/* "map_grant_ref", "copy", ...: public/grant_table.h; NULL if unknown. */
const char *hapvm_xen_gnttab_op_name(guint32 cmd);

/* Add the member "xen_entry_points" (an object) for @domid to the open
 * object in b: counts, lists sorted by count (see xen/README.md). */
void hapvm_xen_trace_to_json(const HapvmXenTrace *t, guint domid, JsonBuilder *b);

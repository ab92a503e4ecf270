/* xentrace parser: records written by hand from Xen 4.17's encoding (the
 * bytes computed in the comments), records from a small encoder in this
 * file for longer scenarios, streaming in arbitrary pieces, malformed
 * streams, and a file checked against xenalyze (tests/data/xen/README.md). */
#include <stdio.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-xen-trace.h"

/* ---- hand-written records -------------------------------------------- */

/* Window of pCPU 0, 56 bytes after its CPU-change record:
 *  1. runstate change d3v0 runnable → running
 *  2. PV grant_table_op(GNTTABOP_copy, count 4)
 *  3. PV event_channel_op
 * then a window of pCPU 1, 48 bytes:
 *  4. runstate change d12v1 runnable → running
 *  5. HVM VMMCALL eax 34 (hvm_op)
 *  6. runstate change d12v1 running → blocked
 *  7. HVM VMMCALL eax 20 with nobody running: unattributed. */
static const guint8 hand[] = {
    /* CPU change: header = TRC_TRACE_CPU_CHANGE 0x0001f003 | 2 extra << 28
     * = 0x2001f003 (no TSC); extra {cpu 0, window 16 + 24 + 16 = 56 = 0x38}. */
    0x03, 0xf0, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00,
    /* 1. event = TRC_SCHED_RUNSTATE_CHANGE 0x00021001 | old 1 (runnable)
     * << 8 | new 0 (running) << 4 = 0x00021101; header = event | 1 extra
     * << 28 | TSC << 31 = 0x90021101; TSC 0x1000 (lo, hi); extra[0] =
     * domid 3 << 16 | vcpu 0 = 0x00030000.  16 bytes. */
    0x01, 0x11, 0x02, 0x90, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
    /* 2. TRC_PV_HYPERCALL_V2 0x0020100d, 3 extra + TSC: header 0xb020100d;
     * TSC 0x1100; word 0 = op 20 (0x14) | A0 32-bit (1 << 20) | A2 32-bit
     * (1 << 24) = 0x01100014; A0 = cmd 5 (copy), A2 = count 4.  24 bytes. */
    0x0d, 0x10, 0x20, 0xb0, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x10, 0x01, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
    /* 3. TRC_PV_HYPERCALL_V2, 1 extra + TSC: header 0x9020100d; TSC 0x1200;
     * word 0 = op 32 (0x20, event_channel_op: Xen records no args).  16. */
    0x0d, 0x10, 0x20, 0x90, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
    /* CPU change {cpu 1, window 16 + 8 + 16 + 8 = 48 = 0x30}. */
    0x03, 0xf0, 0x01, 0x20, 0x01, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00,
    /* 4. runstate d12v1 runnable → running: header 0x90021101, TSC 0x1050,
     * extra 12 << 16 | 1 = 0x000c0001.  16 bytes. */
    0x01, 0x11, 0x02, 0x90, 0x50, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0c, 0x00,
    /* 5. TRC_HVM_VMMCALL 0x00082012, 1 extra, no TSC (HVMTRACE_1D):
     * header 0x10082012; eax 34 (0x22).  8 bytes. */
    0x12, 0x20, 0x08, 0x10, 0x22, 0x00, 0x00, 0x00,
    /* 6. runstate d12v1 running (0) → blocked (2): event 0x00021001 | 0 <<
     * 8 | 2 << 4 = 0x00021021, header 0x90021021, TSC 0x1300.  16 bytes. */
    0x21, 0x10, 0x02, 0x90, 0x00, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0c, 0x00,
    /* 7. VMMCALL eax 20 (0x14) on pCPU 1, now without a current vCPU. */
    0x12, 0x20, 0x08, 0x10, 0x14, 0x00, 0x00, 0x00,
};

static void
check_hand(const HapvmXenTrace *t)
{
    const HapvmXenTraceStats *s = hapvm_xen_trace_get_stats(t);
    guint64 ops = 0;

    g_assert_cmpuint(s->bytes, ==, sizeof hand);
    g_assert_cmpuint(s->windows, ==, 2);
    g_assert_cmpuint(s->records, ==, 9);
    g_assert_cmpuint(s->n_cpus, ==, 2);
    g_assert_cmpuint(s->unattributed, ==, 1);
    g_assert_cmpuint(s->inconsistent, ==, 0);
    g_assert_cmpuint(s->truncated_bytes, ==, 0);
    /* Domain 3: two PV hypercalls, one grant copy of 4 ops, one evtchn op. */
    g_assert_cmpuint(hapvm_xen_trace_domain_records(t, 3), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 3, HAPVM_XEN_HC_PV), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 3, HAPVM_XEN_HC_PV, 20), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 3, HAPVM_XEN_HC_PV, 32), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 3, HAPVM_XEN_HC_HVM), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_gnttab_calls(t, 3, 5, &ops), ==, 1);
    g_assert_cmpuint(ops, ==, 4);
    g_assert_cmpuint(hapvm_xen_trace_gnttab_calls(t, 3, 0, &ops), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_evtchn_ops(t, 3), ==, 1);
    /* Domain 12: one HVM hypercall (hvm_op); the later VMMCALL is nobody's. */
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 12, HAPVM_XEN_HC_HVM), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 12, HAPVM_XEN_HC_HVM, 34), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 12, HAPVM_XEN_HC_HVM, 20), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 12, HAPVM_XEN_HC_PV), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_evtchn_ops(t, 12), ==, 0);
    /* No cross-attribution. */
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 3, HAPVM_XEN_HC_HVM, 34), ==, 0);
    g_autoptr(GArray) doms = hapvm_xen_trace_domains(t);
    g_assert_cmpuint(doms->len, ==, 2);
    g_assert_cmpuint(g_array_index(doms, guint, 0), ==, 3);
    g_assert_cmpuint(g_array_index(doms, guint, 1), ==, 12);
}

static void
test_hand(void)
{
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_autoptr(GError) error = NULL;

    g_assert_true(hapvm_xen_trace_feed(t, hand, sizeof hand, &error));
    g_assert_no_error(error);
    hapvm_xen_trace_finish(t);
    check_hand(t);
}

/* The same bytes in every split into two pieces, and one byte at a time. */
static void
test_hand_streamed(void)
{
    for (gsize cut = 0; cut <= sizeof hand; cut++) {
        g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
        g_autoptr(GError) error = NULL;
        g_assert_true(hapvm_xen_trace_feed(t, hand, cut, &error));
        g_assert_true(hapvm_xen_trace_feed(t, hand + cut, sizeof hand - cut, &error));
        g_assert_no_error(error);
        hapvm_xen_trace_finish(t);
        check_hand(t);
    }
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    for (gsize i = 0; i < sizeof hand; i++)
        g_assert_true(hapvm_xen_trace_feed(t, hand + i, 1, NULL));
    hapvm_xen_trace_finish(t);
    check_hand(t);
}

static void
test_hand_json(void)
{
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    g_assert_true(hapvm_xen_trace_feed(t, hand, sizeof hand, NULL));
    json_builder_begin_object(b);
    hapvm_xen_trace_to_json(t, 3, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    JsonObject *x = json_object_get_object_member(json_node_get_object(root), "xen_entry_points");
    g_assert_cmpint(json_object_get_int_member(x, "domid"), ==, 3);
    g_assert_cmpint(json_object_get_int_member(x, "pv_hypercalls_total"), ==, 2);
    g_assert_cmpint(json_object_get_int_member(x, "unattributed_records"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(x, "event_channel_ops"), ==, 1);
    JsonArray *hc = json_object_get_array_member(x, "pv_hypercalls");
    g_assert_cmpuint(json_array_get_length(hc), ==, 2);
    /* Equal counts: by number. */
    g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(hc, 0), "nr"), ==, 20);
    g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(hc, 0), "name"), ==,
                    "grant_table_op");
    g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(hc, 1), "name"), ==,
                    "event_channel_op");
    JsonArray *gt = json_object_get_array_member(x, "grant_table_ops");
    g_assert_cmpuint(json_array_get_length(gt), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(gt, 0), "name"), ==, "copy");
    g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(gt, 0), "ops"), ==, 4);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(x, "hvm_hypercalls")), ==, 0);
}

/* ---- an encoder for longer scenarios --------------------------------- */

typedef struct {
    GByteArray *out;
    GByteArray *win;
    guint32 cpu;
    guint64 tsc;
} Enc;

static void
put32(GByteArray *a, guint32 v)
{
    guint32 le = GUINT32_TO_LE(v);
    g_byte_array_append(a, (const guint8 *)&le, 4);
}

static void
rec(Enc *e, guint32 event, gboolean tsc, guint n, const guint32 *extra)
{
    g_assert_cmpuint(n, <=, 7);
    put32(e->win, event | (n << 28) | (tsc ? 0x80000000u : 0));
    if (tsc) {
        e->tsc += 100;
        put32(e->win, (guint32)e->tsc);
        put32(e->win, (guint32)(e->tsc >> 32));
    }
    for (guint i = 0; i < n; i++)
        put32(e->win, extra[i]);
}

static void
flush_window(Enc *e)
{
    if (!e->win->len)
        return;
    put32(e->out, HAPVM_XEN_TRC_CPU_CHANGE | (2u << 28));
    put32(e->out, e->cpu);
    put32(e->out, e->win->len);
    g_byte_array_append(e->out, e->win->data, e->win->len);
    g_byte_array_set_size(e->win, 0);
}

static void
window(Enc *e, guint32 cpu)
{
    flush_window(e);
    e->cpu = cpu;
}

static void
runstate(Enc *e, guint dom, guint vcpu, guint old, guint new)
{
    guint32 x = (dom << 16) | vcpu;
    rec(e, HAPVM_XEN_TRC_RUNSTATE_CHANGE | (old << 8) | (new << 4), TRUE, 1, &x);
}

static void
pv_hc(Enc *e, guint32 op)
{
    rec(e, HAPVM_XEN_TRC_PV_HYPERCALL_V2, TRUE, 1, &op);
}

static GByteArray *
enc_end(Enc *e)
{
    flush_window(e);
    g_byte_array_unref(e->win);
    return e->out;
}

/* Two pCPUs, domains 1 and 2 migrating between them, the idle domain,
 * lost records, multicall sub-calls, old-format and 64-bit-argument
 * records, grant maps by dom0's backend, a wrap record. */
static GByteArray *
scenario(void)
{
    Enc e = { g_byte_array_new(), g_byte_array_new(), 0, 0 };
    guint32 x[7] = { 0 };

    window(&e, 0);
    pv_hc(&e, 29);                                  /* before any schedule: unattributed */
    runstate(&e, 1, 0, 1, 0);
    pv_hc(&e, 13);                                  /* multicall ... */
    x[0] = 1 | (1u << 20);
    x[1] = 0xdeadbeef;
    rec(&e, HAPVM_XEN_TRC_PV_SUBCALL, TRUE, 2, x);  /* ... of mmu_update(count) */
    x[0] = 24 | (1u << 20);                         /* vcpu_op */
    x[1] = 7;
    rec(&e, HAPVM_XEN_TRC_PV_SUBCALL, TRUE, 2, x);
    /* grant_table_op with A0 64-bit (2 words), A1 absent, A2 32-bit. */
    x[0] = 20 | (2u << 20) | (1u << 24);
    x[1] = 0;                                       /* cmd low word: map_grant_ref */
    x[2] = 0;                                       /* cmd high word */
    x[3] = 3;                                       /* count */
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL_V2, TRUE, 4, x);
    runstate(&e, 1, 0, 0, 1);                       /* preempted */
    runstate(&e, 0x7fff, 0, 1, 0);                  /* idle */
    pv_hc(&e, 17);                                  /* (impossible, but idle's) */
    window(&e, 1);
    runstate(&e, 2, 0, 1, 0);
    pv_hc(&e, 32);
    pv_hc(&e, 16);                                  /* event_channel_op_compat */
    x[0] = 0xdead0000;                              /* eip */
    x[1] = 29;                                      /* eax: sched_op (old format, 32-bit) */
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL, TRUE, 2, x);
    x[0] = 0xdead0000;
    x[1] = 0xffffffff;
    x[2] = 24;                                      /* 64-bit eip: eax in word 2 */
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL | 0x100, TRUE, 3, x);
    /* Records lost; the record says d1v1 runs now. */
    x[0] = 57;
    x[1] = 1 | (1u << 16);
    x[2] = x[3] = 0;
    rec(&e, HAPVM_XEN_TRC_LOST_RECORDS, TRUE, 4, x);
    pv_hc(&e, 12);                                  /* memory_op, domain 1's */
    x[0] = 2;                                       /* wrap padding: skipped */
    rec(&e, HAPVM_XEN_TRC_WRAP_BUFFER, FALSE, 7, x);
    window(&e, 0);
    runstate(&e, 0x7fff, 0, 0, 1);
    runstate(&e, 0, 0, 1, 0);                       /* dom0's backend maps domain 2's grants */
    x[0] = 2;
    rec(&e, HAPVM_XEN_TRC_MEM_GRANT_MAP, TRUE, 1, x);
    rec(&e, HAPVM_XEN_TRC_MEM_GRANT_MAP, TRUE, 1, x);
    rec(&e, HAPVM_XEN_TRC_MEM_GRANT_UNMAP, TRUE, 1, x);
    x[0] = 20 | (1u << 20) | (1u << 24);
    x[1] = 1;                                       /* unmap_grant_ref */
    x[2] = 2;
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL_V2, TRUE, 3, x);
    runstate(&e, 2, 0, 0, 2);                       /* d2v0 is not current here: inconsistent */
    pv_hc(&e, 29);                                  /* still dom0's, as for xenalyze */
    runstate(&e, 0, 0, 0, 2);
    pv_hc(&e, 29);                                  /* nobody runs: unattributed */
    /* HVM domain 5 on pCPU 1: exits and a hypercall with an odd number. */
    window(&e, 1);
    runstate(&e, 1, 1, 0, 1);
    runstate(&e, 5, 0, 1, 0);
    x[0] = 18;                                      /* VMX EXIT_REASON_VMCALL */
    x[1] = 0x1000;                                  /* rIP */
    rec(&e, HAPVM_XEN_TRC_HVM_VMEXIT, TRUE, 2, x);
    x[0] = 0x40000001;                              /* Viridian-style eax */
    rec(&e, HAPVM_XEN_TRC_HVM_VMMCALL, FALSE, 1, x);
    x[0] = 32;
    rec(&e, HAPVM_XEN_TRC_HVM_VMMCALL, FALSE, 1, x);
    rec(&e, HAPVM_XEN_TRC_CONTINUE_RUNNING, TRUE, 1, (guint32[]){ (5u << 16) | 0 });
    x[0] = 34;
    rec(&e, HAPVM_XEN_TRC_HVM_VMMCALL, FALSE, 1, x);
    return enc_end(&e);
}

static void
check_scenario(const HapvmXenTrace *t)
{
    const HapvmXenTraceStats *s = hapvm_xen_trace_get_stats(t);
    guint64 ops;

    g_assert_cmpuint(s->windows, ==, 4);
    g_assert_cmpuint(s->n_cpus, ==, 2);
    g_assert_cmpuint(s->lost_records, ==, 57);
    g_assert_cmpuint(s->lost_record_events, ==, 1);
    g_assert_cmpuint(s->unattributed, ==, 2);
    g_assert_cmpuint(s->inconsistent, ==, 1);
    g_assert_cmpuint(s->short_records, ==, 0);
    /* Domain 1: multicall + grant map (top level), two sub-calls, and the
     * memory_op after the lost records. */
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 1, HAPVM_XEN_HC_PV), ==, 3);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 1, HAPVM_XEN_HC_PV, 13), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 1, HAPVM_XEN_HC_PV, 20), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 1, HAPVM_XEN_HC_PV, 12), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 1, HAPVM_XEN_HC_SUBCALL), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 1, HAPVM_XEN_HC_SUBCALL, 1), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 1, HAPVM_XEN_HC_SUBCALL, 24), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_gnttab_calls(t, 1, 0, &ops), ==, 1);
    g_assert_cmpuint(ops, ==, 3);
    /* Domain 2: evtchn (32 and 16), old-format sched_op and vcpu_op. */
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 2, HAPVM_XEN_HC_PV), ==, 4);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 2, HAPVM_XEN_HC_PV, 29), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 2, HAPVM_XEN_HC_PV, 24), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_evtchn_ops(t, 2), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_grant_maps_of(t, 2, FALSE), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_grant_maps_of(t, 2, TRUE), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 2, HAPVM_XEN_HC_PV, 12), ==, 0);
    /* dom0: its unmap_grant_ref of 2 ops; the maps are counted for 2. */
    g_assert_cmpuint(hapvm_xen_trace_gnttab_calls(t, 0, 1, &ops), ==, 1);
    g_assert_cmpuint(ops, ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_grant_maps_of(t, 0, FALSE), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 0, HAPVM_XEN_HC_PV), ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 0, HAPVM_XEN_HC_PV, 29), ==, 1);
    /* Idle and domain 5 (HVM). */
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, HAPVM_XEN_DOMID_IDLE, HAPVM_XEN_HC_PV, 17), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 5, HAPVM_XEN_HC_HVM), ==, 3);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 5, HAPVM_XEN_HC_HVM, 0x40000001), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, 5, HAPVM_XEN_HC_HVM, 34), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_evtchn_ops(t, 5), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_vmexits(t, 5), ==, 1);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 5, HAPVM_XEN_HC_PV), ==, 0);
    g_autoptr(GArray) doms = hapvm_xen_trace_domains(t);
    g_assert_cmpuint(doms->len, ==, 5); /* 0 1 2 5 idle */
}

static void
test_scenario(void)
{
    g_autoptr(GByteArray) bytes = scenario();
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_autoptr(GError) error = NULL;

    g_assert_true(hapvm_xen_trace_feed(t, bytes->data, bytes->len, &error));
    g_assert_no_error(error);
    hapvm_xen_trace_finish(t);
    check_scenario(t);
    /* In pieces of 7 bytes (never aligned to records). */
    g_autoptr(HapvmXenTrace) t2 = hapvm_xen_trace_new();
    for (guint i = 0; i < bytes->len; i += 7)
        g_assert_true(hapvm_xen_trace_feed(t2, bytes->data + i, MIN(7u, bytes->len - i), NULL));
    hapvm_xen_trace_finish(t2);
    check_scenario(t2);
}

/* Records with fewer extra words than their format: counted, not read
 * past (xenalyze 4.17 reads the next record's header as a VMMCALL's eax). */
static void
test_short_records(void)
{
    Enc e = { g_byte_array_new(), g_byte_array_new(), 0, 0 };
    g_autoptr(GByteArray) bytes = NULL;
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    guint32 x[2] = { (4u << 16) | 0, 7 };

    window(&e, 0);
    rec(&e, HAPVM_XEN_TRC_RUNSTATE_CHANGE | (1u << 8), TRUE, 0, x); /* no domain word */
    pv_hc(&e, 29);                                                  /* unattributed */
    runstate(&e, 4, 0, 1, 0);
    rec(&e, HAPVM_XEN_TRC_HVM_VMMCALL, FALSE, 0, x);
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL_V2, TRUE, 0, x);
    rec(&e, HAPVM_XEN_TRC_PV_HYPERCALL, TRUE, 1, x);                /* eip only */
    rec(&e, HAPVM_XEN_TRC_MEM_GRANT_MAP, TRUE, 0, x);
    rec(&e, HAPVM_XEN_TRC_LOST_RECORDS, TRUE, 1, x);                /* no domain word: current unknown */
    pv_hc(&e, 29);                                                  /* unattributed */
    bytes = enc_end(&e);
    g_assert_true(hapvm_xen_trace_feed(t, bytes->data, bytes->len, NULL));
    g_assert_cmpuint(hapvm_xen_trace_get_stats(t)->short_records, ==, 6);
    g_assert_cmpuint(hapvm_xen_trace_get_stats(t)->unattributed, ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 4, HAPVM_XEN_HC_PV), ==, 0);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 4, HAPVM_XEN_HC_HVM), ==, 0);
    /* VMMCALL, V2 and V1 records; a short grant map is nobody's. */
    g_assert_cmpuint(hapvm_xen_trace_domain_records(t, 4), ==, 3);
}

/* The scenario is also a committed file (regenerated with
 * HAPVM_TEST_REGENERATE=1) so that xenalyze can read it: see
 * test_xenalyze. */
static void
test_scenario_file(void)
{
    g_autoptr(GByteArray) bytes = scenario();
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "xen", "scenario.xentrace", NULL);
    g_autofree char *old = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;

    if (g_getenv("HAPVM_TEST_REGENERATE")) {
        g_assert_true(g_file_set_contents(path, (const char *)bytes->data, bytes->len, &error));
        g_test_message("wrote %s", path);
    }
    g_assert_true(g_file_get_contents(path, &old, &len, &error));
    g_assert_cmpmem(old, len, bytes->data, bytes->len);
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_assert_true(hapvm_xen_trace_load_file(t, path, &error));
    g_assert_no_error(error);
    check_scenario(t);
}

/* The same file as xenalyze 4.17.7 (Debian's xen-utils-common) reads it:
 * tests/data/xen/scenario.xenalyze.txt is the output of
 *   xenalyze --dump-all tests/data/xen/scenario.xentrace
 * Every hypercall, multicall sub-call, HVM vmcall and grant map it
 * attributes to a domain must be attributed the same way here, and no
 * more.  xenalyze's "d32768" is its default domain (no vCPU known yet),
 * our unattributed; it does not process records of the idle domain. */
static void
test_xenalyze(void)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "xen", "scenario.xenalyze.txt", NULL);
    g_autofree char *trace = g_test_build_filename(G_TEST_DIST, "data", "xen", "scenario.xentrace", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GRegex) hc_re = g_regex_new("^ *(?:[0-9]+\\.[0-9]+ +)?\\S*\\s*d([0-9]+)v[0-9]+( +)(hypercall|vmcall) +([0-9a-f]+)",
                                          0, 0, NULL);
    g_autoptr(GRegex) gm_re = g_regex_new(" d[0-9]+v[0-9]+ grant-(map|unmap) domain ([0-9]+)$", 0, 0, NULL);
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_autoptr(GHashTable) want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint64 totals[8][HAPVM_XEN_N_HC_KINDS] = { { 0 } };
    guint64 maps[8][2] = { { 0 } };
    guint n_lines = 0, n_default = 0;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_true(hapvm_xen_trace_load_file(t, trace, &error));
    g_assert_no_error(error);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_autoptr(GMatchInfo) m = NULL;
        if (g_regex_match(hc_re, lines[i], 0, &m)) {
            g_autofree char *dom_s = g_match_info_fetch(m, 1);
            g_autofree char *sp = g_match_info_fetch(m, 2);
            g_autofree char *what = g_match_info_fetch(m, 3);
            g_autofree char *nr_s = g_match_info_fetch(m, 4);
            guint dom = (guint)g_ascii_strtoull(dom_s, NULL, 10);
            guint32 nr = (guint32)g_ascii_strtoull(nr_s, NULL, 16);
            HapvmXenHcKind kind = strcmp(what, "vmcall") == 0 ? HAPVM_XEN_HC_HVM
                                  : strlen(sp) == 2          ? HAPVM_XEN_HC_SUBCALL
                                                             : HAPVM_XEN_HC_PV;
            n_lines++;
            if (dom == 32768) {
                n_default++;
                continue;
            }
            g_assert_cmpuint(dom, <, 8);
            totals[dom][kind]++;
            char *key = g_strdup_printf("%u:%d:%u", dom, kind, nr);
            g_hash_table_insert(want, key, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(want, key)) + 1));
            continue;
        }
        g_autoptr(GMatchInfo) m2 = NULL;
        if (g_regex_match(gm_re, lines[i], 0, &m2)) {
            g_autofree char *kind = g_match_info_fetch(m2, 1);
            g_autofree char *dom_s = g_match_info_fetch(m2, 2);
            guint dom = (guint)g_ascii_strtoull(dom_s, NULL, 10);
            g_assert_cmpuint(dom, <, 8);
            maps[dom][strcmp(kind, "unmap") == 0]++;
        }
    }
    g_assert_cmpuint(n_lines, ==, 15); /* what the file holds: the regex matches */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, want);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        guint dom, nr;
        int kind;
        g_assert_cmpint(sscanf(k, "%u:%d:%u", &dom, &kind, &nr), ==, 3);
        g_test_message("d%u kind %d nr %u: xenalyze %u", dom, kind, nr, GPOINTER_TO_UINT(v));
        g_assert_cmpuint(hapvm_xen_trace_hypercalls(t, dom, (HapvmXenHcKind)kind, nr), ==, GPOINTER_TO_UINT(v));
    }
    for (guint dom = 0; dom < 8; dom++) {
        for (guint kind = 0; kind < HAPVM_XEN_N_HC_KINDS; kind++)
            g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, dom, (HapvmXenHcKind)kind), ==, totals[dom][kind]);
        g_assert_cmpuint(hapvm_xen_trace_grant_maps_of(t, dom, FALSE), ==, maps[dom][0]);
        g_assert_cmpuint(hapvm_xen_trace_grant_maps_of(t, dom, TRUE), ==, maps[dom][1]);
    }
    /* xenalyze's default-domain record plus the one it refused ("p->current
     * null! Not processing"). */
    g_assert_cmpuint(n_default, ==, 1);
    g_assert_nonnull(strstr(text, "p->current null!  Not processing"));
    g_assert_cmpuint(hapvm_xen_trace_get_stats(t)->unattributed, ==, n_default + 1);
}

/* ---- malformed streams ---------------------------------------------- */

static void
expect_parse_error(const guint8 *data, gsize len, const char *what)
{
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    g_autoptr(GError) error = NULL;

    g_assert_false(hapvm_xen_trace_feed(t, data, len, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, what));
    g_clear_error(&error);
    /* Unusable afterwards. */
    g_assert_false(hapvm_xen_trace_feed(t, data, 0, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
}

static void
test_malformed(void)
{
    /* A trace.dat / text file: no CPU-change record first. */
    static const guint8 text[] = "tracing: 1 2 3";
    /* Window of 8 bytes holding a 16-byte record. */
    static const guint8 crossing[] = {
        0x03, 0xf0, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
        0x01, 0x11, 0x02, 0x90, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
    };
    /* pCPU 5000. */
    static const guint8 cpu[] = { 0x03, 0xf0, 0x01, 0x20, 0x88, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
    /* A CPU change inside a window. */
    static const guint8 nested[] = {
        0x03, 0xf0, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
        0x03, 0xf0, 0x01, 0x20, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    /* After a full window, a record that is no CPU change. */
    static const guint8 after[] = {
        0x03, 0xf0, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
        0x12, 0x20, 0x08, 0x10, 0x22, 0x00, 0x00, 0x00, 0x12, 0x20, 0x08, 0x10, 0x22, 0x00, 0x00, 0x00,
    };

    expect_parse_error(text, sizeof text - 1, "not a xentrace file");
    expect_parse_error(crossing, sizeof crossing, "crosses the end");
    expect_parse_error(cpu, sizeof cpu, "pCPU 5000");
    expect_parse_error(nested, sizeof nested, "inside pCPU 0's window");
    expect_parse_error(after, sizeof after, "expected a CPU-change record");
}

/* xentrace killed mid-write: the cut is counted, what came before kept. */
static void
test_truncated(void)
{
    g_autoptr(HapvmXenTrace) t = hapvm_xen_trace_new();
    gsize len = 12 + 16 + 10; /* first window cut inside record 2 */

    g_assert_true(hapvm_xen_trace_feed(t, hand, len, NULL));
    hapvm_xen_trace_finish(t);
    g_assert_cmpuint(hapvm_xen_trace_get_stats(t)->truncated_bytes, ==, 56 - 16);
    g_assert_cmpuint(hapvm_xen_trace_get_stats(t)->records, ==, 2);
    g_assert_cmpuint(hapvm_xen_trace_hypercalls_total(t, 3, HAPVM_XEN_HC_PV), ==, 0);
}

static void
test_names(void)
{
    g_assert_cmpstr(hapvm_xen_hypercall_name(0), ==, "set_trap_table");
    g_assert_cmpstr(hapvm_xen_hypercall_name(11), ==, NULL);
    g_assert_cmpstr(hapvm_xen_hypercall_name(20), ==, "grant_table_op");
    g_assert_cmpstr(hapvm_xen_hypercall_name(32), ==, "event_channel_op");
    g_assert_cmpstr(hapvm_xen_hypercall_name(42), ==, "hypfs_op");
    g_assert_cmpstr(hapvm_xen_hypercall_name(43), ==, NULL);
    g_assert_cmpstr(hapvm_xen_hypercall_name(49), ==, "arch_1");
    g_assert_cmpstr(hapvm_xen_hypercall_name(56), ==, NULL);
    g_assert_cmpstr(hapvm_xen_gnttab_op_name(5), ==, "copy");
    g_assert_cmpstr(hapvm_xen_gnttab_op_name(12), ==, "cache_flush");
    g_assert_cmpstr(hapvm_xen_gnttab_op_name(13), ==, NULL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen/trace/hand", test_hand);
    g_test_add_func("/xen/trace/hand-streamed", test_hand_streamed);
    g_test_add_func("/xen/trace/hand-json", test_hand_json);
    g_test_add_func("/xen/trace/scenario", test_scenario);
    g_test_add_func("/xen/trace/scenario-file", test_scenario_file);
    g_test_add_func("/xen/trace/short-records", test_short_records);
    g_test_add_func("/xen/trace/xenalyze", test_xenalyze);
    g_test_add_func("/xen/trace/malformed", test_malformed);
    g_test_add_func("/xen/trace/truncated", test_truncated);
    g_test_add_func("/xen/trace/names", test_names);
    return g_test_run();
}

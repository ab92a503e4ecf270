/* xentrace record parser (format and rules: hapvm-xen-trace.h). */
#include "hapvm-xen-trace.h"

#include <stdio.h>
#include <string.h>

#include "hapvm-error.h"

#define HDR_EVENT(h) ((h) & 0x0fffffffu)
#define HDR_EXTRA(h) (((h) >> 28) & 7u)
#define HDR_CYCLES(h) ((h) >> 31)
#define MAX_REC 40u            /* 4 + 8 + 7 * 4 */
#define MAX_CPUS 4096u
#define N_FIXED 64u            /* hypercall numbers counted in arrays; others in a table */
#define N_GNTTAB 16u           /* GNTTABOP_ 0..12 named; 13..15 kept, beyond: the last slot */
#define RUNSTATE_RUNNING 0u
#define TRC_64_FLAG 0x100u
#define TRC_HVM_NESTEDFLAG 0x400u
#define V2_ARG_MASK 0xfff00000u
#define NO_DOMAIN (-1)

typedef struct {
    guint32 domid;
    guint64 records;
    guint64 hc[HAPVM_XEN_N_HC_KINDS][N_FIXED];
    guint64 hc_total[HAPVM_XEN_N_HC_KINDS];
    GHashTable *hc_other;      /* (kind << 32 | nr) → count, nr >= N_FIXED; NULL until needed */
    guint64 gnttab_calls[N_GNTTAB];
    guint64 gnttab_ops[N_GNTTAB];
    guint64 evtchn;
    guint64 grant_maps_of, grant_unmaps_of;
    guint64 vmexits;
} DomStats;

typedef struct {
    int domid;                 /* NO_DOMAIN: unknown (start, or after a vCPU left) */
    guint vcpu;
    DomStats *cur;             /* stats of domid (cached lookup) */
} Pcpu;

struct HapvmXenTrace {
    HapvmXenTraceStats stats;
    GHashTable *doms;          /* domid → DomStats */
    GArray *pcpus;             /* Pcpu by number */
    guint8 carry[MAX_REC];
    gsize carry_len;
    gboolean in_window;
    guint32 cpu;
    guint64 window_left;
    gboolean failed;
};

static void
dom_free(gpointer p)
{
    DomStats *d = p;

    if (d->hc_other)
        g_hash_table_unref(d->hc_other);
    g_free(d);
}

HapvmXenTrace *
hapvm_xen_trace_new(void)
{
    HapvmXenTrace *t = g_new0(HapvmXenTrace, 1);

    t->doms = g_hash_table_new_full(NULL, NULL, NULL, dom_free);
    t->pcpus = g_array_new(FALSE, TRUE, sizeof(Pcpu));
    return t;
}

void
hapvm_xen_trace_free(HapvmXenTrace *t)
{
    if (!t)
        return;
    g_hash_table_unref(t->doms);
    g_array_unref(t->pcpus);
    g_free(t);
}

const HapvmXenTraceStats *
hapvm_xen_trace_get_stats(const HapvmXenTrace *t)
{
    return &t->stats;
}

static DomStats *
dom_get(HapvmXenTrace *t, guint32 domid)
{
    DomStats *d = g_hash_table_lookup(t->doms, GUINT_TO_POINTER(domid + 1));

    if (!d) {
        d = g_new0(DomStats, 1);
        d->domid = domid;
        g_hash_table_insert(t->doms, GUINT_TO_POINTER(domid + 1), d);
    }
    return d;
}

static const DomStats *
dom_find(const HapvmXenTrace *t, guint domid)
{
    return g_hash_table_lookup(t->doms, GUINT_TO_POINTER(domid + 1));
}

static Pcpu *
pcpu_get(HapvmXenTrace *t, guint32 cpu)
{
    if (cpu >= t->pcpus->len) {
        guint old = t->pcpus->len;
        g_array_set_size(t->pcpus, cpu + 1);
        for (guint i = old; i <= cpu; i++)
            g_array_index(t->pcpus, Pcpu, i).domid = NO_DOMAIN;
        t->stats.n_cpus = cpu + 1;
    }
    return &g_array_index(t->pcpus, Pcpu, cpu);
}

static void
set_current(HapvmXenTrace *t, Pcpu *p, guint32 domid, guint vcpu)
{
    p->domid = (int)domid;
    p->vcpu = vcpu;
    p->cur = dom_get(t, domid);
}

static inline guint32
word(const guint8 *p, guint i)
{
    guint32 w;

    memcpy(&w, p + 4 * i, 4);
    return GUINT32_FROM_LE(w);
}

static void
count_hc(DomStats *d, HapvmXenHcKind kind, guint32 nr)
{
    d->hc_total[kind]++;
    if (nr == HAPVM_XEN_HC_EVTCHN_OP || nr == HAPVM_XEN_HC_EVTCHN_OP_COMPAT)
        d->evtchn++;
    if (nr < N_FIXED) {
        d->hc[kind][nr]++;
        return;
    }
    /* Rare (an HVM guest's eax can be anything): a table, allocated once
     * per new number. */
    if (!d->hc_other)
        d->hc_other = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    gint64 key = ((gint64)kind << 32) | nr;
    guint64 *c = g_hash_table_lookup(d->hc_other, &key);
    if (!c) {
        gint64 *k = g_new(gint64, 1);
        *k = key;
        c = g_new0(guint64, 1);
        g_hash_table_insert(d->hc_other, k, c);
    }
    (*c)++;
}

/* xenalyze's pv_hypercall_gather_args(): present args packed after word 0,
 * 2 bits each from bit 20; absent ones are 0. */
static void
gather_args(const guint8 *extra, guint n_extra, guint64 args[6])
{
    guint32 w0 = word(extra, 0);
    guint i, w;

    memset(args, 0, 6 * sizeof args[0]);
    for (i = 0, w = 1; i < 6 && w < n_extra; i++) {
        guint present = (w0 >> (20 + 2 * i)) & 3u;
        if (present == 1)
            args[i] = word(extra, w);
        else if (present == 2 && w + 1 < n_extra)
            args[i] = ((guint64)word(extra, w + 1) << 32) | word(extra, w);
        w += present == 3 ? 0 : present;
        if (present == 3)
            break; /* reserved: the layout is unknown from here */
    }
}

static void
pv_hypercall(HapvmXenTrace *t, DomStats *d, HapvmXenHcKind kind, const guint8 *extra, guint n_extra)
{
    guint32 op = word(extra, 0) & ~V2_ARG_MASK;

    count_hc(d, kind, op);
    if (op == HAPVM_XEN_HC_GRANT_TABLE_OP) {
        guint64 args[6];
        gather_args(extra, n_extra, args);
        guint slot = args[0] < N_GNTTAB ? (guint)args[0] : N_GNTTAB - 1;
        d->gnttab_calls[slot]++;
        d->gnttab_ops[slot] += (guint32)args[2];
    }
}

/* The record at r (size bytes, complete) from pCPU t->cpu. */
static void
handle_record(HapvmXenTrace *t, const guint8 *r)
{
    guint32 h = word(r, 0);
    guint32 ev = HDR_EVENT(h);
    guint n = HDR_EXTRA(h);
    const guint8 *x = r + 4 + (HDR_CYCLES(h) ? 8 : 0);
    Pcpu *p = pcpu_get(t, t->cpu);

    t->stats.records++;
    if (ev == HAPVM_XEN_TRC_LOST_RECORDS) {
        t->stats.lost_record_events++;
        if (n < 2) {
            t->stats.short_records++;
            p->domid = NO_DOMAIN;
            return;
        }
        t->stats.lost_records += word(x, 0);
        /* {u32 lost; u16 did, vid; u64 first_tsc}: the vCPU running when
         * tracing resumed on this pCPU (xenalyze: process_lost_records_end). */
        set_current(t, p, word(x, 1) & 0xffffu, word(x, 1) >> 16);
        return;
    }
    if ((ev & 0x0ffff00fu) == HAPVM_XEN_TRC_RUNSTATE_CHANGE || ev == HAPVM_XEN_TRC_CONTINUE_RUNNING) {
        if (n < 1) {
            t->stats.short_records++;
            return;
        }
        guint32 dv = word(x, 0);
        guint32 domid = dv >> 16, vcpu = dv & 0xffffu;
        if (ev == HAPVM_XEN_TRC_CONTINUE_RUNNING) {
            set_current(t, p, domid, vcpu);
            return;
        }
        guint old = (ev >> 8) & 0xfu, new = (ev >> 4) & 0xfu;
        if (old == RUNSTATE_RUNNING) {
            /* Xen records a vCPU leaving a pCPU on that pCPU, so a
             * mismatch means our view is stale (after lost records):
             * keep the current vCPU, as xenalyze does for a vCPU it has
             * marked lost. */
            if (p->domid == (int)domid && p->vcpu == vcpu) {
                p->domid = NO_DOMAIN;
                p->cur = NULL;
            } else
                t->stats.inconsistent++;
        }
        if (new == RUNSTATE_RUNNING)
            set_current(t, p, domid, vcpu);
        return;
    }
    if (ev == HAPVM_XEN_TRC_MEM_GRANT_MAP || ev == HAPVM_XEN_TRC_MEM_GRANT_UNMAP) {
        /* Attributed by the granting domain in the record, whoever runs. */
        if (n < 1) {
            t->stats.short_records++;
            return;
        }
        DomStats *g = dom_get(t, word(x, 0) & 0xffffu);
        if (ev == HAPVM_XEN_TRC_MEM_GRANT_MAP)
            g->grant_maps_of++;
        else
            g->grant_unmaps_of++;
    }

    gboolean pv_v2 = ev == HAPVM_XEN_TRC_PV_HYPERCALL_V2 || ev == HAPVM_XEN_TRC_PV_SUBCALL;
    gboolean pv_v1 = (ev & ~TRC_64_FLAG) == HAPVM_XEN_TRC_PV_HYPERCALL;
    gboolean vmmcall = (ev & ~TRC_HVM_NESTEDFLAG) == HAPVM_XEN_TRC_HVM_VMMCALL;
    gboolean vmexit = (ev & ~TRC_HVM_NESTEDFLAG) == HAPVM_XEN_TRC_HVM_VMEXIT ||
                      (ev & ~TRC_HVM_NESTEDFLAG) == HAPVM_XEN_TRC_HVM_VMEXIT64;

    if (p->domid == NO_DOMAIN) {
        if (pv_v2 || pv_v1 || vmmcall || vmexit)
            t->stats.unattributed++;
        return;
    }
    DomStats *d = p->cur;
    d->records++;
    if (pv_v2) {
        if (n < 1)
            t->stats.short_records++;
        else
            pv_hypercall(t, d, ev == HAPVM_XEN_TRC_PV_SUBCALL ? HAPVM_XEN_HC_SUBCALL : HAPVM_XEN_HC_PV, x, n);
    } else if (pv_v1) {
        /* {eip, eax} or {eip lo, eip hi, eax} (TRC_64_FLAG). */
        guint i = (ev & TRC_64_FLAG) ? 2 : 1;
        if (n <= i)
            t->stats.short_records++;
        else
            count_hc(d, HAPVM_XEN_HC_PV, word(x, i));
    } else if (vmmcall) {
        if (n < 1)
            t->stats.short_records++;
        else
            count_hc(d, HAPVM_XEN_HC_HVM, word(x, 0));
    } else if (vmexit)
        d->vmexits++;
}

static gsize
rec_size(guint32 h)
{
    return 4 + (HDR_CYCLES(h) ? 8 : 0) + 4 * HDR_EXTRA(h);
}

static gboolean
fail(HapvmXenTrace *t, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean
fail(HapvmXenTrace *t, GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    t->failed = TRUE;
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "xentrace stream, byte %" G_GUINT64_FORMAT ": %s",
                t->stats.bytes, msg);
    return FALSE;
}

/* A header, checked as soon as it is read (before the rest of its record
 * arrives, so that a file of another kind fails at once). */
static gboolean
check_header(HapvmXenTrace *t, guint32 h, GError **error)
{
    if (!t->in_window || t->window_left == 0) {
        if (HDR_EVENT(h) != HAPVM_XEN_TRC_CPU_CHANGE || HDR_EXTRA(h) < 2)
            return fail(t, error, "expected a CPU-change record (0x2001f003), found header 0x%08x%s", h,
                        t->stats.windows ? "" : ": not a xentrace file?");
        return TRUE;
    }
    if (rec_size(h) > t->window_left)
        return fail(t, error, "record of %zu bytes (header 0x%08x) crosses the end of pCPU %u's window (%" G_GUINT64_FORMAT
                    " bytes left)", rec_size(h), h, t->cpu, t->window_left);
    if (HDR_EVENT(h) == HAPVM_XEN_TRC_CPU_CHANGE)
        return fail(t, error, "CPU-change record inside pCPU %u's window", t->cpu);
    return TRUE;
}

/* One complete record at r, its header checked; t->stats.bytes is its
 * offset. */
static gboolean
consume(HapvmXenTrace *t, const guint8 *r, GError **error)
{
    guint32 h = word(r, 0);

    if (!t->in_window || t->window_left == 0) {
        const guint8 *x = r + 4 + (HDR_CYCLES(h) ? 8 : 0);
        guint32 cpu = word(x, 0);
        if (cpu >= MAX_CPUS)
            return fail(t, error, "CPU-change record for pCPU %u", cpu);
        t->cpu = cpu;
        t->window_left = word(x, 1);
        t->in_window = TRUE;
        t->stats.windows++;
        t->stats.records++;
        pcpu_get(t, cpu);
        return TRUE;
    }
    t->window_left -= rec_size(h);
    handle_record(t, r);
    return TRUE;
}

gboolean
hapvm_xen_trace_feed(HapvmXenTrace *t, const void *data, gsize len, GError **error)
{
    const guint8 *p = data;

    if (t->failed)
        return fail(t, error, "the stream already failed");
    /* Complete a record cut by the previous call: its header first. */
    while (t->carry_len && len) {
        gsize need = t->carry_len < 4 ? 4 : rec_size(word(t->carry, 0));
        gsize take = MIN(need - t->carry_len, len);
        memcpy(t->carry + t->carry_len, p, take);
        t->carry_len += take;
        p += take;
        len -= take;
        if (t->carry_len < need)
            return TRUE;
        if (need == 4 && !check_header(t, word(t->carry, 0), error))
            return FALSE;
        if (t->carry_len == rec_size(word(t->carry, 0))) {
            if (!consume(t, t->carry, error))
                return FALSE;
            t->stats.bytes += t->carry_len;
            t->carry_len = 0;
        }
    }
    while (len) {
        if (len < 4) {
            memcpy(t->carry, p, len);
            t->carry_len = len;
            return TRUE;
        }
        guint32 h = word(p, 0);
        if (!check_header(t, h, error))
            return FALSE;
        gsize size = rec_size(h);
        if (len < size) {
            memcpy(t->carry, p, len);
            t->carry_len = len;
            return TRUE;
        }
        if (!consume(t, p, error))
            return FALSE;
        t->stats.bytes += size;
        p += size;
        len -= size;
    }
    return TRUE;
}

void
hapvm_xen_trace_finish(HapvmXenTrace *t)
{
    /* A record cut short, and what its window still promised. */
    t->stats.truncated_bytes += t->carry_len;
    if (t->in_window && t->window_left > t->carry_len)
        t->stats.truncated_bytes += t->window_left - t->carry_len;
    t->carry_len = 0;
    t->window_left = 0;
}

gboolean
hapvm_xen_trace_load_file(HapvmXenTrace *t, const char *path, GError **error)
{
    g_autoptr(GMappedFile) f = NULL;
    g_autoptr(GError) e = NULL;

    f = g_mapped_file_new(path, FALSE, &e);
    if (!f) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot read xentrace file: %s", e->message);
        return FALSE;
    }
    if (!hapvm_xen_trace_feed(t, g_mapped_file_get_contents(f), g_mapped_file_get_length(f), &e)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&e), "%s: ", path);
        return FALSE;
    }
    hapvm_xen_trace_finish(t);
    return TRUE;
}

/* ---- queries -------------------------------------------------------- */

static gint
cmp_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

GArray *
hapvm_xen_trace_domains(const HapvmXenTrace *t)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(guint));
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, t->doms);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const DomStats *d = v;
        if (d->records || d->grant_maps_of || d->grant_unmaps_of) {
            guint id = d->domid;
            g_array_append_val(out, id);
        }
    }
    g_array_sort(out, cmp_uint);
    return out;
}

guint64
hapvm_xen_trace_domain_records(const HapvmXenTrace *t, guint domid)
{
    const DomStats *d = dom_find(t, domid);

    return d ? d->records : 0;
}

guint64
hapvm_xen_trace_hypercalls(const HapvmXenTrace *t, guint domid, HapvmXenHcKind kind, guint32 nr)
{
    const DomStats *d = dom_find(t, domid);

    g_return_val_if_fail(kind < HAPVM_XEN_N_HC_KINDS, 0);
    if (!d)
        return 0;
    if (nr < N_FIXED)
        return d->hc[kind][nr];
    if (!d->hc_other)
        return 0;
    gint64 key = ((gint64)kind << 32) | nr;
    const guint64 *c = g_hash_table_lookup(d->hc_other, &key);
    return c ? *c : 0;
}

guint64
hapvm_xen_trace_hypercalls_total(const HapvmXenTrace *t, guint domid, HapvmXenHcKind kind)
{
    const DomStats *d = dom_find(t, domid);

    g_return_val_if_fail(kind < HAPVM_XEN_N_HC_KINDS, 0);
    return d ? d->hc_total[kind] : 0;
}

guint64
hapvm_xen_trace_gnttab_calls(const HapvmXenTrace *t, guint domid, guint32 cmd, guint64 *ops)
{
    const DomStats *d = dom_find(t, domid);
    guint slot = cmd < N_GNTTAB ? cmd : N_GNTTAB - 1;

    if (ops)
        *ops = d ? d->gnttab_ops[slot] : 0;
    return d ? d->gnttab_calls[slot] : 0;
}

guint64
hapvm_xen_trace_evtchn_ops(const HapvmXenTrace *t, guint domid)
{
    const DomStats *d = dom_find(t, domid);

    return d ? d->evtchn : 0;
}

guint64
hapvm_xen_trace_grant_maps_of(const HapvmXenTrace *t, guint domid, gboolean unmap)
{
    const DomStats *d = dom_find(t, domid);

    return d ? (unmap ? d->grant_unmaps_of : d->grant_maps_of) : 0;
}

guint64
hapvm_xen_trace_vmexits(const HapvmXenTrace *t, guint domid)
{
    const DomStats *d = dom_find(t, domid);

    return d ? d->vmexits : 0;
}

const char *
hapvm_xen_hypercall_name(guint32 nr)
{
    /* xen/include/public/xen.h, Xen 4.17 (11, 44-47 unused). */
    static const char *const names[] = {
        "set_trap_table", "mmu_update", "set_gdt", "stack_switch", "set_callbacks", "fpu_taskswitch",
        "sched_op_compat", "platform_op", "set_debugreg", "get_debugreg", "update_descriptor", NULL,
        "memory_op", "multicall", "update_va_mapping", "set_timer_op", "event_channel_op_compat",
        "xen_version", "console_io", "physdev_op_compat", "grant_table_op", "vm_assist",
        "update_va_mapping_otherdomain", "iret", "vcpu_op", "set_segment_base", "mmuext_op", "xsm_op",
        "nmi_op", "sched_op", "callback_op", "xenoprof_op", "event_channel_op", "physdev_op", "hvm_op",
        "sysctl", "domctl", "kexec_op", "tmem_op", "argo_op", "xenpmu_op", "dm_op", "hypfs_op",
    };
    static const char *const arch[] = { "arch_0", "arch_1", "arch_2", "arch_3",
                                        "arch_4", "arch_5", "arch_6", "arch_7" };

    if (nr < G_N_ELEMENTS(names))
        return names[nr];
    if (nr >= 48 && nr < 56)
        return arch[nr - 48];
    return NULL;
}

const char *
hapvm_xen_gnttab_op_name(guint32 cmd)
{
    static const char *const names[] = {
        "map_grant_ref", "unmap_grant_ref", "setup_table", "dump_table", "transfer", "copy", "query_size",
        "unmap_and_replace", "set_version", "get_status_frames", "get_version", "swap_grant_ref",
        "cache_flush",
    };

    return cmd < G_N_ELEMENTS(names) ? names[cmd] : NULL;
}

/* ---- JSON ----------------------------------------------------------- */

typedef struct {
    guint32 nr;
    guint64 count;
} NrCount;

static gint
cmp_count(gconstpointer a, gconstpointer b)
{
    const NrCount *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static void
hc_list_json(const DomStats *d, HapvmXenHcKind kind, JsonBuilder *b)
{
    g_autoptr(GArray) l = g_array_new(FALSE, FALSE, sizeof(NrCount));

    if (d) {
        for (guint32 nr = 0; nr < N_FIXED; nr++)
            if (d->hc[kind][nr]) {
                NrCount c = { nr, d->hc[kind][nr] };
                g_array_append_val(l, c);
            }
        if (d->hc_other) {
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, d->hc_other);
            while (g_hash_table_iter_next(&it, &k, &v))
                if ((*(gint64 *)k >> 32) == kind) {
                    NrCount c = { (guint32)(*(gint64 *)k & 0xffffffff), *(guint64 *)v };
                    g_array_append_val(l, c);
                }
        }
    }
    g_array_sort(l, cmp_count);
    json_builder_begin_array(b);
    for (guint i = 0; i < l->len; i++) {
        const NrCount *c = &g_array_index(l, NrCount, i);
        const char *name = hapvm_xen_hypercall_name(c->nr);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "nr");
        json_builder_add_int_value(b, c->nr);
        json_builder_set_member_name(b, "name");
        if (name)
            json_builder_add_string_value(b, name);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "count");
        json_builder_add_int_value(b, (gint64)c->count);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void
set_int(JsonBuilder *b, const char *name, guint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

void
hapvm_xen_trace_to_json(const HapvmXenTrace *t, guint domid, JsonBuilder *b)
{
    const DomStats *d = dom_find(t, domid);
    static const char *const kind_names[HAPVM_XEN_N_HC_KINDS] = { "pv_hypercalls", "hvm_hypercalls",
                                                                  "multicall_subcalls" };

    json_builder_set_member_name(b, "xen_entry_points");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, "xentrace");
    set_int(b, "domid", domid);
    set_int(b, "records", t->stats.records);
    set_int(b, "records_of_domain", d ? d->records : 0);
    set_int(b, "lost_records", t->stats.lost_records);
    set_int(b, "unattributed_records", t->stats.unattributed);
    set_int(b, "truncated_bytes", t->stats.truncated_bytes);
    for (guint k = 0; k < HAPVM_XEN_N_HC_KINDS; k++) {
        g_autofree char *total = g_strconcat(kind_names[k], "_total", NULL);
        set_int(b, total, d ? d->hc_total[k] : 0);
        json_builder_set_member_name(b, kind_names[k]);
        hc_list_json(d, (HapvmXenHcKind)k, b);
    }
    set_int(b, "event_channel_ops", d ? d->evtchn : 0);
    json_builder_set_member_name(b, "grant_table_ops");
    json_builder_begin_array(b);
    for (guint32 cmd = 0; d && cmd < N_GNTTAB; cmd++) {
        if (!d->gnttab_calls[cmd])
            continue;
        const char *name = cmd < N_GNTTAB - 1 ? hapvm_xen_gnttab_op_name(cmd) : NULL;
        json_builder_begin_object(b);
        set_int(b, "cmd", cmd);
        json_builder_set_member_name(b, "name");
        if (name)
            json_builder_add_string_value(b, name);
        else
            json_builder_add_null_value(b);
        set_int(b, "calls", d->gnttab_calls[cmd]);
        set_int(b, "ops", d->gnttab_ops[cmd]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    set_int(b, "grant_maps_by_others", d ? d->grant_maps_of : 0);
    set_int(b, "grant_unmaps_by_others", d ? d->grant_unmaps_of : 0);
    set_int(b, "vmexits", d ? d->vmexits : 0);
    json_builder_end_object(b);
}

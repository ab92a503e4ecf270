/* KVM entry points: exit reasons, hypercalls, port and MMIO accesses, MSRs,
 * exits to user space, from the kvm tracepoints of the VM's vCPU threads. */
#include "hapvm-kvm-entry.h"

#include "hapvm-result.h"

#include <string.h>

const char *const hapvm_kvm_entry_events[] = {
    "kvm/kvm_exit", "kvm/kvm_hypercall", "kvm/kvm_pio", "kvm/kvm_mmio", "kvm/kvm_msr",
    "kvm/kvm_userspace_exit", NULL,
};

typedef enum { EV_EXIT, EV_HYPERCALL, EV_PIO, EV_MMIO, EV_MSR, EV_USER_EXIT, N_EV } EvKind;

static const char *const ev_member[N_EV] = {
    "exits", "hypercalls", "pio", "mmio", "msr", "userspace_exits",
};

typedef struct {
    guint off, size;
} Field;

typedef struct {
    HapvmKvmEntry *owner;
    EvKind kind;
    struct tep_event *event;
    Field a, b;            /* the two fields a key is made of */
    GHashTable *counts;    /* key → count, both in the pointer */
    guint64 total;
} Ev;

struct HapvmKvmEntry {
    struct tep_handle *tep;
    guint vcpu_role;
    Ev ev[N_EV];
    guint64 non_vcpu;      /* records of the VM's other tasks */
    guint64 short_records;
};

/* Fields a, b of each event; b is optional ("" = none). */
static const struct {
    const char *name, *a, *b;
} ev_fields[N_EV] = {
    [EV_EXIT] = { "kvm_exit", "exit_reason", "isa" },
    [EV_HYPERCALL] = { "kvm_hypercall", "nr", "" },
    [EV_PIO] = { "kvm_pio", "port", "rw" },
    [EV_MMIO] = { "kvm_mmio", "gpa", "type" },
    [EV_MSR] = { "kvm_msr", "ecx", "write" },
    [EV_USER_EXIT] = { "kvm_userspace_exit", "reason", "errno" },
};

static inline guint64
rd_field(const guint8 *rec, guint len, const Field *f, gboolean *ok)
{
    guint64 v = 0;

    if (!f->size)
        return 0;
    if (f->off + f->size > len) {
        *ok = FALSE;
        return 0;
    }
    switch (f->size) {
    case 1: v = rec[f->off]; break;
    case 2: { guint16 x; memcpy(&x, rec + f->off, 2); v = x; break; }
    case 4: { guint32 x; memcpy(&x, rec + f->off, 4); v = x; break; }
    default: memcpy(&v, rec + f->off, 8); break;
    }
    return v;
}

/* Key: field a in the low 48 bits (MMIO: the 4 KiB page of the gpa), field
 * b in the top 16. */
static inline guint64
make_key(EvKind kind, guint64 a, guint64 b)
{
    if (kind == EV_MMIO)
        a &= ~(guint64)0xfff;
    if (kind == EV_USER_EXIT)
        b = (gint32)b < 0 ? (guint64)(-(gint32)b) : 0; /* errno: 0, or EINTR etc. */
    return (a & G_GUINT64_CONSTANT(0xffffffffffff)) | (b << 48);
}

static void
on_record(gpointer data, const guint8 *rec, guint len, guint32 pid, guint role)
{
    Ev *ev = data;
    HapvmKvmEntry *e = ev->owner;
    gboolean ok = TRUE;

    if (role != e->vcpu_role) {
        e->non_vcpu++;
        return;
    }
    guint64 a = rd_field(rec, len, &ev->a, &ok);
    guint64 b = rd_field(rec, len, &ev->b, &ok);
    if (G_UNLIKELY(!ok)) {
        e->short_records++;
        return;
    }
    gpointer k = GSIZE_TO_POINTER(make_key(ev->kind, a, b));
    gsize c = GPOINTER_TO_SIZE(g_hash_table_lookup(ev->counts, k));
    /* Replacing an existing key allocates nothing; a new key may grow the
     * table, once per distinct entry point. */
    g_hash_table_insert(ev->counts, k, GSIZE_TO_POINTER(c + 1));
    ev->total++;
}

static gboolean
find_field(struct tep_event *event, const char *name, Field *f)
{
    struct tep_format_field *ff;

    if (!*name)
        return TRUE;
    ff = tep_find_field(event, name);
    if (!ff || (ff->size != 1 && ff->size != 2 && ff->size != 4 && ff->size != 8))
        return FALSE;
    f->off = ff->offset;
    f->size = ff->size;
    return TRUE;
}

HapvmKvmEntry *
hapvm_kvm_entry_new(struct tep_handle *tep, HapvmDecoder *dec, guint vcpu_role)
{
    HapvmKvmEntry *e = g_new0(HapvmKvmEntry, 1);

    e->tep = tep;
    e->vcpu_role = vcpu_role;
    for (int k = 0; k < N_EV; k++) {
        Ev *ev = &e->ev[k];
        ev->owner = e;
        ev->kind = k;
        ev->counts = g_hash_table_new(NULL, NULL);
        ev->event = tep_find_event_by_name(tep, "kvm", ev_fields[k].name);
        if (ev->event && (!find_field(ev->event, ev_fields[k].a, &ev->a) ||
                          !find_field(ev->event, ev_fields[k].b, &ev->b) ||
                          !hapvm_decoder_add_handler(dec, ev->event->id, on_record, ev)))
            ev->event = NULL; /* a layout we do not know: reported missing */
    }
    return e;
}

void
hapvm_kvm_entry_free(HapvmKvmEntry *e)
{
    if (!e)
        return;
    for (int k = 0; k < N_EV; k++)
        g_hash_table_unref(e->ev[k].counts);
    g_free(e);
}

guint64
hapvm_kvm_entry_get_exits(const HapvmKvmEntry *e)
{
    return e->ev[EV_EXIT].total;
}

/* The kernel's own name for a value, from the event's print format: format
 * a record with only those fields set and take the word after `after`.
 * Once per distinct entry point, so the cost does not matter. */
static char *
format_name(const HapvmKvmEntry *e, const Ev *ev, guint64 a, guint64 b, const char *after)
{
    struct tep_event *event = ev->event;
    gsize n = 0;
    struct tep_format_field **fields = tep_event_fields(event);

    for (int i = 0; fields && fields[i]; i++)
        n = MAX(n, (gsize)fields[i]->offset + fields[i]->size);
    free(fields);
    g_autofree guint8 *buf = g_malloc0(MAX(n, 8));
    guint16 type = (guint16)event->id;
    memcpy(buf, &type, 2);
    Field fa = ev->a, fb = ev->b;
    if (fa.size)
        memcpy(buf + fa.off, &a, fa.size); /* little endian: low bytes first */
    if (fb.size)
        memcpy(buf + fb.off, &b, fb.size);
    struct tep_record rec = { .data = buf, .size = (int)MAX(n, 8) };
    struct trace_seq s;
    trace_seq_init(&s);
    tep_print_event(e->tep, &s, &rec, "%s", TEP_PRINT_INFO);
    trace_seq_terminate(&s);
    char *res = NULL;
    const char *p = s.buffer ? strstr(s.buffer, after) : NULL;
    if (p) {
        p += strlen(after);
        gsize l = strcspn(p, " ");
        if (l && !g_ascii_isdigit(p[0]))
            res = g_strndup(p, l);
    }
    trace_seq_destroy(&s);
    return res;
}

static char *
exit_name(const HapvmKvmEntry *e, guint64 key)
{
    return format_name(e, &e->ev[EV_EXIT], key & 0xffffffff, key >> 48, "reason ");
}

guint64
hapvm_kvm_entry_get_exit_count(const HapvmKvmEntry *e, const char *name)
{
    const Ev *ev = &e->ev[EV_EXIT];
    GHashTableIter it;
    gpointer k, v;
    guint64 total = 0;

    if (!ev->event)
        return 0;
    g_hash_table_iter_init(&it, ev->counts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autofree char *n = exit_name(e, GPOINTER_TO_SIZE(k));
        if (g_strcmp0(n, name) == 0)
            total += GPOINTER_TO_SIZE(v);
    }
    return total;
}

typedef struct {
    guint64 key, count;
} KeyCount;

static gint
cmp_count(gconstpointer pa, gconstpointer pb)
{
    const KeyCount *x = pa, *y = pb;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static GArray *
sorted_counts(const Ev *ev)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(KeyCount));
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, ev->counts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        KeyCount kc = { GPOINTER_TO_SIZE(k), GPOINTER_TO_SIZE(v) };
        g_array_append_val(a, kc);
    }
    g_array_sort(a, cmp_count);
    return a;
}

static void
set_hex(JsonBuilder *b, const char *name, guint64 v)
{
    g_autofree char *s = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", v);
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, s);
}

static void
entry_to_json(const HapvmKvmEntry *e, const Ev *ev, const KeyCount *kc, JsonBuilder *b)
{
    guint64 a = kc->key & G_GUINT64_CONSTANT(0xffffffffffff), hi = kc->key >> 48;
    g_autofree char *name = NULL;

    json_builder_begin_object(b);
    switch (ev->kind) {
    case EV_EXIT:
        name = exit_name(e, kc->key);
        hapvm_json_set_int(b, "reason", (gint64)a);
        hapvm_json_set_str(b, "isa", hi == 1 ? "vmx" : hi == 2 ? "svm" : "unknown");
        hapvm_json_set_str(b, "name", name);
        break;
    case EV_HYPERCALL:
        hapvm_json_set_int(b, "nr", (gint64)a);
        break;
    case EV_PIO:
        set_hex(b, "port", a);
        hapvm_json_set_str(b, "access", hi ? "write" : "read");
        break;
    case EV_MMIO:
        name = format_name(e, ev, 0, hi, "mmio ");
        set_hex(b, "gpa_page", a);
        hapvm_json_set_str(b, "access", name);
        break;
    case EV_MSR:
        set_hex(b, "index", a);
        hapvm_json_set_str(b, "access", hi ? "write" : "read");
        break;
    case EV_USER_EXIT:
        name = format_name(e, ev, a, 0, "reason ");
        hapvm_json_set_int(b, "reason", (gint64)a);
        hapvm_json_set_str(b, "name", name);
        hapvm_json_set_int(b, "errno", (gint64)hi);
        break;
    case N_EV:
        break;
    }
    hapvm_json_set_int(b, "count", (gint64)kc->count);
    json_builder_end_object(b);
}

void
hapvm_kvm_entry_to_json(const HapvmKvmEntry *e, JsonBuilder *b)
{
    json_builder_set_member_name(b, "entry_points");
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "source", "kvm tracepoints of the VM's vCPU threads");
    json_builder_set_member_name(b, "missing_events");
    json_builder_begin_array(b);
    for (int k = 0; k < N_EV; k++)
        if (!e->ev[k].event)
            json_builder_add_string_value(b, ev_fields[k].name);
    json_builder_end_array(b);
    hapvm_json_set_int(b, "records_from_other_roles", (gint64)e->non_vcpu);
    hapvm_json_set_int(b, "short_records", (gint64)e->short_records);
    for (int k = 0; k < N_EV; k++) {
        const Ev *ev = &e->ev[k];
        g_autofree char *tot = g_strdup_printf("%s_total", ev_member[k]);
        hapvm_json_set_int(b, tot, (gint64)ev->total);
        json_builder_set_member_name(b, ev_member[k]);
        if (!ev->event) {
            json_builder_add_null_value(b);
            continue;
        }
        g_autoptr(GArray) a = sorted_counts(ev);
        json_builder_begin_array(b);
        for (guint i = 0; i < a->len; i++)
            entry_to_json(e, ev, &g_array_index(a, KeyCount, i), b);
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
}

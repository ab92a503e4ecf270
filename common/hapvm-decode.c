#include "hapvm-decode.h"

#include <string.h>

#include "hapvm-error.h"

/* Ring-buffer layout (kernel/trace/ring_buffer.c), 64-bit little endian. */
#define RB_TYPE_PADDING 29
#define RB_TYPE_TIME_EXTEND 30
#define RB_TYPE_TIME_STAMP 31
#define RB_TS_SHIFT 27
#define RB_MISSED_EVENTS (1ULL << 31)
#define RB_MISSED_STORED (1ULL << 30)
#define RB_COMMIT_MASK ((1ULL << 27) - 1)

/* common_flags bits (kernel/trace/trace.h, 6.1). */
#define TRACE_FLAG_HARDIRQ 0x08
#define TRACE_FLAG_SOFTIRQ 0x10
#define TRACE_FLAG_NMI 0x40

enum { KIND_OTHER = 0, KIND_FUNCTION, KIND_SYS_ENTER, KIND_FORK, KIND_HANDLER };

#define MAX_HANDLERS 16

typedef struct {
    guint16 type;
    HapvmEventFunc func;
    gpointer data;
} Handler;

const char *
hapvm_context_name(HapvmContext ctx)
{
    static const char *const names[] = { "task", "softirq", "hardirq", "nmi" };

    return ctx < HAPVM_N_CTX ? names[ctx] : "?";
}

/* ---- function set ------------------------------------------------------ */

struct HapvmFuncSet {
    HapvmFuncHit *slots; /* ip == 0: empty */
    guint mask;
    guint used;
};

static inline guint
hash_ip(guint64 ip, guint mask)
{
    return (guint)((ip * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

/* Slots on cache-line boundaries: a hit (64 bytes) is one line. */
G_STATIC_ASSERT(sizeof(HapvmFuncHit) == 64);

static HapvmFuncHit *
slots_new(guint n)
{
    return g_aligned_alloc0(n, sizeof(HapvmFuncHit), 64);
}

HapvmFuncSet *
hapvm_func_set_new(void)
{
    HapvmFuncSet *set = g_new0(HapvmFuncSet, 1);

    set->mask = (1u << 14) - 1; /* a whole measurement rarely needs to grow */
    set->slots = slots_new(set->mask + 1);
    return set;
}

void
hapvm_func_set_free(HapvmFuncSet *set)
{
    if (!set)
        return;
    g_aligned_free(set->slots);
    g_free(set);
}

static void
func_set_grow(HapvmFuncSet *set)
{
    HapvmFuncHit *old = set->slots;
    guint old_n = set->mask + 1;

    set->mask = old_n * 2 - 1;
    set->slots = slots_new(set->mask + 1);
    for (guint i = 0; i < old_n; i++) {
        if (!old[i].ip)
            continue;
        guint j = hash_ip(old[i].ip, set->mask);
        while (set->slots[j].ip)
            j = (j + 1) & set->mask;
        set->slots[j] = old[i];
    }
    g_aligned_free(old);
}

/* Adds ip (absent); out of the probe loop, which the hot path inlines. */
static G_NO_INLINE HapvmFuncHit *
func_set_add(HapvmFuncSet *set, guint64 ip)
{
    guint i;

    if ((set->used + 1) * 2 > set->mask + 1)
        func_set_grow(set);
    i = hash_ip(ip, set->mask);
    while (set->slots[i].ip)
        i = (i + 1) & set->mask;
    set->used++;
    set->slots[i].ip = ip;
    return &set->slots[i];
}

static inline HapvmFuncHit *
func_set_get(HapvmFuncSet *set, guint64 ip, gboolean *added)
{
    guint i = hash_ip(ip, set->mask);

    for (;;) {
        HapvmFuncHit *h = &set->slots[i];
        if (G_LIKELY(h->ip == ip)) {
            *added = FALSE;
            return h;
        }
        if (!h->ip)
            break;
        i = (i + 1) & set->mask;
    }
    *added = TRUE;
    return func_set_add(set, ip);
}

HapvmFuncHit *
hapvm_func_set_get(HapvmFuncSet *set, guint64 ip, gboolean *added)
{
    return func_set_get(set, ip, added);
}

const HapvmFuncHit *
hapvm_func_set_find(const HapvmFuncSet *set, guint64 ip)
{
    guint i = hash_ip(ip, set->mask);

    while (set->slots[i].ip) {
        if (set->slots[i].ip == ip)
            return &set->slots[i];
        i = (i + 1) & set->mask;
    }
    return NULL;
}

guint
hapvm_func_set_size(const HapvmFuncSet *set)
{
    return set->used;
}

void
hapvm_func_set_foreach(const HapvmFuncSet *set, HapvmFuncHitFunc func, gpointer data)
{
    for (guint i = 0; i <= set->mask; i++)
        if (set->slots[i].ip)
            func(&set->slots[i], data);
}

static gint
cmp_first_ts(gconstpointer a, gconstpointer b)
{
    const HapvmFuncHit *x = a, *y = b;

    if (x->first_ts != y->first_ts)
        return x->first_ts < y->first_ts ? -1 : 1;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

HapvmFuncHit *
hapvm_func_set_to_array(const HapvmFuncSet *set, guint *n)
{
    HapvmFuncHit *arr = g_new(HapvmFuncHit, set->used ? set->used : 1);
    guint k = 0;

    for (guint i = 0; i <= set->mask; i++)
        if (set->slots[i].ip)
            arr[k++] = set->slots[i];
    qsort(arr, k, sizeof(*arr), cmp_first_ts);
    *n = k;
    return arr;
}

/* ---- pid → role -------------------------------------------------------- */

typedef struct {
    guint32 key; /* pid + 1; 0 = empty */
    guint32 role;
} PidSlot;

struct HapvmDecoder {
    HapvmFuncSet *funcs;
    HapvmDecodeStats stats;
    guint8 kind[65536];          /* common_type → KIND_* */
    guint32 function_type;       /* ftrace:function's common_type */
    guint function_tl;           /* hapvm_decoder_feed_page's guess of its type_len */
    guint sysenter_id_off;
    guint fork_parent_off, fork_child_off;
    PidSlot *pids;
    guint pid_mask, pid_used;
    guint default_role;
    guint32 last_pid;            /* one-entry cache: records come in runs */
    guint last_role;
    gboolean last_known;
    HapvmForkFunc fork_func;
    gpointer fork_data;
    HapvmTaskFunc task_func;
    gpointer task_data;
    gboolean known_only;
    guint64 steady_start;
    guint64 syscalls[HAPVM_MAX_ROLES][HAPVM_MAX_SYSCALL];
    guint64 syscall_overflow;
    Handler handlers[MAX_HANDLERS];
    guint n_handlers;
};

static inline guint
hash_pid(guint32 pid, guint mask)
{
    return (pid * 2654435761u) & mask;
}

static PidSlot *
pid_slot(const HapvmDecoder *dec, guint32 pid)
{
    guint i = hash_pid(pid, dec->pid_mask);

    while (dec->pids[i].key) {
        if (dec->pids[i].key == pid + 1)
            return &dec->pids[i];
        i = (i + 1) & dec->pid_mask;
    }
    return &dec->pids[i];
}

void
hapvm_decoder_set_role(HapvmDecoder *dec, guint32 pid, guint role)
{
    g_return_if_fail(role < HAPVM_MAX_ROLES);
    PidSlot *s = pid_slot(dec, pid);

    if (!s->key) {
        if ((dec->pid_used + 1) * 2 > dec->pid_mask + 1) {
            PidSlot *old = dec->pids;
            guint old_n = dec->pid_mask + 1;
            dec->pid_mask = old_n * 2 - 1;
            dec->pids = g_new0(PidSlot, dec->pid_mask + 1);
            for (guint i = 0; i < old_n; i++)
                if (old[i].key)
                    *pid_slot(dec, old[i].key - 1) = old[i];
            g_free(old);
            s = pid_slot(dec, pid);
        }
        s->key = pid + 1;
        dec->pid_used++;
    }
    s->role = role;
    dec->last_pid = G_MAXUINT32; /* invalidate the cache */
}

gboolean
hapvm_decoder_get_role(const HapvmDecoder *dec, guint32 pid, guint *role)
{
    PidSlot *s = pid_slot(dec, pid);

    if (!s->key)
        return FALSE;
    *role = s->role;
    return TRUE;
}

void
hapvm_decoder_set_default_role(HapvmDecoder *dec, guint role)
{
    g_return_if_fail(role < HAPVM_MAX_ROLES);
    dec->default_role = role;
    dec->last_pid = G_MAXUINT32;
}

void
hapvm_decoder_set_fork_func(HapvmDecoder *dec, HapvmForkFunc func, gpointer user_data)
{
    dec->fork_func = func;
    dec->fork_data = user_data;
}

void
hapvm_decoder_set_known_only(HapvmDecoder *dec, gboolean known_only)
{
    dec->known_only = known_only;
    dec->last_pid = G_MAXUINT32;
}

void
hapvm_decoder_set_new_task_func(HapvmDecoder *dec, HapvmTaskFunc func, gpointer user_data)
{
    dec->task_func = func;
    dec->task_data = user_data;
    dec->last_pid = G_MAXUINT32;
}

void
hapvm_decoder_set_steady_start(HapvmDecoder *dec, guint64 ts)
{
    dec->steady_start = ts;
}

/* ---- setup ------------------------------------------------------------- */

static gboolean
check_field(struct tep_event *ev, const char *name, int size, int offset, guint *off, GError **error)
{
    struct tep_format_field *f = tep_find_any_field(ev, name);

    if (!f || (size && f->size != size) || (offset >= 0 && f->offset != offset)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "event %s:%s: field %s missing or not the expected layout "
                    "(64-bit kernel needed)", ev->system, ev->name, name);
        return FALSE;
    }
    if (off)
        *off = f->offset;
    return TRUE;
}

static gboolean
check_common(struct tep_event *ev, GError **error)
{
    return check_field(ev, "common_type", 2, 0, NULL, error) &&
           check_field(ev, "common_flags", 1, 2, NULL, error) &&
           check_field(ev, "common_pid", 4, 4, NULL, error);
}

HapvmDecoder *
hapvm_decoder_new(struct tep_handle *tep, GError **error)
{
    g_autoptr(HapvmDecoder) dec = g_new0(HapvmDecoder, 1);
    struct tep_event *ev;

    dec->funcs = hapvm_func_set_new();
    dec->pid_mask = 1023;
    dec->pids = g_new0(PidSlot, dec->pid_mask + 1);
    dec->last_pid = G_MAXUINT32;

    if (tep_get_long_size(tep) != 8 || tep_is_file_bigendian(tep)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "only 64-bit little-endian kernels are supported");
        return NULL;
    }
    ev = tep_find_event_by_name(tep, "ftrace", "function");
    if (!ev) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "no ftrace:function event format");
        return NULL;
    }
    /* The hot path reads ip at offset 8 directly. */
    if (!check_common(ev, error) || !check_field(ev, "ip", 8, 8, NULL, error))
        return NULL;
    dec->kind[ev->id & 0xffff] = KIND_FUNCTION;
    dec->function_type = ev->id & 0xffff;
    dec->function_tl = 32; /* none yet: type_len has 5 bits */

    ev = tep_find_event_by_name(tep, "raw_syscalls", "sys_enter");
    if (ev) {
        if (!check_common(ev, error) || !check_field(ev, "id", 8, -1, &dec->sysenter_id_off, error))
            return NULL;
        dec->kind[ev->id & 0xffff] = KIND_SYS_ENTER;
    }
    ev = tep_find_event_by_name(tep, "sched", "sched_process_fork");
    if (ev) {
        if (!check_common(ev, error) ||
            !check_field(ev, "parent_pid", 4, -1, &dec->fork_parent_off, error) ||
            !check_field(ev, "child_pid", 4, -1, &dec->fork_child_off, error))
            return NULL;
        dec->kind[ev->id & 0xffff] = KIND_FORK;
    }
    return g_steal_pointer(&dec);
}

void
hapvm_decoder_free(HapvmDecoder *dec)
{
    if (!dec)
        return;
    hapvm_func_set_free(dec->funcs);
    g_free(dec->pids);
    g_free(dec);
}

HapvmFuncSet *
hapvm_decoder_get_functions(HapvmDecoder *dec)
{
    return dec->funcs;
}

const HapvmDecodeStats *
hapvm_decoder_get_stats(const HapvmDecoder *dec)
{
    return &dec->stats;
}

const guint64 *
hapvm_decoder_get_syscalls(const HapvmDecoder *dec, guint role)
{
    g_return_val_if_fail(role < HAPVM_MAX_ROLES, NULL);
    return dec->syscalls[role];
}

guint64
hapvm_decoder_get_syscall_overflow(const HapvmDecoder *dec)
{
    return dec->syscall_overflow;
}

/* ---- hot path ---------------------------------------------------------- */

static inline guint32
rd32(const guint8 *p)
{
    guint32 v;
    memcpy(&v, p, 4);
    return v;
}

static inline guint64
rd64(const guint8 *p)
{
    guint64 v;
    memcpy(&v, p, 8);
    return v;
}

static G_NO_INLINE void
role_lookup(HapvmDecoder *dec, guint32 pid)
{
    PidSlot *s = pid_slot(dec, pid);

    if (!s->key && dec->task_func) {
        dec->task_func(dec->task_data, pid);
        s = pid_slot(dec, pid); /* the map may have grown */
    }
    dec->last_pid = pid;
    dec->last_known = s->key != 0;
    dec->last_role = s->key ? s->role : dec->default_role;
}

static inline guint
role_of(HapvmDecoder *dec, guint32 pid)
{
    if (G_UNLIKELY(pid != dec->last_pid))
        role_lookup(dec, pid);
    return dec->last_role;
}

/* HapvmContext of common_flags, by (NMI, SOFTIRQ, HARDIRQ) bits. */
static inline HapvmContext
context_of(guint8 flags)
{
    static const guint8 ctx[8] = {
        HAPVM_CTX_TASK, HAPVM_CTX_HARDIRQ, HAPVM_CTX_SOFTIRQ, HAPVM_CTX_HARDIRQ,
        HAPVM_CTX_NMI,  HAPVM_CTX_NMI,     HAPVM_CTX_NMI,     HAPVM_CTX_NMI,
    };
    G_STATIC_ASSERT(TRACE_FLAG_HARDIRQ == 0x08 && TRACE_FLAG_SOFTIRQ == 0x10 && TRACE_FLAG_NMI == 0x40);

    return ctx[((flags >> 3) & 3) | ((flags >> 4) & 4)];
}

/* The first-seen timestamps, once per function and window (0 means none). */
static inline void
hit_times(HapvmFuncHit *h, HapvmContext ctx, guint64 ts, guint64 steady_start)
{
    if (ctx == HAPVM_CTX_TASK && !h->task_first_ts)
        h->task_first_ts = ts ? ts : 1;
    if (ts >= steady_start) {
        if (!h->steady_ts)
            h->steady_ts = ts ? ts : 1;
        if (ctx == HAPVM_CTX_TASK && !h->task_steady_ts)
            h->task_steady_ts = ts ? ts : 1;
    }
}

static inline void
handle_record(HapvmDecoder *dec, const guint8 *rec, guint len, guint64 ts)
{
    guint16 type;
    guint32 pid;
    guint role;

    if (G_UNLIKELY(len < 8))
        return;
    memcpy(&type, rec, 2);
    dec->stats.events++;
    switch (dec->kind[type]) {
    case KIND_FUNCTION: {
        if (G_UNLIKELY(len < 16))
            return;
        HapvmContext ctx = context_of(rec[2]);
        gboolean added;
        pid = rd32(rec + 4);
        role = role_of(dec, pid);
        if (G_UNLIKELY(!dec->last_known)) {
            if (dec->known_only) {
                dec->stats.ignored_events++;
                return;
            }
            dec->stats.unknown_pid_events++;
        }
        HapvmFuncHit *h = func_set_get(dec->funcs, rd64(rec + 8), &added);
        if (added)
            h->first_ts = ts;
        h->count++;
        h->ctx_mask |= 1u << ctx;
        h->role_mask |= 1u << role;
        hit_times(h, ctx, ts, dec->steady_start);
        dec->stats.function_events++;
        break;
    }
    case KIND_SYS_ENTER: {
        if (G_UNLIKELY(len < dec->sysenter_id_off + 8))
            return;
        gint64 nr = (gint64)rd64(rec + dec->sysenter_id_off);
        pid = rd32(rec + 4);
        role = role_of(dec, pid);
        if (G_UNLIKELY(!dec->last_known && dec->known_only)) {
            dec->stats.ignored_events++;
            return;
        }
        if (nr >= 0 && nr < HAPVM_MAX_SYSCALL)
            dec->syscalls[role][nr]++;
        else
            dec->syscall_overflow++;
        dec->stats.syscall_events++;
        break;
    }
    case KIND_FORK:
        if (G_UNLIKELY(len < MAX(dec->fork_parent_off, dec->fork_child_off) + 4))
            return;
        dec->stats.fork_events++;
        if (dec->fork_func)
            dec->fork_func(dec->fork_data, rd32(rec + dec->fork_parent_off),
                           rd32(rec + dec->fork_child_off));
        break;
    case KIND_HANDLER:
        pid = rd32(rec + 4);
        role = role_of(dec, pid);
        if (G_UNLIKELY(!dec->last_known && dec->known_only)) {
            dec->stats.ignored_events++;
            return;
        }
        for (guint i = 0; i < dec->n_handlers; i++)
            if (dec->handlers[i].type == type)
                dec->handlers[i].func(dec->handlers[i].data, rec, len, pid, role);
        dec->stats.handled_events++;
        break;
    default:
        dec->stats.other_events++;
        break;
    }
}

gboolean
hapvm_decoder_add_handler(HapvmDecoder *dec, int event_id, HapvmEventFunc func, gpointer data)
{
    guint8 k;

    if (event_id < 0 || event_id > 0xffff || dec->n_handlers >= MAX_HANDLERS)
        return FALSE;
    k = dec->kind[event_id];
    if (k != KIND_OTHER && k != KIND_HANDLER)
        return FALSE;
    dec->kind[event_id] = KIND_HANDLER;
    dec->handlers[dec->n_handlers++] = (Handler){ .type = (guint16)event_id, .func = func, .data = data };
    return TRUE;
}

/* The function records of a page, the bulk of a trace, take a fast path
 * (hapvm_decoder_feed_page) that works on this copy of what it reads and
 * writes: in locals, the compiler keeps them in registers, where fields of
 * dec would be reloaded after every store through a hit (which may alias
 * them).  Any other record goes through handle_record() between
 * fast_flush() and fast_load(). */
typedef struct {
    HapvmFuncHit *slots;
    guint mask;
    guint32 function_type;
    guint function_tl;           /* type_len of the last function record */
    guint64 steady_start;
    guint32 last_pid;            /* dec's one-entry pid → role cache */
    guint32 role_bit;
    gboolean known;
    gboolean skip;               /* unknown task, known-only mode */
    guint64 functions, unknown, ignored; /* to add to dec->stats */
} Fast;

static inline void
fast_load(const HapvmDecoder *dec, Fast *f)
{
    f->slots = dec->funcs->slots;
    f->mask = dec->funcs->mask;
    f->function_type = dec->function_type;
    f->function_tl = dec->function_tl;
    f->steady_start = dec->steady_start;
    f->last_pid = dec->last_pid;
    f->role_bit = 1u << dec->last_role;
    f->known = dec->last_known;
    f->skip = !dec->last_known && dec->known_only;
    f->functions = f->unknown = f->ignored = 0;
}

static inline void
fast_flush(HapvmDecoder *dec, const Fast *f)
{
    dec->stats.events += f->functions + f->ignored;
    dec->stats.function_events += f->functions;
    dec->stats.unknown_pid_events += f->unknown;
    dec->stats.ignored_events += f->ignored;
}

/* Probe beyond the first slot, or add ip (first seen at ts). */
static G_NO_INLINE HapvmFuncHit *
func_set_miss(HapvmFuncSet *set, guint64 ip, guint64 ts)
{
    gboolean added;
    HapvmFuncHit *h = func_set_get(set, ip, &added);

    if (added)
        h->first_ts = ts;
    return h;
}

/* A function record of at least 16 bytes (handle_record's KIND_FUNCTION). */
static inline void
fast_function(HapvmDecoder *dec, Fast *f, const guint8 *rec, guint64 ts)
{
    HapvmContext ctx = context_of(rec[2]);
    guint32 pid = rd32(rec + 4);
    guint64 ip = rd64(rec + 8);
    HapvmFuncHit *h;

    if (G_UNLIKELY(pid != f->last_pid)) {
        role_lookup(dec, pid);
        f->last_pid = pid;
        f->role_bit = 1u << dec->last_role;
        f->known = dec->last_known;
        f->skip = !f->known && dec->known_only;
    }
    if (G_UNLIKELY(f->skip)) {
        f->ignored++;
        return;
    }
    f->functions++;
    f->unknown += !f->known;
    h = &f->slots[hash_ip(ip, f->mask)];
    if (G_UNLIKELY(h->ip != ip)) {
        h = func_set_miss(dec->funcs, ip, ts);
        f->slots = dec->funcs->slots; /* grown */
        f->mask = dec->funcs->mask;
    }
    h->count++;
    h->ctx_mask |= 1u << ctx;
    h->role_mask |= f->role_bit;
    hit_times(h, ctx, ts, f->steady_start);
}

static inline void
slow_record(HapvmDecoder *dec, Fast *f, const guint8 *rec, guint len, guint64 ts)
{
    fast_flush(dec, f);
    handle_record(dec, rec, len, ts);
    fast_load(dec, f);
}

void
hapvm_decoder_feed_page(HapvmDecoder *dec, const void *page, gsize page_size, int cpu)
{
    const guint8 *base = page;
    guint64 ts, commit, size;
    const guint8 *p, *end;
    Fast f;

    if (page_size < 16)
        return;
    ts = rd64(base);
    commit = rd64(base + 8);
    size = commit & RB_COMMIT_MASK;
    if (size > page_size - 16) {
        dec->stats.bad_pages++;
        return;
    }
    dec->stats.pages++;
    if (commit & RB_MISSED_EVENTS) {
        if ((commit & RB_MISSED_STORED) && size + 8 <= page_size - 16)
            dec->stats.missed_events += rd64(base + 16 + size);
        else
            dec->stats.pages_with_loss++;
    }
    if (!dec->stats.first_ts || ts < dec->stats.first_ts)
        dec->stats.first_ts = ts;

    fast_load(dec, &f);
    p = base + 16;
    end = p + size;
    while (p + 4 <= end) {
        guint32 h = rd32(p);
        guint type_len = h & 0x1f;
        guint32 delta = h >> 5;
        guint len;

        /* Function records of one trace have one size: with a guess of it,
         * the next record's position does not wait for this one's header
         * (a branch predicted, not a load). */
        if (G_LIKELY(type_len == f.function_tl) && G_LIKELY(p + 4 + f.function_tl * 4 <= end) &&
            G_LIKELY((p[4] | (guint32)p[5] << 8) == f.function_type)) {
            ts += delta;
            fast_function(dec, &f, p + 4, ts);
            p += 4 + f.function_tl * 4;
            continue;
        }
        switch (type_len) {
        case RB_TYPE_PADDING:
            if (delta == 0)
                goto done; /* rest of the page is empty */
            if (p + 8 > end)
                goto bad;
            p += 4 + rd32(p + 4);
            continue;
        case RB_TYPE_TIME_EXTEND:
            if (p + 8 > end)
                goto bad;
            ts += ((guint64)rd32(p + 4) << RB_TS_SHIFT) + delta;
            p += 8;
            continue;
        case RB_TYPE_TIME_STAMP:
            if (p + 8 > end)
                goto bad;
            /* Absolute; the top bits are not stored. */
            ts = (((guint64)rd32(p + 4) << RB_TS_SHIFT) + delta) | (ts & ~((1ULL << 59) - 1));
            p += 8;
            continue;
        case 0:
            if (p + 8 > end)
                goto bad;
            len = rd32(p + 4);
            if (len < 4)
                goto bad;
            len -= 4;
            ts += delta;
            if (p + 8 + len > end)
                goto bad;
            slow_record(dec, &f, p + 8, len, ts);
            p += 8 + ((len + 3) & ~3u);
            continue;
        default:
            len = type_len * 4;
            ts += delta;
            if (p + 4 + len > end)
                goto bad;
            if (len >= 16 && (p[4] | (guint32)p[5] << 8) == f.function_type) {
                fast_function(dec, &f, p + 4, ts);
                dec->function_tl = f.function_tl = type_len;
            } else
                slow_record(dec, &f, p + 4, len, ts);
            p += 4 + len;
            continue;
        }
    }
done:
    fast_flush(dec, &f);
    if (ts > dec->stats.last_ts)
        dec->stats.last_ts = ts;
    return;
bad:
    fast_flush(dec, &f);
    dec->stats.bad_pages++;
    if (ts > dec->stats.last_ts)
        dec->stats.last_ts = ts;
}

/* ---- formats from a directory ------------------------------------------ */

struct tep_handle *
hapvm_tep_load_dir(const char *dir, const char *const *events, GError **error)
{
    struct tep_handle *tep = tep_alloc();
    g_autofree char *hp = g_build_filename(dir, "events", "header_page", NULL);
    g_autofree char *buf = NULL;
    gsize len;

    if (!g_file_test(hp, G_FILE_TEST_EXISTS)) {
        g_free(hp);
        hp = g_build_filename(dir, "header_page", NULL);
    }
    tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN);
    tep_set_local_bigendian(tep, TEP_LITTLE_ENDIAN);
    if (!g_file_get_contents(hp, &buf, &len, error) ||
        tep_parse_header_page(tep, buf, len, sizeof(long)) != 0) {
        if (error && !*error)
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: cannot parse", hp);
        tep_free(tep);
        return NULL;
    }
    tep_set_long_size(tep, sizeof(long));
    for (const char *const *e = events; *e; e++) {
        g_auto(GStrv) sv = g_strsplit(*e, "/", 2);
        g_autofree char *path = g_build_filename(dir, "events", sv[0], sv[1], "format", NULL);
        g_autofree char *fmt = NULL;
        gsize flen;

        if (!g_file_get_contents(path, &fmt, &flen, NULL))
            continue; /* optional events may be absent */
        if (tep_parse_event(tep, fmt, flen, sv[0]) != 0) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: cannot parse the format", path);
            tep_free(tep);
            return NULL;
        }
    }
    return tep;
}

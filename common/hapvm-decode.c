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
    static const char *const names[] = { "task", "softirq", "hardirq", "nmi", "shared-task" };

    return ctx < HAPVM_N_CTX ? names[ctx] : "?";
}

/* ---- function set ------------------------------------------------------ */

/* A hit is split: the part a record reads and updates (Hot: address, count,
 * and which contexts, roles and first-seen times it has) and the first-seen
 * times in context and window (Cold, in a parallel array), which a record
 * writes only the first time: one 32-byte slot, half a cache line, per
 * record instead of a 64-byte hit (docs/benchmarks.md P1). */
#define SEEN_CTX(c) (1u << (c))                   /* bits 0-4: ctx_mask */
#define SEEN_ROLE_SHIFT 5                         /* bits 5-20: role_mask */
#define SEEN_TASK_FIRST (1u << 21)                /* task_first_ts set */
#define SEEN_STEADY (1u << 22)                    /* steady_ts set */
#define SEEN_TASK_STEADY (1u << 23)               /* task_steady_ts set */
G_STATIC_ASSERT(HAPVM_N_CTX <= SEEN_ROLE_SHIFT && SEEN_ROLE_SHIFT + HAPVM_MAX_ROLES <= 21);

typedef struct {
    guint64 ip;       /* 0: empty slot */
    guint64 count;
    guint32 seen;     /* SEEN_* */
    guint32 pad;
    guint64 first_ts;
} Hot;

typedef struct {
    guint64 task_first_ts, steady_ts, task_steady_ts;
} Cold;

G_STATIC_ASSERT(sizeof(Hot) == 32);

struct HapvmFuncSet {
    Hot *hot;   /* 32-byte aligned: a slot never straddles cache lines */
    Cold *cold; /* cold[i] belongs to hot[i] */
    guint mask;
    guint used;
};

static inline guint
hash_ip(guint64 ip, guint mask)
{
    return (guint)((ip * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static void
slots_new(HapvmFuncSet *set, guint n)
{
    set->hot = g_aligned_alloc0(n, sizeof(Hot), 64);
    set->cold = g_new0(Cold, n);
}

HapvmFuncSet *
hapvm_func_set_new(void)
{
    HapvmFuncSet *set = g_new0(HapvmFuncSet, 1);

    set->mask = (1u << 14) - 1; /* a whole measurement rarely needs to grow */
    slots_new(set, set->mask + 1);
    return set;
}

void
hapvm_func_set_free(HapvmFuncSet *set)
{
    if (!set)
        return;
    g_aligned_free(set->hot);
    g_free(set->cold);
    g_free(set);
}

static void
func_set_grow(HapvmFuncSet *set)
{
    Hot *old = set->hot;
    Cold *old_cold = set->cold;
    guint old_n = set->mask + 1;

    set->mask = old_n * 2 - 1;
    slots_new(set, set->mask + 1);
    for (guint i = 0; i < old_n; i++) {
        if (!old[i].ip)
            continue;
        guint j = hash_ip(old[i].ip, set->mask);
        while (set->hot[j].ip)
            j = (j + 1) & set->mask;
        set->hot[j] = old[i];
        set->cold[j] = old_cold[i];
    }
    g_aligned_free(old);
    g_free(old_cold);
}

/* The slot of ip, probing beyond its first one, or a new slot for it (first
 * seen at ts); out of line: the hot path inlines only the first probe. */
static G_NO_INLINE guint
func_set_slot(HapvmFuncSet *set, guint64 ip, guint64 ts)
{
    guint i = hash_ip(ip, set->mask);

    for (; set->hot[i].ip; i = (i + 1) & set->mask)
        if (set->hot[i].ip == ip)
            return i;
    if ((set->used + 1) * 2 > set->mask + 1) {
        func_set_grow(set);
        for (i = hash_ip(ip, set->mask); set->hot[i].ip; i = (i + 1) & set->mask)
            ;
    }
    set->used++;
    set->hot[i].ip = ip;
    set->hot[i].first_ts = ts;
    return i;
}

static inline guint
func_set_index(HapvmFuncSet *set, guint64 ip, guint64 ts)
{
    guint i = hash_ip(ip, set->mask);

    return G_LIKELY(set->hot[i].ip == ip) ? i : func_set_slot(set, ip, ts);
}

/* A record's SEEN_* bits (need) not all in the hit yet: add them, and the
 * first-seen times they stand for. */
static G_NO_INLINE void
func_set_mark(HapvmFuncSet *set, guint i, guint32 need, guint64 ts)
{
    guint32 miss = need & ~set->hot[i].seen;
    Cold *c = &set->cold[i];
    guint64 t = ts ? ts : 1; /* 0 means none */

    set->hot[i].seen |= need;
    if (miss & SEEN_TASK_FIRST)
        c->task_first_ts = t;
    if (miss & SEEN_STEADY)
        c->steady_ts = t;
    if (miss & SEEN_TASK_STEADY)
        c->task_steady_ts = t;
}

static void
func_set_fill(const HapvmFuncSet *set, guint i, HapvmFuncHit *hit)
{
    const Hot *h = &set->hot[i];
    const Cold *c = &set->cold[i];

    *hit = (HapvmFuncHit){
        .ip = h->ip,
        .first_ts = h->first_ts,
        .count = h->count,
        .ctx_mask = h->seen & ((1u << HAPVM_N_CTX) - 1),
        .role_mask = (h->seen >> SEEN_ROLE_SHIFT) & ((1u << HAPVM_MAX_ROLES) - 1),
        .task_first_ts = c->task_first_ts,
        .steady_ts = c->steady_ts,
        .task_steady_ts = c->task_steady_ts,
    };
}

gboolean
hapvm_func_set_find(const HapvmFuncSet *set, guint64 ip, HapvmFuncHit *hit)
{
    guint i = hash_ip(ip, set->mask);

    while (set->hot[i].ip) {
        if (set->hot[i].ip == ip) {
            func_set_fill(set, i, hit);
            return TRUE;
        }
        i = (i + 1) & set->mask;
    }
    return FALSE;
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
        if (set->hot[i].ip) {
            HapvmFuncHit hit;
            func_set_fill(set, i, &hit);
            func(&hit, data);
        }
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
        if (set->hot[i].ip)
            func_set_fill(set, i, &arr[k++]);
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
hapvm_decoder_get_syscall_total(const HapvmDecoder *dec, guint nr)
{
    guint64 total = 0;

    if (nr >= HAPVM_MAX_SYSCALL)
        return 0;
    for (guint r = 0; r < HAPVM_MAX_ROLES; r++)
        total += dec->syscalls[r][nr];
    return total;
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

/* The SEEN_* bits of a function record, but its role's: by its context
 * (index: the NMI, SOFTIRQ and HARDIRQ bits of common_flags) and, from
 * index 8 on, in the steady window. */
#define NEED_TASK (SEEN_CTX(HAPVM_CTX_TASK) | SEEN_TASK_FIRST)
#define NEED_HARDIRQ SEEN_CTX(HAPVM_CTX_HARDIRQ)
#define NEED_SOFTIRQ SEEN_CTX(HAPVM_CTX_SOFTIRQ)
#define NEED_NMI SEEN_CTX(HAPVM_CTX_NMI)
#define NEED_STEADY_TASK (NEED_TASK | SEEN_STEADY | SEEN_TASK_STEADY)
#define NEED_SHARED SEEN_CTX(HAPVM_CTX_SHARED_TASK)
#define ROLE_SHARED HAPVM_DECODE_SHARED_ROLE
/* [1]: a task of the role shared, whose task context is its own class. */
static const guint32 need_of[2][16] = {
    { NEED_TASK, NEED_HARDIRQ, NEED_SOFTIRQ, NEED_HARDIRQ, NEED_NMI, NEED_NMI, NEED_NMI, NEED_NMI,
      NEED_STEADY_TASK, NEED_HARDIRQ | SEEN_STEADY, NEED_SOFTIRQ | SEEN_STEADY,
      NEED_HARDIRQ | SEEN_STEADY, NEED_NMI | SEEN_STEADY, NEED_NMI | SEEN_STEADY,
      NEED_NMI | SEEN_STEADY, NEED_NMI | SEEN_STEADY },
    { NEED_SHARED, NEED_HARDIRQ, NEED_SOFTIRQ, NEED_HARDIRQ, NEED_NMI, NEED_NMI, NEED_NMI, NEED_NMI,
      NEED_SHARED | SEEN_STEADY, NEED_HARDIRQ | SEEN_STEADY, NEED_SOFTIRQ | SEEN_STEADY,
      NEED_HARDIRQ | SEEN_STEADY, NEED_NMI | SEEN_STEADY, NEED_NMI | SEEN_STEADY,
      NEED_NMI | SEEN_STEADY, NEED_NMI | SEEN_STEADY },
};

static inline guint32
need_index(guint8 flags, guint64 ts, guint64 steady_start)
{
    G_STATIC_ASSERT(TRACE_FLAG_HARDIRQ == 0x08 && TRACE_FLAG_SOFTIRQ == 0x10 && TRACE_FLAG_NMI == 0x40);

    return ((flags >> 3) & 3) | ((flags >> 4) & 4) | (guint)(ts >= steady_start) << 3;
}

/* One function record of a known context: count it, and add what it shows
 * first (context, role, first-seen times). */
static inline void
func_set_hit(HapvmFuncSet *set, Hot *hot, guint i, guint32 need, guint64 ts)
{
    Hot *h = &hot[i]; /* set->hot, maybe in a register */

    h->count++;
    if (G_UNLIKELY((h->seen & need) != need))
        func_set_mark(set, i, need, ts);
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
        pid = rd32(rec + 4);
        role = role_of(dec, pid);
        if (G_UNLIKELY(!dec->last_known)) {
            if (dec->known_only) {
                dec->stats.ignored_events++;
                return;
            }
            dec->stats.unknown_pid_events++;
        }
        guint i = func_set_index(dec->funcs, rd64(rec + 8), ts); /* may grow the set */
        func_set_hit(dec->funcs, dec->funcs->hot, i,
                     need_of[role == ROLE_SHARED][need_index(rec[2], ts, dec->steady_start)] |
                         1u << (SEEN_ROLE_SHIFT + role),
                     ts);
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
 * fast_flush() and fast_load().  Records are counted once, per run of one
 * task's records as unknown or ignored. */
typedef struct {
    Hot *hot;
    guint mask;
    guint32 function_type;
    guint function_tl;           /* type_len of the last function record */
    guint64 steady_start;
    guint32 last_pid;            /* dec's one-entry pid → role cache */
    guint32 role_seen;           /* its SEEN_ROLE bit; 0: skip its records
                                  * (unknown task, known-only mode) */
    const guint32 *need;         /* need_of[its role is shared] */
    gboolean known;
    guint64 records, run_start;  /* function records; at the start of the pid's run */
    guint64 unknown, ignored;    /* to add to dec->stats */
} Fast;

static inline void
fast_task(const HapvmDecoder *dec, Fast *f)
{
    f->last_pid = dec->last_pid;
    f->known = dec->last_known;
    f->role_seen = !f->known && dec->known_only ? 0 : 1u << (SEEN_ROLE_SHIFT + dec->last_role);
    f->need = need_of[dec->last_role == ROLE_SHARED];
}

static inline void
fast_load(const HapvmDecoder *dec, Fast *f)
{
    f->hot = dec->funcs->hot;
    f->mask = dec->funcs->mask;
    f->function_type = dec->function_type;
    f->function_tl = dec->function_tl;
    f->steady_start = dec->steady_start;
    fast_task(dec, f);
    f->records = f->run_start = f->unknown = f->ignored = 0;
}

static inline void
fast_run_end(Fast *f)
{
    guint64 n = f->records - f->run_start;

    if (!f->role_seen)
        f->ignored += n;
    else if (!f->known)
        f->unknown += n;
    f->run_start = f->records;
}

static inline void
fast_flush(HapvmDecoder *dec, Fast *f)
{
    fast_run_end(f);
    dec->stats.events += f->records;
    dec->stats.function_events += f->records - f->ignored;
    dec->stats.unknown_pid_events += f->unknown;
    dec->stats.ignored_events += f->ignored;
}

/* A function record of at least 16 bytes (handle_record's KIND_FUNCTION);
 * flags is rec[2]. */
static inline void
fast_function(HapvmDecoder *dec, Fast *f, const guint8 *rec, guint8 flags, guint64 ts)
{
    guint32 pid = rd32(rec + 4);
    guint64 ip = rd64(rec + 8);
    guint i;

    if (G_UNLIKELY(pid != f->last_pid)) {
        /* Inline: f's address must not escape, or it lives in memory. */
        fast_run_end(f);
        role_lookup(dec, pid);
        fast_task(dec, f);
    }
    f->records++;
    if (G_UNLIKELY(!f->role_seen))
        return;
    i = hash_ip(ip, f->mask);
    if (G_UNLIKELY(f->hot[i].ip != ip)) {
        i = func_set_slot(dec->funcs, ip, ts);
        f->hot = dec->funcs->hot; /* grown */
        f->mask = dec->funcs->mask;
    }
    func_set_hit(dec->funcs, f->hot, i, f->role_seen | f->need[need_index(flags, ts, f->steady_start)], ts);
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
            fast_function(dec, &f, p + 4, p[6], ts);
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
                fast_function(dec, &f, p + 4, p[6], ts);
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

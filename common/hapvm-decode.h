/* Hot path: decode ring-buffer sub-buffers (trace_pipe_raw pages, or the
 * pages of a trace.dat) and dedupe function records by address.
 *
 * No allocation per event: records are parsed in place and folded into an
 * open-addressing set that only grows when a new function appears. */
#pragma once

#include <glib.h>
#include <event-parse.h>

/* Execution context of a record, from its common_flags. */
typedef enum {
    HAPVM_CTX_TASK = 0,
    HAPVM_CTX_SOFTIRQ,
    HAPVM_CTX_HARDIRQ,
    HAPVM_CTX_NMI,
    /* Task context of a task with the role HAPVM_DECODE_SHARED_ROLE:
     * services that work for every domain.  Kept apart from TASK, so such a
     * task alone never puts a function in HAP-F (task_*_ts stay 0). */
    HAPVM_CTX_SHARED_TASK,
    HAPVM_N_CTX
} HapvmContext;

const char *hapvm_context_name(HapvmContext ctx);

#define HAPVM_MAX_ROLES 16
/* The role index whose task context is HAPVM_CTX_SHARED_TASK (the
 * engine's HAPVM_ROLE_SHARED; checked there). */
#define HAPVM_DECODE_SHARED_ROLE 6
#define HAPVM_MAX_SYSCALL 1024

/* What the decoder knows of one function.  The set does not store hits in
 * this form (it keeps a small part updated per record apart from the
 * first-seen times, docs/benchmarks.md P1): it fills copies of them. */
typedef struct {
    guint64 ip;                         /* function entry (fentry site) */
    guint64 first_ts;                   /* ring-buffer clock, ns */
    guint64 count;
    guint32 ctx_mask;                   /* 1 << HapvmContext */
    guint32 role_mask;                  /* 1 << role index */
    guint64 task_first_ts;              /* first hit in task context (0: none) */
    guint64 steady_ts;                  /* first hit at/after the steady start (0: none) */
    guint64 task_steady_ts;             /* same, task context only */
} HapvmFuncHit;

/* Unique functions by address. */
typedef struct HapvmFuncSet HapvmFuncSet;

HapvmFuncSet *hapvm_func_set_new(void);
void hapvm_func_set_free(HapvmFuncSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmFuncSet, hapvm_func_set_free)
/* Fills *hit with what is known of ip; FALSE if ip was never seen. */
gboolean hapvm_func_set_find(const HapvmFuncSet *set, guint64 ip, HapvmFuncHit *hit);
guint hapvm_func_set_size(const HapvmFuncSet *set);
/* Every hit, in table order; no allocation.  hit is valid during the call. */
typedef void (*HapvmFuncHitFunc)(const HapvmFuncHit *hit, gpointer data);
void hapvm_func_set_foreach(const HapvmFuncSet *set, HapvmFuncHitFunc func, gpointer data);
/* Snapshot of all hits, sorted by first_ts (caller frees with g_free). */
HapvmFuncHit *hapvm_func_set_to_array(const HapvmFuncSet *set, guint *n);

typedef struct {
    guint64 pages;
    guint64 events;            /* data records seen */
    guint64 function_events;
    guint64 syscall_events;
    guint64 fork_events;
    guint64 handled_events;    /* records passed to an added handler */
    guint64 other_events;      /* records of events we do not use */
    guint64 missed_events;     /* lost before a page, as the page says */
    guint64 pages_with_loss;   /* pages flagged "missed" without a count */
    guint64 bad_pages;         /* malformed sub-buffers, skipped */
    guint64 unknown_pid_events;/* records of tasks not (yet) in the pid map */
    guint64 ignored_events;    /* records of tasks outside the map, skipped
                                * (hapvm_decoder_set_known_only) */
    guint64 first_ts, last_ts;
} HapvmDecodeStats;

typedef struct HapvmDecoder HapvmDecoder;

/* Called for sched_process_fork (parent → child), so the owner can give the
 * child its parent's role; not per function record. */
typedef void (*HapvmForkFunc)(gpointer user_data, guint32 parent, guint32 child);

/* tep must hold the header_page and the formats of ftrace/function and, if
 * used, raw_syscalls/sys_enter and sched/sched_process_fork. */
HapvmDecoder *hapvm_decoder_new(struct tep_handle *tep, GError **error);
void hapvm_decoder_free(HapvmDecoder *dec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmDecoder, hapvm_decoder_free)

/* Task → role index (< HAPVM_MAX_ROLES).  Records of unknown tasks get the
 * default role and are counted in unknown_pid_events. */
void hapvm_decoder_set_role(HapvmDecoder *dec, guint32 pid, guint role);
gboolean hapvm_decoder_get_role(const HapvmDecoder *dec, guint32 pid, guint *role);
void hapvm_decoder_set_default_role(HapvmDecoder *dec, guint role);
void hapvm_decoder_set_fork_func(HapvmDecoder *dec, HapvmForkFunc func, gpointer user_data);
/* For a recording that holds other tasks too (a trace.dat): records of
 * tasks without a role (function, sys_enter, added handlers) are skipped and
 * counted in ignored_events.  Fork records still reach the fork function.
 * Off by default: a live instance is pid-filtered by the kernel. */
void hapvm_decoder_set_known_only(HapvmDecoder *dec, gboolean known_only);
/* Called the first time a record of a task without a role is met (once per
 * run of its records); it may give the task a role (then it is known). */
typedef void (*HapvmTaskFunc)(gpointer user_data, guint32 pid);
void hapvm_decoder_set_new_task_func(HapvmDecoder *dec, HapvmTaskFunc func, gpointer user_data);

/* Called for each record of an added event type: rec points at the record's
 * payload (common_type first), len bytes; pid and its role index.  Must not
 * allocate per call (hot path). */
typedef void (*HapvmEventFunc)(gpointer data, const guint8 *rec, guint len, guint32 pid, guint role);
/* Route records of event_id (tep id) to func; at most 16 handlers, and not
 * for the event types the decoder uses itself.  FALSE if refused. */
gboolean hapvm_decoder_add_handler(HapvmDecoder *dec, int event_id, HapvmEventFunc func, gpointer data);
/* Records at or after ts (trace clock) belong to the steady-state window;
 * 0 (the default) makes the whole trace steady state. */
void hapvm_decoder_set_steady_start(HapvmDecoder *dec, guint64 ts);

/* Decode one sub-buffer of page_size bytes read from CPU cpu. */
void hapvm_decoder_feed_page(HapvmDecoder *dec, const void *page, gsize page_size, int cpu);

HapvmFuncSet *hapvm_decoder_get_functions(HapvmDecoder *dec);
const HapvmDecodeStats *hapvm_decoder_get_stats(const HapvmDecoder *dec);
/* System calls entered, per role: counts[role][nr]; nr >= HAPVM_MAX_SYSCALL
 * are counted in *overflow. */
const guint64 *hapvm_decoder_get_syscalls(const HapvmDecoder *dec, guint role);
/* Calls of system call nr over all roles (0 for nr out of range). */
guint64 hapvm_decoder_get_syscall_total(const HapvmDecoder *dec, guint nr);
guint64 hapvm_decoder_get_syscall_overflow(const HapvmDecoder *dec);

/* Load header_page and event formats from a directory laid out like tracefs
 * (DIR/events/header_page or DIR/header_page, DIR/events/SYS/EV/format). */
struct tep_handle *hapvm_tep_load_dir(const char *dir, const char *const *events, GError **error);

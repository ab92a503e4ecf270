/* A live function-trace session in a private tracefs instance.
 *
 * Never touches the top-level tracer.  The instance is named
 * hapvm-<owner pid>-<owner start time>-<n>; instances whose owner is gone
 * are removed at start (a SIGKILLed hapvm leaves one behind). */
#pragma once

#include <glib.h>

#include "hapvm-decode.h"

typedef struct {
    guint buffer_kb;        /* per CPU; 0 = default (32768) */
    gboolean syscalls;      /* raw_syscalls:sys_enter on the target's tasks */
    gboolean follow_forks;  /* function-fork / event-fork */
    const char *const *events; /* more "system/event" to record for the
                                * target's tasks (NULL-terminated); those
                                * this kernel lacks are skipped */
} HapvmTraceOpts;

typedef struct {
    guint64 overrun;        /* per_cpu/cpuN/stats, summed */
    guint64 commit_overrun;
    guint64 dropped;
    guint64 entries_left;   /* unread at the end (should be 0) */
    guint ncpus;
} HapvmTraceLoss;

typedef struct HapvmTrace HapvmTrace;

/* Checks root, tracefs and the function tracer, removes stale instances,
 * creates ours.  Nothing is traced until hapvm_trace_start. */
HapvmTrace *hapvm_trace_new(const HapvmTraceOpts *opts, GError **error);
/* Stops tracing and removes the instance. */
void hapvm_trace_free(HapvmTrace *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmTrace, hapvm_trace_free)

const char *hapvm_trace_get_instance_name(const HapvmTrace *t);
HapvmDecoder *hapvm_trace_get_decoder(HapvmTrace *t);
/* The event formats of this kernel (for field offsets of opts.events). */
struct tep_handle *hapvm_trace_get_tep(HapvmTrace *t);
/* Whether opts.events entry "system/event" exists and is recorded. */
gboolean hapvm_trace_has_event(const HapvmTrace *t, const char *event);

/* Add tasks (tids) to the pid filters; before or during tracing. */
gboolean hapvm_trace_add_tasks(HapvmTrace *t, const guint32 *tids, guint n, guint role, GError **error);

/* Select the function tracer and turn tracing on. */
gboolean hapvm_trace_start(HapvmTrace *t, GError **error);
/* Drain every CPU's buffer into the decoder; returns pages read. */
guint hapvm_trace_drain(HapvmTrace *t);
/* Tracing off, final drain, loss counters. */
void hapvm_trace_stop(HapvmTrace *t, HapvmTraceLoss *loss);

/* Switch the raw_syscalls:sys_enter event (opts.syscalls must be set) on
 * or off while tracing. */
gboolean hapvm_trace_set_syscalls(HapvmTrace *t, gboolean on, GError **error);
/* Stop recording functions already seen: append them to set_ftrace_notrace
 * by their index in available_filter_functions.  names[] are symbol names
 * (with [module] suffix unsupported: module functions are matched by name).
 * Returns how many were written; ambiguous names are skipped. */
guint hapvm_trace_notrace(HapvmTrace *t, const char *const *names, guint n, GError **error);

/* Remove hapvm-* instances whose owner process is gone; returns how many. */
guint hapvm_trace_cleanup_stale(const char *tracing_dir);

/* A measurement from a trace-cmd recording (trace.dat, `trace-cmd record -p
 * function`), scored by the same code as a live one (hapvm_result_build).
 *
 * Two passes over the pages: the first finds every task with records, their
 * saved comms and the recorded forks (sched:sched_process_fork), so that the
 * target set is complete before the second pass decodes only its records;
 * one pass could not follow a fork whose child's records sit in a page that
 * the page-order merge hands out before the fork record's page. */
#pragma once

#include <glib.h>

#include "hapvm-measure.h"
#include "hapvm-tracedat.h"

typedef struct {
    const guint32 *pids;  /* a task and its recorded descendants */
    guint n_pids;
    const guint32 *tids;  /* exactly these tasks */
    guint n_tids;
    const char *comm;     /* regex that must match a task's whole saved comm;
                           * matching tasks and their recorded descendants */
    gboolean all;         /* every task with records */
    double warmup_s;      /* from the first record; 0: all of it is steady */
    GDateTime *ended;     /* wall clock at the recording's end (the file's
                           * mtime), for timing.started; NULL: now */
} HapvmImportOpts;

typedef struct {
    guint tasks_recorded;     /* tasks with records in the file */
    gboolean forks_recorded;  /* it has sched_process_fork records */
    guint64 fork_events;
    guint tasks_from_forks;   /* targets added as descendants */
    gboolean syscalls_recorded; /* it has raw_syscalls:sys_enter records */
    guint64 ignored_events;   /* records of other tasks */
    guint64 first_ts, last_ts; /* the recording's span, trace clock ns */
    char **absent;            /* asked-for tids without records (NULL-terminated) */
} HapvmImportInfo;

void hapvm_import_info_clear(HapvmImportInfo *info);

/* The event systems hapvm reads from a recording (for
 * hapvm_trace_dat_open_systems). */
extern const char *const hapvm_import_systems[];

/* Select the targets, decode their records, finish the measurement.  Loss:
 * the file's per-CPU stats (CPUSTAT) and the pages' missed-events flags.
 * Errors: HAPVM_ERROR_USAGE (bad selection or regex, warm-up beyond the
 * recording), HAPVM_ERROR_TARGET_GONE (no selected task has records: the
 * message lists the recorded tasks), HAPVM_ERROR_PARSE. */
HapvmMeasurement *hapvm_import_trace_dat(HapvmTraceDat *td, const HapvmImportOpts *opts,
                                         HapvmImportInfo *info, GError **error);

/* Sum of the per-CPU stats text trace-cmd saves ("CPU: N", "overrun: N",
 * ...) into the live path's loss counters. */
void hapvm_import_parse_cpustats(const char *text, HapvmTraceLoss *loss);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HapvmImportInfo, hapvm_import_info_clear)

/* A measurement: a growing set of tasks with roles, traced until steady
 * state, a duration, the end of all its tasks, or an interrupt. */
#pragma once

#include <glib.h>

#include "hapvm-decode.h"
#include "hapvm-trace.h"

typedef enum {
    HAPVM_ROLE_PROCESS = 0, /* a plain process or container task */
    HAPVM_ROLE_VCPU,
    HAPVM_ROLE_EMULATOR,
    HAPVM_ROLE_IOTHREAD,
    HAPVM_ROLE_VHOST,
    HAPVM_ROLE_KTHREAD,
    HAPVM_ROLE_SHARED,
    HAPVM_ROLE_BACKEND,     /* a Xen dom0 backend kernel thread (blkback, netback) */
    HAPVM_N_ROLES
} HapvmRole;

const char *hapvm_role_name(HapvmRole role);

typedef enum {
    HAPVM_END_NONE = 0,
    HAPVM_END_STEADY,          /* no new function for the quiet window */
    HAPVM_END_DURATION,        /* --duration reached */
    HAPVM_END_MAX_DURATION,    /* --max-duration reached before steady state */
    HAPVM_END_TARGETS_EXITED,  /* every target task is gone */
    HAPVM_END_INTERRUPTED,     /* SIGINT/SIGTERM */
    HAPVM_END_RECORDING,       /* a recording (hapvm import), scored whole */
} HapvmEndReason;

const char *hapvm_end_reason_name(HapvmEndReason r);

typedef struct {
    HapvmTraceOpts trace;
    double warmup_s;       /* startup window excluded from steady state */
    double quiet_s;        /* steady when nothing new for this long */
    double max_s;          /* hard stop */
    double duration_s;     /* > 0: fixed window, no steady-state stop */
    gboolean until_steady; /* stop at steady state */
    double poll_s;
    gboolean low_overhead; /* move seen functions to set_ftrace_notrace */
    double notrace_interval_s;
    guint notrace_batch;   /* names per write */
    /* Low-overhead mode switches raw_syscalls:sys_enter off in steady state
     * (it alone costs the workload about a third, docs/benchmarks.md P2)
     * once no new number came for this long, and on again when any new
     * function is hit; keep_syscalls keeps it on. */
    double syscall_quiet_s;
    gboolean keep_syscalls;
} HapvmMeasureOpts;

void hapvm_measure_opts_init(HapvmMeasureOpts *opts);

typedef struct {
    double t;              /* seconds since tracing started */
    guint total;           /* unique functions, task context */
    guint steady;          /* of which hit in the steady window */
} HapvmCurvePoint;

typedef struct HapvmMeasurement HapvmMeasurement;

/* Called about once a second while tracing, to add tasks the kernel's
 * fork following cannot see.  Return FALSE to stop (error set). */
typedef gboolean (*HapvmRescanFunc)(HapvmMeasurement *m, gpointer data, GError **error);

HapvmMeasurement *hapvm_measurement_new(const HapvmMeasureOpts *opts, GError **error);
void hapvm_measurement_free(HapvmMeasurement *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmMeasurement, hapvm_measurement_free)

/* Add a task; known tasks are ignored.  Returns FALSE on a tracefs error. */
gboolean hapvm_measurement_add_task(HapvmMeasurement *m, guint32 tid, HapvmRole role, GError **error);
/* The same for a task just listed from /proc, which may exit at any time:
 * one gone since is no error (*gone, may be NULL, says so). */
gboolean hapvm_measurement_add_listed_task(HapvmMeasurement *m, guint32 tid, HapvmRole role, gboolean *gone,
                                           GError **error);
void hapvm_measurement_set_rescan(HapvmMeasurement *m, HapvmRescanFunc func, gpointer data);
/* The launched command, reaped by the engine (its exit ends the run). */
void hapvm_measurement_set_child(HapvmMeasurement *m, GPid pid);
/* Symbol names for low-overhead mode: ip → name (NULL if unknown). */
typedef const char *(*HapvmNameFunc)(gpointer data, guint64 ip);
void hapvm_measurement_set_namer(HapvmMeasurement *m, HapvmNameFunc func, gpointer data);
/* Called once, right after tracing is on (e.g. to release a held command). */
void hapvm_measurement_set_start_hook(HapvmMeasurement *m, HapvmRescanFunc func, gpointer data);
/* Called after each second of tracing (live progress). */
typedef void (*HapvmProgressFunc)(HapvmMeasurement *m, gpointer data);
void hapvm_measurement_set_progress(HapvmMeasurement *m, HapvmProgressFunc func, gpointer data);

/* Start tracing, run until an end condition; then stop tracing. */
gboolean hapvm_measurement_run(HapvmMeasurement *m, GError **error);
/* Ask a running measurement to end (signal-safe). */
void hapvm_measurement_interrupt(HapvmMeasurement *m);
/* The front end knows its target is gone (e.g. a Xen domain destroyed
 * while shared services it listed live on): end the run as
 * HAPVM_END_TARGETS_EXITED at the next tick.  Call from a rescan. */
void hapvm_measurement_set_targets_gone(HapvmMeasurement *m);

/* A measurement of a recording (hapvm import): no tracefs, nothing run.
 * It takes dec; the caller gives its tasks, sets the window (which sets
 * dec's steady start from opts->warmup_s), feeds dec the recording's pages,
 * then finishes it.  instance and clock describe the recording (result
 * members method.instance and method.trace_clock). */
HapvmMeasurement *hapvm_measurement_new_offline(const HapvmMeasureOpts *opts, HapvmDecoder *dec,
                                                const char *instance, const char *clock);
/* A task of the recording, with the comm it had there; gives dec its role. */
void hapvm_measurement_add_recorded_task(HapvmMeasurement *m, guint32 tid, HapvmRole role,
                                         const char *comm, gboolean from_fork);
/* The recording's window in trace-clock ns, and its wall-clock start. */
void hapvm_measurement_set_window(HapvmMeasurement *m, guint64 start_ts, guint64 end_ts,
                                  GDateTime *start_time);
/* After the last page: loss counters, and the curve (one point a second of
 * record time, from the functions' first-hit times). */
void hapvm_measurement_finish_offline(HapvmMeasurement *m, const HapvmTraceLoss *loss);

/* Results. */
HapvmDecoder *hapvm_measurement_get_decoder(HapvmMeasurement *m);
HapvmTrace *hapvm_measurement_get_trace(HapvmMeasurement *m);
const HapvmMeasureOpts *hapvm_measurement_get_opts(const HapvmMeasurement *m);
const HapvmTraceLoss *hapvm_measurement_get_loss(const HapvmMeasurement *m);
HapvmEndReason hapvm_measurement_get_end_reason(const HapvmMeasurement *m);
double hapvm_measurement_get_elapsed(const HapvmMeasurement *m);
/* Seconds from start to the steady window's start (the warm-up actually used). */
double hapvm_measurement_get_steady_start(const HapvmMeasurement *m);
guint64 hapvm_measurement_get_start_ts(const HapvmMeasurement *m);
/* Trace-clock time the steady window starts (the decoder's boundary). */
guint64 hapvm_measurement_get_steady_ts(const HapvmMeasurement *m);
const GArray *hapvm_measurement_get_curve(const HapvmMeasurement *m); /* HapvmCurvePoint */
/* tid → role, with comm at discovery; includes tasks learnt from forks. */
GHashTable *hapvm_measurement_get_tasks(const HapvmMeasurement *m);   /* tid → HapvmTaskInfo* */
guint hapvm_measurement_get_notrace_written(const HapvmMeasurement *m);
double hapvm_measurement_get_notrace_seconds(const HapvmMeasurement *m);

/* Low-overhead mode's pauses of system-call counting. */
typedef struct {
    guint pauses;
    double paused_s;
    /* System calls first entered while counting was paused, known only by
     * their entry function (count unknown): nr -1 when the name gives no
     * x86-64 number (ni_syscall, compat entries). */
    const GArray *from_functions; /* HapvmSyscallByFunction */
} HapvmSyscallPauses;
typedef struct {
    gint64 nr;
    char *function;
} HapvmSyscallByFunction;
void hapvm_measurement_get_syscall_pauses(const HapvmMeasurement *m, HapvmSyscallPauses *out);
const char *hapvm_measurement_get_instance(const HapvmMeasurement *m);
/* Trace clock of the timestamps: "mono" live, the recording's otherwise. */
const char *hapvm_measurement_get_clock(const HapvmMeasurement *m);
GDateTime *hapvm_measurement_get_start_time(const HapvmMeasurement *m);

typedef struct {
    guint32 tid;
    HapvmRole role;
    char *comm;
    gboolean from_fork;  /* added by the kernel's fork following */
    gboolean gone;
} HapvmTaskInfo;

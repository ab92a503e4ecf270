/* hapvm import: score a trace-cmd recording (trace.dat) as hapvm measure
 * scores a live run (docs/hapvm-import.md). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-import.h"
#include "hapvm-kernel.h"
#include "hapvm-ksyms.h"
#include "hapvm-lineindex.h"
#include "hapvm-result.h"

typedef struct {
    const char *path;
    HapvmTraceDat *td;
    const HapvmImportInfo *info;
    const HapvmImportOpts *opts;
    const char *comm;
    const char *symbols;     /* where names came from */
    const char *identity;    /* where the kernel identity came from */
    double steady_reached_s; /* < 0: never */
    double quiet_s;
} ImportJson;

static void
add_import_members(JsonBuilder *b, gpointer data)
{
    const ImportJson *j = data;
    const HapvmImportInfo *info = j->info;

    json_builder_set_member_name(b, "import");
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "file", j->path);
    hapvm_json_set_str(b, "format", "trace-cmd");
    hapvm_json_set_int(b, "file_version", hapvm_trace_dat_get_version(j->td));
    hapvm_json_set_str(b, "compression", hapvm_trace_dat_get_compression(j->td));
    hapvm_json_set_str(b, "uname", hapvm_trace_dat_get_uname(j->td));
    hapvm_json_set_str(b, "kernel_identity", j->identity);
    hapvm_json_set_str(b, "symbols", j->symbols);
    json_builder_set_member_name(b, "selection");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "pids");
    json_builder_begin_array(b);
    for (guint i = 0; i < j->opts->n_pids; i++)
        json_builder_add_int_value(b, j->opts->pids[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "tids");
    json_builder_begin_array(b);
    for (guint i = 0; i < j->opts->n_tids; i++)
        json_builder_add_int_value(b, j->opts->tids[i]);
    json_builder_end_array(b);
    hapvm_json_set_str(b, "comm", j->comm);
    json_builder_set_member_name(b, "all");
    json_builder_add_boolean_value(b, j->opts->all);
    json_builder_set_member_name(b, "absent");
    json_builder_begin_array(b);
    for (char **a = info->absent; a && *a; a++)
        json_builder_add_int_value(b, g_ascii_strtoll(*a, NULL, 10));
    json_builder_end_array(b);
    json_builder_end_object(b);
    hapvm_json_set_int(b, "tasks_recorded", info->tasks_recorded);
    json_builder_set_member_name(b, "forks_recorded");
    json_builder_add_boolean_value(b, info->forks_recorded);
    hapvm_json_set_int(b, "fork_events", info->fork_events);
    hapvm_json_set_int(b, "tasks_from_forks", info->tasks_from_forks);
    hapvm_json_set_int(b, "other_tasks_events", info->ignored_events);
    hapvm_json_set_str(b, "window", "whole recording (first to last record)");
    json_builder_set_member_name(b, "quiet_s");
    json_builder_add_double_value(b, j->quiet_s);
    json_builder_set_member_name(b, "steady_reached_s");
    if (j->steady_reached_s >= 0)
        json_builder_add_double_value(b, j->steady_reached_s);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
}

/* When the live path would have stopped: the first curve point, after the
 * warm-up, with no new steady-window function for quiet_s (-1: never). */
static double
steady_reached(HapvmMeasurement *m, double quiet_s)
{
    const GArray *c = hapvm_measurement_get_curve(m);
    double warm = hapvm_measurement_get_steady_start(m), last_new = warm;
    guint last = 0;

    for (guint i = 0; i < c->len; i++) {
        const HapvmCurvePoint *p = &g_array_index(c, HapvmCurvePoint, i);
        if (p->steady != last) {
            last = p->steady;
            last_new = p->t;
        }
        if (p->t >= warm && p->t - MAX(last_new, warm) >= quiet_s)
            return p->t;
    }
    return -1;
}

static gboolean
parse_ids(char **in, GArray *out, const char *opt, GError **error)
{
    for (char **p = in; p && *p; p++) {
        char *end;
        guint64 v = g_ascii_strtoull(*p, &end, 10);
        if (*end || !**p || v == 0 || v > G_MAXUINT32) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s %s: not a task id", opt, *p);
            return FALSE;
        }
        guint32 t = (guint32)v;
        g_array_append_val(out, t);
    }
    return TRUE;
}

/* The third word of trace-cmd's UNAME option ("Linux host 6.1.0-56-amd64 x86_64"). */
static char *
release_of_uname(const char *uname)
{
    g_auto(GStrv) w = uname ? g_strsplit(uname, " ", -1) : NULL;

    return w && g_strv_length(w) >= 3 && *w[2] ? g_strdup(w[2]) : NULL;
}

int
hapvm_cmd_import(int argc, char **argv, GError **error)
{
    g_auto(GStrv) pid_args = NULL, tid_args = NULL;
    g_autofree char *comm = NULL, *json = NULL, *debuginfo = NULL, *index_cache = NULL;
    g_autofree char *kallsyms = NULL, *release = NULL, *build_id = NULL;
    gboolean all = FALSE, accept_loss = FALSE, no_lines = FALSE, quiet = FALSE;
    gboolean no_kallsyms = FALSE, same_kernel = FALSE;
    double warmup = 0, quiet_s = 10, density = HAPVM_DEFAULT_DENSITY * 1000;
    GOptionEntry entries[] = {
        { "pid", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &pid_args, "task PID and its recorded descendants; repeatable", "PID" },
        { "tid", 't', 0, G_OPTION_ARG_STRING_ARRAY, &tid_args, "exactly task TID; repeatable", "TID" },
        { "comm", 0, 0, G_OPTION_ARG_STRING, &comm, "tasks whose saved comm matches REGEX whole, and their recorded descendants", "REGEX" },
        { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "every task with records (a recording filtered by trace-cmd -P/-F)", NULL },
        { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &warmup, "startup window from the first record, excluded from steady state (default 0)", "S" },
        { "quiet", 'q', 0, G_OPTION_ARG_DOUBLE, &quiet_s, "report when no new function appeared for S seconds (default 10)", "S" },
        { "accept-loss", 0, 0, G_OPTION_ARG_NONE, &accept_loss, "exit 0 even if events were lost", NULL },
        { "json", 'o', 0, G_OPTION_ARG_FILENAME, &json, "write the result as JSON to FILE", "FILE" },
        { "kallsyms", 0, 0, G_OPTION_ARG_FILENAME, &kallsyms, "symbols from FILE instead of the recording's own", "FILE" },
        { "no-kallsyms", 0, 0, G_OPTION_ARG_NONE, &no_kallsyms, "no symbols: functions are addresses", NULL },
        { "release", 0, 0, G_OPTION_ARG_STRING, &release, "the recorded kernel's release (default: from the recording)", "R" },
        { "build-id", 0, 0, G_OPTION_ARG_STRING, &build_id, "the recorded kernel's build-id (enables HAP-L)", "HEX" },
        { "same-kernel", 0, 0, G_OPTION_ARG_NONE, &same_kernel, "the recording was made on the running kernel: use its build-id", NULL },
        { "debuginfo", 0, 0, G_OPTION_ARG_FILENAME, &debuginfo, "kernel debuginfo (vmlinux or a /usr/lib/debug-like dir)", "PATH" },
        { "index-cache", 0, 0, G_OPTION_ARG_FILENAME, &index_cache, "line index cache dir", "DIR" },
        { "no-lines", 0, 0, G_OPTION_ARG_NONE, &no_lines, "skip HAP-L", NULL },
        { "density", 0, 0, G_OPTION_ARG_DOUBLE, &density, "defects per 1000 lines for HAP (default 0.333)", "D" },
        { "quiet-summary", 0, 0, G_OPTION_ARG_NONE, &quiet, "no summary on stdout", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("TRACE.DAT (--pid PID | --tid TID | --comm REGEX | --all)");
    g_option_context_set_summary(ctx, "Score a trace-cmd recording (record -p function) as hapvm measure scores a live run.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, error)) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    if (argc != 2) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, argc < 2 ? "give the trace.dat file to import"
                    : "unexpected argument '%s' (one file)", argc > 2 ? argv[2] : "");
        return -1;
    }
    const char *path = argv[1];
    g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) tids = g_array_new(FALSE, FALSE, sizeof(guint32));
    if (!parse_ids(pid_args, pids, "--pid", error) || !parse_ids(tid_args, tids, "--tid", error))
        return -1;
    if (quiet_s <= 0 || density < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--quiet and --density must be positive");
        return -1;
    }
    if ((kallsyms != NULL) + no_kallsyms > 1 || (same_kernel && (build_id || release))) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, kallsyms && no_kallsyms
                    ? "--kallsyms and --no-kallsyms exclude each other"
                    : "--same-kernel takes the running kernel's identity: no --release or --build-id with it");
        return -1;
    }

    g_autoptr(HapvmTraceDat) td = hapvm_trace_dat_open_systems(path, hapvm_import_systems, error);
    if (!td)
        return -1;

    /* Kernel identity: the recording's uname; a build-id only if the user
     * vouches for it (trace-cmd saves none). */
    g_autofree char *rec_release = release_of_uname(hapvm_trace_dat_get_uname(td));
    g_autoptr(HapvmKernelInfo) kernel = g_new0(HapvmKernelInfo, 1);
    const char *identity;
    if (same_kernel) {
        g_autoptr(HapvmKernelInfo) run = hapvm_kernel_info_read(NULL, error);
        if (!run)
            return -1;
        if (rec_release && g_strcmp0(rec_release, run->release) != 0) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                        "--same-kernel: the recording is from kernel %s, this machine runs %s; give "
                        "--build-id HEX of the recorded kernel instead", rec_release, run->release);
            return -1;
        }
        kernel->release = g_steal_pointer(&run->release);
        kernel->build_id = g_steal_pointer(&run->build_id);
        identity = "running kernel (--same-kernel)";
    } else {
        kernel->release = release ? g_strdup(release) : g_strdup(rec_release);
        kernel->build_id = g_steal_pointer(&build_id);
        identity = kernel->build_id ? (release ? "--release and --build-id" : "recording's uname, --build-id")
                                    : (release ? "--release; no build-id" : "recording's uname; no build-id");
    }

    /* Symbols: the recording's own kallsyms (its boot's addresses). */
    g_autoptr(HapvmKsyms) ksyms = NULL;
    g_autoptr(GError) ksyms_error = NULL;
    const char *symbols;
    gsize klen = 0;
    const char *ktext = hapvm_trace_dat_get_kallsyms(td, &klen);
    if (no_kallsyms) {
        symbols = "none (--no-kallsyms)";
    } else if (kallsyms) {
        ksyms = hapvm_ksyms_load(kallsyms, &ksyms_error);
        symbols = kallsyms;
    } else if (ktext) {
        ksyms = hapvm_ksyms_load_data(ktext, klen, path, &ksyms_error);
        symbols = "recording";
    } else if (same_kernel) {
        ksyms = hapvm_ksyms_load(NULL, &ksyms_error);
        symbols = "/proc/kallsyms (--same-kernel; the recording has none)";
    } else {
        symbols = "none (the recording has no kallsyms)";
        g_printerr("hapvm import: warning: %s has no kallsyms; functions will be addresses (give --kallsyms "
                   "FILE of the recorded boot)\n", path);
    }
    if (!no_kallsyms && (kallsyms || ktext || same_kernel) && !ksyms) {
        g_printerr("hapvm import: warning: no kernel symbols (%s); functions will be addresses\n",
                   ksyms_error->message);
        symbols = "none (unreadable)";
    }

    struct stat st;
    g_autoptr(GDateTime) ended = stat(path, &st) == 0 ? g_date_time_new_from_unix_utc(st.st_mtime) : NULL;
    HapvmImportOpts io = {
        .pids = (const guint32 *)pids->data, .n_pids = pids->len,
        .tids = (const guint32 *)tids->data, .n_tids = tids->len,
        .comm = comm, .all = all, .warmup_s = warmup, .ended = ended,
    };
    g_auto(HapvmImportInfo) info = { 0 };
    g_autoptr(HapvmMeasurement) m = hapvm_import_trace_dat(td, &io, &info, error);
    if (!m)
        return -1;
    for (char **a = info.absent; a && *a; a++)
        g_printerr("hapvm import: warning: task %s has no records in %s\n", *a, path);

    g_autoptr(HapvmLineIndex) idx = NULL;
    g_autoptr(GError) idx_error = NULL;
    g_autofree char *lines_error = NULL;
    if (no_lines)
        lines_error = g_strdup("disabled with --no-lines");
    else if (!kernel->build_id)
        lines_error = g_strdup("the recording carries no kernel build-id (trace-cmd saves none): give --build-id "
                               "HEX of the recorded kernel, or --same-kernel if it was recorded on this kernel");
    else if (!kernel->release)
        lines_error = g_strdup("the recording names no kernel release: give --release");
    else if (!(idx = hapvm_line_index_open(kernel, debuginfo, index_cache, &idx_error)))
        lines_error = g_strdup(idx_error->message);
    if (!idx && !no_lines)
        g_printerr("hapvm import: HAP-L unavailable: %s\n", lines_error);

    g_autofree char *desc = NULL;
    if (all) {
        desc = g_strdup_printf("%s (all tasks)", path);
    } else {
        GString *s = g_string_new(path);
        const char *sep = " (";
        for (guint i = 0; i < pids->len; i++, sep = ", ")
            g_string_append_printf(s, "%spid %u", sep, g_array_index(pids, guint32, i));
        for (guint i = 0; i < tids->len; i++, sep = ", ")
            g_string_append_printf(s, "%stid %u", sep, g_array_index(tids, guint32, i));
        if (comm)
            g_string_append_printf(s, "%scomm %s", sep, comm);
        g_string_append(s, ")");
        desc = g_string_free(s, FALSE);
    }
    ImportJson ij = {
        .path = path, .td = td, .info = &info, .opts = &io, .comm = comm, .symbols = symbols,
        .identity = identity, .steady_reached_s = steady_reached(m, quiet_s), .quiet_s = quiet_s,
    };
    HapvmResultInput in = {
        .target_kind = "recording",
        .target = desc,
        .kernel = kernel,
        .ksyms = ksyms,
        .lines = idx,
        .lines_error = lines_error,
        .density = density / 1000.0,
        .accept_loss = accept_loss,
        .add_members = add_import_members,
        .add_data = &ij,
    };
    g_autoptr(JsonNode) result = hapvm_result_build(m, &in);
    return hapvm_result_emit(result, json, quiet, accept_loss, " in the recording",
                             "record again with a larger trace-cmd -b, or use", error) ? 0 : -1;
}

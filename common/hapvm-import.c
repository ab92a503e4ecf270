#include "hapvm-import.h"

#include <string.h>

#include "hapvm-error.h"

const char *const hapvm_import_systems[] = { "ftrace", "raw_syscalls", "sched", NULL };

void
hapvm_import_info_clear(HapvmImportInfo *info)
{
    g_strfreev(info->absent);
    memset(info, 0, sizeof(*info));
}

void
hapvm_import_parse_cpustats(const char *text, HapvmTraceLoss *loss)
{
    static const struct {
        const char *key;
        gsize off;
    } keys[] = {
        /* Each key must start its line: "overrun: " ends "commit overrun: ". */
        { "overrun: ", G_STRUCT_OFFSET(HapvmTraceLoss, overrun) },
        { "commit overrun: ", G_STRUCT_OFFSET(HapvmTraceLoss, commit_overrun) },
        { "dropped events: ", G_STRUCT_OFFSET(HapvmTraceLoss, dropped) },
        { "entries: ", G_STRUCT_OFFSET(HapvmTraceLoss, entries_left) },
    };

    memset(loss, 0, sizeof(*loss));
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (g_str_has_prefix(line, "CPU: ")) {
            loss->ncpus++;
            continue;
        }
        for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
            if (g_str_has_prefix(line, keys[k].key)) {
                guint64 *v = G_STRUCT_MEMBER_P(loss, keys[k].off);
                *v += g_ascii_strtoull(line + strlen(keys[k].key), NULL, 10);
            }
    }
}

/* ---- pass 1: who is in the recording ------------------------------------ */

typedef struct {
    HapvmDecoder *dec;
    GHashTable *seen;   /* tids with records */
    GArray *forks;      /* guint32 pairs: parent, child */
} Scout;

static void
scout_task(gpointer data, guint32 pid)
{
    Scout *s = data;

    g_hash_table_add(s->seen, GUINT_TO_POINTER(pid));
    hapvm_decoder_set_role(s->dec, pid, 0); /* known now: called once per task */
}

static void
scout_fork(gpointer data, guint32 parent, guint32 child)
{
    Scout *s = data;
    guint32 pc[2] = { parent, child };

    g_array_append_vals(s->forks, pc, 2);
}

static const char *
comm_of(struct tep_handle *tep, guint32 tid)
{
    const char *c = tep_data_comm_from_pid(tep, (int)tid);

    return c && strcmp(c, "<...>") != 0 ? c : NULL;
}

static gint
cmp_tid(gconstpointer a, gconstpointer b)
{
    guint32 x = GPOINTER_TO_UINT(*(gconstpointer const *)a), y = GPOINTER_TO_UINT(*(gconstpointer const *)b);

    return x < y ? -1 : x > y;
}

/* "136 sysloop, 137 sysloop, ..." (the first 20) for error messages. */
static char *
describe_tasks(struct tep_handle *tep, GHashTable *seen)
{
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array(seen, NULL);
    guint n = g_hash_table_size(seen);
    GString *s = g_string_new(NULL);

    qsort(keys, n, sizeof(gpointer), cmp_tid);
    for (guint i = 0; i < n && i < 20; i++) {
        guint32 tid = GPOINTER_TO_UINT(keys[i]);
        g_string_append_printf(s, "%s%u %s", i ? ", " : "", tid, comm_of(tep, tid) ?: "(no saved comm)");
    }
    if (n > 20)
        g_string_append_printf(s, ", ... %u more", n - 20);
    if (!n)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

HapvmMeasurement *
hapvm_import_trace_dat(HapvmTraceDat *td, const HapvmImportOpts *opts, HapvmImportInfo *info, GError **error)
{
    struct tep_handle *tep = hapvm_trace_dat_get_tep(td);
    g_autoptr(HapvmDecoder) scout_dec = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GArray) forks = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GHashTable) targets = g_hash_table_new(g_direct_hash, g_direct_equal); /* tid → from_fork+1 */
    g_autoptr(GRegex) re = NULL;
    g_autoptr(GPtrArray) absent = g_ptr_array_new_with_free_func(g_free);
    GQueue follow = G_QUEUE_INIT;
    HapvmMeasureOpts mo;

    memset(info, 0, sizeof(*info));
    if (!opts->n_pids && !opts->n_tids && !opts->comm && !opts->all) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "nothing to import: give --pid, --tid, --comm or --all");
        return NULL;
    }
    if (opts->all && (opts->n_pids || opts->n_tids || opts->comm)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--all excludes --pid, --tid and --comm");
        return NULL;
    }
    if (opts->warmup_s < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--warmup must not be negative");
        return NULL;
    }
    if (opts->comm) {
        g_autoptr(GError) e = NULL;
        g_autofree char *anchored = g_strdup_printf("^(?:%s)$", opts->comm);
        re = g_regex_new(anchored, G_REGEX_DOLLAR_ENDONLY, 0, &e);
        if (!re) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--comm %s: not a regular expression: %s",
                        opts->comm, e->message);
            return NULL;
        }
    }

    /* Pass 1. */
    scout_dec = hapvm_decoder_new(tep, error);
    if (!scout_dec)
        return NULL;
    Scout s = { scout_dec, seen, forks };
    hapvm_decoder_set_new_task_func(scout_dec, scout_task, &s);
    hapvm_decoder_set_fork_func(scout_dec, scout_fork, &s);
    if (!hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, scout_dec, error))
        return NULL;
    const HapvmDecodeStats *sst = hapvm_decoder_get_stats(scout_dec);
    info->tasks_recorded = g_hash_table_size(seen);
    /* A trace.dat holds the formats of every event, enabled or not: what
     * was recorded shows only in the records. */
    info->fork_events = sst->fork_events;
    info->forks_recorded = sst->fork_events > 0;
    info->syscalls_recorded = sst->syscall_events > 0;
    info->first_ts = sst->first_ts;
    info->last_ts = sst->last_ts;

    double span = info->last_ts > info->first_ts ? (info->last_ts - info->first_ts) / 1e9 : 0;
    if (opts->warmup_s > 0 && opts->warmup_s >= span) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "--warmup %g s is not shorter than the recording (%.3f s): nothing would be steady state",
                    opts->warmup_s, span);
        return NULL;
    }

    /* Targets: roots, then descendants by recorded forks (not for --tid). */
    for (guint i = 0; i < opts->n_tids; i++)
        g_hash_table_insert(targets, GUINT_TO_POINTER(opts->tids[i]), GUINT_TO_POINTER(1));
    for (guint i = 0; i < opts->n_pids; i++) {
        g_hash_table_insert(targets, GUINT_TO_POINTER(opts->pids[i]), GUINT_TO_POINTER(1));
        g_queue_push_tail(&follow, GUINT_TO_POINTER(opts->pids[i]));
    }
    {
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, seen);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            const char *c = comm_of(tep, GPOINTER_TO_UINT(k));
            if (opts->all || (re && c && g_regex_match(re, c, 0, NULL))) {
                g_hash_table_insert(targets, k, GUINT_TO_POINTER(1));
                if (re)
                    g_queue_push_tail(&follow, k);
            }
        }
    }
    if (forks->len) {
        g_autoptr(GHashTable) children = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                               (GDestroyNotify)g_array_unref);
        for (guint i = 0; i + 1 < forks->len; i += 2) {
            guint32 p = g_array_index(forks, guint32, i), c = g_array_index(forks, guint32, i + 1);
            GArray *a = g_hash_table_lookup(children, GUINT_TO_POINTER(p));
            if (!a) {
                a = g_array_new(FALSE, FALSE, sizeof(guint32));
                g_hash_table_insert(children, GUINT_TO_POINTER(p), a);
            }
            g_array_append_val(a, c);
        }
        while (!g_queue_is_empty(&follow)) {
            guint32 p = GPOINTER_TO_UINT(g_queue_pop_head(&follow));
            GArray *a = g_hash_table_lookup(children, GUINT_TO_POINTER(p));
            for (guint i = 0; a && i < a->len; i++) {
                gpointer c = GUINT_TO_POINTER(g_array_index(a, guint32, i));
                if (g_hash_table_contains(targets, c))
                    continue;
                g_hash_table_insert(targets, c, GUINT_TO_POINTER(2));
                info->tasks_from_forks++;
                g_queue_push_tail(&follow, c);
            }
        }
    }
    g_queue_clear(&follow);

    guint with_records = 0;
    {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, targets);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (g_hash_table_contains(seen, k))
                with_records++;
            else if (GPOINTER_TO_UINT(v) == 1)
                g_ptr_array_add(absent, g_strdup_printf("%u", GPOINTER_TO_UINT(k)));
        }
    }
    if (!with_records) {
        g_autofree char *list = describe_tasks(tep, seen);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE,
                    "no selected task has records in %s (tasks with records: %s)",
                    "the recording", list);
        return NULL;
    }
    g_ptr_array_sort(absent, (GCompareFunc)g_strcmp0);
    g_ptr_array_add(absent, NULL);
    info->absent = (char **)g_ptr_array_free(g_steal_pointer(&absent), FALSE);

    /* Pass 2: the targets' records only. */
    hapvm_measure_opts_init(&mo);
    mo.warmup_s = opts->warmup_s;
    mo.quiet_s = 0;
    mo.max_s = 0;
    mo.until_steady = FALSE;
    mo.trace.buffer_kb = 0; /* not in the file */
    mo.trace.syscalls = info->syscalls_recorded;
    mo.trace.follow_forks = info->forks_recorded && (opts->n_pids || opts->comm);
    HapvmDecoder *dec = hapvm_decoder_new(tep, error);
    if (!dec)
        return NULL;
    hapvm_decoder_set_known_only(dec, TRUE);
    const char *instance = hapvm_trace_dat_get_buffer_name(td);
    g_autoptr(HapvmMeasurement) m = hapvm_measurement_new_offline(&mo, dec, *instance ? instance : "top",
                                                                  hapvm_trace_dat_get_clock(td));
    {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, targets);
        while (g_hash_table_iter_next(&it, &k, &v))
            if (g_hash_table_contains(seen, k))
                hapvm_measurement_add_recorded_task(m, GPOINTER_TO_UINT(k), HAPVM_ROLE_PROCESS,
                                                    comm_of(tep, GPOINTER_TO_UINT(k)), GPOINTER_TO_UINT(v) == 2);
    }
    /* Wall-clock start: the end of the recording minus its span. */
    {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) start = g_date_time_add_seconds(opts->ended ? opts->ended : now, -span);
        hapvm_measurement_set_window(m, info->first_ts, info->last_ts, start);
    }
    if (!hapvm_trace_dat_foreach_page(td, (HapvmPageFunc)hapvm_decoder_feed_page, dec, error))
        return NULL;
    info->ignored_events = hapvm_decoder_get_stats(dec)->ignored_events;

    HapvmTraceLoss loss;
    gsize len;
    hapvm_import_parse_cpustats(hapvm_trace_dat_get_cpustats(td, &len), &loss);
    hapvm_measurement_finish_offline(m, &loss);
    return g_steal_pointer(&m);
}

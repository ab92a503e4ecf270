#include "hapvm-result.h"

#define IRQ_CTX ((1u << HAPVM_CTX_SOFTIRQ) | (1u << HAPVM_CTX_HARDIRQ) | (1u << HAPVM_CTX_NMI))

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-baseline.h"
#include "hapvm-error.h"
#include "hapvm-json.h"

/* One member each: the builder's name/value call pairs, shortened. */
static void
set_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void
set_str(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, v);
}

void
hapvm_json_set_int(JsonBuilder *b, const char *name, gint64 v)
{
    set_int(b, name, v);
}

void
hapvm_json_set_str(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

static void
set_bool(JsonBuilder *b, const char *name, gboolean v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, v);
}

static void
set_double(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, v);
}

typedef struct {
    guint64 ip;
    HapvmKsym sym;
    gboolean have_sym;
    HapvmLineInfo li;
    gboolean have_lines;
    const HapvmFuncHit *hit;
} Func;

typedef struct {
    guint functions;
    guint64 lines;
} Tally;

static void
tally_add(GHashTable *h, const char *key, const Func *f)
{
    Tally *t = g_hash_table_lookup(h, key);

    if (!t) {
        t = g_new0(Tally, 1);
        g_hash_table_insert(h, g_strdup(key), t);
    }
    t->functions++;
    if (f->have_lines)
        t->lines += f->li.lines;
}

static gint
cmp_tally(gconstpointer a, gconstpointer b, gpointer data)
{
    GHashTable *h = data;
    const Tally *x = g_hash_table_lookup(h, *(const char *const *)a);
    const Tally *y = g_hash_table_lookup(h, *(const char *const *)b);

    if (x->functions != y->functions)
        return x->functions < y->functions ? 1 : -1;
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
add_tally_object(JsonBuilder *b, const char *member, GHashTable *h, gboolean lines)
{
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array(h, NULL);
    guint n = g_hash_table_size(h);

    g_qsort_with_data(keys, n, sizeof(gpointer), cmp_tally, h);
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    for (guint i = 0; i < n; i++) {
        const Tally *t = g_hash_table_lookup(h, keys[i]);
        json_builder_set_member_name(b, keys[i]);
        json_builder_begin_object(b);
        set_int(b, "hap_f", t->functions);
        json_builder_set_member_name(b, "hap_l");
        if (lines)
            json_builder_add_int_value(b, t->lines);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

static const char *
subsystem_of(const Func *f)
{
    if (f->have_lines && f->li.subsystem)
        return f->li.subsystem;
    if (f->have_sym)
        return f->sym.module ? "module" : "vmlinux";
    return "unknown";
}

JsonNode *
hapvm_result_build(HapvmMeasurement *m, const HapvmResultInput *in)
{
    HapvmDecoder *dec = hapvm_measurement_get_decoder(m);
    const HapvmDecodeStats *st = hapvm_decoder_get_stats(dec);
    const HapvmTraceLoss *loss = hapvm_measurement_get_loss(m);
    const HapvmMeasureOpts *o = hapvm_measurement_get_opts(m);
    guint64 start_ts = hapvm_measurement_get_start_ts(m);
    /* The decoder's own boundary, not one recomputed from seconds. */
    guint64 steady_ts = hapvm_measurement_get_steady_ts(m);
    guint n;
    g_autofree HapvmFuncHit *hits = hapvm_func_set_to_array(hapvm_decoder_get_functions(dec), &n);
    g_autoptr(GArray) funcs = g_array_sized_new(FALSE, TRUE, sizeof(Func), n);
    g_autoptr(GHashTable) by_role = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) by_sub = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) seen_sym = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autoptr(GHashTable) nabla = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(JsonBuilder) b = json_builder_new();
    gboolean lines = in->lines != NULL;
    guint hap_f = 0, startup = 0, steady_new = 0, no_lines = 0, no_sym = 0;
    guint ctx_count[HAPVM_N_CTX] = { 0 }, irq_only = 0, all_ctx = 0;
    guint64 hap_l = 0;

    /* Symbolize; one record per function even if two addresses of it were
     * recorded (never expected with fentry, but cheap to guarantee). */
    for (guint i = 0; i < n; i++) {
        Func f = { .ip = hits[i].ip, .hit = &hits[i] };
        if (in->ksyms && hapvm_ksyms_lookup(in->ksyms, f.ip, &f.sym)) {
            f.have_sym = TRUE;
            if (g_hash_table_contains(seen_sym, &f.sym.start))
                continue;
            hits[i].ip = f.sym.start;
            f.ip = hits[i].ip;
            g_hash_table_add(seen_sym, &hits[i].ip); /* key storage lives in hits */
        } else {
            no_sym++;
        }
        if (lines && hapvm_line_index_lookup(in->lines, in->ksyms, hits[i].ip, &f.li))
            f.have_lines = TRUE;
        g_array_append_val(funcs, f);
    }

    for (guint i = 0; i < funcs->len; i++) {
        Func *f = &g_array_index(funcs, Func, i);
        const HapvmFuncHit *h = f->hit;
        if (h->steady_ts) {
            all_ctx++;
            for (int c = 0; c < HAPVM_N_CTX; c++)
                if (h->ctx_mask & (1u << c))
                    ctx_count[c]++;
            if (!(h->ctx_mask & (1u << HAPVM_CTX_TASK)) && (h->ctx_mask & IRQ_CTX))
                irq_only++;
        }
        if (h->task_first_ts && h->task_first_ts < steady_ts)
            startup++;
        /* nabla's view: names, whole window, task context, every task. */
        if (h->task_first_ts)
            g_hash_table_add(nabla, f->have_sym ? g_strdup(f->sym.name)
                                                : g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->ip));
        /* The interrupt-context class: beside the roles, never in them. */
        if (h->steady_ts && !(h->ctx_mask & (1u << HAPVM_CTX_TASK)) && (h->ctx_mask & IRQ_CTX))
            tally_add(by_role, "interrupt-context", f);
        /* What shared services (Xen's xenstored, ...) ran in task context:
         * their own row, never HAP-F by itself. */
        if (h->steady_ts && (h->ctx_mask & (1u << HAPVM_CTX_SHARED_TASK)))
            tally_add(by_role, hapvm_role_name(HAPVM_ROLE_SHARED), f);
        if (!h->task_steady_ts)
            continue;
        hap_f++;
        if (h->task_first_ts >= steady_ts)
            steady_new++;
        if (f->have_lines)
            hap_l += f->li.lines;
        else
            no_lines++;
        for (guint r = 0; r < HAPVM_N_ROLES; r++)
            if (r != HAPVM_ROLE_SHARED && (h->role_mask & (1u << r)))
                tally_add(by_role, hapvm_role_name(r), f);
        if (f->have_lines)
            tally_add(by_sub, f->li.subsystem, f);
        else if (f->have_sym && f->sym.module) {
            g_autofree char *k = g_strdup_printf("module:%s", f->sym.module);
            tally_add(by_sub, k, f);
        } else
            tally_add(by_sub, f->have_sym ? "vmlinux" : "unknown", f);
    }

    json_builder_begin_object(b);
    set_str(b, "schema", HAPVM_RESULT_SCHEMA);
    set_int(b, "version", HAPVM_RESULT_VERSION);
    set_str(b, "hapvm_version", HAPVM_VERSION);

    json_builder_set_member_name(b, "target");
    json_builder_begin_object(b);
    set_str(b, "kind", in->target_kind);
    set_str(b, "name", in->target);
    json_builder_set_member_name(b, "tasks");
    json_builder_begin_array(b);
    {
        GHashTable *tasks = hapvm_measurement_get_tasks(m);
        g_autoptr(GList) vals = g_hash_table_get_values(tasks);
        for (GList *l = vals; l; l = l->next) {
            HapvmTaskInfo *t = l->data;
            json_builder_begin_object(b);
            set_int(b, "tid", t->tid);
            set_str(b, "role", hapvm_role_name(t->role));
            set_str(b, "comm", t->comm);
            set_bool(b, "from_fork", t->from_fork);
            json_builder_end_object(b);
        }
    }
    json_builder_end_array(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "kernel");
    json_builder_begin_object(b);
    set_str(b, "release", in->kernel ? in->kernel->release : NULL);
    set_str(b, "build_id", in->kernel ? in->kernel->build_id : NULL);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "method");
    json_builder_begin_object(b);
    set_str(b, "tracer", "function");
    set_str(b, "instance", hapvm_measurement_get_instance(m));
    hapvm_json_set_str(b, "trace_clock", hapvm_measurement_get_clock(m));
    set_int(b, "buffer_kb_per_cpu", o->trace.buffer_kb);
    set_bool(b, "follow_forks", o->trace.follow_forks);
    set_bool(b, "syscalls", o->trace.syscalls);
    set_bool(b, "low_overhead", o->low_overhead);
    set_int(b, "notrace_written", hapvm_measurement_get_notrace_written(m));
    if (o->low_overhead && o->trace.syscalls) {
        HapvmSyscallPauses sp;

        hapvm_measurement_get_syscall_pauses(m, &sp);
        set_bool(b, "syscalls_kept", o->keep_syscalls);
        set_int(b, "syscall_pauses", sp.pauses);
        set_double(b, "syscalls_paused_s", sp.paused_s);
        json_builder_set_member_name(b, "syscall_entries_unnumbered");
        json_builder_begin_array(b);
        for (guint i = 0; sp.from_functions && i < sp.from_functions->len; i++) {
            const HapvmSyscallByFunction *e = &g_array_index(sp.from_functions, HapvmSyscallByFunction, i);
            if (e->nr < 0)
                json_builder_add_string_value(b, e->function);
        }
        json_builder_end_array(b);
    }
    set_double(b, "warmup_s", o->warmup_s);
    set_double(b, "quiet_s", o->quiet_s);
    set_double(b, "max_s", o->max_s);
    set_double(b, "duration_s", o->duration_s);
    set_str(b, "hap_f_rule", "unique functions hit in task context in the steady window");
    set_double(b, "density_per_line", in->density);
    set_bool(b, "baseline", in->baseline);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "timing");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "started");
    {
        g_autofree char *iso = g_date_time_format_iso8601(hapvm_measurement_get_start_time(m));
        json_builder_add_string_value(b, iso);
    }
    set_double(b, "elapsed_s", hapvm_measurement_get_elapsed(m));
    set_double(b, "steady_start_s", hapvm_measurement_get_steady_start(m));
    set_str(b, "end_reason", hapvm_end_reason_name(hapvm_measurement_get_end_reason(m)));
    set_double(b, "notrace_update_s", hapvm_measurement_get_notrace_seconds(m));
    json_builder_end_object(b);

    guint64 lost = loss->overrun + loss->dropped + loss->commit_overrun + st->missed_events +
                   st->pages_with_loss + st->bad_pages;
    json_builder_set_member_name(b, "loss");
    json_builder_begin_object(b);
    set_bool(b, "complete", lost == 0);
    set_bool(b, "accepted", in->accept_loss);
    set_int(b, "overrun", loss->overrun);
    set_int(b, "dropped", loss->dropped);
    set_int(b, "commit_overrun", loss->commit_overrun);
    set_int(b, "missed_in_pages", st->missed_events);
    set_int(b, "pages_with_unknown_loss", st->pages_with_loss);
    set_int(b, "bad_pages", st->bad_pages);
    set_int(b, "unread_entries", loss->entries_left);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "events");
    json_builder_begin_object(b);
    set_int(b, "function", st->function_events);
    set_int(b, "sys_enter", st->syscall_events);
    set_int(b, "fork", st->fork_events);
    set_int(b, "unknown_task", st->unknown_pid_events);
    set_int(b, "pages", st->pages);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    set_int(b, "hap_f", hap_f);
    json_builder_set_member_name(b, "hap_l");
    if (lines)
        json_builder_add_int_value(b, hap_l);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "hap");
    if (lines)
        json_builder_add_double_value(b, hap_l * in->density);
    else
        json_builder_add_null_value(b);
    set_bool(b, "lines_available", lines);
    set_str(b, "lines_unavailable_reason", lines ? NULL : in->lines_error);
    set_int(b, "functions_without_lines", lines ? no_lines : hap_f);
    set_int(b, "unresolved_addresses", no_sym);
    set_int(b, "startup_functions", startup);
    set_int(b, "steady_new_functions", steady_new);
    set_int(b, "nabla_f", g_hash_table_size(nabla));
    json_builder_end_object(b);

    json_builder_set_member_name(b, "contexts");
    json_builder_begin_object(b);
    for (int c = 0; c < HAPVM_N_CTX; c++) {
        set_int(b, hapvm_context_name(c), ctx_count[c]);
    }
    set_int(b, "interrupt_only", irq_only);
    set_int(b, "any", all_ctx);
    json_builder_end_object(b);

    add_tally_object(b, "roles", by_role, lines);
    add_tally_object(b, "subsystems", by_sub, lines);

    json_builder_set_member_name(b, "syscalls");
    json_builder_begin_array(b);
    for (guint nr = 0; nr < HAPVM_MAX_SYSCALL; nr++) {
        guint64 total = hapvm_decoder_get_syscall_total(dec, nr);

        if (!total)
            continue;
        json_builder_begin_object(b);
        set_int(b, "nr", nr);
        set_int(b, "count", total);
        json_builder_set_member_name(b, "roles");
        json_builder_begin_object(b);
        for (guint r = 0; r < HAPVM_N_ROLES; r++) {
            guint64 c = hapvm_decoder_get_syscalls(dec, r)[nr];
            if (c) {
                set_int(b, hapvm_role_name(r), c);
            }
        }
        json_builder_end_object(b);
        json_builder_end_object(b);
    }
    {
        /* Entered first while low-overhead mode had paused counting: known
         * by the entry function only, count unknown (0). */
        HapvmSyscallPauses sp;

        hapvm_measurement_get_syscall_pauses(m, &sp);
        for (guint i = 0; sp.from_functions && i < sp.from_functions->len; i++) {
            const HapvmSyscallByFunction *e = &g_array_index(sp.from_functions, HapvmSyscallByFunction, i);

            /* Counted after the resume: in the list above. */
            if (e->nr < 0 || e->nr >= HAPVM_MAX_SYSCALL || hapvm_decoder_get_syscall_total(dec, (guint)e->nr))
                continue;
            json_builder_begin_object(b);
            set_int(b, "nr", e->nr);
            set_int(b, "count", 0);
            json_builder_set_member_name(b, "roles");
            json_builder_begin_object(b);
            json_builder_end_object(b);
            set_str(b, "entry_function", e->function);
            json_builder_end_object(b);
        }
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "curve");
    json_builder_begin_array(b);
    const GArray *curve = hapvm_measurement_get_curve(m);
    for (guint i = 0; i < curve->len; i++) {
        const HapvmCurvePoint *p = &g_array_index(curve, HapvmCurvePoint, i);
        json_builder_begin_array(b);
        json_builder_add_double_value(b, p->t);
        json_builder_add_int_value(b, p->total);
        json_builder_add_int_value(b, p->steady);
        json_builder_end_array(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "functions");
    json_builder_begin_array(b);
    for (guint i = 0; i < funcs->len; i++) {
        const Func *f = &g_array_index(funcs, Func, i);
        const HapvmFuncHit *h = f->hit;
        g_autofree char *addr = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->ip);
        json_builder_begin_object(b);
        set_str(b, "name", f->have_sym ? f->sym.name : addr);
        set_str(b, "module", f->have_sym ? f->sym.module : NULL);
        set_str(b, "address", addr);
        set_str(b, "file", f->have_lines ? f->li.file : NULL);
        json_builder_set_member_name(b, "lines");
        if (f->have_lines)
            json_builder_add_int_value(b, f->li.lines);
        else
            json_builder_add_null_value(b);
        set_str(b, "subsystem", subsystem_of(f));
        json_builder_set_member_name(b, "roles");
        json_builder_begin_array(b);
        for (guint r = 0; r < HAPVM_N_ROLES; r++)
            if (h->role_mask & (1u << r))
                json_builder_add_string_value(b, hapvm_role_name(r));
        json_builder_end_array(b);
        json_builder_set_member_name(b, "contexts");
        json_builder_begin_array(b);
        for (int c = 0; c < HAPVM_N_CTX; c++)
            if (h->ctx_mask & (1u << c))
                json_builder_add_string_value(b, hapvm_context_name(c));
        json_builder_end_array(b);
        set_double(b, "first_seen_s", h->first_ts > start_ts ? (h->first_ts - start_ts) / 1e9 : 0);
        set_int(b, "count", h->count);
        set_bool(b, "hap_f", h->task_steady_ts != 0);
        set_bool(b, "startup", h->task_first_ts &&
            h->task_first_ts < steady_ts);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    if (in->add_members)
        in->add_members(b, in->add_data);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

guint64
hapvm_result_get_lost(JsonObject *r)
{
    JsonObject *l = hapvm_json_object(r, "loss");

    return (guint64)hapvm_json_int(l, "overrun") + (guint64)hapvm_json_int(l, "dropped") + (guint64)hapvm_json_int(l, "commit_overrun") +
           (guint64)hapvm_json_int(l, "missed_in_pages") + (guint64)hapvm_json_int(l, "pages_with_unknown_loss") +
           (guint64)hapvm_json_int(l, "bad_pages");
}

static gboolean
member_null(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;

    return !n || JSON_NODE_HOLDS_NULL(n);
}

static void
print_tallies(FILE *out, JsonObject *r, const char *member, const char *title, guint limit)
{
    JsonObject *o = hapvm_json_object(r, member);
    g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;
    guint i = 0;

    if (!o)
        return;
    fprintf(out, "%s:\n", title);
    for (GList *l = names; l && i < limit; l = l->next, i++) {
        JsonObject *t = hapvm_json_object(o, l->data);
        if (member_null(t, "hap_l"))
            fprintf(out, "  %-28s HAP-F %6" G_GUINT64_FORMAT "\n", (char *)l->data, (guint64)hapvm_json_int(t, "hap_f"));
        else
            fprintf(out, "  %-28s HAP-F %6" G_GUINT64_FORMAT "   HAP-L %7" G_GUINT64_FORMAT "\n",
                    (char *)l->data, (guint64)hapvm_json_int(t, "hap_f"), (guint64)hapvm_json_int(t, "hap_l"));
    }
    if (g_list_length(names) > limit)
        fprintf(out, "  ... %u more\n", g_list_length(names) - limit);
}

/* One entry-point table of a "vm" result: "label: key count, ..." (top n). */
static void
print_entries(FILE *out, JsonObject *ep, const char *member, const char *label, guint n)
{
    JsonNode *node = json_object_get_member(ep, member);
    g_autofree char *tot_name = g_strdup_printf("%s_total", member);

    if (!node || !JSON_NODE_HOLDS_ARRAY(node)) {
        fprintf(out, "  %-16s unavailable (tracepoint missing)\n", label);
        return;
    }
    JsonArray *a = json_node_get_array(node);
    fprintf(out, "  %-16s %" G_GUINT64_FORMAT, label, (guint64)hapvm_json_int(ep, tot_name));
    for (guint i = 0; i < json_array_get_length(a) && i < n; i++) {
        JsonObject *e = json_array_get_object_element(a, i);
        const char *key = hapvm_json_string(e, "name");
        g_autofree char *num = NULL;
        if (!key && json_object_has_member(e, "nr"))
            key = num = g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)hapvm_json_int(e, "nr"));
        if (!key)
            key = hapvm_json_string(e, "port") ?: hapvm_json_string(e, "gpa_page") ?: hapvm_json_string(e, "index");
        if (!key)
            key = num = g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)hapvm_json_int(e, "reason"));
        const char *acc = hapvm_json_string(e, "access");
        fprintf(out, "%s %s%s%s %" G_GUINT64_FORMAT, i ? "," : ":", key, acc ? "/" : "", acc ? acc : "",
                (guint64)hapvm_json_int(e, "count"));
    }
    if (json_array_get_length(a) > n)
        fprintf(out, ", ... %u more", json_array_get_length(a) - n);
    fprintf(out, "\n");
}

static void
print_xen(FILE *out, JsonObject *vm)
{
    JsonArray *tasks = hapvm_json_array(vm, "tasks");
    guint n_backend = 0, n_dm = 0, n_shared = 0;

    for (guint i = 0; tasks && i < json_array_get_length(tasks); i++) {
        const char *role = hapvm_json_string(json_array_get_object_element(tasks, i), "role") ?: "";
        n_backend += g_str_equal(role, "backend");
        n_dm += g_str_equal(role, "emulator");
        n_shared += g_str_equal(role, "shared");
    }
    fprintf(out, "Xen domain %s (domid %" G_GINT64_FORMAT ", %s, uuid %s): %u backend threads, %u device-model "
            "threads, %u shared-service tasks (role 'shared', not in HAP-F)\n",
            hapvm_json_string(vm, "name") ?: "?", hapvm_json_int(vm, "domid"), hapvm_json_string(vm, "type") ?: "?",
            hapvm_json_string(vm, "uuid") ?: "unknown", n_backend, n_dm, n_shared);
    if (hapvm_json_string(vm, "domain_ended"))
        fprintf(out, "  domain ended during the run: %s\n", hapvm_json_string(vm, "domain_ended"));
    JsonObject *xt = hapvm_json_object(vm, "xentrace");
    JsonObject *ep = hapvm_json_object(vm, "xen_entry_points");
    if (!ep)
        fprintf(out, "entry points: unavailable (%s)\n", hapvm_json_string(xt, "reason") ?: "no xentrace");
    else {
        fprintf(out, "entry points (xentrace, attributed per pCPU like xenalyze):\n");
        print_entries(out, ep, "pv_hypercalls", "PV hypercalls", 10);
        print_entries(out, ep, "hvm_hypercalls", "HVM hypercalls", 10);
        print_entries(out, ep, "multicall_subcalls", "multicall calls", 8);
        fprintf(out, "  %-16s %" G_GINT64_FORMAT "\n", "event channel", hapvm_json_int(ep, "event_channel_ops"));
        fprintf(out, "  %-16s %" G_GINT64_FORMAT " maps, %" G_GINT64_FORMAT " unmaps of its pages by backends\n",
                "grants", hapvm_json_int(ep, "grant_maps_by_others"), hapvm_json_int(ep, "grant_unmaps_by_others"));
        if (hapvm_json_int(ep, "lost_records"))
            fprintf(out, "  WARNING: xentrace lost %" G_GINT64_FORMAT " records: the counts above are low\n",
                    hapvm_json_int(ep, "lost_records"));
        if (hapvm_json_string(xt, "error"))
            fprintf(out, "  WARNING: %s\n", hapvm_json_string(xt, "error"));
    }
    JsonObject *cov = hapvm_json_object(vm, "hypervisor_coverage");
    if (cov && !hapvm_json_boolean(cov, "available"))
        fprintf(out, "hypervisor coverage: unavailable (%s)\n", hapvm_json_string(cov, "reason") ?: "?");
    else if (cov)
        fprintf(out, "hypervisor coverage: available (%s)%s%s\n", hapvm_json_string(cov, "scope") ?: "",
                hapvm_json_string(cov, "file") ? ", saved to " : "", hapvm_json_string(cov, "file") ?: "");
}

static void
print_vm(FILE *out, JsonObject *vm)
{
    if (!vm)
        return;
    if (g_strcmp0(hapvm_json_string(vm, "hypervisor"), "xen") == 0) {
        print_xen(out, vm);
        return;
    }
    fprintf(out, "VM %s (uuid %s), QEMU pid %" G_GUINT64_FORMAT ", accelerator %s\n", hapvm_json_string(vm, "name"),
            hapvm_json_string(vm, "uuid") ?: "unknown", (guint64)hapvm_json_int(vm, "qemu_pid"), hapvm_json_string(vm, "accel"));
    if (hapvm_json_string(vm, "note"))
        fprintf(out, "  note: %s\n", hapvm_json_string(vm, "note"));
    JsonObject *ep = hapvm_json_object(vm, "entry_points");
    if (!ep)
        return;
    fprintf(out, "entry points (KVM tracepoints, vCPU threads):\n");
    print_entries(out, ep, "exits", "exit reasons", 16);
    print_entries(out, ep, "hypercalls", "hypercalls", 8);
    print_entries(out, ep, "pio", "port I/O", 8);
    print_entries(out, ep, "mmio", "MMIO pages", 8);
    print_entries(out, ep, "msr", "MSR accesses", 8);
    print_entries(out, ep, "userspace_exits", "exits to QEMU", 8);
}

void
hapvm_result_print_summary(JsonObject *r, FILE *out)
{
    JsonObject *target = hapvm_json_object(r, "target");
    JsonObject *kernel = hapvm_json_object(r, "kernel");
    JsonObject *timing = hapvm_json_object(r, "timing");
    JsonObject *scores = hapvm_json_object(r, "scores");
    JsonObject *ctx = hapvm_json_object(r, "contexts");
    JsonObject *method = hapvm_json_object(r, "method");
    JsonObject *loss = hapvm_json_object(r, "loss");
    JsonNode *tasks = target ? json_object_get_member(target, "tasks") : NULL;
    guint64 lost = hapvm_result_get_lost(r);

    fprintf(out, "hapvm: %s %s (%u tasks)\n", hapvm_json_string(target, "kind"), hapvm_json_string(target, "name"),
            tasks && JSON_NODE_HOLDS_ARRAY(tasks) ? json_array_get_length(json_node_get_array(tasks)) : 0);
    fprintf(out, "kernel %s, build-id %s\n", hapvm_json_string(kernel, "release") ?: "unknown",
            hapvm_json_string(kernel, "build_id") ?: "unknown");
    fprintf(out, "window %.1f s (warm-up %.1f s), ended: %s%s\n", hapvm_json_double(timing, "elapsed_s"),
            hapvm_json_double(timing, "steady_start_s"), hapvm_json_string(timing, "end_reason"),
            json_node_get_boolean(json_object_get_member(method, "low_overhead")) ? ", low-overhead mode" : "");
    if (member_null(scores, "hap_l"))
        fprintf(out, "HAP-F %" G_GUINT64_FORMAT "   HAP-L unavailable (%s)\n", (guint64)hapvm_json_int(scores, "hap_f"),
                hapvm_json_string(scores, "lines_unavailable_reason") ?: "no line index");
    else
        fprintf(out, "HAP-F %" G_GUINT64_FORMAT "   HAP-L %" G_GUINT64_FORMAT "   HAP %.2f"
                " (density %.3g per 1000 lines; %" G_GUINT64_FORMAT " functions without lines)\n",
                (guint64)hapvm_json_int(scores, "hap_f"), (guint64)hapvm_json_int(scores, "hap_l"), hapvm_json_double(scores, "hap"),
                hapvm_json_double(method, "density_per_line") * 1000, (guint64)hapvm_json_int(scores, "functions_without_lines"));
    fprintf(out, "startup functions %" G_GUINT64_FORMAT ", new in steady state %" G_GUINT64_FORMAT
            "; nabla-compatible count %" G_GUINT64_FORMAT " (names, task context, whole window)\n",
            (guint64)hapvm_json_int(scores, "startup_functions"), (guint64)hapvm_json_int(scores, "steady_new_functions"),
            (guint64)hapvm_json_int(scores, "nabla_f"));
    fprintf(out, "contexts (steady window): task %" G_GUINT64_FORMAT ", softirq %" G_GUINT64_FORMAT
            ", hardirq %" G_GUINT64_FORMAT ", nmi %" G_GUINT64_FORMAT ", interrupt-only %" G_GUINT64_FORMAT
            " (not in HAP-F)\n", (guint64)hapvm_json_int(ctx, "task"), (guint64)hapvm_json_int(ctx, "softirq"), (guint64)hapvm_json_int(ctx, "hardirq"),
            (guint64)hapvm_json_int(ctx, "nmi"), (guint64)hapvm_json_int(ctx, "interrupt_only"));
    if (hapvm_json_object(r, "baseline"))
        hapvm_baseline_print(hapvm_json_object(r, "baseline"), out);
    if (hapvm_json_boolean(method, "baseline"))
        fprintf(out, "this is an idle baseline (hapvm baseline): subtract it with --baseline\n");
    if (lost)
        fprintf(out, "INCOMPLETE: %" G_GUINT64_FORMAT " events lost (overrun %" G_GUINT64_FORMAT ", dropped %"
                G_GUINT64_FORMAT ", in pages %" G_GUINT64_FORMAT ")%s\n", lost, (guint64)hapvm_json_int(loss, "overrun"),
                (guint64)hapvm_json_int(loss, "dropped"), (guint64)hapvm_json_int(loss, "missed_in_pages"),
                json_node_get_boolean(json_object_get_member(loss, "accepted")) ? ", accepted" : "");
    else
        fprintf(out, "loss: none\n");
    print_vm(out, hapvm_json_object(r, "vm"));
    print_tallies(out, r, "roles", "by role (interrupt-context, shared: not in HAP-F)", 16);
    print_tallies(out, r, "subsystems", "by subsystem", 12);
    JsonNode *sc = json_object_get_member(r, "syscalls");
    if (sc && JSON_NODE_HOLDS_ARRAY(sc)) {
        JsonArray *a = json_node_get_array(sc);
        fprintf(out, "system calls entered (%u distinct, by number):", json_array_get_length(a));
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonObject *e = json_array_get_object_element(a, i);
            fprintf(out, " %" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, (guint64)hapvm_json_int(e, "nr"), (guint64)hapvm_json_int(e, "count"));
        }
        fprintf(out, "\n");
    }
}

/* "F / L" of a tally (or of the scores), "-" when absent. */
static char *
cell(JsonObject *t, const char *f, const char *l)
{
    if (!t)
        return g_strdup("-");
    if (member_null(t, l))
        return g_strdup_printf("%" G_GUINT64_FORMAT " / -", (guint64)hapvm_json_int(t, f));
    return g_strdup_printf("%" G_GUINT64_FORMAT " / %" G_GUINT64_FORMAT, (guint64)hapvm_json_int(t, f), (guint64)hapvm_json_int(t, l));
}

static void
table_row(FILE *out, const char *label, char **cells, guint n)
{
    fprintf(out, "%-26s", label);
    for (guint i = 0; i < n; i++)
        fprintf(out, " %22s", cells[i]);
    fprintf(out, "\n");
}

static int
cmp_str(const void *a, const void *b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

void
hapvm_result_print_table(JsonObject *const *r, guint n, FILE *out)
{
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) roles = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) subs = g_hash_table_new(g_str_hash, g_str_equal);
    const char *build_id = NULL;
    gboolean mixed = FALSE;

#define ROW(label, expr)                                                  \
    do {                                                                  \
        g_ptr_array_set_size(cells, 0);                                   \
        for (guint i = 0; i < n; i++)                                     \
            g_ptr_array_add(cells, (expr));                               \
        table_row(out, label, (char **)cells->pdata, n);                  \
    } while (0)

    for (guint i = 0; i < n; i++) {
        const char *b = hapvm_json_string(hapvm_json_object(r[i], "kernel"), "build_id");
        if (build_id && g_strcmp0(build_id, b) != 0)
            mixed = TRUE;
        build_id = build_id ? build_id : b;
        JsonObject *o = hapvm_json_object(r[i], "roles");
        g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;
        for (GList *l = names; l; l = l->next)
            g_hash_table_add(roles, l->data);
        o = hapvm_json_object(r[i], "subsystems");
        g_autoptr(GList) snames = o ? json_object_get_members(o) : NULL;
        for (GList *l = snames; l; l = l->next)
            g_hash_table_add(subs, l->data);
    }
    ROW("", g_strdup_printf("%.22s", hapvm_json_string(hapvm_json_object(r[i], "target"), "name") ?: "?"));
    ROW("kind", g_strdup_printf("%s%s", hapvm_json_string(hapvm_json_object(r[i], "target"), "kind") ?: "?",
                                 hapvm_json_object(r[i], "vm") &&
                                         g_strcmp0(hapvm_json_string(hapvm_json_object(r[i], "vm"), "hypervisor"), "xen")
                                     ? g_str_equal(hapvm_json_string(hapvm_json_object(r[i], "vm"), "accel") ?: "", "kvm")
                                           ? "" : " (no KVM)"
                                     : ""));
    ROW("window s (ended)", g_strdup_printf("%.1f (%s)", hapvm_json_double(hapvm_json_object(r[i], "timing"), "elapsed_s"),
                                           hapvm_json_string(hapvm_json_object(r[i], "timing"), "end_reason") ?: "?"));
    ROW("HAP-F / HAP-L", cell(hapvm_json_object(r[i], "scores"), "hap_f", "hap_l"));
    ROW("HAP", member_null(hapvm_json_object(r[i], "scores"), "hap") ? g_strdup("-")
               : g_strdup_printf("%.2f", hapvm_json_double(hapvm_json_object(r[i], "scores"), "hap")));
    ROW("nabla-compatible count", g_strdup_printf("%" G_GUINT64_FORMAT,
                                                  (guint64)hapvm_json_int(hapvm_json_object(r[i], "scores"), "nabla_f")));
    ROW("events lost", g_strdup_printf("%" G_GUINT64_FORMAT, hapvm_result_get_lost(r[i])));
    fprintf(out, "per role (HAP-F / HAP-L):\n");
    guint nk;
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array(roles, &nk);
    qsort(keys, nk, sizeof(gpointer), cmp_str);
    for (guint k = 0; k < nk; k++) {
        g_autofree char *label = g_strdup_printf("  %s", (char *)keys[k]);
        ROW(label, cell(hapvm_json_object(hapvm_json_object(r[i], "roles"), keys[k]), "hap_f", "hap_l"));
    }
    fprintf(out, "per subsystem (HAP-F / HAP-L):\n");
    g_autofree gpointer *skeys = g_hash_table_get_keys_as_array(subs, &nk);
    qsort(skeys, nk, sizeof(gpointer), cmp_str);
    for (guint k = 0; k < nk; k++) {
        g_autofree char *label = g_strdup_printf("  %s", (char *)skeys[k]);
        ROW(label, cell(hapvm_json_object(hapvm_json_object(r[i], "subsystems"), skeys[k]), "hap_f", "hap_l"));
    }
#undef ROW
    if (mixed)
        fprintf(out, "WARNING: the results come from different kernels (build-ids differ); their HAPs are not "
                "comparable\n");
}

gboolean
hapvm_result_write(JsonNode *result, const char *path, GError **error)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;
    g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
    gsize len;
    int fd;

    json_generator_set_root(gen, result);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, &len);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write %s: %s", path, g_strerror(e));
        return FALSE;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot rename %s to %s: %s", tmp, path, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

JsonNode *
hapvm_result_load(const char *path, GError **error)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonNode *root;

    if (!json_parser_load_from_file(p, path, error))
        return NULL;
    root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
        g_strcmp0(hapvm_json_string(json_node_get_object(root), "schema"), HAPVM_RESULT_SCHEMA) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s is not a hapvm result", path);
        return NULL;
    }
    if ((guint64)hapvm_json_int(json_node_get_object(root), "version") > HAPVM_RESULT_VERSION) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: result version %" G_GUINT64_FORMAT
                    " is newer than this hapvm understands (%d)", path,
                    (guint64)hapvm_json_int(json_node_get_object(root), "version"), HAPVM_RESULT_VERSION);
        return NULL;
    }
    return json_node_copy(root);
}

gboolean
hapvm_result_emit(JsonNode *result, const char *path, gboolean quiet, gboolean accept_loss, const char *where,
                  const char *remedy, GError **error)
{
    JsonObject *ro = json_node_get_object(result);

    if (path && !hapvm_result_write(result, path, error))
        return FALSE;
    if (!quiet)
        hapvm_result_print_summary(ro, stdout);
    guint64 lost = hapvm_result_get_lost(ro);
    if (lost && !accept_loss) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_LOST_EVENTS,
                    "%" G_GUINT64_FORMAT " trace events were lost%s, so the function set may be incomplete "
                    "(result%s%s marked incomplete); %s --accept-loss to keep it anyway", lost, where,
                    path ? " " : "", path ? path : "", remedy);
        return FALSE;
    }
    return TRUE;
}

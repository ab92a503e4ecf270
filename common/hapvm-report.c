/* Comparison, aggregation and machine-readable reports of results.
 *
 * The comparison is built once as a JSON document (schema "hapvm-compare")
 * and the text and CSV renderings are read back from it, so the three never
 * disagree.  Functions are identified across results by name and module
 * ("name [module]"), never by address: KASLR moves addresses between boots. */
#include "hapvm-report.h"

#include <math.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"

/* ------------------------------------------------------------------------ */
/* JSON member access (absent and null read as nothing) */

static JsonNode *
mem(JsonObject *o, const char *name)
{
    return o && json_object_has_member(o, name) ? json_object_get_member(o, name) : NULL;
}

static gboolean
is_num(JsonNode *n)
{
    GType t = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;

    return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static int
cmp_strp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Sorted member names of an object (the table's keys are borrowed). */
static GPtrArray *
sorted_keys(GHashTable *set)
{
    GPtrArray *a = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;

    g_hash_table_iter_init(&it, set);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(a, k);
    g_ptr_array_sort(a, cmp_strp);
    return a;
}

static void
add_members(GHashTable *set, JsonObject *o)
{
    g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;

    for (GList *l = names; l; l = l->next)
        g_hash_table_add(set, l->data);
}

/* ------------------------------------------------------------------------ */
/* Inputs, function sets */

void
hapvm_report_input_free(HapvmReportInput *in)
{
    if (!in)
        return;
    g_free(in->label);
    g_free(in->file);
    if (in->node)
        json_node_unref(in->node);
    g_free(in);
}

static char *
input_label(guint i)
{
    return i < 26 ? g_strdup_printf("%c", 'A' + i) : g_strdup_printf("#%u", i + 1);
}

GPtrArray *
hapvm_report_inputs_load(char *const *paths, guint n, GError **error)
{
    g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func((GDestroyNotify)hapvm_report_input_free);

    for (guint i = 0; i < n; i++) {
        JsonNode *node = hapvm_result_load(paths[i], error);
        if (!node)
            return NULL;
        HapvmReportInput *in = g_new0(HapvmReportInput, 1);
        in->label = input_label(i);
        in->file = g_strdup(paths[i]);
        in->node = node;
        in->result = json_node_get_object(node);
        g_ptr_array_add(a, in);
    }
    return g_steal_pointer(&a);
}

#define INPUT(a, i) ((HapvmReportInput *)g_ptr_array_index((a), (i)))

static const char *const set_names[] = { "hap-f", "all", "interrupt" };

gboolean
hapvm_function_set_parse(const char *s, HapvmFunctionSet *out)
{
    for (guint i = 0; i < G_N_ELEMENTS(set_names); i++)
        if (g_strcmp0(s, set_names[i]) == 0) {
            *out = (HapvmFunctionSet)i;
            return TRUE;
        }
    return FALSE;
}

const char *
hapvm_function_set_name(HapvmFunctionSet set)
{
    return set_names[set];
}

static gboolean
has_context(JsonObject *f, const char *ctx)
{
    JsonArray *c = hapvm_json_array(f, "contexts");

    for (guint i = 0; c && i < json_array_get_length(c); i++)
        if (g_strcmp0(json_array_get_string_element(c, i), ctx) == 0)
            return TRUE;
    return FALSE;
}

static gboolean
in_set(JsonObject *f, HapvmFunctionSet set)
{
    switch (set) {
    case HAPVM_FSET_HAP_F:
        return hapvm_json_boolean(f, "hap_f");
    case HAPVM_FSET_INTERRUPT:
        return !has_context(f, "task");
    case HAPVM_FSET_ALL:
        break;
    }
    return TRUE;
}

static char *
function_key(JsonObject *f)
{
    const char *m = hapvm_json_string(f, "module");

    return m ? g_strdup_printf("%s [%s]", hapvm_json_string(f, "name") ?: "?", m) : g_strdup(hapvm_json_string(f, "name") ?: "?");
}

GHashTable *
hapvm_report_function_set(JsonObject *r, HapvmFunctionSet set)
{
    GHashTable *s = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    JsonArray *fa = hapvm_json_array(r, "functions");

    for (guint i = 0; fa && i < json_array_get_length(fa); i++) {
        JsonObject *f = json_array_get_object_element(fa, i);
        if (f && in_set(f, set))
            g_hash_table_add(s, function_key(f));
    }
    return s;
}

static guint
intersection_size(GHashTable *a, GHashTable *b)
{
    GHashTableIter it;
    gpointer k;
    guint n = 0;

    if (g_hash_table_size(a) > g_hash_table_size(b)) {
        GHashTable *t = a;
        a = b;
        b = t;
    }
    g_hash_table_iter_init(&it, a);
    while (g_hash_table_iter_next(&it, &k, NULL))
        n += g_hash_table_contains(b, k);
    return n;
}

double
hapvm_report_jaccard(GHashTable *a, GHashTable *b)
{
    guint both = intersection_size(a, b);
    guint uni = g_hash_table_size(a) + g_hash_table_size(b) - both;

    return uni ? (double)both / uni : 1.0;
}

/* ------------------------------------------------------------------------ */
/* Comparability */

/* The members that decide what a HAP figure means.  Others (window,
 * buffer, low-overhead mode, density) change how it was taken or only the HAP
 * product; they give notes, not refusals (docs/hapvm-compare.md). */
static const struct {
    const char *object, *member, *why;
} must_match[] = {
    { "kernel", "build_id", "another kernel build runs other code" },
    { "method", "tracer", "another tracer sees another set of functions" },
    { "method", "hap_f_rule", "HAP-F is defined differently" },
};

GPtrArray *
hapvm_report_incomparable(GPtrArray *inputs)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

    for (guint m = 0; m < G_N_ELEMENTS(must_match); m++) {
        const char *first = hapvm_json_string(hapvm_json_object(INPUT(inputs, 0)->result, must_match[m].object), must_match[m].member);
        gboolean differ = FALSE;
        for (guint i = 1; i < inputs->len; i++)
            if (g_strcmp0(first, hapvm_json_string(hapvm_json_object(INPUT(inputs, i)->result, must_match[m].object),
                                     must_match[m].member)) != 0)
                differ = TRUE;
        if (!differ)
            continue;
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "%s.%s differs (%s):", must_match[m].object, must_match[m].member,
                               must_match[m].why);
        for (guint i = 0; i < inputs->len; i++) {
            HapvmReportInput *in = INPUT(inputs, i);
            g_string_append_printf(s, "%s %s (%s) \"%s\"", i ? "," : "", in->label, in->file,
                                   hapvm_json_string(hapvm_json_object(in->result, must_match[m].object), must_match[m].member) ?: "null");
        }
        g_ptr_array_add(out, g_string_free(s, FALSE));
    }
    return out;
}

gboolean
hapvm_report_check_comparable(GPtrArray *inputs, gboolean force, GPtrArray **forced, GError **error)
{
    g_autoptr(GPtrArray) diff = hapvm_report_incomparable(inputs);

    if (diff->len && !force) {
        GString *s = g_string_new("refusing to compare results whose HAP figures mean different things:\n");
        for (guint i = 0; i < diff->len; i++)
            g_string_append_printf(s, "  %s\n", (char *)diff->pdata[i]);
        g_string_append(s, "measure them on one kernel build with one method, or pass --force to compare "
                           "anyway (the output is then marked FORCED)");
        g_set_error_literal(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH, s->str);
        g_string_free(s, TRUE);
        return FALSE;
    }
    *forced = g_steal_pointer(&diff);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Small statistics */

typedef struct {
    double mean, sd, min, max;
    guint n;
} Stats;

static Stats
stats_of(const double *v, guint n)
{
    Stats s = { 0, NAN, 0, 0, n };
    double sum = 0, ss = 0;

    if (!n)
        return s;
    s.min = s.max = v[0];
    for (guint i = 0; i < n; i++) {
        sum += v[i];
        s.min = MIN(s.min, v[i]);
        s.max = MAX(s.max, v[i]);
    }
    s.mean = sum / n;
    if (n > 1) {
        for (guint i = 0; i < n; i++)
            ss += (v[i] - s.mean) * (v[i] - s.mean);
        s.sd = sqrt(ss / (n - 1)); /* sample sd: the runs are a sample of the workload's runs */
    }
    return s;
}

/* Numbers are written as integers when they are integral, so that a mean
 * of equal integers reads like the integers. */
static void
add_number(JsonBuilder *b, double v)
{
    if (isnan(v))
        json_builder_add_null_value(b);
    else if (v == floor(v) && fabs(v) < 9e15)
        json_builder_add_int_value(b, (gint64)v);
    else
        json_builder_add_double_value(b, v);
}

static void
set_number(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    add_number(b, v);
}

static void
set_stats(JsonBuilder *b, const char *name, const Stats *s)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    set_number(b, "mean", s->mean);
    set_number(b, "sd", s->sd);
    set_number(b, "min", s->min);
    set_number(b, "max", s->max);
    json_builder_set_member_name(b, "n");
    json_builder_add_int_value(b, s->n);
    json_builder_end_object(b);
}

/* ------------------------------------------------------------------------ */
/* Aggregation */

static double
agg_runs(JsonObject *r)
{
    return hapvm_json_double(hapvm_json_object(r, "aggregate"), "n");
}

/* Mean, over inputs, of object.member (absent counts as 0); NAN when any
 * input has it null or absent and null_if_missing. */
static Stats
stats_member(GPtrArray *inputs, const char *object, const char *sub, const char *member, gboolean null_if_missing)
{
    g_autofree double *v = g_new0(double, inputs->len);

    for (guint i = 0; i < inputs->len; i++) {
        JsonObject *o = hapvm_json_object(INPUT(inputs, i)->result, object);
        if (sub)
            o = hapvm_json_object(o, sub);
        if (!hapvm_json_is_number(o, member) && null_if_missing) {
            Stats s = { NAN, NAN, NAN, NAN, 0 };
            return s;
        }
        v[i] = hapvm_json_double(o, member);
    }
    return stats_of(v, inputs->len);
}

static const char *const score_members[] = {
    "hap_f", "hap_l", "hap", "nabla_f", "startup_functions", "steady_new_functions",
    "functions_without_lines", "unresolved_addresses",
};

/* Merge lists of {key..., count} over runs: the union by key, counts as the
 * mean over all runs (absent = 0). */
static void
merge_counts(JsonBuilder *b, const char *name, GPtrArray *lists, guint runs, const char *const *keys)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) order = g_ptr_array_new();  /* first occurrence of each key */
    g_autoptr(GArray) sums = g_array_new(FALSE, TRUE, sizeof(double));

    json_builder_set_member_name(b, name);
    if (!lists->len) {
        json_builder_add_null_value(b);
        return;
    }
    for (guint l = 0; l < lists->len; l++) {
        JsonArray *a = lists->pdata[l];
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonObject *e = json_array_get_object_element(a, i);
            GString *k = g_string_new(NULL);
            for (guint j = 0; keys[j]; j++) {
                JsonNode *n = mem(e, keys[j]);
                g_autofree char *t = n ? json_to_string(n, FALSE) : g_strdup("null");
                g_string_append_printf(k, "%s\x1f", t);
            }
            gpointer idx;
            if (!g_hash_table_lookup_extended(seen, k->str, NULL, &idx)) {
                idx = GUINT_TO_POINTER(order->len);
                g_ptr_array_add(order, e);
                g_array_set_size(sums, order->len);
                g_hash_table_insert(seen, g_string_free(k, FALSE), idx);
            } else {
                g_string_free(k, TRUE);
            }
            g_array_index(sums, double, GPOINTER_TO_UINT(idx)) += hapvm_json_double(e, "count");
        }
    }
    /* By mean count, descending, as the results sort theirs. */
    g_autofree guint *perm = g_new(guint, order->len);
    for (guint i = 0; i < order->len; i++)
        perm[i] = i;
    for (guint i = 1; i < order->len; i++)
        for (guint j = i; j > 0 && g_array_index(sums, double, perm[j]) > g_array_index(sums, double, perm[j - 1]);
             j--) {
            guint t = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = t;
        }
    json_builder_begin_array(b);
    for (guint i = 0; i < order->len; i++) {
        JsonObject *e = order->pdata[perm[i]];
        json_builder_begin_object(b);
        for (guint j = 0; keys[j]; j++) {
            JsonNode *n = mem(e, keys[j]);
            json_builder_set_member_name(b, keys[j]);
            if (n)
                json_builder_add_value(b, json_node_copy(n));
            else
                json_builder_add_null_value(b);
        }
        set_number(b, "count", g_array_index(sums, double, perm[i]) / runs);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static const struct {
    const char *name;
    const char *keys[4];
} entry_lists[] = {
    { "exits", { "reason", "isa", "name", NULL } },
    { "hypercalls", { "nr", NULL } },
    { "pio", { "port", "access", NULL } },
    { "mmio", { "gpa_page", "access", NULL } },
    { "msr", { "index", "access", NULL } },
    { "userspace_exits", { "reason", "name", "errno", NULL } },
};

static void
aggregate_vm(JsonBuilder *b, GPtrArray *inputs)
{
    JsonObject *vm0 = hapvm_json_object(INPUT(inputs, 0)->result, "vm");
    g_autoptr(GList) names = vm0 ? json_object_get_members(vm0) : NULL;

    if (!vm0)
        return;
    json_builder_set_member_name(b, "vm");
    json_builder_begin_object(b);
    for (GList *l = names; l; l = l->next) {
        if (g_str_equal(l->data, "entry_points"))
            continue;
        json_builder_set_member_name(b, l->data);
        json_builder_add_value(b, json_node_copy(json_object_get_member(vm0, l->data)));
    }
    json_builder_set_member_name(b, "entry_points");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, "mean over the aggregated runs");
    for (guint k = 0; k < G_N_ELEMENTS(entry_lists); k++) {
        g_autoptr(GPtrArray) lists = g_ptr_array_new();
        g_autofree char *tot = g_strdup_printf("%s_total", entry_lists[k].name);
        double total = 0;
        guint vms = 0;
        for (guint i = 0; i < inputs->len; i++) {
            JsonObject *ep = hapvm_json_object(hapvm_json_object(INPUT(inputs, i)->result, "vm"), "entry_points");
            if (!ep)
                continue;
            vms++;
            total += hapvm_json_double(ep, tot);
            if (hapvm_json_array(ep, entry_lists[k].name))
                g_ptr_array_add(lists, hapvm_json_array(ep, entry_lists[k].name));
        }
        set_number(b, tot, vms ? total / vms : 0);
        merge_counts(b, entry_lists[k].name, lists, MAX(vms, 1), entry_lists[k].keys);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
}

/* Tallies {name: {hap_f, hap_l}} of roles or subsystems: means. */
static void
aggregate_tallies(JsonBuilder *b, GPtrArray *inputs, const char *member, gboolean lines)
{
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < inputs->len; i++)
        add_members(names, hapvm_json_object(INPUT(inputs, i)->result, member));
    g_autoptr(GPtrArray) keys = sorted_keys(names);
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    for (guint k = 0; k < keys->len; k++) {
        Stats f = stats_member(inputs, member, keys->pdata[k], "hap_f", FALSE);
        Stats l = stats_member(inputs, member, keys->pdata[k], "hap_l", FALSE);
        json_builder_set_member_name(b, keys->pdata[k]);
        json_builder_begin_object(b);
        set_number(b, "hap_f", f.mean);
        set_number(b, "hap_l", lines ? l.mean : NAN);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

typedef struct {
    JsonObject *first;  /* the first run's record */
    guint runs, hap_f_runs;
    double count, first_seen;
    gboolean startup;
    guint roles, contexts;  /* bit masks over the name tables below */
} AggFunction;

static const char *const role_names[] = { "process", "vcpu", "emulator", "iothread", "vhost", "kthread", "shared",
                                            "backend" };
static const char *const ctx_names[] = { "task", "softirq", "hardirq", "nmi" };

static guint
mask_of(JsonArray *a, const char *const *names, guint n)
{
    guint m = 0;

    for (guint i = 0; a && i < json_array_get_length(a); i++)
        for (guint j = 0; j < n; j++)
            if (g_strcmp0(json_array_get_string_element(a, i), names[j]) == 0)
                m |= 1u << j;
    return m;
}

static void
add_mask(JsonBuilder *b, const char *name, guint m, const char *const *names, guint n)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (guint j = 0; j < n; j++)
        if (m & (1u << j))
            json_builder_add_string_value(b, names[j]);
    json_builder_end_array(b);
}

static void
aggregate_functions(JsonBuilder *b, GPtrArray *inputs)
{
    g_autoptr(GHashTable) by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GPtrArray) order = g_ptr_array_new();

    for (guint i = 0; i < inputs->len; i++) {
        JsonObject *r = INPUT(inputs, i)->result;
        JsonArray *fa = hapvm_json_array(r, "functions");
        /* An aggregate as input counts as its runs. */
        guint w = agg_runs(r) > 0 ? (guint)agg_runs(r) : 1;
        for (guint j = 0; fa && j < json_array_get_length(fa); j++) {
            JsonObject *f = json_array_get_object_element(fa, j);
            char *key = function_key(f);
            AggFunction *a = g_hash_table_lookup(by_key, key);
            if (!a) {
                a = g_new0(AggFunction, 1);
                a->first = f;
                a->first_seen = hapvm_json_double(f, "first_seen_s");
                g_hash_table_insert(by_key, key, a);
                g_ptr_array_add(order, a);
            } else {
                g_free(key);
                a->first_seen = MIN(a->first_seen, hapvm_json_double(f, "first_seen_s"));
            }
            a->runs += hapvm_json_is_number(f, "runs") ? (guint)hapvm_json_double(f, "runs") : w;
            a->hap_f_runs += hapvm_json_is_number(f, "hap_f_runs") ? (guint)hapvm_json_double(f, "hap_f_runs") : hapvm_json_boolean(f, "hap_f") ? w : 0;
            a->count += hapvm_json_double(f, "count");
            a->startup |= hapvm_json_boolean(f, "startup");
            a->roles |= mask_of(hapvm_json_array(f, "roles"), role_names, G_N_ELEMENTS(role_names));
            a->contexts |= mask_of(hapvm_json_array(f, "contexts"), ctx_names, G_N_ELEMENTS(ctx_names));
        }
    }
    json_builder_set_member_name(b, "functions");
    json_builder_begin_array(b);
    for (guint i = 0; i < order->len; i++) {
        AggFunction *a = order->pdata[i];
        static const char *const copied[] = { "name", "module", "address", "file", "lines", "subsystem" };
        json_builder_begin_object(b);
        for (guint k = 0; k < G_N_ELEMENTS(copied); k++) {
            JsonNode *n = mem(a->first, copied[k]);
            json_builder_set_member_name(b, copied[k]);
            if (n)
                json_builder_add_value(b, json_node_copy(n));
            else
                json_builder_add_null_value(b);
        }
        add_mask(b, "roles", a->roles, role_names, G_N_ELEMENTS(role_names));
        add_mask(b, "contexts", a->contexts, ctx_names, G_N_ELEMENTS(ctx_names));
        set_number(b, "first_seen_s", a->first_seen);
        set_number(b, "count", a->count);
        json_builder_set_member_name(b, "hap_f");
        json_builder_add_boolean_value(b, a->hap_f_runs > 0);
        json_builder_set_member_name(b, "startup");
        json_builder_add_boolean_value(b, a->startup);
        json_builder_set_member_name(b, "runs");
        json_builder_add_int_value(b, a->runs);
        json_builder_set_member_name(b, "hap_f_runs");
        json_builder_add_int_value(b, a->hap_f_runs);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void
copy_member(JsonBuilder *b, JsonObject *o, const char *name)
{
    JsonNode *n = mem(o, name);

    json_builder_set_member_name(b, name);
    if (n)
        json_builder_add_value(b, json_node_copy(n));
    else
        json_builder_add_null_value(b);
}

JsonNode *
hapvm_aggregate_build(GPtrArray *inputs, gboolean force, GError **error)
{
    g_autoptr(GPtrArray) forced = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    JsonObject *r0 = INPUT(inputs, 0)->result;
    gboolean lines = TRUE;
    const char *no_lines_reason = NULL;
    guint n = inputs->len;

    if (!hapvm_report_check_comparable(inputs, force, &forced, error))
        return NULL;
    for (guint i = 0; i < n; i++) {
        if (hapvm_json_object(INPUT(inputs, i)->result, "aggregate")) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                        "%s is already an aggregate: aggregate the runs themselves (mean and sd of means of "
                        "unequal groups would be wrong)", INPUT(inputs, i)->file);
            return NULL;
        }
        JsonObject *s = hapvm_json_object(INPUT(inputs, i)->result, "scores");
        if (!hapvm_json_boolean(s, "lines_available") && lines) {
            lines = FALSE;
            no_lines_reason = hapvm_json_string(s, "lines_unavailable_reason");
        }
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, HAPVM_RESULT_SCHEMA);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, HAPVM_RESULT_VERSION);
    json_builder_set_member_name(b, "hapvm_version");
    json_builder_add_string_value(b, HAPVM_VERSION);

    /* target: the first run's kind and name; tasks differ per run. */
    json_builder_set_member_name(b, "target");
    json_builder_begin_object(b);
    copy_member(b, hapvm_json_object(r0, "target"), "kind");
    copy_member(b, hapvm_json_object(r0, "target"), "name");
    json_builder_set_member_name(b, "tasks");
    json_builder_begin_array(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    copy_member(b, r0, "kernel");
    copy_member(b, r0, "method");

    json_builder_set_member_name(b, "timing");
    json_builder_begin_object(b);
    copy_member(b, hapvm_json_object(r0, "timing"), "started");
    set_number(b, "elapsed_s", stats_member(inputs, "timing", NULL, "elapsed_s", FALSE).mean);
    set_number(b, "steady_start_s", stats_member(inputs, "timing", NULL, "steady_start_s", FALSE).mean);
    json_builder_set_member_name(b, "end_reason");
    json_builder_add_string_value(b, "aggregate");
    json_builder_end_object(b);

    /* loss and events: summed over the runs (any loss in any run shows). */
    static const char *const loss_counters[] = { "overrun", "dropped", "commit_overrun", "missed_in_pages",
                                                 "pages_with_unknown_loss", "bad_pages", "unread_entries" };
    gboolean complete = TRUE, accepted = FALSE;
    for (guint i = 0; i < n; i++) {
        JsonObject *l = hapvm_json_object(INPUT(inputs, i)->result, "loss");
        complete &= hapvm_json_boolean(l, "complete");
        accepted |= hapvm_json_boolean(l, "accepted");
    }
    json_builder_set_member_name(b, "loss");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "complete");
    json_builder_add_boolean_value(b, complete);
    json_builder_set_member_name(b, "accepted");
    json_builder_add_boolean_value(b, accepted);
    for (guint k = 0; k < G_N_ELEMENTS(loss_counters); k++)
        set_number(b, loss_counters[k], stats_member(inputs, "loss", NULL, loss_counters[k], FALSE).mean * n);
    json_builder_end_object(b);
    static const char *const event_counters[] = { "function", "sys_enter", "fork", "unknown_task", "pages" };
    json_builder_set_member_name(b, "events");
    json_builder_begin_object(b);
    for (guint k = 0; k < G_N_ELEMENTS(event_counters); k++)
        set_number(b, event_counters[k], stats_member(inputs, "events", NULL, event_counters[k], FALSE).mean * n);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    for (guint k = 0; k < G_N_ELEMENTS(score_members); k++)
        set_number(b, score_members[k], stats_member(inputs, "scores", NULL, score_members[k], TRUE).mean);
    json_builder_set_member_name(b, "lines_available");
    json_builder_add_boolean_value(b, lines);
    json_builder_set_member_name(b, "lines_unavailable_reason");
    if (lines)
        json_builder_add_null_value(b);
    else {
        g_autofree char *why = g_strdup_printf("not every run has lines (%s)", no_lines_reason ?: "no reason given");
        json_builder_add_string_value(b, why);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "contexts");
    json_builder_begin_object(b);
    static const char *const contexts[] = { "task", "softirq", "hardirq", "nmi", "interrupt_only", "any" };
    for (guint k = 0; k < G_N_ELEMENTS(contexts); k++)
        set_number(b, contexts[k], stats_member(inputs, "contexts", NULL, contexts[k], FALSE).mean);
    json_builder_end_object(b);
    aggregate_tallies(b, inputs, "roles", lines);
    aggregate_tallies(b, inputs, "subsystems", lines);

    g_autoptr(GPtrArray) sys = g_ptr_array_new();
    for (guint i = 0; i < n; i++)
        if (hapvm_json_array(INPUT(inputs, i)->result, "syscalls"))
            g_ptr_array_add(sys, hapvm_json_array(INPUT(inputs, i)->result, "syscalls"));
    static const char *const nr_key[] = { "nr", NULL };
    merge_counts(b, "syscalls", sys, n, nr_key);
    json_builder_set_member_name(b, "curve");
    json_builder_begin_array(b);
    json_builder_end_array(b);
    aggregate_functions(b, inputs);
    aggregate_vm(b, inputs);

    json_builder_set_member_name(b, "aggregate");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "n");
    json_builder_add_int_value(b, n);
    json_builder_set_member_name(b, "sd");
    json_builder_add_string_value(b, "sample standard deviation (n - 1); null for one run");
    json_builder_set_member_name(b, "forced");
    json_builder_begin_array(b);
    for (guint i = 0; i < forced->len; i++)
        json_builder_add_string_value(b, forced->pdata[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "runs");
    json_builder_begin_array(b);
    for (guint i = 0; i < n; i++) {
        JsonObject *r = INPUT(inputs, i)->result;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "file");
        json_builder_add_string_value(b, INPUT(inputs, i)->file);
        copy_member(b, hapvm_json_object(r, "target"), "name");
        copy_member(b, hapvm_json_object(r, "timing"), "started");
        for (guint k = 0; k < 3; k++)
            copy_member(b, hapvm_json_object(r, "scores"), score_members[k]);
        json_builder_set_member_name(b, "complete");
        json_builder_add_boolean_value(b, hapvm_json_boolean(hapvm_json_object(r, "loss"), "complete"));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    for (guint k = 0; k < G_N_ELEMENTS(score_members); k++) {
        Stats s = stats_member(inputs, "scores", NULL, score_members[k], TRUE);
        if (s.n)
            set_stats(b, score_members[k], &s);
        else {
            json_builder_set_member_name(b, score_members[k]);
            json_builder_add_null_value(b);
        }
    }
    json_builder_end_object(b);
    json_builder_set_member_name(b, "roles");
    json_builder_begin_object(b);
    g_autoptr(GHashTable) roles = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < n; i++)
        add_members(roles, hapvm_json_object(INPUT(inputs, i)->result, "roles"));
    g_autoptr(GPtrArray) rk = sorted_keys(roles);
    for (guint k = 0; k < rk->len; k++) {
        Stats f = stats_member(inputs, "roles", rk->pdata[k], "hap_f", FALSE);
        Stats l = stats_member(inputs, "roles", rk->pdata[k], "hap_l", FALSE);
        json_builder_set_member_name(b, rk->pdata[k]);
        json_builder_begin_object(b);
        set_stats(b, "hap_f", &f);
        if (lines)
            set_stats(b, "hap_l", &l);
        else {
            json_builder_set_member_name(b, "hap_l");
            json_builder_add_null_value(b);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);

    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void
stats_line(FILE *out, const char *label, JsonObject *s, const char *fmt)
{
    if (!s) {
        fprintf(out, "%-24s n/a\n", label);
        return;
    }
    g_autofree char *f = g_strdup_printf("%%-24s %s ± %s (n %%u, min %s, max %s)\n", fmt, fmt, fmt, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (!hapvm_json_is_number(s, "sd")) {
        g_autofree char *f1 = g_strdup_printf("%%-24s %s (n %%u; sd needs two runs)\n", fmt);
        fprintf(out, f1, label, hapvm_json_double(s, "mean"), (guint)hapvm_json_double(s, "n"));
        return;
    }
    fprintf(out, f, label, hapvm_json_double(s, "mean"), hapvm_json_double(s, "sd"), (guint)hapvm_json_double(s, "n"), hapvm_json_double(s, "min"), hapvm_json_double(s, "max"));
#pragma GCC diagnostic pop
}

void
hapvm_aggregate_print_text(JsonObject *r, FILE *out)
{
    JsonObject *a = hapvm_json_object(r, "aggregate");
    JsonObject *s = hapvm_json_object(a, "scores");
    JsonObject *roles = hapvm_json_object(a, "roles");
    g_autoptr(GList) names = roles ? json_object_get_members(roles) : NULL;
    JsonArray *fa = hapvm_json_array(r, "functions");
    guint uni = 0, all_runs = 0, n = (guint)hapvm_json_double(a, "n");

    if (!a)
        return;
    fprintf(out, "aggregate of %u runs of %s %s (mean ± sample sd)\n", n, hapvm_json_string(hapvm_json_object(r, "target"), "kind") ?: "?",
            hapvm_json_string(hapvm_json_object(r, "target"), "name") ?: "?");
    for (guint i = 0; i < json_array_get_length(hapvm_json_array(a, "forced")); i++)
        fprintf(out, "*** FORCED: %s ***\n", json_array_get_string_element(hapvm_json_array(a, "forced"), i));
    stats_line(out, "HAP-F", hapvm_json_object(s, "hap_f"), "%.1f");
    if (!hapvm_json_object(s, "hap_l"))
        fprintf(out, "%-24s n/a (%s)\n%-24s n/a (needs HAP-L)\n", "HAP-L",
                hapvm_json_string(hapvm_json_object(r, "scores"), "lines_unavailable_reason") ?: "no lines", "HAP");
    else {
        stats_line(out, "HAP-L", hapvm_json_object(s, "hap_l"), "%.1f");
        stats_line(out, "HAP", hapvm_json_object(s, "hap"), "%.3f");
    }
    stats_line(out, "nabla_f", hapvm_json_object(s, "nabla_f"), "%.1f");
    for (GList *l = names; l; l = l->next) {
        g_autofree char *label = g_strdup_printf("%s HAP-F", (char *)l->data);
        JsonObject *t = hapvm_json_object(roles, l->data);
        stats_line(out, label, hapvm_json_object(t, "hap_f"), "%.1f");
        if (hapvm_json_object(t, "hap_l")) {
            g_autofree char *ll = g_strdup_printf("%s HAP-L", (char *)l->data);
            stats_line(out, ll, hapvm_json_object(t, "hap_l"), "%.1f");
        }
    }
    for (guint i = 0; fa && i < json_array_get_length(fa); i++) {
        JsonObject *f = json_array_get_object_element(fa, i);
        if (hapvm_json_double(f, "hap_f_runs") > 0)
            uni++;
        if (hapvm_json_double(f, "hap_f_runs") >= n)
            all_runs++;
    }
    fprintf(out, "union HAP-F set %u functions, %u in every run's HAP-F\n", uni, all_runs);
}

/* ------------------------------------------------------------------------ */
/* Comparison */

/* A cell of an input: its value at scores.<m> etc; for an aggregate with
 * stats for that metric, {mean, sd, n}. */
static void
add_cell(JsonBuilder *b, JsonObject *holder, const char *member, JsonObject *stats)
{
    JsonObject *st = hapvm_json_object(stats, member);

    if (st) {
        json_builder_begin_object(b);
        set_number(b, "mean", hapvm_json_double(st, "mean"));
        set_number(b, "sd", hapvm_json_is_number(st, "sd") ? hapvm_json_double(st, "sd") : NAN);
        json_builder_set_member_name(b, "n");
        json_builder_add_int_value(b, (gint64)hapvm_json_double(st, "n"));
        json_builder_end_object(b);
    } else if (hapvm_json_is_number(holder, member)) {
        add_number(b, hapvm_json_double(holder, member));
    } else {
        json_builder_add_null_value(b);
    }
}

static void
metric_row(JsonBuilder *b, GPtrArray *inputs, const char *name, const char *object, const char *sub,
           const char *member, const char *stats_object)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (guint i = 0; i < inputs->len; i++) {
        JsonObject *r = INPUT(inputs, i)->result;
        JsonObject *o = hapvm_json_object(r, object);
        JsonObject *st = stats_object ? hapvm_json_object(hapvm_json_object(r, "aggregate"), stats_object) : NULL;
        if (sub) {
            o = hapvm_json_object(o, sub);
            st = hapvm_json_object(st, sub);
        }
        add_cell(b, o, member, st);
    }
    json_builder_end_array(b);
}

static gboolean
lines_available(JsonObject *r)
{
    return hapvm_json_boolean(hapvm_json_object(r, "scores"), "lines_available");
}

/* The subsystems of results with and without lines are different buckets
 * (source directories vs. objects); when any input lacks lines, every input
 * is counted by object (vmlinux, module:<name>) from its functions[]. */
static void
subsystems_by_object(JsonBuilder *b, GPtrArray *inputs)
{
    g_autoptr(GPtrArray) per = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < inputs->len; i++) {
        JsonObject *r = INPUT(inputs, i)->result;
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        JsonArray *fa = hapvm_json_array(r, "functions");
        double runs = agg_runs(r);
        for (guint j = 0; fa && j < json_array_get_length(fa); j++) {
            JsonObject *f = json_array_get_object_element(fa, j);
            /* In an aggregate a function weighs the share of runs that had
             * it in HAP-F, which makes the sums the means of the runs' own. */
            double w = runs > 0 ? hapvm_json_double(f, "hap_f_runs") / runs : hapvm_json_boolean(f, "hap_f");
            if (w == 0)
                continue;
            char *key = hapvm_json_string(f, "module") ? g_strdup_printf("module:%s", hapvm_json_string(f, "module")) : g_strdup("vmlinux");
            double *v = g_hash_table_lookup(t, key);
            if (!v) {
                v = g_new0(double, 2);
                g_hash_table_insert(t, key, v);
                g_hash_table_add(names, key);
            } else {
                g_free(key);
            }
            v[0] += w;
            v[1] += w * hapvm_json_double(f, "lines");
        }
        g_ptr_array_add(per, t);
    }
    g_autoptr(GPtrArray) keys = sorted_keys(names);
    json_builder_set_member_name(b, "buckets");
    json_builder_begin_object(b);
    for (guint k = 0; k < keys->len; k++) {
        json_builder_set_member_name(b, keys->pdata[k]);
        json_builder_begin_object(b);
        for (guint m = 0; m < 2; m++) {
            json_builder_set_member_name(b, m ? "hap_l" : "hap_f");
            json_builder_begin_array(b);
            for (guint i = 0; i < inputs->len; i++) {
                double *v = g_hash_table_lookup(per->pdata[i], keys->pdata[k]);
                if (!v)
                    json_builder_add_null_value(b);
                else if (m && !lines_available(INPUT(inputs, i)->result))
                    json_builder_add_null_value(b);
                else
                    add_number(b, round(v[m] * 1000) / 1000);
            }
            json_builder_end_array(b);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

static void
tallies_rows(JsonBuilder *b, GPtrArray *inputs, const char *member, gboolean with_stats)
{
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < inputs->len; i++)
        add_members(names, hapvm_json_object(INPUT(inputs, i)->result, member));
    g_autoptr(GPtrArray) keys = sorted_keys(names);
    for (guint k = 0; k < keys->len; k++) {
        json_builder_set_member_name(b, keys->pdata[k]);
        json_builder_begin_object(b);
        metric_row(b, inputs, "hap_f", member, keys->pdata[k], "hap_f", with_stats ? member : NULL);
        metric_row(b, inputs, "hap_l", member, keys->pdata[k], "hap_l", with_stats ? member : NULL);
        json_builder_end_object(b);
    }
}

/* Entry points: a list per input, keyed by key_member (a string or a number). */
static char *
entry_key(JsonObject *e, const char *key_member)
{
    JsonNode *n = mem(e, key_member);

    if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
        return g_strdup(json_node_get_string(n));
    return g_strdup_printf("%" G_GINT64_FORMAT, n && is_num(n) ? (gint64)json_node_get_double(n) : -1);
}

static JsonArray *
entry_list(JsonObject *r, const char *list)
{
    return g_str_equal(list, "syscalls") ? hapvm_json_array(r, "syscalls") : hapvm_json_array(hapvm_json_object(hapvm_json_object(r, "vm"), "entry_points"), list);
}

static int
cmp_numeric_keys(gconstpointer a, gconstpointer b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    char *ex, *ey;
    gint64 nx = g_ascii_strtoll(x, &ex, 10), ny = g_ascii_strtoll(y, &ey, 10);

    if (!*ex && !*ey && ex != x && ey != y)
        return nx < ny ? -1 : nx > ny;
    return g_strcmp0(x, y);
}

static void
entry_section(JsonBuilder *b, GPtrArray *inputs, const char *list, const char *key_member)
{
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gboolean any = FALSE;

    for (guint i = 0; i < inputs->len; i++) {
        JsonArray *a = entry_list(INPUT(inputs, i)->result, list);
        any |= a != NULL;
        for (guint j = 0; a && j < json_array_get_length(a); j++)
            g_hash_table_add(names, entry_key(json_array_get_object_element(a, j), key_member));
    }
    if (!any)
        return;
    json_builder_set_member_name(b, list);
    json_builder_begin_object(b);
    for (guint m = 0; m < 2; m++) {
        json_builder_set_member_name(b, m ? "total" : "distinct");
        json_builder_begin_array(b);
        for (guint i = 0; i < inputs->len; i++) {
            JsonArray *a = entry_list(INPUT(inputs, i)->result, list);
            double t = 0;
            for (guint j = 0; a && j < json_array_get_length(a); j++)
                t += hapvm_json_double(json_array_get_object_element(a, j), "count");
            if (!a)
                json_builder_add_null_value(b);
            else
                add_number(b, m ? t : json_array_get_length(a));
        }
        json_builder_end_array(b);
    }
    g_autoptr(GPtrArray) keys = sorted_keys(names);
    g_ptr_array_sort(keys, cmp_numeric_keys);
    json_builder_set_member_name(b, "by_key");
    json_builder_begin_object(b);
    for (guint k = 0; k < keys->len; k++) {
        json_builder_set_member_name(b, keys->pdata[k]);
        json_builder_begin_array(b);
        for (guint i = 0; i < inputs->len; i++) {
            JsonArray *a = entry_list(INPUT(inputs, i)->result, list);
            double c = 0;
            gboolean found = FALSE;
            for (guint j = 0; a && j < json_array_get_length(a); j++) {
                JsonObject *e = json_array_get_object_element(a, j);
                g_autofree char *key = entry_key(e, key_member);
                if (g_str_equal(key, keys->pdata[k])) {
                    c += hapvm_json_double(e, "count");
                    found = TRUE;
                }
            }
            if (found)
                add_number(b, c);
            else
                json_builder_add_null_value(b);
        }
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
}

static void
functions_section(JsonBuilder *b, GPtrArray *inputs, const HapvmCompareOptions *opt)
{
    guint n = inputs->len;
    g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
    g_autoptr(GHashTable) uni = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < n; i++) {
        GHashTable *s = hapvm_report_function_set(INPUT(inputs, i)->result, opt->set);
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, s);
        while (g_hash_table_iter_next(&it, &k, NULL))
            g_hash_table_add(uni, k);
        g_ptr_array_add(sets, s);
    }
    /* For each function of the union: in which inputs (bit i). */
    g_autoptr(GPtrArray) keys = sorted_keys(uni);
    g_autofree guint *unique = g_new0(guint, n);
    guint shared = 0;
    g_autoptr(GPtrArray) only = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    for (guint i = 0; i < n; i++)
        g_ptr_array_add(only, g_ptr_array_new());
    for (guint k = 0; k < keys->len; k++) {
        guint in = 0, last = 0;
        for (guint i = 0; i < n; i++)
            if (g_hash_table_contains(sets->pdata[i], keys->pdata[k])) {
                in++;
                last = i;
            }
        if (in == n)
            shared++;
        if (in == 1) {
            unique[last]++;
            g_ptr_array_add(only->pdata[last], keys->pdata[k]);
        }
    }
    json_builder_set_member_name(b, "functions");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "set");
    json_builder_add_string_value(b, hapvm_function_set_name(opt->set));
    json_builder_set_member_name(b, "size");
    json_builder_begin_array(b);
    for (guint i = 0; i < n; i++)
        json_builder_add_int_value(b, g_hash_table_size(sets->pdata[i]));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "unique");
    json_builder_begin_array(b);
    for (guint i = 0; i < n; i++)
        json_builder_add_int_value(b, unique[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "shared");
    json_builder_add_int_value(b, shared);
    json_builder_set_member_name(b, "union");
    json_builder_add_int_value(b, keys->len);
    json_builder_set_member_name(b, "jaccard");
    json_builder_begin_array(b);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_array(b);
        for (guint j = 0; j < n; j++)
            add_number(b, round(hapvm_report_jaccard(sets->pdata[i], sets->pdata[j]) * 1e6) / 1e6);
        json_builder_end_array(b);
    }
    json_builder_end_array(b);
    if (opt->list) {
        json_builder_set_member_name(b, "only");
        json_builder_begin_array(b);
        for (guint i = 0; i < n; i++) {
            GPtrArray *o = only->pdata[i];
            json_builder_begin_array(b);
            for (guint k = 0; k < o->len; k++)
                json_builder_add_string_value(b, o->pdata[k]);
            json_builder_end_array(b);
        }
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
}

static void
add_note(GPtrArray *notes, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
add_note(GPtrArray *notes, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* Differences that do not change what HAP-F means but are worth a line. */
static GPtrArray *
compare_notes(GPtrArray *inputs)
{
    GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
    JsonObject *m0 = hapvm_json_object(INPUT(inputs, 0)->result, "method");
    gboolean density = FALSE, low = FALSE, window = FALSE;

    for (guint i = 0; i < inputs->len; i++) {
        HapvmReportInput *in = INPUT(inputs, i);
        JsonObject *m = hapvm_json_object(in->result, "method");
        JsonObject *s = hapvm_json_object(in->result, "scores");
        if (!lines_available(in->result))
            add_note(notes, "%s: HAP-L and HAP are n/a: %s", in->label,
                     hapvm_json_string(s, "lines_unavailable_reason") ?: "no line information");
        if (!hapvm_json_boolean(hapvm_json_object(in->result, "loss"), "complete"))
            add_note(notes, "%s: incomplete: events were lost during the measurement (%" G_GUINT64_FORMAT
                     " lost), its sets may lack functions", in->label, hapvm_result_get_lost(in->result));
        if (hapvm_json_object(in->result, "aggregate"))
            add_note(notes, "%s: an aggregate of %u runs: scores are means (± sample sd), its function set is "
                     "the union of the runs'", in->label, (guint)agg_runs(in->result));
        density |= hapvm_json_double(m, "density_per_line") != hapvm_json_double(m0, "density_per_line");
        low |= hapvm_json_boolean(m, "low_overhead") != hapvm_json_boolean(m0, "low_overhead");
        window |= hapvm_json_double(m, "warmup_s") != hapvm_json_double(m0, "warmup_s");
    }
    if (density)
        add_note(notes, "densities differ (method.density_per_line): HAP differs by that factor; compare HAP-L");
    if (low)
        add_note(notes, "low-overhead mode differs: HAP-F is the same by design, but per-function counts, "
                        "contexts and system-call counts are not comparable");
    if (window)
        add_note(notes, "warm-up windows differ (method.warmup_s): startup/steady splits differ");
    return notes;
}

JsonNode *
hapvm_compare_build(GPtrArray *inputs, const HapvmCompareOptions *opt, GError **error)
{
    g_autoptr(GPtrArray) forced = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    gboolean all_lines = TRUE;

    if (inputs->len < 2) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "compare needs at least two results");
        return NULL;
    }
    if (!hapvm_report_check_comparable(inputs, opt->force, &forced, error))
        return NULL;
    g_autoptr(GPtrArray) notes = compare_notes(inputs);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, HAPVM_COMPARE_SCHEMA);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, HAPVM_COMPARE_VERSION);
    json_builder_set_member_name(b, "forced");
    json_builder_begin_array(b);
    for (guint i = 0; i < forced->len; i++)
        json_builder_add_string_value(b, forced->pdata[i]);
    json_builder_end_array(b);

    json_builder_set_member_name(b, "inputs");
    json_builder_begin_array(b);
    for (guint i = 0; i < inputs->len; i++) {
        HapvmReportInput *in = INPUT(inputs, i);
        JsonObject *r = in->result;
        all_lines &= lines_available(r);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "label");
        json_builder_add_string_value(b, in->label);
        json_builder_set_member_name(b, "file");
        json_builder_add_string_value(b, in->file);
        copy_member(b, hapvm_json_object(r, "target"), "kind");
        copy_member(b, hapvm_json_object(r, "target"), "name");
        json_builder_set_member_name(b, "vm_accel");
        if (hapvm_json_object(r, "vm"))
            json_builder_add_string_value(b, hapvm_json_string(hapvm_json_object(r, "vm"), "accel") ?: "unknown");
        else
            json_builder_add_null_value(b);
        copy_member(b, hapvm_json_object(r, "kernel"), "release");
        copy_member(b, hapvm_json_object(r, "kernel"), "build_id");
        json_builder_set_member_name(b, "lines_available");
        json_builder_add_boolean_value(b, lines_available(r));
        json_builder_set_member_name(b, "complete");
        json_builder_add_boolean_value(b, hapvm_json_boolean(hapvm_json_object(r, "loss"), "complete"));
        json_builder_set_member_name(b, "runs");
        json_builder_add_int_value(b, agg_runs(r) > 0 ? (gint64)agg_runs(r) : 1);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "notes");
    json_builder_begin_array(b);
    for (guint i = 0; i < notes->len; i++)
        json_builder_add_string_value(b, notes->pdata[i]);
    json_builder_end_array(b);

    json_builder_set_member_name(b, "scores");
    json_builder_begin_object(b);
    metric_row(b, inputs, "hap_f", "scores", NULL, "hap_f", "scores");
    metric_row(b, inputs, "hap_l", "scores", NULL, "hap_l", "scores");
    metric_row(b, inputs, "hap", "scores", NULL, "hap", "scores");
    metric_row(b, inputs, "nabla_f", "scores", NULL, "nabla_f", "scores");
    metric_row(b, inputs, "startup_functions", "scores", NULL, "startup_functions", NULL);
    metric_row(b, inputs, "steady_new_functions", "scores", NULL, "steady_new_functions", NULL);
    json_builder_set_member_name(b, "events_lost");
    json_builder_begin_array(b);
    for (guint i = 0; i < inputs->len; i++)
        json_builder_add_int_value(b, (gint64)hapvm_result_get_lost(INPUT(inputs, i)->result));
    json_builder_end_array(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "roles");
    json_builder_begin_object(b);
    tallies_rows(b, inputs, "roles", TRUE);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "contexts");
    json_builder_begin_object(b);
    static const char *const contexts[] = { "task", "softirq", "hardirq", "nmi", "interrupt_only", "any" };
    for (guint k = 0; k < G_N_ELEMENTS(contexts); k++)
        metric_row(b, inputs, contexts[k], "contexts", NULL, contexts[k], NULL);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "subsystems");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "granularity");
    json_builder_add_string_value(b, all_lines ? "source" : "object");
    if (all_lines) {
        json_builder_set_member_name(b, "buckets");
        json_builder_begin_object(b);
        tallies_rows(b, inputs, "subsystems", FALSE);
        json_builder_end_object(b);
    } else {
        subsystems_by_object(b, inputs);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "entry_points");
    json_builder_begin_object(b);
    entry_section(b, inputs, "syscalls", "nr");
    entry_section(b, inputs, "exits", "name");
    entry_section(b, inputs, "hypercalls", "nr");
    json_builder_end_object(b);

    functions_section(b, inputs, opt);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ------------------------------------------------------------------------ */
/* Rendering the comparison */

#define LABEL_W 30
#define CELL_W 16

/* A cell as text: "-" for absent, "n/a" for a null that has a reason. */
static char *
cell_text(JsonNode *c, gboolean na, const char *fmt)
{
    if (!c || JSON_NODE_HOLDS_NULL(c))
        return g_strdup(na ? "n/a" : "-");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (JSON_NODE_HOLDS_OBJECT(c)) {
        JsonObject *o = json_node_get_object(c);
        g_autofree char *m = g_strdup_printf(fmt, hapvm_json_double(o, "mean"));
        if (!hapvm_json_is_number(o, "sd"))
            return g_strdup_printf("%s (n 1)", m);
        g_autofree char *s = g_strdup_printf(fmt, hapvm_json_double(o, "sd"));
        return g_strdup_printf("%s ± %s", m, s);
    }
    double v = json_node_get_double(c);
    if (v == floor(v) && !strstr(fmt, ".2") && !strstr(fmt, ".3"))
        return g_strdup_printf("%.0f", v);
    return g_strdup_printf(fmt, v);
#pragma GCC diagnostic pop
}

static void
print_row(FILE *out, const char *label, JsonArray *cells, JsonObject *cmp, const char *fmt, gboolean lines_metric)
{
    JsonArray *inputs = hapvm_json_array(cmp, "inputs");

    fprintf(out, "%-*s", LABEL_W, label);
    for (guint i = 0; cells && i < json_array_get_length(cells); i++) {
        JsonObject *in = json_array_get_object_element(inputs, i);
        gboolean na = lines_metric && !hapvm_json_boolean(in, "lines_available");
        g_autofree char *t = cell_text(json_array_get_element(cells, i), na, fmt);
        fprintf(out, " %*s", CELL_W, t);
    }
    fprintf(out, "\n");
}

static void
print_tally_section(FILE *out, JsonObject *cmp, JsonObject *section, const char *title)
{
    g_autoptr(GList) names = section ? json_object_get_members(section) : NULL;

    if (!names)
        return;
    fprintf(out, "%s\n", title);
    for (GList *l = names; l; l = l->next) {
        JsonObject *t = hapvm_json_object(section, l->data);
        g_autofree char *lf = g_strdup_printf("  %s HAP-F", (char *)l->data);
        g_autofree char *ll = g_strdup_printf("  %s HAP-L", (char *)l->data);
        print_row(out, lf, hapvm_json_array(t, "hap_f"), cmp, "%.1f", FALSE);
        /* A HAP-L row only when some input has lines for it. */
        JsonArray *hl = hapvm_json_array(t, "hap_l");
        gboolean any = FALSE;
        for (guint i = 0; hl && i < json_array_get_length(hl); i++)
            any |= !JSON_NODE_HOLDS_NULL(json_array_get_element(hl, i));
        if (any)
            print_row(out, ll, hl, cmp, "%.1f", TRUE);
    }
}

static void
print_entry_section(FILE *out, JsonObject *cmp, JsonObject *ep, const char *list, const char *title,
                    const char *key_prefix)
{
    JsonObject *s = hapvm_json_object(ep, list);
    JsonObject *by = hapvm_json_object(s, "by_key");
    g_autoptr(GList) keys = by ? json_object_get_members(by) : NULL;

    if (!s)
        return;
    g_autofree char *d = g_strdup_printf("  %s distinct", title);
    g_autofree char *t = g_strdup_printf("  %s entered", title);
    print_row(out, d, hapvm_json_array(s, "distinct"), cmp, "%.1f", FALSE);
    print_row(out, t, hapvm_json_array(s, "total"), cmp, "%.1f", FALSE);
    for (GList *l = keys; l; l = l->next) {
        g_autofree char *label = g_strdup_printf("    %s%s", key_prefix, (char *)l->data);
        print_row(out, label, hapvm_json_array(by, l->data), cmp, "%.1f", FALSE);
    }
}

void
hapvm_compare_print_text(JsonObject *cmp, FILE *out)
{
    JsonArray *inputs = hapvm_json_array(cmp, "inputs");
    JsonArray *forced = hapvm_json_array(cmp, "forced");
    JsonArray *notes = hapvm_json_array(cmp, "notes");
    JsonObject *fn = hapvm_json_object(cmp, "functions");
    guint n = inputs ? json_array_get_length(inputs) : 0;
    guint nf = forced ? json_array_get_length(forced) : 0;

    for (guint i = 0; i < nf; i++)
        fprintf(out, "*** WARNING: FORCED COMPARISON: %s ***\n", json_array_get_string_element(forced, i));
    if (nf)
        fprintf(out, "*** These results are not comparable: read every figure below with that in mind. ***\n\n");
    fprintf(out, "hapvm compare: %u results\n", n);
    for (guint i = 0; i < n; i++) {
        JsonObject *in = json_array_get_object_element(inputs, i);
        g_autofree char *runs = hapvm_json_double(in, "runs") > 1 ? g_strdup_printf(", aggregate of %u runs", (guint)hapvm_json_double(in, "runs"))
                                                    : g_strdup("");
        fprintf(out, "  %s = %s: %s %s%s%s, kernel %s (build-id %.12s)%s\n", hapvm_json_string(in, "label"), hapvm_json_string(in, "file"),
                hapvm_json_string(in, "kind") ?: "?", hapvm_json_string(in, "name") ?: "?",
                hapvm_json_string(in, "vm_accel") && !g_str_equal(hapvm_json_string(in, "vm_accel"), "kvm") ? " (not KVM-accelerated)" : "",
                runs, hapvm_json_string(in, "release") ?: "?", hapvm_json_string(in, "build_id") ?: "?",
                hapvm_json_boolean(in, "complete") ? "" : ", INCOMPLETE");
    }
    fprintf(out, "\n%-*s", LABEL_W, "");
    for (guint i = 0; i < n; i++)
        fprintf(out, " %*s", CELL_W, hapvm_json_string(json_array_get_object_element(inputs, i), "label"));
    fprintf(out, "\n");

    JsonObject *s = hapvm_json_object(cmp, "scores");
    fprintf(out, "scores\n");
    print_row(out, "  HAP-F", hapvm_json_array(s, "hap_f"), cmp, "%.1f", FALSE);
    print_row(out, "  HAP-L", hapvm_json_array(s, "hap_l"), cmp, "%.1f", TRUE);
    print_row(out, "  HAP", hapvm_json_array(s, "hap"), cmp, "%.2f", TRUE);
    print_row(out, "  nabla-compatible count", hapvm_json_array(s, "nabla_f"), cmp, "%.1f", FALSE);
    print_row(out, "  startup functions", hapvm_json_array(s, "startup_functions"), cmp, "%.1f", FALSE);
    print_row(out, "  new in steady state", hapvm_json_array(s, "steady_new_functions"), cmp, "%.1f", FALSE);
    print_row(out, "  events lost", hapvm_json_array(s, "events_lost"), cmp, "%.1f", FALSE);
    print_tally_section(out, cmp, hapvm_json_object(cmp, "roles"), "per role (interrupt-context: not in HAP-F)");

    JsonObject *c = hapvm_json_object(cmp, "contexts");
    fprintf(out, "per context class (functions, steady window)\n");
    static const char *const ctx[][2] = { { "task", "  task" }, { "softirq", "  softirq" },
                                          { "hardirq", "  hardirq" }, { "nmi", "  nmi" },
                                          { "interrupt_only", "  interrupt only (not HAP-F)" },
                                          { "any", "  any" } };
    for (guint k = 0; k < G_N_ELEMENTS(ctx); k++)
        print_row(out, ctx[k][1], hapvm_json_array(c, ctx[k][0]), cmp, "%.1f", FALSE);

    JsonObject *sub = hapvm_json_object(cmp, "subsystems");
    gboolean by_object = g_strcmp0(hapvm_json_string(sub, "granularity"), "object") == 0;
    print_tally_section(out, cmp, hapvm_json_object(sub, "buckets"),
                        by_object ? "per subsystem, by object (an input has no lines, so no source directories)"
                                  : "per subsystem");

    JsonObject *ep = hapvm_json_object(cmp, "entry_points");
    fprintf(out, "entry points (\"-\": the input has none of this kind)\n");
    print_entry_section(out, cmp, ep, "syscalls", "system calls", "nr ");
    print_entry_section(out, cmp, ep, "exits", "VM exits", "");
    print_entry_section(out, cmp, ep, "hypercalls", "hypercalls", "nr ");

    fprintf(out, "function set (%s)\n", hapvm_json_string(fn, "set"));
    print_row(out, "  functions", hapvm_json_array(fn, "size"), cmp, "%.1f", FALSE);
    print_row(out, "  only in this input", hapvm_json_array(fn, "unique"), cmp, "%.1f", FALSE);
    fprintf(out, "%-*s %*" G_GINT64_FORMAT "\n", LABEL_W, "  in every input", CELL_W, (gint64)hapvm_json_double(fn, "shared"));
    fprintf(out, "%-*s %*" G_GINT64_FORMAT "\n", LABEL_W, "  in any input (union)", CELL_W, (gint64)hapvm_json_double(fn, "union"));
    JsonArray *jm = hapvm_json_array(fn, "jaccard");
    if (n == 2) {
        fprintf(out, "%-*s %*.3f\n", LABEL_W, "  Jaccard (shared / union)", CELL_W,
                json_array_get_double_element(json_array_get_array_element(jm, 0), 1));
    } else {
        fprintf(out, "  Jaccard matrix (shared / union, pairwise)\n");
        for (guint i = 0; i < n; i++) {
            JsonArray *row = json_array_get_array_element(jm, i);
            fprintf(out, "%-*s", LABEL_W, "");
            fprintf(out, "    %s", hapvm_json_string(json_array_get_object_element(inputs, i), "label"));
            for (guint j = 0; j < n; j++)
                fprintf(out, " %6.3f", json_array_get_double_element(row, j));
            fprintf(out, "\n");
        }
    }
    JsonArray *only = hapvm_json_array(fn, "only");
    for (guint i = 0; only && i < json_array_get_length(only); i++) {
        JsonArray *names = json_array_get_array_element(only, i);
        fprintf(out, "only in %s (%u):\n", hapvm_json_string(json_array_get_object_element(inputs, i), "label"),
                json_array_get_length(names));
        for (guint k = 0; k < json_array_get_length(names); k++)
            fprintf(out, "  %s\n", json_array_get_string_element(names, k));
    }
    if (notes && json_array_get_length(notes)) {
        fprintf(out, "notes\n");
        for (guint i = 0; i < json_array_get_length(notes); i++)
            fprintf(out, "  %s\n", json_array_get_string_element(notes, i));
    }
    if (nf)
        fprintf(out, "*** WARNING: FORCED COMPARISON of results that are not comparable (see the top) ***\n");
}

/* RFC 4180: quote fields with a comma, quote or line break. */
static void
csv_field(FILE *out, const char *s, gboolean last)
{
    if (s && strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else if (s) {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static char *
num_text(double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (v == floor(v) && fabs(v) < 9e15)
        return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v);
    return g_strdup(g_ascii_formatd(buf, sizeof buf, "%.12g", v)); /* nanoseconds of 600 s */
}

/* section,key,metric,input,value,sd: one row per cell. */
static void
csv_cells(FILE *out, JsonArray *inputs, const char *section, const char *key, const char *metric, JsonArray *cells)
{
    for (guint i = 0; cells && i < json_array_get_length(cells); i++) {
        JsonNode *c = json_array_get_element(cells, i);
        g_autofree char *v = NULL, *sd = NULL;
        if (JSON_NODE_HOLDS_OBJECT(c)) {
            JsonObject *o = json_node_get_object(c);
            v = num_text(hapvm_json_double(o, "mean"));
            sd = hapvm_json_is_number(o, "sd") ? num_text(hapvm_json_double(o, "sd")) : NULL;
        } else if (is_num(c)) {
            v = num_text(json_node_get_double(c));
        }
        csv_field(out, section, FALSE);
        csv_field(out, key, FALSE);
        csv_field(out, metric, FALSE);
        csv_field(out, hapvm_json_string(json_array_get_object_element(inputs, i), "label"), FALSE);
        csv_field(out, v, FALSE);
        csv_field(out, sd, TRUE);
    }
}

static void
csv_tallies(FILE *out, JsonArray *inputs, const char *section, JsonObject *o)
{
    g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;

    for (GList *l = names; l; l = l->next) {
        csv_cells(out, inputs, section, l->data, "hap_f", hapvm_json_array(hapvm_json_object(o, l->data), "hap_f"));
        csv_cells(out, inputs, section, l->data, "hap_l", hapvm_json_array(hapvm_json_object(o, l->data), "hap_l"));
    }
}

void
hapvm_compare_print_csv(JsonObject *cmp, FILE *out)
{
    JsonArray *in = hapvm_json_array(cmp, "inputs");
    JsonObject *s = hapvm_json_object(cmp, "scores");
    g_autoptr(GList) sm = s ? json_object_get_members(s) : NULL;
    JsonObject *c = hapvm_json_object(cmp, "contexts");
    g_autoptr(GList) cm = c ? json_object_get_members(c) : NULL;
    JsonObject *ep = hapvm_json_object(cmp, "entry_points");
    g_autoptr(GList) em = ep ? json_object_get_members(ep) : NULL;
    JsonObject *fn = hapvm_json_object(cmp, "functions");

    fprintf(out, "section,key,metric,input,value,sd\n");
    for (guint i = 0; i < json_array_get_length(in); i++) {
        JsonObject *o = json_array_get_object_element(in, i);
        csv_field(out, "input", FALSE);
        csv_field(out, hapvm_json_string(o, "file"), FALSE);
        csv_field(out, "file", FALSE);
        csv_field(out, hapvm_json_string(o, "label"), FALSE);
        csv_field(out, hapvm_json_string(o, "name"), FALSE);
        csv_field(out, NULL, TRUE);
    }
    for (guint i = 0; i < json_array_get_length(hapvm_json_array(cmp, "forced")); i++) {
        csv_field(out, "forced", FALSE);
        csv_field(out, json_array_get_string_element(hapvm_json_array(cmp, "forced"), i), FALSE);
        fprintf(out, ",,,\n");
    }
    for (GList *l = sm; l; l = l->next)
        csv_cells(out, in, "scores", l->data, "value", hapvm_json_array(s, l->data));
    csv_tallies(out, in, "roles", hapvm_json_object(cmp, "roles"));
    for (GList *l = cm; l; l = l->next)
        csv_cells(out, in, "contexts", l->data, "functions", hapvm_json_array(c, l->data));
    csv_tallies(out, in, "subsystems", hapvm_json_object(hapvm_json_object(cmp, "subsystems"), "buckets"));
    for (GList *l = em; l; l = l->next) {
        JsonObject *e = hapvm_json_object(ep, l->data);
        g_autoptr(GList) keys = hapvm_json_object(e, "by_key") ? json_object_get_members(hapvm_json_object(e, "by_key")) : NULL;
        csv_cells(out, in, l->data, "distinct", "count", hapvm_json_array(e, "distinct"));
        csv_cells(out, in, l->data, "entered", "count", hapvm_json_array(e, "total"));
        for (GList *k = keys; k; k = k->next)
            csv_cells(out, in, l->data, k->data, "count", hapvm_json_array(hapvm_json_object(e, "by_key"), k->data));
    }
    csv_cells(out, in, "functions", hapvm_json_string(fn, "set"), "size", hapvm_json_array(fn, "size"));
    csv_cells(out, in, "functions", hapvm_json_string(fn, "set"), "unique", hapvm_json_array(fn, "unique"));
    JsonArray *jm = hapvm_json_array(fn, "jaccard");
    for (guint i = 0; jm && i < json_array_get_length(jm); i++) {
        g_autofree char *metric = g_strdup_printf("jaccard_with_%s",
                                                  hapvm_json_string(json_array_get_object_element(in, i), "label"));
        csv_cells(out, in, "functions", hapvm_json_string(fn, "set"), metric, json_array_get_array_element(jm, i));
    }
}

/* ------------------------------------------------------------------------ */
/* JSON and CSV of one result */

void
hapvm_report_print_json(JsonNode *node, FILE *out)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_root(gen, node);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, NULL);
    fprintf(out, "%s\n", text);
}

static void
csv_value(FILE *out, JsonNode *n, gboolean last)
{
    g_autofree char *t = NULL;

    if (n && JSON_NODE_HOLDS_VALUE(n)) {
        GType type = json_node_get_value_type(n);
        if (type == G_TYPE_STRING) {
            csv_field(out, json_node_get_string(n), last);
            return;
        }
        if (type == G_TYPE_BOOLEAN)
            t = g_strdup(json_node_get_boolean(n) ? "true" : "false");
        else
            t = num_text(json_node_get_double(n));
    } else if (n && JSON_NODE_HOLDS_ARRAY(n)) {
        /* roles, contexts: joined with ';' */
        JsonArray *a = json_node_get_array(n);
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++)
            g_string_append_printf(s, "%s%s", i ? ";" : "", json_array_get_string_element(a, i));
        t = g_string_free(s, FALSE);
    }
    csv_field(out, t, last);
}

static void
csv_tally_table(FILE *out, JsonObject *r, const char *member, const char *first_column)
{
    JsonObject *o = hapvm_json_object(r, member);
    JsonObject *st = hapvm_json_object(hapvm_json_object(r, "aggregate"), member);
    g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;

    fprintf(out, "%s,hap_f,hap_l,hap_f_sd,hap_l_sd\n", first_column);
    for (GList *l = names; l; l = l->next) {
        JsonObject *t = hapvm_json_object(o, l->data);
        JsonObject *s = hapvm_json_object(st, l->data);
        csv_field(out, l->data, FALSE);
        csv_value(out, mem(t, "hap_f"), FALSE);
        csv_value(out, mem(t, "hap_l"), FALSE);
        csv_value(out, mem(hapvm_json_object(s, "hap_f"), "sd"), FALSE);
        csv_value(out, mem(hapvm_json_object(s, "hap_l"), "sd"), TRUE);
    }
}

static const char *const csv_function_columns[] = {
    "name", "module", "subsystem", "file", "lines", "roles", "contexts", "first_seen_s", "count", "hap_f",
    "startup",
};

gboolean
hapvm_report_print_csv(JsonObject *r, const char *table, FILE *out, GError **error)
{
    gboolean agg = hapvm_json_object(r, "aggregate") != NULL;

    if (!table || g_str_equal(table, "functions")) {
        JsonArray *fa = hapvm_json_array(r, "functions");
        for (guint k = 0; k < G_N_ELEMENTS(csv_function_columns); k++)
            csv_field(out, csv_function_columns[k], !agg && k + 1 == G_N_ELEMENTS(csv_function_columns));
        if (agg)
            fprintf(out, "runs,hap_f_runs\n");
        for (guint i = 0; fa && i < json_array_get_length(fa); i++) {
            JsonObject *f = json_array_get_object_element(fa, i);
            for (guint k = 0; k < G_N_ELEMENTS(csv_function_columns); k++)
                csv_value(out, mem(f, csv_function_columns[k]),
                          !agg && k + 1 == G_N_ELEMENTS(csv_function_columns));
            if (agg) {
                csv_value(out, mem(f, "runs"), FALSE);
                csv_value(out, mem(f, "hap_f_runs"), TRUE);
            }
        }
    } else if (g_str_equal(table, "scores")) {
        JsonObject *s = hapvm_json_object(r, "scores");
        JsonObject *st = hapvm_json_object(hapvm_json_object(r, "aggregate"), "scores");
        fprintf(out, "metric,value,sd,n\n");
        for (guint k = 0; k < G_N_ELEMENTS(score_members); k++) {
            csv_field(out, score_members[k], FALSE);
            csv_value(out, mem(s, score_members[k]), FALSE);
            csv_value(out, mem(hapvm_json_object(st, score_members[k]), "sd"), FALSE);
            g_autofree char *n = g_strdup_printf("%u", agg ? (guint)agg_runs(r) : 1);
            csv_field(out, n, TRUE);
        }
        fprintf(out, "events_lost,%" G_GUINT64_FORMAT ",,%u\n", hapvm_result_get_lost(r),
                agg ? (guint)agg_runs(r) : 1);
    } else if (g_str_equal(table, "roles")) {
        csv_tally_table(out, r, "roles", "role");
    } else if (g_str_equal(table, "subsystems")) {
        csv_tally_table(out, r, "subsystems", "subsystem");
    } else if (g_str_equal(table, "contexts")) {
        JsonObject *c = hapvm_json_object(r, "contexts");
        g_autoptr(GList) names = c ? json_object_get_members(c) : NULL;
        fprintf(out, "context,functions\n");
        for (GList *l = names; l; l = l->next) {
            csv_field(out, l->data, FALSE);
            csv_value(out, mem(c, l->data), TRUE);
        }
    } else if (g_str_equal(table, "syscalls")) {
        JsonArray *a = hapvm_json_array(r, "syscalls");
        fprintf(out, "nr,count\n");
        for (guint i = 0; a && i < json_array_get_length(a); i++) {
            JsonObject *e = json_array_get_object_element(a, i);
            csv_value(out, mem(e, "nr"), FALSE);
            csv_value(out, mem(e, "count"), TRUE);
        }
    } else {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unknown CSV table '%s' (tables: %s)", table,
                    HAPVM_CSV_TABLES);
        return FALSE;
    }
    return TRUE;
}

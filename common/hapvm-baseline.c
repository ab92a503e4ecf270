#include "hapvm-baseline.h"

#include <stdio.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"

/* Functions are the same across results by name and module: addresses move
 * with KASLR and module load order. */
static char *
function_key(JsonObject *f)
{
    const char *name = hapvm_json_string(f, "name"), *module = hapvm_json_string(f, "module");
    if (!name)
        name = hapvm_json_string(f, "address");
    return module ? g_strdup_printf("%s [%s]", name, module) : g_strdup(name ? name : "?");
}

static GHashTable *
hap_f_set(JsonObject *r)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    JsonArray *fs = hapvm_json_array(r, "functions");

    for (guint i = 0; fs && i < json_array_get_length(fs); i++) {
        JsonNode *n = json_array_get_element(fs, i);
        JsonObject *f = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        if (f && hapvm_json_boolean(f, "hap_f"))
            g_hash_table_add(set, function_key(f));
    }
    return set;
}

JsonNode *
hapvm_baseline_subtract(JsonObject *r, JsonObject *base, const char *base_file, gboolean allow_any,
                        GError **error)
{
    const char *bid = hapvm_json_string(hapvm_json_object(r, "kernel"), "build_id");
    const char *base_bid = hapvm_json_string(hapvm_json_object(base, "kernel"), "build_id");
    const char *rule = hapvm_json_string(hapvm_json_object(r, "method"), "hap_f_rule");
    const char *base_rule = hapvm_json_string(hapvm_json_object(base, "method"), "hap_f_rule");

    if (g_strcmp0(bid, base_bid) != 0 || g_strcmp0(rule, base_rule) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH,
                    "baseline %s is of another %s (%s, the result's %s): record the baseline on the same kernel "
                    "with the same hapvm", base_file, g_strcmp0(bid, base_bid) ? "kernel build" : "HAP-F rule",
                    g_strcmp0(bid, base_bid) ? (base_bid ? base_bid : "unknown") : base_rule,
                    g_strcmp0(bid, base_bid) ? (bid ? bid : "unknown") : rule);
        return NULL;
    }
    if (!allow_any && !hapvm_json_boolean(hapvm_json_object(base, "method"), "baseline")) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "%s is not a baseline recording (record one with hapvm baseline, or use --any-baseline)",
                    base_file);
        return NULL;
    }

    g_autoptr(GHashTable) base_set = hap_f_set(base);
    g_autoptr(GHashTable) roles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    JsonArray *fs = hapvm_json_array(r, "functions");
    gint64 hap_f = 0, hap_l = 0, removed = 0, no_lines = 0;

    for (guint i = 0; fs && i < json_array_get_length(fs); i++) {
        JsonNode *n = json_array_get_element(fs, i);
        JsonObject *f = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        if (!f || !hapvm_json_boolean(f, "hap_f"))
            continue;
        g_autofree char *key = function_key(f);
        if (g_hash_table_contains(base_set, key)) {
            removed++;
            continue;
        }
        gboolean has_lines = hapvm_json_is_number(f, "lines");
        gint64 lines = hapvm_json_int(f, "lines");
        hap_f++;
        hap_l += lines;
        no_lines += !has_lines;
        JsonArray *rs = hapvm_json_array(f, "roles");
        for (guint k = 0; rs && k < json_array_get_length(rs); k++) {
            const char *role = json_array_get_string_element(rs, k);
            if (!role)
                continue;
            gint64 *t = g_hash_table_lookup(roles, role);
            if (!t) {
                t = g_new0(gint64, 2);
                g_hash_table_insert(roles, g_strdup(role), t);
            }
            t[0]++;
            t[1] += lines;
        }
    }

    JsonObject *scores = hapvm_json_object(r, "scores");
    gboolean lines = hapvm_json_is_number(scores, "hap_l");
    double density = hapvm_json_double(hapvm_json_object(r, "method"), "density_per_line");
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "file", base_file);
    hapvm_json_set_str(b, "target", hapvm_json_string(hapvm_json_object(base, "target"), "name"));
    hapvm_json_set_str(b, "started", hapvm_json_string(hapvm_json_object(base, "timing"), "started"));
    hapvm_json_set_int(b, "baseline_hap_f", g_hash_table_size(base_set));
    hapvm_json_set_int(b, "hap_f_raw", hapvm_json_int(scores, "hap_f"));
    hapvm_json_set_int(b, "hap_f", hap_f);
    hapvm_json_set_int(b, "removed", removed);
    json_builder_set_member_name(b, "hap_l_raw");
    lines ? json_builder_add_int_value(b, hapvm_json_int(scores, "hap_l")) : json_builder_add_null_value(b);
    json_builder_set_member_name(b, "hap_l");
    lines ? json_builder_add_int_value(b, hap_l) : json_builder_add_null_value(b);
    json_builder_set_member_name(b, "hap");
    lines ? json_builder_add_double_value(b, hap_l * density) : json_builder_add_null_value(b);
    hapvm_json_set_int(b, "functions_without_lines", no_lines);
    json_builder_set_member_name(b, "roles");
    json_builder_begin_object(b);
    g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(roles), (GCompareFunc)g_strcmp0);
    for (GList *k = keys; k; k = k->next) {
        gint64 *t = g_hash_table_lookup(roles, k->data);
        json_builder_set_member_name(b, k->data);
        json_builder_begin_object(b);
        hapvm_json_set_int(b, "hap_f", t[0]);
        json_builder_set_member_name(b, "hap_l");
        lines ? json_builder_add_int_value(b, t[1]) : json_builder_add_null_value(b);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

void
hapvm_baseline_print(JsonObject *m, FILE *out)
{
    fprintf(out, "baseline %s (%s, %" G_GINT64_FORMAT " functions when idle): HAP-F %" G_GINT64_FORMAT
            " of %" G_GINT64_FORMAT " raw", hapvm_json_string(m, "file") ?: "?", hapvm_json_string(m, "target") ?: "?",
            hapvm_json_int(m, "baseline_hap_f"), hapvm_json_int(m, "hap_f"), hapvm_json_int(m, "hap_f_raw"));
    if (hapvm_json_is_number(m, "hap_l"))
        fprintf(out, ", HAP-L %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT ", HAP %.2f", hapvm_json_int(m, "hap_l"),
                hapvm_json_int(m, "hap_l_raw"), hapvm_json_double(m, "hap"));
    fprintf(out, " (%" G_GINT64_FORMAT " idle functions subtracted)\n", hapvm_json_int(m, "removed"));
    JsonObject *roles = hapvm_json_object(m, "roles");
    g_autoptr(GList) names = roles ? json_object_get_members(roles) : NULL;
    for (GList *k = names; k; k = k->next) {
        JsonObject *o = hapvm_json_object(roles, k->data);
        fprintf(out, "  %-18s HAP-F %6" G_GINT64_FORMAT, (char *)k->data, hapvm_json_int(o, "hap_f"));
        if (hapvm_json_is_number(o, "hap_l"))
            fprintf(out, "  HAP-L %8" G_GINT64_FORMAT, hapvm_json_int(o, "hap_l"));
        fputc('\n', out);
    }
}

/* The HTML report: one page, written straight to a FILE.  Charts are SVG
 * drawn here; every bar and score carries its number in data-* attributes
 * and a <title>, so tests (and people hovering) read the numbers back from
 * the rendered page.  Output is deterministic (no clock, no locale): the
 * golden files in tests/data/report/ depend on it. */
#include "hapvm-html.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"
#include "hapvm-syscalls.h"

/* ---- JSON access (absent or wrong-typed members read as empty) ---- */

static gboolean
is_num(JsonNode *n)
{
    return n && JSON_NODE_HOLDS_VALUE(n) && (json_node_get_value_type(n) == G_TYPE_INT64 ||
                                             json_node_get_value_type(n) == G_TYPE_DOUBLE);
}

static double
arr_dbl(JsonArray *a, guint i)
{
    JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;

    return is_num(n) ? json_node_get_double(n) : 0;
}

/* Element i of an array as an object or an array; NULL if it is not one. */
static JsonObject *
elem_obj(JsonArray *a, guint i)
{
    JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;

    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static JsonArray *
elem_arr(JsonArray *a, guint i)
{
    JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;

    return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* ---- output ---- */

/* Text for HTML content and double-quoted attributes: the five specials
 * as entities, control characters as U+FFFD, invalid UTF-8 repaired. */
static void
esc(FILE *out, const char *s)
{
    g_autofree char *valid = NULL;

    if (!s)
        return;
    if (!g_utf8_validate(s, -1, NULL))
        s = valid = g_utf8_make_valid(s, -1);
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\t': case '\n': fputc(*p, out); break;
        default:
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                fputs("\xEF\xBF\xBD", out);
            else
                fputc(*p, out);
        }
    }
}

/* At most max characters of s, escaped, with an ellipsis when cut. */
static void
esc_short(FILE *out, const char *s, glong max)
{
    if (s && g_utf8_validate(s, -1, NULL) && g_utf8_strlen(s, -1) > max) {
        g_autofree char *cut = g_utf8_substring(s, 0, max - 1);
        esc(out, cut);
        fputs("\xE2\x80\xA6", out);
    } else {
        esc(out, s);
    }
}

/* A locale-independent decimal (SVG coordinates and shown values). */
static const char *
fmt(char *buf, const char *format, double v)
{
    return g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, format, v);
}

#define F1(v) fmt((char[G_ASCII_DTOSTR_BUF_SIZE]){ 0 }, "%.1f", (v))
#define F2(v) fmt((char[G_ASCII_DTOSTR_BUF_SIZE]){ 0 }, "%.2f", (v))
#define F3(v) fmt((char[G_ASCII_DTOSTR_BUF_SIZE]){ 0 }, "%.3f", (v))

/* A JSON scalar as text (null as "null"), escaped. */
static void
esc_value(FILE *out, JsonNode *n)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (!n || JSON_NODE_HOLDS_NULL(n)) {
        fputs("<span class=\"null\">null</span>", out);
        return;
    }
    if (!JSON_NODE_HOLDS_VALUE(n)) {
        fputs(JSON_NODE_HOLDS_ARRAY(n) ? "[…]" : "{…}", out);
        return;
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_INT64: fprintf(out, "%" G_GINT64_FORMAT, json_node_get_int(n)); break;
    case G_TYPE_DOUBLE: fputs(g_ascii_dtostr(buf, sizeof buf, json_node_get_double(n)), out); break;
    case G_TYPE_BOOLEAN: fputs(json_node_get_boolean(n) ? "true" : "false", out); break;
    default: esc(out, json_node_get_string(n));
    }
}

/* An "F / L" pair; "-" for a null HAP-L. */
static void
put_fl(FILE *out, JsonObject *t)
{
    if (!t) {
        fputs("-", out);
        return;
    }
    fprintf(out, "%" G_GINT64_FORMAT " / ", hapvm_json_int(t, "hap_f"));
    if (hapvm_json_is_number(t, "hap_l"))
        fprintf(out, "%" G_GINT64_FORMAT, hapvm_json_int(t, "hap_l"));
    else
        fputs("-", out);
}

/* A step of 1, 2 or 5 x 10^k giving about `ticks` ticks up to max. */
static double
nice_step(double max, int ticks)
{
    double raw = max / ticks, p = 1;

    if (!(raw > 0))
        return 1;
    while (p * 10 <= raw)
        p *= 10;
    while (p > raw)
        p /= 10;
    double f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* The axis top: max rounded up to a whole step (at least one step). */
static double
axis_top(double max, double step)
{
    double top = step;

    while (top < max && top < 1e18)
        top += step;
    return top;
}

static const char *
tick_label(char *buf, double v, double step)
{
    return fmt(buf, step >= 1 ? "%.0f" : step >= 0.1 ? "%.1f" : "%.2f", v);
}

/* Okabe-Ito: tellable apart with colour-blindness. */
static const char *const palette[] = {
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999933", "#882255", "#44AA99", "#666666",
};

static const char *
role_colour(const char *role)
{
    static const struct { const char *role, *colour; } map[] = {
        { "process", "#0072B2" }, { "vcpu", "#D55E00" },   { "emulator", "#E69F00" }, { "iothread", "#CC79A7" },
        { "vhost", "#009E73" },   { "kthread", "#56B4E9" }, { "shared", "#999933" },
        { "backend", "#882255" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_equal(role, map[i].role))
            return map[i].colour;
    return "#aaaaaa"; /* interrupt-context and unknown roles */
}

static const char style[] =
    "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:14px;color:#222;margin:24px auto;"
    "max-width:1180px;padding:0 16px;background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc}"
    "h3{font-size:15px;margin:16px 0 6px}\n"
    ".sub{color:#555;margin:0 0 12px}\n"
    ".banner{padding:10px 14px;border-radius:4px;margin:10px 0;font-weight:bold}\n"
    ".ok{background:#e3f4e8;border:1px solid #7cc08f;color:#185c2b}\n"
    ".bad{background:#fde2e1;border:2px solid #d33;color:#8a1010}\n"
    ".warn{background:#fff4d6;border:1px solid #e0b040;color:#6b4e00}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}\n"
    ".card{border:1px solid #ccc;border-radius:6px;padding:10px 16px;min-width:150px}\n"
    ".card .v{font-size:28px;font-weight:bold}.card .k{color:#555}.card .n{color:#777;font-size:12px}\n"
    "table{border-collapse:collapse;margin:6px 0}\n"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#f2f2f2}td.r,th.r{text-align:right}\n"
    "table.sortable th{cursor:pointer}\n"
    "tr.muted td{color:#888}\n"
    "td.flag{background:#fde2e1;color:#8a1010;font-weight:bold}\n"
    "dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}\n"
    "dl.kv dt{color:#555}dl.kv dd{margin:0;word-break:break-all}\n"
    ".null{color:#999}\n"
    ".share{display:inline-block;height:10px;background:#0072B2;vertical-align:middle}\n"
    "svg.chart{display:block;margin:6px 0;font-size:12px}\n"
    "svg.chart text{fill:#222}svg.chart .axis{stroke:#888}svg.chart .grid{stroke:#e6e6e6}\n"
    "details summary{cursor:pointer;font-weight:bold;margin:8px 0}\n"
    "code{font-family:'DejaVu Sans Mono',monospace}\n";

/* Click a header of a .sortable table to sort by that column. */
static const char script[] =
    "(function(){\n"
    "  document.querySelectorAll('table.sortable').forEach(function(t){\n"
    "    Array.prototype.forEach.call(t.tHead.rows[0].cells, function(th){\n"
    "      th.addEventListener('click', function(){\n"
    "        var i = th.cellIndex, num = th.classList.contains('r'), up = th.dataset.dir !== 'up';\n"
    "        var b = t.tBodies[0], rows = Array.prototype.slice.call(b.rows);\n"
    "        rows.sort(function(x, y){\n"
    "          var a = x.cells[i].textContent, c = y.cells[i].textContent;\n"
    "          var d = num ? (parseFloat(a) || 0) - (parseFloat(c) || 0) : a.localeCompare(c);\n"
    "          return up ? d : -d;\n"
    "        });\n"
    "        rows.forEach(function(r){ b.appendChild(r); });\n"
    "        th.dataset.dir = up ? 'up' : 'down';\n"
    "      });\n"
    "    });\n"
    "  });\n"
    "  document.body.setAttribute('data-script', 'ran');\n"
    "})();\n";

static void
page_begin(FILE *out, const char *title_a, const char *title_b)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"generator\" content=\"hapvm report --format html\">\n<title>", out);
    esc(out, title_a);
    esc(out, title_b);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", style);
}

static void
page_end(FILE *out)
{
    fprintf(out, "<script>\n%s</script>\n</body>\n</html>\n", script);
}

/* <dl> of an object's scalar members (skip: members shown elsewhere). */
static void
kv_list(FILE *out, JsonObject *o, const char *id, const char *const *skip)
{
    if (!o)
        return;
    g_autoptr(GList) names = json_object_get_members(o);
    fprintf(out, "<dl class=\"kv\" id=\"%s\">\n", id);
    for (GList *l = names; l; l = l->next) {
        if (skip && g_strv_contains(skip, l->data))
            continue;
        fputs("<dt>", out);
        esc(out, l->data);
        fputs("</dt><dd>", out);
        esc_value(out, json_object_get_member(o, l->data));
        fputs("</dd>\n", out);
    }
    fputs("</dl>\n", out);
}

/* ---- one result ---- */

static void
loss_banner(FILE *out, JsonObject *r)
{
    JsonObject *loss = hapvm_json_object(r, "loss");
    guint64 lost = hapvm_result_get_lost(r);
    gboolean complete = loss && hapvm_json_boolean(loss, "complete") && lost == 0;

    if (complete) {
        fputs("<div class=\"banner ok\" id=\"loss\" data-lost=\"0\">Complete: no trace events were lost.</div>\n",
              out);
        return;
    }
    fprintf(out, "<div class=\"banner bad\" id=\"loss\" data-lost=\"%" G_GUINT64_FORMAT "\">INCOMPLETE: %"
            G_GUINT64_FORMAT " trace events lost (overrun %" G_GINT64_FORMAT ", dropped %" G_GINT64_FORMAT
            ", commit overrun %" G_GINT64_FORMAT ", missed in pages %" G_GINT64_FORMAT
            ", pages with unknown loss %" G_GINT64_FORMAT ", bad pages %" G_GINT64_FORMAT
            "): the function set, and so every score below, may be too low. %s</div>\n",
            lost, lost, hapvm_json_int(loss, "overrun"), hapvm_json_int(loss, "dropped"), hapvm_json_int(loss, "commit_overrun"),
            hapvm_json_int(loss, "missed_in_pages"), hapvm_json_int(loss, "pages_with_unknown_loss"), hapvm_json_int(loss, "bad_pages"),
            hapvm_json_boolean(loss, "accepted") ? "Kept with --accept-loss." : "Not accepted (no --accept-loss).");
}

static void
score_card(FILE *out, const char *key, const char *label, JsonObject *scores, const char *note)
{
    JsonNode *n = scores ? json_object_get_member(scores, key) : NULL;

    fprintf(out, "<div class=\"card score\" data-score=\"%s\" data-value=\"", key);
    if (n && is_num(n))
        esc_value(out, n);
    fprintf(out, "\"><div class=\"k\">%s</div><div class=\"v\">", label);
    if (n && is_num(n))
        esc_value(out, n);
    else
        fputs("n/a", out);
    fputs("</div><div class=\"n\">", out);
    esc(out, note);
    fputs("</div></div>\n", out);
}

static void
scores_section(FILE *out, JsonObject *r)
{
    JsonObject *s = hapvm_json_object(r, "scores");
    JsonObject *m = hapvm_json_object(r, "method");
    JsonObject *c = hapvm_json_object(r, "contexts");
    gboolean lines = hapvm_json_is_number(s, "hap_l");
    g_autofree char *unavail = g_strdup_printf("unavailable: %s", hapvm_json_string(s, "lines_unavailable_reason") ?: "no line index");
    g_autofree char *dens = g_strdup_printf("HAP-L x %s bugs per 1,000 lines", F3(hapvm_json_double(m, "density_per_line") * 1000));

    fputs("<h2>Scores</h2>\n<div class=\"cards\" id=\"scores\">\n", out);
    score_card(out, "hap_f", "HAP-F", s, "unique functions, task context, steady window");
    score_card(out, "hap_l", "HAP-L", s, lines ? "source lines of those functions" : unavail);
    score_card(out, "hap", "HAP", s, lines ? dens : unavail);
    score_card(out, "nabla_f", "nabla-compatible count", s, "names, task context, whole window");
    fputs("</div>\n", out);
    fprintf(out, "<p>Startup functions %" G_GINT64_FORMAT ", new in steady state %" G_GINT64_FORMAT
            ", functions without lines %" G_GINT64_FORMAT ", unresolved addresses %" G_GINT64_FORMAT ".<br>\n"
            "Contexts (steady window): task %" G_GINT64_FORMAT ", softirq %" G_GINT64_FORMAT ", hardirq %"
            G_GINT64_FORMAT ", nmi %" G_GINT64_FORMAT ", interrupt-only %" G_GINT64_FORMAT
            " (not in HAP-F), any %" G_GINT64_FORMAT ".<br>\nRule: ",
            hapvm_json_int(s, "startup_functions"), hapvm_json_int(s, "steady_new_functions"), hapvm_json_int(s, "functions_without_lines"),
            hapvm_json_int(s, "unresolved_addresses"), hapvm_json_int(c, "task"), hapvm_json_int(c, "softirq"), hapvm_json_int(c, "hardirq"), hapvm_json_int(c, "nmi"),
            hapvm_json_int(c, "interrupt_only"), hapvm_json_int(c, "any"));
    esc(out, hapvm_json_string(m, "hap_f_rule"));
    fputs(".</p>\n", out);
}

/* The discovery curve: task-context functions over time, and those of the
 * steady window, with the warm-up and the steady window shaded. */
static void
curve_chart(FILE *out, JsonObject *r)
{
    JsonArray *curve = hapvm_json_array(r, "curve");
    JsonObject *timing = hapvm_json_object(r, "timing");
    guint n = curve ? json_array_get_length(curve) : 0;
    const double W = 1100, H = 340, L = 70, R = 20, T = 30, B = 45;
    double pw = W - L - R, ph = H - T - B;
    double xmax = hapvm_json_double(timing, "elapsed_s"), ymax = 0, steady = hapvm_json_double(timing, "steady_start_s");
    char b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE];

    fputs("<h2>Discovery curve</h2>\n", out);
    if (n == 0) {
        fputs("<p id=\"curve\">This result has no curve.</p>\n", out);
        return;
    }
    for (guint i = 0; i < n; i++) {
        JsonArray *p = elem_arr(curve, i);
        xmax = MAX(xmax, arr_dbl(p, 0));
        ymax = MAX(ymax, arr_dbl(p, 1));
        ymax = MAX(ymax, arr_dbl(p, 2));
    }
    double xs = nice_step(xmax, 10), ys = nice_step(ymax, 6);
    xmax = xmax > 0 ? xmax : 1;
    double ytop = axis_top(ymax, ys);
#define X(v) (L + (v) / xmax * pw)
#define Y(v) (T + ph - (v) / ytop * ph)
    JsonArray *last = elem_arr(curve, n - 1);
    fprintf(out, "<svg class=\"chart\" id=\"curve\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "role=\"img\" data-points=\"%u\" data-final-total=\"%.0f\" data-final-steady=\"%.0f\" "
            "data-steady-start=\"%s\">\n", W, H, W, H, n, arr_dbl(last, 1), arr_dbl(last, 2), F3(steady));
    fputs("<title>Unique host-kernel functions over time</title>\n", out);
    /* Warm-up, then the steady window up to the end. */
    if (steady > 0)
        fprintf(out, "<rect class=\"warmup\" x=\"%s\" y=\"%.0f\" width=\"%s\" height=\"%.0f\" fill=\"#f3ead2\">"
                "<title>warm-up: 0 to %s s (not in HAP-F)</title></rect>\n"
                "<text x=\"%s\" y=\"%.0f\" text-anchor=\"middle\">warm-up</text>\n",
                F1(X(0)), T, F1(X(steady) - X(0)), ph, F1(steady), F1((X(0) + X(steady)) / 2), T - 8);
    fprintf(out, "<rect class=\"steady\" x=\"%s\" y=\"%.0f\" width=\"%s\" height=\"%.0f\" fill=\"#e3f0f9\">"
            "<title>steady window: %s to %s s</title></rect>\n"
            "<text x=\"%s\" y=\"%.0f\" text-anchor=\"middle\">steady window</text>\n",
            F1(X(steady)), T, F1(X(xmax) - X(steady)), ph, F1(steady), F1(hapvm_json_double(timing, "elapsed_s")),
            F1((X(steady) + X(xmax)) / 2), T - 8);
    for (double v = 0; v <= ytop + ys / 2; v += ys)
        fprintf(out, "<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%s\" y2=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%s\" text-anchor=\"end\">%s</text>\n",
                L, W - R, F1(Y(v)), F1(Y(v)), L - 6, F1(Y(v) + 4), tick_label(b1, v, ys));
    for (double v = 0; v <= xmax + xs / 1e6; v += xs)
        fprintf(out, "<line class=\"axis\" x1=\"%s\" x2=\"%s\" y1=\"%.0f\" y2=\"%.0f\"/>"
                "<text x=\"%s\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                F1(X(v)), F1(X(v)), T + ph, T + ph + 5, F1(X(v)), T + ph + 18, tick_label(b1, v, xs));
    fprintf(out, "<line class=\"axis\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\"/>"
            "<line class=\"axis\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\"/>\n"
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds since the start of tracing</text>\n"
            "<text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.0f)\">unique functions"
            "</text>\n", L, W - R, T + ph, T + ph, L, L, T, T + ph, L + pw / 2, H - 6, T + ph / 2, T + ph / 2);
    for (int s = 1; s <= 2; s++) {
        /* Dashed over solid: both stay visible where they coincide. */
        fprintf(out, "<polyline class=\"series%d\" fill=\"none\" %s points=\"", s,
                s == 1 ? "stroke=\"#0072B2\" stroke-width=\"3\"" : "stroke=\"#D55E00\" stroke-width=\"2\" "
                                                                   "stroke-dasharray=\"8 4\"");
        for (guint i = 0; i < n; i++) {
            JsonArray *p = elem_arr(curve, i);
            fprintf(out, "%s%s,%s", i ? " " : "", fmt(b1, "%.1f", X(arr_dbl(p, 0))),
                    fmt(b2, "%.1f", Y(arr_dbl(p, s))));
        }
        fputs("\"/>\n", out);
    }
    fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"#0072B2\"/>"
            "<text x=\"%.0f\" y=\"%.0f\">task-context functions, whole window (final %.0f)</text>\n"
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"#D55E00\"/>"
            "<text x=\"%.0f\" y=\"%.0f\">of which seen in the steady window (final %.0f)</text>\n",
            L + pw - 420, T + ph - 44, L + pw - 400, T + ph - 39, arr_dbl(last, 1), L + pw - 420, T + ph - 24,
            L + pw - 400, T + ph - 19, arr_dbl(last, 2));
#undef X
#undef Y
    fputs("</svg>\n", out);
}

typedef struct {
    const char *key;
    gint64 f, l;
    gboolean has_l;
    const char *colour;
    const char *note;
} Bar;

static int
bar_cmp(gconstpointer a, gconstpointer b)
{
    const Bar *x = a, *y = b;

    return x->f != y->f ? (x->f < y->f ? 1 : -1) : g_strcmp0(x->key, y->key);
}

/* Horizontal bars of an object of {hap_f, hap_l} tallies. */
static void
tally_chart(FILE *out, JsonObject *r, const char *member, const char *title, gboolean sort)
{
    JsonObject *o = hapvm_json_object(r, member);
    g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;
    g_autoptr(GArray) bars = g_array_new(FALSE, TRUE, sizeof(Bar));
    gint64 max = 0;

    fprintf(out, "<h2>%s</h2>\n", title);
    for (GList *l = names; l; l = l->next) {
        JsonObject *t = hapvm_json_object(o, l->data);
        gboolean irq = g_str_equal(l->data, "interrupt-context");
        Bar b = { l->data, hapvm_json_int(t, "hap_f"), hapvm_json_int(t, "hap_l"), hapvm_json_is_number(t, "hap_l"),
                  g_str_equal(member, "roles") ? role_colour(l->data)
                  : g_str_has_prefix(l->data, "module:") ? "#009E73" : "#0072B2",
                  irq ? " (interrupt context only: not in HAP-F)" : "" };
        g_array_append_val(bars, b);
        max = MAX(max, b.f);
    }
    if (bars->len == 0) {
        fprintf(out, "<p id=\"%s\">None.</p>\n", member);
        return;
    }
    if (sort)
        g_array_sort(bars, bar_cmp);
    const double W = 1100, L = 250, row = 20, T = 4;
    double pw = W - L - 230, H = T + row * bars->len + 4;
    fprintf(out, "<svg class=\"chart\" id=\"%s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "role=\"img\">\n", member, W, H, W, H);
    for (guint i = 0; i < bars->len; i++) {
        Bar *b = &g_array_index(bars, Bar, i);
        double y = T + row * i, w = max ? (double)b->f / max * pw : 0;
        fputs("<g class=\"bar\" data-chart=\"", out);
        esc(out, member);
        fputs("\" data-key=\"", out);
        esc(out, b->key);
        fprintf(out, "\" data-hap-f=\"%" G_GINT64_FORMAT "\" data-hap-l=\"", b->f);
        if (b->has_l)
            fprintf(out, "%" G_GINT64_FORMAT, b->l);
        fputs("\"><title>", out);
        esc(out, b->key);
        fprintf(out, ": HAP-F %" G_GINT64_FORMAT, b->f);
        if (b->has_l)
            fprintf(out, ", HAP-L %" G_GINT64_FORMAT, b->l);
        fprintf(out, "%s</title>\n<text x=\"%.0f\" y=\"%s\" text-anchor=\"end\">", b->note, L - 8, F1(y + 14));
        esc_short(out, b->key, 34);
        fprintf(out, "</text><rect x=\"%.0f\" y=\"%s\" width=\"%s\" height=\"%.0f\" fill=\"%s\"%s/>"
                "<text x=\"%s\" y=\"%s\">%" G_GINT64_FORMAT, L, F1(y + 3), F1(w), row - 6, b->colour,
                *b->note ? " fill-opacity=\"0.6\"" : "", F1(L + w + 6), F1(y + 14), b->f);
        if (b->has_l)
            fprintf(out, " (HAP-L %" G_GINT64_FORMAT ")", b->l);
        fprintf(out, "%s</text></g>\n", *b->note ? " not in HAP-F" : "");
    }
    fputs("</svg>\n", out);
}

static void
syscalls_table(FILE *out, JsonObject *r)
{
    JsonArray *a = hapvm_json_array(r, "syscalls");
    guint n = a ? json_array_get_length(a) : 0;
    g_autofree guint *order = g_new(guint, n + 1);
    gint64 total = 0;

    fputs("<h3>System calls entered</h3>\n", out);
    if (!a) {
        fputs("<p id=\"syscalls\">Not recorded (--no-syscalls).</p>\n", out);
        return;
    }
    for (guint i = 0; i < n; i++) {
        order[i] = i;
        total += hapvm_json_int(elem_obj(a, i), "count");
    }
    /* By count, most first (insertion sort: tens of entries). */
    for (guint i = 1; i < n; i++)
        for (guint j = i; j > 0 && hapvm_json_int(elem_obj(a, order[j]), "count") >
                                       hapvm_json_int(elem_obj(a, order[j - 1]), "count"); j--) {
            guint t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(out, "<p>%u distinct, %" G_GINT64_FORMAT " entries (x86-64 numbers).</p>\n"
            "<table class=\"sortable\" id=\"syscalls\"><thead><tr><th class=\"r\">nr</th><th>name</th>"
            "<th class=\"r\">count</th><th class=\"r\">share</th><th>by role</th></tr></thead><tbody>\n", n, total);
    for (guint k = 0; k < n; k++) {
        JsonObject *e = elem_obj(a, order[k]);
        JsonObject *roles = hapvm_json_object(e, "roles");
        g_autoptr(GList) names = roles ? json_object_get_members(roles) : NULL;
        gint64 c = hapvm_json_int(e, "count");
        double share = total ? 100.0 * c / total : 0;
        fprintf(out, "<tr data-nr=\"%" G_GINT64_FORMAT "\" data-count=\"%" G_GINT64_FORMAT "\"><td class=\"r\">%"
                G_GINT64_FORMAT "</td><td>%s</td><td class=\"r\">%" G_GINT64_FORMAT "</td><td class=\"r\">%s%%"
                " <span class=\"share\" style=\"width:%spx\"></span></td><td>", hapvm_json_int(e, "nr"), c, hapvm_json_int(e, "nr"),
                hapvm_syscall_name(hapvm_json_int(e, "nr")) ?: "?", c, F1(share), F1(share));
        for (GList *l = names; l; l = l->next) {
            esc(out, l->data);
            fprintf(out, " %" G_GINT64_FORMAT "%s", hapvm_json_int(roles, l->data), l->next ? ", " : "");
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

/* One list of vm.entry_points: columns are members of its entries. */
static void
entries_table(FILE *out, JsonObject *ep, const char *member, const char *title, const char *const *cols)
{
    JsonNode *node = json_object_get_member(ep, member);
    g_autofree char *tot = g_strdup_printf("%s_total", member);
    gint64 total = hapvm_json_int(ep, tot);

    fprintf(out, "<h3>%s</h3>\n", title);
    if (!node || !JSON_NODE_HOLDS_ARRAY(node)) {
        fprintf(out, "<p id=\"ep-%s\">Unavailable: this kernel lacks the tracepoint.</p>\n", member);
        return;
    }
    JsonArray *a = json_node_get_array(node);
    fprintf(out, "<table class=\"sortable\" id=\"ep-%s\" data-total=\"%" G_GINT64_FORMAT "\"><thead><tr>", member,
            total);
    for (const char *const *c = cols; *c; c++)
        fprintf(out, "<th%s>%s</th>", g_str_equal(*c, "reason") || g_str_equal(*c, "nr") ||
                                     g_str_equal(*c, "errno") ? " class=\"r\"" : "", *c);
    fprintf(out, "<th class=\"r\">count</th><th class=\"r\">share</th></tr></thead><tbody>\n");
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *e = elem_obj(a, i);
        double share = total ? 100.0 * hapvm_json_int(e, "count") / total : 0;
        fputs("<tr>", out);
        for (const char *const *c = cols; *c; c++) {
            JsonNode *v = e ? json_object_get_member(e, *c) : NULL;
            fputs(is_num(v) ? "<td class=\"r\">" : "<td>", out);
            esc_value(out, v);
            fputs("</td>", out);
        }
        fprintf(out, "<td class=\"r\">%" G_GINT64_FORMAT "</td><td class=\"r\">%s%% <span class=\"share\" "
                "style=\"width:%spx\"></span></td></tr>\n", hapvm_json_int(e, "count"), F1(share), F1(share));
    }
    fprintf(out, "</tbody><tfoot><tr><td colspan=\"%u\">total</td><td class=\"r\">%" G_GINT64_FORMAT
            "</td><td></td></tr></tfoot></table>\n", g_strv_length((char **)cols), total);
}

static void
vm_section(FILE *out, JsonObject *vm)
{
    static const char *const skip[] = { "entry_points", NULL };
    static const char *const exits[] = { "name", "isa", "reason", NULL };
    static const char *const hc[] = { "nr", NULL };
    static const char *const pio[] = { "port", "access", NULL };
    static const char *const mmio[] = { "gpa_page", "access", NULL };
    static const char *const msr[] = { "index", "access", NULL };
    static const char *const ue[] = { "name", "reason", "errno", NULL };
    JsonObject *ep = hapvm_json_object(vm, "entry_points");

    fputs("<h3>Virtual machine</h3>\n", out);
    kv_list(out, vm, "vm", skip);
    if (!ep) {
        fputs("<p>No entry points recorded.</p>\n", out);
        return;
    }
    fputs("<p>Source: ", out);
    esc(out, hapvm_json_string(ep, "source") ?: "KVM tracepoints of the vCPU threads");
    fprintf(out, ", over the whole window. Records from other roles %" G_GINT64_FORMAT ", short records %" G_GINT64_FORMAT
            ", missing tracepoints: ", hapvm_json_int(ep, "records_from_other_roles"), hapvm_json_int(ep, "short_records"));
    JsonArray *miss = hapvm_json_array(ep, "missing_events");
    for (guint i = 0; miss && i < json_array_get_length(miss); i++) {
        JsonNode *e = json_array_get_element(miss, i);
        esc(out, JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING ? json_node_get_string(e)
                                                                                          : "?");
        fputs(i + 1 < json_array_get_length(miss) ? ", " : "", out);
    }
    fputs(miss && json_array_get_length(miss) ? ".</p>\n" : "none.</p>\n", out);
    entries_table(out, ep, "exits", "Exit reasons", exits);
    entries_table(out, ep, "hypercalls", "Hypercalls", hc);
    entries_table(out, ep, "pio", "Port I/O", pio);
    entries_table(out, ep, "mmio", "MMIO (4 KiB guest-physical pages)", mmio);
    entries_table(out, ep, "msr", "MSR accesses", msr);
    entries_table(out, ep, "userspace_exits", "Exits to QEMU (userspace)", ue);
}

static void
strv_cell(FILE *out, JsonObject *o, const char *name)
{
    JsonArray *a = hapvm_json_array(o, name);

    fputs("<td>", out);
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonNode *n = json_array_get_element(a, i);
        if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
            esc(out, json_node_get_string(n));
        fputs(i + 1 < json_array_get_length(a) ? " " : "", out);
    }
    fputs("</td>", out);
}

static void
functions_table(FILE *out, JsonObject *r)
{
    JsonArray *a = hapvm_json_array(r, "functions");
    guint n = a ? json_array_get_length(a) : 0, in_f = 0;
    char b[G_ASCII_DTOSTR_BUF_SIZE];

    for (guint i = 0; i < n; i++)
        in_f += hapvm_json_boolean(elem_obj(a, i), "hap_f");
    fprintf(out, "<h2>Functions</h2>\n<details id=\"functions\" data-count=\"%u\"><summary>All %u functions recorded"
            " (%u in HAP-F; the others are greyed: warm-up only or interrupt context only). Click a column header"
            " to sort.</summary>\n<table class=\"sortable\"><thead><tr><th>name</th><th>module</th><th>subsystem</th>"
            "<th>file</th><th class=\"r\">lines</th><th>roles</th><th>contexts</th><th class=\"r\">first seen s</th>"
            "<th class=\"r\">count</th><th>HAP-F</th><th>startup</th><th>address</th></tr></thead><tbody>\n",
            n, n, in_f);
    for (guint i = 0; i < n; i++) {
        JsonObject *f = elem_obj(a, i);
        gboolean hf = hapvm_json_boolean(f, "hap_f");
        fputs(hf ? "<tr><td>" : "<tr class=\"muted\"><td>", out);
        esc(out, hapvm_json_string(f, "name"));
        fputs("</td><td>", out);
        esc(out, hapvm_json_string(f, "module") ?: "vmlinux");
        fputs("</td><td>", out);
        esc(out, hapvm_json_string(f, "subsystem"));
        fputs("</td><td>", out);
        esc(out, hapvm_json_string(f, "file"));
        fputs("</td><td class=\"r\">", out);
        if (hapvm_json_is_number(f, "lines"))
            fprintf(out, "%" G_GINT64_FORMAT, hapvm_json_int(f, "lines"));
        fputs("</td>", out);
        strv_cell(out, f, "roles");
        strv_cell(out, f, "contexts");
        fprintf(out, "<td class=\"r\">%s</td><td class=\"r\">%" G_GINT64_FORMAT "</td><td>%s</td><td>%s</td><td>",
                fmt(b, "%.3f", hapvm_json_double(f, "first_seen_s")), hapvm_json_int(f, "count"), hf ? "yes" : "no",
                hapvm_json_boolean(f, "startup") ? "yes" : "no");
        esc(out, hapvm_json_string(f, "address"));
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n</details>\n", out);
}

static void
tasks_table(FILE *out, JsonObject *target)
{
    JsonArray *a = hapvm_json_array(target, "tasks");
    guint n = a ? json_array_get_length(a) : 0;

    fprintf(out, "<details id=\"tasks\"><summary>%u task%s measured</summary>\n<table class=\"sortable\"><thead><tr>"
            "<th class=\"r\">tid</th><th>role</th><th>comm</th><th>from fork</th></tr></thead><tbody>\n", n,
            n == 1 ? "" : "s");
    for (guint i = 0; i < n; i++) {
        JsonObject *t = elem_obj(a, i);
        fprintf(out, "<tr><td class=\"r\">%" G_GINT64_FORMAT "</td><td>", hapvm_json_int(t, "tid"));
        esc(out, hapvm_json_string(t, "role"));
        fputs("</td><td>", out);
        esc(out, hapvm_json_string(t, "comm"));
        fprintf(out, "</td><td>%s</td></tr>\n", hapvm_json_boolean(t, "from_fork") ? "yes" : "no");
    }
    fputs("</tbody></table>\n</details>\n", out);
}

static void
write_one(FILE *out, JsonObject *r, const char *file)
{
    static const char *const no_labels[] = { "labels", NULL };
    JsonObject *target = hapvm_json_object(r, "target");
    JsonObject *kernel = hapvm_json_object(r, "kernel");
    JsonObject *timing = hapvm_json_object(r, "timing");
    JsonObject *vm = hapvm_json_object(r, "vm");
    JsonObject *coll = hapvm_json_object(r, "collector");
    g_autofree char *title = g_strdup_printf("hapvm: %s ", hapvm_json_string(target, "kind") ?: "?");

    page_begin(out, title, hapvm_json_string(target, "name"));
    fputs("<h1>Horizontal attack profile of ", out);
    esc(out, hapvm_json_string(target, "kind"));
    fputs(" <code id=\"target\">", out);
    esc(out, hapvm_json_string(target, "name"));
    fputs("</code></h1>\n<p class=\"sub\">", out);
    if (file) {
        fputs("Result <code>", out);
        esc(out, file);
        fputs("</code>, ", out);
    }
    fputs("hapvm ", out);
    esc(out, hapvm_json_string(r, "hapvm_version"));
    fprintf(out, ", schema version %" G_GINT64_FORMAT ".</p>\n", hapvm_json_int(r, "version"));
    loss_banner(out, r);
    if (vm && hapvm_json_string(vm, "note")) {
        fputs("<div class=\"banner warn\" id=\"vm-note\">", out);
        esc(out, hapvm_json_string(vm, "note"));
        fputs("</div>\n", out);
    }
    if (coll && hapvm_json_boolean(coll, "partial")) {
        fputs("<div class=\"banner warn\" id=\"partial\">Partial window: ", out);
        esc(out, hapvm_json_string(coll, "partial_reason") ?: "the window did not reach its end condition");
        fputs("</div>\n", out);
    }
    if (g_strcmp0(hapvm_json_string(timing, "end_reason"), "interrupted") == 0)
        fputs("<div class=\"banner warn\" id=\"interrupted\">The measurement was interrupted.</div>\n", out);

    fputs("<dl class=\"kv\" id=\"header\">\n<dt>kernel</dt><dd>", out);
    esc(out, hapvm_json_string(kernel, "release"));
    fputs("</dd>\n<dt>build-id</dt><dd><code>", out);
    esc(out, hapvm_json_string(kernel, "build_id"));
    fputs("</code></dd>\n<dt>started</dt><dd>", out);
    esc(out, hapvm_json_string(timing, "started"));
    fprintf(out, "</dd>\n<dt>window</dt><dd>%s s, warm-up %s s, ended: ", F1(hapvm_json_double(timing, "elapsed_s")),
            F1(hapvm_json_double(timing, "steady_start_s")));
    esc(out, hapvm_json_string(timing, "end_reason"));
    fputs("</dd>\n</dl>\n", out);
    tasks_table(out, target);
    fputs("<details id=\"method\"><summary>Method and timing</summary>\n", out);
    kv_list(out, hapvm_json_object(r, "method"), "method-kv", NULL);
    kv_list(out, timing, "timing-kv", NULL);
    kv_list(out, hapvm_json_object(r, "loss"), "loss-kv", NULL);
    kv_list(out, hapvm_json_object(r, "events"), "events-kv", NULL);
    fputs("</details>\n", out);
    if (coll) {
        fputs("<details id=\"collector\" open><summary>Collector (hapvmd)</summary>\n", out);
        kv_list(out, coll, "collector-kv", no_labels);
        kv_list(out, hapvm_json_object(coll, "labels"), "labels-kv", NULL);
        fputs("</details>\n", out);
    }

    scores_section(out, r);
    curve_chart(out, r);
    tally_chart(out, r, "roles", "By role (HAP-F; a function can count in several roles)", FALSE);
    tally_chart(out, r, "subsystems", "By subsystem (HAP-F)", TRUE);
    fputs("<h2>Entry points</h2>\n", out);
    if (vm)
        vm_section(out, vm);
    syscalls_table(out, r);
    functions_table(out, r);
    page_end(out);
}

/* ---- several results ---- */

typedef struct {
    JsonObject *r;
    const char *file;
    const char *workload; /* group */
    char *runtime;        /* bar */
} Item;

static void
item_clear(Item *it)
{
    g_free(it->runtime);
}

/* collector.labels.runtime, else "<kind> <name>". */
static char *
runtime_of(JsonObject *r)
{
    const char *rt = hapvm_json_string(hapvm_json_object(hapvm_json_object(r, "collector"), "labels"), "runtime");

    if (rt)
        return g_strdup(rt);
    return g_strdup_printf("%s %s", hapvm_json_string(hapvm_json_object(r, "target"), "kind") ?: "?", hapvm_json_string(hapvm_json_object(r, "target"), "name") ?: "?");
}

/* Vertical bars grouped by workload, one per result, like the published
 * HAP charts.  score: "hap_f" or "hap". */
static void
grouped_chart(FILE *out, Item *items, guint n, GPtrArray *groups, GPtrArray *runtimes, const char *score,
              const char *id, const char *label)
{
    const double W = 1100, L = 70, R = 20, T = 20, B = 50;
    double legend = 18.0 * runtimes->len + 10, H = 380 + legend, ph = H - T - B - legend, pw = W - L - R;
    double max = 0;
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    for (guint i = 0; i < n; i++)
        max = MAX(max, hapvm_json_double(hapvm_json_object(items[i].r, "scores"), score));
    double ys = nice_step(max, 6);
    double ytop = axis_top(max, ys);
#define Y(v) (T + legend + ph - (v) / ytop * ph)
    fprintf(out, "<svg class=\"chart grouped\" id=\"%s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "role=\"img\">\n<title>%s by workload</title>\n", id, W, H, W, H, label);
    for (guint k = 0; k < runtimes->len; k++) {
        fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">",
                L, T + 18.0 * k, palette[k % G_N_ELEMENTS(palette)], L + 18, T + 18.0 * k + 11);
        esc_short(out, runtimes->pdata[k], 120);
        fputs("</text>\n", out);
    }
    for (double v = 0; v <= ytop + ys / 2; v += ys)
        fprintf(out, "<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%s\" y2=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%s\" text-anchor=\"end\">%s</text>\n",
                L, W - R, F1(Y(v)), F1(Y(v)), L - 6, F1(Y(v) + 4), tick_label(buf, v, ys));
    fprintf(out, "<text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.0f)\">%s</text>\n",
            T + legend + ph / 2, T + legend + ph / 2, label);
    double gw = pw / groups->len;
    for (guint g = 0; g < groups->len; g++) {
        guint in = 0, j = 0;
        for (guint i = 0; i < n; i++)
            in += g_strcmp0(items[i].workload, groups->pdata[g]) == 0;
        double bw = MIN(70, gw * 0.8 / MAX(in, 1)), x0 = L + gw * g + (gw - bw * in) / 2;
        fputs("<g class=\"group\" data-workload=\"", out);
        esc(out, groups->pdata[g]);
        fprintf(out, "\"><text x=\"%s\" y=\"%.0f\" text-anchor=\"middle\">", F1(L + gw * g + gw / 2), H - B + 20);
        esc_short(out, groups->pdata[g], MAX(4, (glong)(gw / 7.5)));
        fputs("</text>\n", out);
        for (guint i = 0; i < n; i++) {
            if (g_strcmp0(items[i].workload, groups->pdata[g]) != 0)
                continue;
            JsonObject *s = hapvm_json_object(items[i].r, "scores");
            guint k = 0;
            while (k < runtimes->len && g_strcmp0(runtimes->pdata[k], items[i].runtime) != 0)
                k++;
            gboolean has = hapvm_json_is_number(s, score);
            double v = hapvm_json_double(s, score), x = x0 + bw * j++;
            const char *shown = g_str_equal(score, "hap") ? fmt(buf, "%.2f", v) : fmt(buf, "%.0f", v);
            fprintf(out, "<g class=\"bar\" data-chart=\"%s\" data-index=\"%u\" data-file=\"", id, i);
            esc(out, items[i].file);
            fputs("\" data-runtime=\"", out);
            esc(out, items[i].runtime);
            fputs("\" data-value=\"", out);
            if (has)
                esc_value(out, json_object_get_member(s, score));
            fputs("\"><title>", out);
            esc(out, items[i].runtime);
            fputs(" (", out);
            esc(out, items[i].file);
            fprintf(out, "): %s %s%s</title>\n", label, has ? shown : "n/a",
                    hapvm_result_get_lost(items[i].r) ? ", INCOMPLETE (events lost)" : "");
            if (has)
                fprintf(out, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"%s/>"
                        "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s%s</text>",
                        F1(x + 1), F1(Y(v)), F1(bw - 2), F1(Y(0) - Y(v)), palette[k % G_N_ELEMENTS(palette)],
                        hapvm_result_get_lost(items[i].r) ? " stroke=\"#d33\" stroke-width=\"3\"" : "",
                        F1(x + bw / 2), F1(Y(v) - 4), shown, hapvm_result_get_lost(items[i].r) ? "!" : "");
            else
                fprintf(out, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">n/a</text>", F1(x + bw / 2),
                        F1(Y(0) - 4));
            fputs("</g>\n", out);
        }
        fputs("</g>\n", out);
    }
    fprintf(out, "<line class=\"axis\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%s\" y2=\"%s\"/>\n</svg>\n", L, W - R,
            F1(Y(0)), F1(Y(0)));
#undef Y
}

static int
cmp_strp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Union of the member names of results[i].<member>, sorted. */
static GPtrArray *
union_keys(Item *items, guint n, const char *member)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *keys = g_ptr_array_new();

    for (guint i = 0; i < n; i++) {
        JsonObject *o = hapvm_json_object(items[i].r, member);
        g_autoptr(GList) names = o ? json_object_get_members(o) : NULL;
        for (GList *l = names; l; l = l->next)
            if (g_hash_table_add(seen, l->data))
                g_ptr_array_add(keys, l->data);
    }
    g_ptr_array_sort(keys, cmp_strp);
    return keys;
}

static void
compare_table(FILE *out, Item *items, guint n)
{
    const char *first_id = hapvm_json_string(hapvm_json_object(items[0].r, "kernel"), "build_id");

    fputs("<h2>Side by side</h2>\n<table id=\"compare\"><thead><tr><th></th>", out);
    for (guint i = 0; i < n; i++) {
        fputs("<th>", out);
        esc(out, items[i].file);
        fputs("</th>", out);
    }
    fputs("</tr></thead><tbody>\n", out);
#define ROW(label, attr, body)                                                   \
    do {                                                                         \
        fprintf(out, "<tr data-row=\"%s\"><th>%s</th>", attr, label);           \
        for (guint i = 0; i < n; i++) {                                          \
            JsonObject *r = items[i].r;                                          \
            (void)r;                                                             \
            body;                                                                \
        }                                                                        \
        fputs("</tr>\n", out);                                                   \
    } while (0)
#define TD_STR(s) do { fputs("<td>", out); esc(out, (s)); fputs("</td>", out); } while (0)
#define TD_NUM(o, k)                                                                            \
    do {                                                                                        \
        fputs("<td class=\"r\">", out);                                                         \
        if (hapvm_json_is_number((o), (k)))                                                                  \
            esc_value(out, json_object_get_member((o), (k)));                                   \
        else                                                                                    \
            fputs("-", out);                                                                    \
        fputs("</td>", out);                                                                    \
    } while (0)
    ROW("target", "target", TD_STR(hapvm_json_string(hapvm_json_object(r, "target"), "name")));
    ROW("kind", "kind", TD_STR(hapvm_json_string(hapvm_json_object(r, "target"), "kind")));
    ROW("workload", "workload", TD_STR(items[i].workload));
    ROW("runtime", "runtime", TD_STR(items[i].runtime));
    ROW("HAP-F", "hap_f", TD_NUM(hapvm_json_object(r, "scores"), "hap_f"));
    ROW("HAP-L", "hap_l", TD_NUM(hapvm_json_object(r, "scores"), "hap_l"));
    ROW("HAP", "hap", TD_NUM(hapvm_json_object(r, "scores"), "hap"));
    ROW("nabla-compatible count", "nabla_f", TD_NUM(hapvm_json_object(r, "scores"), "nabla_f"));
    ROW("startup functions", "startup_functions", TD_NUM(hapvm_json_object(r, "scores"), "startup_functions"));
    ROW("new in steady state", "steady_new_functions", TD_NUM(hapvm_json_object(r, "scores"), "steady_new_functions"));
    ROW("window s", "elapsed_s", fprintf(out, "<td class=\"r\">%s</td>", F1(hapvm_json_double(hapvm_json_object(r, "timing"), "elapsed_s"))));
    ROW("ended", "end_reason", TD_STR(hapvm_json_string(hapvm_json_object(r, "timing"), "end_reason")));
    ROW("events lost", "lost", {
        guint64 lost = hapvm_result_get_lost(r);
        fprintf(out, "<td class=\"r%s\">%" G_GUINT64_FORMAT "%s</td>", lost ? " flag" : "", lost,
                lost ? " INCOMPLETE" : "");
    });
    ROW("kernel", "kernel", TD_STR(hapvm_json_string(hapvm_json_object(r, "kernel"), "release")));
    ROW("build-id", "build_id", {
        const char *b = hapvm_json_string(hapvm_json_object(r, "kernel"), "build_id");
        fprintf(out, "<td%s><code>", g_strcmp0(b, first_id) ? " class=\"flag\"" : "");
        esc_short(out, b, 12);
        fputs("</code></td>", out);
    });
    fputs("</tbody>\n", out);
    for (int part = 0; part < 2; part++) {
        const char *member = part ? "subsystems" : "roles";
        g_autoptr(GPtrArray) keys = union_keys(items, n, member);
        fprintf(out, "<tbody data-part=\"%s\"><tr><th colspan=\"%u\">per %s (HAP-F / HAP-L)</th></tr>\n", member,
                n + 1, part ? "subsystem" : "role");
        for (guint k = 0; k < keys->len; k++) {
            fputs("<tr><th>", out);
            esc(out, keys->pdata[k]);
            fputs("</th>", out);
            for (guint i = 0; i < n; i++) {
                fputs("<td class=\"r\">", out);
                put_fl(out, hapvm_json_object(hapvm_json_object(items[i].r, member), keys->pdata[k]));
                fputs("</td>", out);
            }
            fputs("</tr>\n", out);
        }
        fputs("</tbody>\n", out);
    }
    fputs("</table>\n", out);
#undef ROW
#undef TD_STR
#undef TD_NUM
}

static void
write_many(FILE *out, JsonObject *const *results, const char *const *files, guint n)
{
    g_autofree Item *items = g_new0(Item, n);
    g_autoptr(GPtrArray) groups = g_ptr_array_new();
    g_autoptr(GPtrArray) runtimes = g_ptr_array_new();
    gboolean labelled = FALSE, mixed = FALSE, any_hap = FALSE;
    guint incomplete = 0;

    for (guint i = 0; i < n; i++) {
        items[i].r = results[i];
        items[i].file = files && files[i] ? files[i] : NULL;
        items[i].workload = hapvm_json_string(hapvm_json_object(hapvm_json_object(results[i], "collector"), "labels"), "workload");
        items[i].runtime = runtime_of(results[i]);
        labelled |= items[i].workload != NULL;
        any_hap |= hapvm_json_is_number(hapvm_json_object(results[i], "scores"), "hap");
        incomplete += hapvm_result_get_lost(results[i]) != 0;
        if (g_strcmp0(hapvm_json_string(hapvm_json_object(results[i], "kernel"), "build_id"), hapvm_json_string(hapvm_json_object(results[0], "kernel"), "build_id")))
            mixed = TRUE;
    }
    g_autofree char **fallback = g_new0(char *, n + 1);
    for (guint i = 0; i < n; i++) {
        if (!items[i].file)
            items[i].file = fallback[i] = g_strdup_printf("result %u", i + 1);
        /* Unlabelled results: one group of their own when others are labelled. */
        if (!items[i].workload)
            items[i].workload = labelled ? "(no workload label)" : "all results";
        if (!g_ptr_array_find_with_equal_func(groups, items[i].workload, g_str_equal, NULL))
            g_ptr_array_add(groups, (gpointer)items[i].workload);
        if (!g_ptr_array_find_with_equal_func(runtimes, items[i].runtime, g_str_equal, NULL))
            g_ptr_array_add(runtimes, items[i].runtime);
    }

    g_autofree char *title = g_strdup_printf("hapvm: %u results", n);
    page_begin(out, title, NULL);
    fprintf(out, "<h1>Horizontal attack profiles: %u results</h1>\n<p class=\"sub\">Grouped by the "
            "<code>collector.labels.workload</code> label%s; one bar per result, coloured by "
            "<code>collector.labels.runtime</code> (else target kind and name), in file order.</p>\n",
            n, labelled ? "" : " (none has one: one group)");
    if (incomplete)
        fprintf(out, "<div class=\"banner bad\" id=\"loss\" data-incomplete=\"%u\">INCOMPLETE: %u of %u results lost "
                "trace events (marked ! and outlined in red); their scores may be too low.</div>\n",
                incomplete, incomplete, n);
    else
        fputs("<div class=\"banner ok\" id=\"loss\" data-incomplete=\"0\">Complete: no result lost trace events."
              "</div>\n", out);
    if (mixed)
        fputs("<div class=\"banner warn\" id=\"mixed\">The results come from different kernels (build-ids differ): "
              "their HAPs are not comparable.</div>\n", out);
    fputs("<h2>HAP-F by workload</h2>\n", out);
    grouped_chart(out, items, n, groups, runtimes, "hap_f", "grouped-hap_f", "HAP-F");
    if (any_hap) {
        fputs("<h2>HAP by workload (results without lines: n/a)</h2>\n", out);
        grouped_chart(out, items, n, groups, runtimes, "hap", "grouped-hap", "HAP");
    }
    compare_table(out, items, n);
    page_end(out);
    for (guint i = 0; i < n; i++) {
        item_clear(&items[i]);
        g_free(fallback[i]);
    }
}

gboolean
hapvm_html_write(JsonObject *const *results, const char *const *files, guint n, FILE *out, GError **error)
{
    if (n == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "no result to render");
        return FALSE;
    }
    if (n == 1)
        write_one(out, results[0], files ? files[0] : NULL);
    else
        write_many(out, results, files, n);
    if (fflush(out) != 0 || ferror(out)) {
        int e = errno;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write the HTML report: %s", g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

gboolean
hapvm_html_write_file(JsonObject *const *results, const char *const *files, guint n, const char *path,
                      GError **error)
{
    if (!path || g_str_equal(path, "-"))
        return hapvm_html_write(results, files, n, stdout, error);

    g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (!f) {
        int e = errno;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot create %s: %s (is its directory writable?)",
                    tmp, g_strerror(e));
        return FALSE;
    }
    gboolean ok = hapvm_html_write(results, files, n, f, error);
    if (fclose(f) != 0 && ok) {
        int e = errno;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot write %s: %s", tmp, g_strerror(e));
        ok = FALSE;
    }
    if (ok && rename(tmp, path) != 0) {
        int e = errno;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot rename %s to %s: %s", tmp, path, g_strerror(e));
        ok = FALSE;
    }
    if (!ok)
        unlink(tmp);
    return ok;
}

/* Fleet analysis (docs/hapvm-fleet.md).
 *
 * Reading: a result is 0.3-0.9 MB of JSON, 95 % of it the `functions`
 * array, and fleet needs a few scalars plus the names of the functions with
 * "hap_f": true.  The fast reader is a validating single-pass scanner over the
 * file's bytes (read into a per-thread buffer) that decodes only those members and skips the rest
 * without building anything; function names are interned (one hash table per
 * worker thread, merged once at the end), so nothing is allocated per
 * function.  Elements of `functions` in hapvm's own layout are matched
 * directly (the layout fast path); others go through a general two-stage
 * walk.  The json-glib reader extracts the same record from a full parse;
 * the tests require all of them to agree. */
#include "hapvm-fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-result.h"

/* ------------------------------------------------------------------------ */
/* Interned names */

typedef struct {
    guint32 off, len, hash;
} NameEntry;

struct HapvmFleetNames {
    GArray *entries;   /* NameEntry; the id is the index */
    GString *arena;    /* NUL-terminated names */
    guint32 *slots;    /* open addressing: id + 1, 0 = empty */
    guint32 mask;
};

static inline guint32
name_hash(const char *s, gsize len)
{
    guint64 h = 0x9e3779b97f4a7c15ull ^ len, w;

    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (guint32)h;
}

HapvmFleetNames *
hapvm_fleet_names_new(void)
{
    HapvmFleetNames *n = g_new0(HapvmFleetNames, 1);

    n->entries = g_array_new(FALSE, FALSE, sizeof(NameEntry));
    n->arena = g_string_sized_new(64 * 1024);
    n->mask = 4096 - 1;
    n->slots = g_new0(guint32, n->mask + 1);
    return n;
}

void
hapvm_fleet_names_free(HapvmFleetNames *n)
{
    if (!n)
        return;
    g_array_unref(n->entries);
    g_string_free(n->arena, TRUE);
    g_free(n->slots);
    g_free(n);
}

static void
names_grow(HapvmFleetNames *n)
{
    guint32 mask = n->mask * 2 + 1;
    guint32 *slots = g_new0(guint32, mask + 1);

    for (guint i = 0; i < n->entries->len; i++) {
        guint32 j = g_array_index(n->entries, NameEntry, i).hash & mask;

        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    g_free(n->slots);
    n->slots = slots;
    n->mask = mask;
}

/* memcmp() == 0 for short names, inline (the call showed in profiles). */
static inline gboolean
names_eq(const char *a, const char *b, gsize len)
{
    guint64 x, y;

    for (; len >= 8; a += 8, b += 8, len -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return FALSE;
    }
    for (; len; len--)
        if (*a++ != *b++)
            return FALSE;
    return TRUE;
}

guint32
hapvm_fleet_names_intern(HapvmFleetNames *n, const char *s, gsize len)
{
    guint32 h = name_hash(s, len), j = h & n->mask;
    NameEntry e;

    for (; n->slots[j]; j = (j + 1) & n->mask) {
        const NameEntry *o = &g_array_index(n->entries, NameEntry, n->slots[j] - 1);

        if (o->hash == h && o->len == len && names_eq(n->arena->str + o->off, s, len))
            return n->slots[j] - 1;
    }
    e.off = (guint32)n->arena->len;
    e.len = (guint32)len;
    e.hash = h;
    g_string_append_len(n->arena, s, (gssize)len);
    g_string_append_c(n->arena, '\0');
    g_array_append_val(n->entries, e);
    n->slots[j] = n->entries->len;
    if (n->entries->len * 2 > n->mask)
        names_grow(n);
    return n->entries->len - 1;
}

const char *
hapvm_fleet_names_get(const HapvmFleetNames *n, guint32 id)
{
    g_return_val_if_fail(id < n->entries->len, NULL);
    return n->arena->str + g_array_index(n->entries, NameEntry, id).off;
}

guint
hapvm_fleet_names_count(const HapvmFleetNames *n)
{
    return n->entries->len;
}

/* ------------------------------------------------------------------------ */
/* The record */

void
hapvm_fleet_result_free(HapvmFleetResult *r)
{
    if (!r)
        return;
    g_free(r->path);
    g_free(r->uuid);
    g_free(r->host);
    g_free(r->domain);
    g_free(r->kind);
    g_free(r->target);
    g_free(r->release);
    g_free(r->build_id);
    g_free(r->started);
    g_strfreev(r->label_names);
    g_strfreev(r->label_values);
    g_free(r->functions);
    g_free(r);
}

const char *
hapvm_fleet_result_get_label(const HapvmFleetResult *r, const char *name)
{
    for (guint i = 0; i < r->n_labels; i++)
        if (strcmp(r->label_names[i], name) == 0)
            return r->label_values[i];
    return NULL;
}

/* What both readers collect before the record is finished. */
typedef struct {
    HapvmFleetResult *r;
    GPtrArray *label_names, *label_values;
    GArray *functions;           /* guint32 */
    gboolean schema_ok, have_kind, have_hap_f, have_loss, have_functions;
    gboolean hap_l_null, hap_null;
    gint64 version;
} Collect;

static void
collect_init(Collect *c, const char *path, GArray *scratch)
{
    memset(c, 0, sizeof(*c));
    c->r = g_new0(HapvmFleetResult, 1);
    c->r->path = g_strdup(path);
    c->label_names = g_ptr_array_new_with_free_func(g_free);
    c->label_values = g_ptr_array_new_with_free_func(g_free);
    c->functions = scratch;
    g_array_set_size(scratch, 0);
    c->hap_l_null = c->hap_null = TRUE;
}

static void
collect_clear(Collect *c)
{
    hapvm_fleet_result_free(c->r);
    g_ptr_array_unref(c->label_names);
    g_ptr_array_unref(c->label_values);
}

/* Set a label (a repeated name replaces the value, as in a JSON object). */
static void
collect_label(Collect *c, char *name, char *value)
{
    for (guint i = 0; i < c->label_names->len; i++) {
        if (strcmp(c->label_names->pdata[i], name) == 0) {
            g_free(name);
            g_free(c->label_values->pdata[i]);
            c->label_values->pdata[i] = value;
            return;
        }
    }
    g_ptr_array_add(c->label_names, name);
    g_ptr_array_add(c->label_values, value);
}

static char **
strv_of(GPtrArray *a)
{
    char **v = g_new0(char *, a->len + 1);

    for (guint i = 0; i < a->len; i++)
        v[i] = g_strdup(a->pdata[i]);
    return v;
}

/* The checks both readers share; on success hands over the record. */
static HapvmFleetResult *
collect_finish(Collect *c, GError **error)
{
    HapvmFleetResult *r = c->r;
    const char *missing = NULL;

    if (!c->schema_ok) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "not a hapvm result (no \"schema\": \"%s\")",
                    HAPVM_RESULT_SCHEMA);
        return NULL;
    }
    if (c->version > HAPVM_RESULT_VERSION) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "result version %" G_GINT64_FORMAT " is newer than this hapvm understands (%d)",
                    c->version, HAPVM_RESULT_VERSION);
        return NULL;
    }
    if (!c->have_kind)
        missing = "target.kind";
    else if (!c->have_hap_f)
        missing = "scores.hap_f";
    else if (!c->have_loss)
        missing = "loss.complete";
    else if (!c->have_functions)
        missing = "functions";
    if (missing) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "member %s is missing", missing);
        return NULL;
    }
    r->has_hap_l = !c->hap_l_null && !c->hap_null;
    if (!r->has_hap_l)
        r->hap_l = r->hap = 0;
    if (!r->uuid) {
        g_autofree char *dir = g_path_get_dirname(r->path);

        r->uuid = g_path_get_basename(dir);
    }
    r->n_labels = c->label_names->len;
    r->label_names = strv_of(c->label_names);
    r->label_values = strv_of(c->label_values);
    r->n_functions = c->functions->len;
    r->functions = g_memdup2(c->functions->data, c->functions->len * sizeof(guint32));
    c->r = NULL;
    return r;
}

/* ------------------------------------------------------------------------ */
/* The fast reader: a scanner over the bytes */

typedef struct {
    const char *p, *end, *start;
    const char *error;    /* static reason; position is p */
    char buf[256];        /* decoded escaped strings */
} Scan;

enum { C_WS = 1, C_STR = 2, C_NUM = 4 };
static guint8 ctab[256];

static void
ctab_init_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        ctab[' '] = ctab['\n'] = ctab['\r'] = ctab['\t'] = C_WS;
        for (int c = 0; c < 0x20; c++)
            ctab[c] |= C_STR;  /* control characters: not allowed raw in strings */
        ctab['"'] |= C_STR;
        ctab['\\'] |= C_STR;
        for (const char *q = "0123456789+-.eE"; *q; q++)
            ctab[(guchar)*q] |= C_NUM;
        g_once_init_leave(&done, 1);
    }
}

#define FAIL(s, msg) ((s)->error = (msg), FALSE)

static inline void
ws(Scan *s)
{
    const char *p = s->p, *e = s->end;

    while (p < e && (ctab[(guchar)*p] & C_WS))
        p++;
    s->p = p;
}

static inline int
peek(Scan *s)
{
    return s->p < s->end ? (guchar)*s->p : -1;
}

/* At '"': the raw contents (escapes undecoded) and whether any escape. */
static inline gboolean
scan_string(Scan *s, const char **str, gsize *len, gboolean *esc)
{
    const char *p = s->p + 1, *e = s->end, *b = p;
    gboolean any = FALSE;

    for (;;) {
        while (p < e && !(ctab[(guchar)*p] & C_STR))
            p++;
        if (p >= e)
            return FAIL(s, "unterminated string");
        if (*p == '"')
            break;
        if (*p != '\\')
            return FAIL(s, "control character in a string");
        any = TRUE;
        if (p + 1 >= e)
            return FAIL(s, "unterminated string");
        if (!strchr("\"\\/bfnrtu", p[1]))
            return FAIL(s, "bad escape in a string");
        p += 2;
    }
    *str = b;
    *len = (gsize)(p - b);
    *esc = any;
    s->p = p + 1;
    return TRUE;
}

static int
hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int c = g_ascii_xdigit_value(p[i]);

        if (c < 0)
            return -1;
        v = v * 16 + c;
    }
    return v;
}

/* Decode a string's escapes (scan_string checked the shape) into a new
 * string; NULL on a bad \u escape. */
static char *
unescape(const char *s, gsize len)
{
    GString *out = g_string_sized_new(len);
    const char *e = s + len;

    while (s < e) {
        gunichar u;
        int v, lo;

        if (*s != '\\') {
            g_string_append_c(out, *s++);
            continue;
        }
        switch (s[1]) {
        case 'b': g_string_append_c(out, '\b'); s += 2; continue;
        case 'f': g_string_append_c(out, '\f'); s += 2; continue;
        case 'n': g_string_append_c(out, '\n'); s += 2; continue;
        case 'r': g_string_append_c(out, '\r'); s += 2; continue;
        case 't': g_string_append_c(out, '\t'); s += 2; continue;
        case 'u': break;
        default: g_string_append_c(out, s[1]); s += 2; continue;
        }
        if (e - s < 6 || (v = hex4(s + 2)) < 0)
            goto bad;
        s += 6;
        u = (gunichar)v;
        if (v >= 0xd800 && v < 0xdc00) {
            if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || (lo = hex4(s + 2)) < 0xdc00 || lo > 0xdfff)
                goto bad;
            u = 0x10000 + (((gunichar)v - 0xd800) << 10) + ((gunichar)lo - 0xdc00);
            s += 6;
        } else if (v >= 0xdc00 && v < 0xe000) {
            goto bad;
        }
        if (u == 0)
            goto bad;  /* json-glib refuses NUL in strings too */
        g_string_append_unichar(out, u);
    }
    return g_string_free(out, FALSE);
bad:
    g_string_free(out, TRUE);
    return NULL;
}

static gboolean skip_value(Scan *s, int depth);

static gboolean
skip_number(Scan *s)
{
    const char *p = s->p;

    while (p < s->end && (ctab[(guchar)*p] & C_NUM))
        p++;
    if (p == s->p)
        return FAIL(s, "unexpected character");
    s->p = p;
    return TRUE;
}

static gboolean
skip_literal(Scan *s, const char *lit, gsize n)
{
    if ((gsize)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return FAIL(s, "unexpected character");
    s->p += n;
    return TRUE;
}

/* Object and array iteration.  obj_next: 1 = a member, positioned at its
 * value (key in *k, *kl, decoded into s->buf if escaped); 0 = the end,
 * consumed; -1 = error. */
static int
obj_next(Scan *s, gboolean *first, const char **k, gsize *kl)
{
    gboolean esc;

    ws(s);
    if (peek(s) == -1)
        return s->error = "unexpected end of file (truncated?)", -1;
    if (peek(s) == '}') {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (peek(s) != ',')
            return s->error = "expected ',' or '}' in an object", -1;
        s->p++;
        ws(s);
    }
    *first = FALSE;
    if (peek(s) != '"')
        return s->error = "expected a member name", -1;
    if (!scan_string(s, k, kl, &esc))
        return -1;
    if (esc) {
        g_autofree char *d = unescape(*k, *kl);

        if (!d)
            return s->error = "bad escape in a string", -1;
        g_strlcpy(s->buf, d, sizeof(s->buf));
        *k = s->buf;
        *kl = strlen(s->buf);
    }
    ws(s);
    if (peek(s) != ':')
        return s->error = "expected ':' after a member name", -1;
    s->p++;
    ws(s);
    return 1;
}

static int
arr_next(Scan *s, gboolean *first)
{
    ws(s);
    if (peek(s) == -1)
        return s->error = "unexpected end of file (truncated?)", -1;
    if (peek(s) == ']') {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (peek(s) != ',')
            return s->error = "expected ',' or ']' in an array", -1;
        s->p++;
        ws(s);
    }
    *first = FALSE;
    if (peek(s) == ']')
        return s->error = "unexpected ']'", -1;
    return 1;
}

static gboolean
skip_value(Scan *s, int depth)
{
    const char *k;
    gsize kl;
    gboolean esc, first = TRUE;
    int r;

    if (depth > 64)
        return FAIL(s, "nested too deeply");
    switch (peek(s)) {
    case '"':
        return scan_string(s, &k, &kl, &esc);
    case '{':
        s->p++;
        while ((r = obj_next(s, &first, &k, &kl)) == 1)
            if (!skip_value(s, depth + 1))
                return FALSE;
        return r == 0;
    case '[':
        s->p++;
        while ((r = arr_next(s, &first)) == 1)
            if (!skip_value(s, depth + 1))
                return FALSE;
        return r == 0;
    case 't':
        return skip_literal(s, "true", 4);
    case 'f':
        return skip_literal(s, "false", 5);
    case 'n':
        return skip_literal(s, "null", 4);
    case -1:
        return FAIL(s, "unexpected end of file");
    default:
        return skip_number(s);
    }
}

#define KEY(k, kl, lit) ((kl) == sizeof(lit) - 1 && memcmp((k), lit, sizeof(lit) - 1) == 0)

/* A string or null (*out NULL); `what` names the member in errors. */
static gboolean
get_string(Scan *s, char **out, const char **what_err)
{
    const char *v;
    gsize n;
    gboolean esc;

    g_clear_pointer(out, g_free);
    if (peek(s) == 'n')
        return skip_literal(s, "null", 4);
    if (peek(s) != '"')
        return FAIL(s, *what_err);
    if (!scan_string(s, &v, &n, &esc))
        return FALSE;
    if (memchr(v, '\0', n))
        return FAIL(s, "NUL in a string");
    *out = esc ? unescape(v, n) : g_strndup(v, n);
    if (!*out)
        return FAIL(s, "bad escape in a string");
    return TRUE;
}

static gboolean
get_number(Scan *s, double *out, gboolean *is_null, const char *type_err)
{
    char buf[64], *end;
    const char *p = s->p;

    if (is_null && peek(s) == 'n') {
        *is_null = TRUE;
        return skip_literal(s, "null", 4);
    }
    if (peek(s) != '-' && !g_ascii_isdigit(peek(s)))
        return FAIL(s, type_err);
    while (p < s->end && (ctab[(guchar)*p] & C_NUM))
        p++;
    if ((gsize)(p - s->p) >= sizeof(buf))
        return FAIL(s, "number too long");
    memcpy(buf, s->p, (gsize)(p - s->p));
    buf[p - s->p] = '\0';
    *out = g_ascii_strtod(buf, &end);
    if (*end || !isfinite(*out))
        return FAIL(s, "bad number");
    if (is_null)
        *is_null = FALSE;
    s->p = p;
    return TRUE;
}

static gboolean
get_bool(Scan *s, gboolean *out, gboolean null_ok, const char *type_err)
{
    if (peek(s) == 't') {
        *out = TRUE;
        return skip_literal(s, "true", 4);
    }
    if (peek(s) == 'f') {
        *out = FALSE;
        return skip_literal(s, "false", 5);
    }
    if (null_ok && peek(s) == 'n') {
        *out = FALSE;
        return skip_literal(s, "null", 4);
    }
    return FAIL(s, type_err);
}

/* Section readers: each positioned at the member's value. */
#define SECTION_BEGIN(s, what)                        \
    const char *k;                                    \
    gsize kl;                                         \
    gboolean first = TRUE;                            \
    int r;                                            \
    if (peek(s) != '{')                               \
        return FAIL(s, what " is not an object");     \
    (s)->p++;                                         \
    while ((r = obj_next((s), &first, &k, &kl)) == 1)
#define SECTION_END return r == 0

static gboolean
scan_target(Scan *s, Collect *c)
{
    static const char *e_kind = "target.kind is not a string", *e_name = "target.name is not a string";

    SECTION_BEGIN(s, "target") {
        gboolean ok;

        if (KEY(k, kl, "kind")) {
            ok = get_string(s, &c->r->kind, &e_kind);
            c->have_kind = c->r->kind != NULL;
        } else if (KEY(k, kl, "name")) {
            ok = get_string(s, &c->r->target, &e_name);
        } else {
            ok = skip_value(s, 2);
        }
        if (!ok)
            return FALSE;
    }
    SECTION_END;
}

static gboolean
scan_kernel(Scan *s, Collect *c)
{
    static const char *e_rel = "kernel.release is not a string", *e_bid = "kernel.build_id is not a string";

    SECTION_BEGIN(s, "kernel") {
        gboolean ok;

        if (KEY(k, kl, "release"))
            ok = get_string(s, &c->r->release, &e_rel);
        else if (KEY(k, kl, "build_id"))
            ok = get_string(s, &c->r->build_id, &e_bid);
        else
            ok = skip_value(s, 2);
        if (!ok)
            return FALSE;
    }
    SECTION_END;
}

static gboolean
scan_timing(Scan *s, Collect *c)
{
    static const char *e = "timing.started is not a string";

    SECTION_BEGIN(s, "timing") {
        if (!(KEY(k, kl, "started") ? get_string(s, &c->r->started, &e) : skip_value(s, 2)))
            return FALSE;
    }
    SECTION_END;
}

static gboolean
scan_loss(Scan *s, Collect *c)
{
    SECTION_BEGIN(s, "loss") {
        gboolean ok;

        if (KEY(k, kl, "complete")) {
            ok = get_bool(s, &c->r->loss_complete, FALSE, "loss.complete is not a boolean");
            c->have_loss = TRUE;
        } else {
            ok = skip_value(s, 2);
        }
        if (!ok)
            return FALSE;
    }
    SECTION_END;
}

static gboolean
scan_scores(Scan *s, Collect *c)
{
    SECTION_BEGIN(s, "scores") {
        gboolean ok;

        if (KEY(k, kl, "hap_f")) {
            ok = get_number(s, &c->r->hap_f, NULL, "scores.hap_f is not a number");
            c->have_hap_f = TRUE;
        } else if (KEY(k, kl, "hap_l")) {
            ok = get_number(s, &c->r->hap_l, &c->hap_l_null, "scores.hap_l is not a number");
        } else if (KEY(k, kl, "hap")) {
            ok = get_number(s, &c->r->hap, &c->hap_null, "scores.hap is not a number");
        } else {
            ok = skip_value(s, 2);
        }
        if (!ok)
            return FALSE;
    }
    SECTION_END;
}

static gboolean
scan_labels(Scan *s, Collect *c)
{
    static const char *e = "collector.labels: a value is not a string";

    SECTION_BEGIN(s, "collector.labels") {
        char *v = NULL;
        g_autofree char *name = g_strndup(k, kl);

        if (!get_string(s, &v, &e))
            return FALSE;
        if (v)
            collect_label(c, g_steal_pointer(&name), v);
    }
    SECTION_END;
}

static gboolean
scan_collector(Scan *s, Collect *c)
{
    static const char *e_host = "collector.host is not a string", *e_dom = "collector.domain is not a string",
                      *e_uuid = "collector.uuid is not a string";

    c->r->has_collector = TRUE;
    SECTION_BEGIN(s, "collector") {
        gboolean ok;

        if (KEY(k, kl, "host"))
            ok = get_string(s, &c->r->host, &e_host);
        else if (KEY(k, kl, "domain"))
            ok = get_string(s, &c->r->domain, &e_dom);
        else if (KEY(k, kl, "uuid"))
            ok = get_string(s, &c->r->uuid, &e_uuid);
        else if (KEY(k, kl, "partial"))
            ok = get_bool(s, &c->r->partial, TRUE, "collector.partial is not a boolean");
        else if (KEY(k, kl, "labels"))
            ok = peek(s) == 'n' ? skip_literal(s, "null", 4) : scan_labels(s, c);
        else
            ok = skip_value(s, 2);
        if (!ok)
            return FALSE;
    }
    SECTION_END;
}

/* The hot loop: the `functions` array, 95 % of a result.
 *
 * Stage 1 classifies 64 bytes at a time into bit masks (quotes, backslashes,
 * whitespace, structural characters, control characters; AVX2 where the CPU
 * has it, else a table), finds the bytes inside strings with a prefix XOR of
 * the unescaped quotes, and yields "events": structural characters outside
 * strings and the quotes themselves.  Stage 2 is a push-down automaton over
 * the events that checks the JSON grammar, validates every scalar (the bytes
 * between a ':', ',' or '[' and the next event), and, for each element
 * object, takes the "name" string and the "hap_f" literal.  Every byte that
 * is neither whitespace, structural, nor in a string must belong to a
 * validated scalar: the two counts are compared at the end, so stray
 * characters anywhere are caught without looking at each byte twice. */

typedef struct {
    const char *data;  /* the file */
    gsize len;
    gsize base;        /* offset of the current block */
    guint64 events;    /* remaining events of the current block */
    guint64 other;     /* the block's non-ws, non-structural bytes outside strings */
    guint64 in_carry;  /* ~0 if the previous block ended inside a string */
    guint64 esc_carry; /* 1 if the previous block ended with an unescaping backslash */
    guint64 other_count;
    gsize origin;      /* the first block's offset: blocks are at origin + 64 k */
    guint skip;        /* leading bytes of the next block to ignore (after a rebase) */
    const char *error;
    gsize error_pos;
} Events;

typedef struct {
    guint64 q, bs, ws, st, ctrl;
} Masks;

static inline __attribute__((always_inline)) void
classify_table(const guchar *b, Masks *m)
{
    static guint8 t[256];
    static gsize done;

    if (g_once_init_enter(&done)) {
        t['"'] = 1;
        t['\\'] = 2;
        t[' '] = t['\n'] = t['\r'] = t['\t'] = 4;
        for (const char *q = "{}[]:,"; *q; q++)
            t[(guchar)*q] = 8;
        g_once_init_leave(&done, 1);
    }
    memset(m, 0, sizeof(*m));
    for (guint i = 0; i < 64; i++) {
        guint8 c = t[b[i]];
        guint64 bit = G_GUINT64_CONSTANT(1) << i;

        m->q |= c & 1 ? bit : 0;
        m->bs |= c & 2 ? bit : 0;
        m->ws |= c & 4 ? bit : 0;
        m->st |= c & 8 ? bit : 0;
        m->ctrl |= b[i] < 0x20 ? bit : 0;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)

__attribute__((target("avx2"), always_inline)) static inline void
classify_half(__m256i v, guint64 *q, guint64 *bs, guint64 *ws, guint64 *st, guint64 *ctrl, int shift)
{
#define EQ(ch) _mm256_cmpeq_epi8(v, _mm256_set1_epi8(ch))
#define MASK(x) ((guint64)(guint32)_mm256_movemask_epi8(x) << shift)
    /* { and } are [ and ] with bit 5 set: fold before comparing. */
    __m256i f = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
    __m256i br = _mm256_or_si256(_mm256_cmpeq_epi8(f, _mm256_set1_epi8('{')), _mm256_cmpeq_epi8(f, _mm256_set1_epi8('}')));
    __m256i ctl = _mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8(0x1f)), _mm256_set1_epi8(0x1f));

    *q |= MASK(EQ('"'));
    *bs |= MASK(EQ('\\'));
    *ws |= MASK(_mm256_or_si256(EQ(' '), _mm256_and_si256(ctl, _mm256_or_si256(_mm256_or_si256(EQ('\n'), EQ('\r')), EQ('\t')))));
    *st |= MASK(_mm256_or_si256(br, _mm256_or_si256(EQ(':'), EQ(','))));
    *ctrl |= MASK(ctl);
#undef EQ
#undef MASK
}

__attribute__((target("avx2"), always_inline)) static inline void
classify_avx2(const guchar *b, Masks *m)
{
    guint64 q = 0, bs = 0, ws = 0, st = 0, ctrl = 0;

    classify_half(_mm256_loadu_si256((const __m256i *)b), &q, &bs, &ws, &st, &ctrl, 0);
    classify_half(_mm256_loadu_si256((const __m256i *)(b + 32)), &q, &bs, &ws, &st, &ctrl, 32);
    m->q = q;
    m->bs = bs;
    m->ws = ws;
    m->st = st;
    m->ctrl = ctrl;
}
#endif


static inline guint64
prefix_xor(guint64 x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* Classify the block at ev->base (ev->base < ev->len); compiled twice
 * (AVX2 and table) so that each variant inlines its classifier. */
static inline __attribute__((always_inline)) gboolean
events_fill_body(Events *ev, void (*cls)(const guchar *, Masks *))
{
    guchar pad[64];
    const guchar *b = (const guchar *)ev->data + ev->base;
    gsize n = ev->len - ev->base;
    Masks m;
    guint64 escaped = 0, in;

    if (n < 64) {
        memcpy(pad, b, n);
        memset(pad + n, ' ', 64 - n);
        b = pad;
    }
    cls(b, &m);
    if (G_UNLIKELY(ev->skip)) {
        /* Resuming after the layout path inside this block: its leading
         * bytes were read there (whitespace to stage 1 now). */
        guint64 keep = ~G_GUINT64_CONSTANT(0) << ev->skip;

        m.q &= keep;
        m.bs &= keep;
        m.ctrl &= keep;
        m.st &= keep;
        m.ws |= ~keep;
        ev->skip = 0;
    }
    if (G_UNLIKELY(m.bs || ev->esc_carry)) {
        /* Rare: walk the backslashes; an unescaped one escapes the next byte. */
        guint64 bs = m.bs;

        escaped = ev->esc_carry;
        ev->esc_carry = 0;
        while (bs) {
            guint i = (guint)__builtin_ctzll(bs);

            bs &= bs - 1;
            if (escaped >> i & 1)
                continue;
            if (i == 63)
                ev->esc_carry = 1;
            else
                escaped |= G_GUINT64_CONSTANT(1) << (i + 1);
            {
                gsize at = ev->base + i + 1;  /* validated here: the escape's letter */
                char e = at < ev->len ? ev->data[at] : '\0';

                if (!e || !strchr("\"\\/bfnrtu", e) ||
                    (e == 'u' && (at + 5 > ev->len || hex4(ev->data + at + 1) < 0))) {
                    ev->error = "bad escape in a string";
                    ev->error_pos = ev->base + i;
                    return FALSE;
                }
            }
        }
    }
    m.q &= ~escaped;
    in = prefix_xor(m.q) ^ ev->in_carry;
    ev->in_carry = (guint64)((gint64)in >> 63);
    /* Control characters outside strings (not whitespace) count as
     * "other" bytes below and are rejected by the count check. */
    if (m.ctrl & in & ~m.q) {
        ev->error = "control character in a string";
        ev->error_pos = ev->base + (gsize)__builtin_ctzll(m.ctrl & in & ~m.q);
        return FALSE;
    }
    if (m.bs & ~in) {
        ev->error = "unexpected character";
        ev->error_pos = ev->base + (gsize)__builtin_ctzll(m.bs & ~in);
        return FALSE;
    }
    ev->events = (m.st & ~in) | m.q;
    ev->other = ~(m.ws | m.st | m.q | in);
    if (n < 64)
        ev->other &= (G_GUINT64_CONSTANT(1) << n) - 1;
    ev->other_count += (guint64)__builtin_popcountll(ev->other);
    return TRUE;
}

static gboolean
events_fill_table(Events *ev)
{
    return events_fill_body(ev, classify_table);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,popcnt,bmi"))) static gboolean
events_fill_avx2(Events *ev)
{
    return events_fill_body(ev, classify_avx2);
}
#endif

/* The layout fast path (below) on or off; elements read by each path. */
static gboolean layout_enabled = TRUE;
static _Thread_local guint64 layout_elements, general_elements;

static gboolean (*events_fill)(Events *ev);

static void
classify_init_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        events_fill = events_fill_table;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && !g_getenv("HAPVM_FLEET_NO_SIMD"))
            events_fill = events_fill_avx2;
#endif
        if (g_getenv("HAPVM_FLEET_NO_LAYOUT"))  /* benchmarks: the general walk only */
            layout_enabled = FALSE;
        g_once_init_leave(&done, 1);
    }
}

/* The next event's offset, or (gsize)-1 at the end of data or on error
 * (ev->error set). */
static inline gsize
events_next(Events *ev)
{
    while (!ev->events) {
        ev->base += 64;
        if (ev->base >= ev->len || !events_fill(ev))
            return (gsize)-1;
    }
    {
        gsize pos = ev->base + (gsize)__builtin_ctzll(ev->events);

        ev->events &= ev->events - 1;
        return pos;
    }
}

/* The scalar between two events (exclusive), if any: *atom and *len; a
 * lone scalar with whitespace around it, else an error. */
static gboolean
gap_scalar(Events *ev, gsize a, gsize z, const char **atom, gsize *len)
{
    const char *p = ev->data + a, *e = ev->data + z, *b;

    while (p < e && (ctab[(guchar)*p] & C_WS))
        p++;
    *len = 0;
    if (p == e)
        return TRUE;
    b = p;
    if (*p == 't' || *p == 'f' || *p == 'n') {
        while (p < e && g_ascii_isalpha(*p))
            p++;
        if (!((p - b == 4 && (!memcmp(b, "true", 4) || !memcmp(b, "null", 4))) ||
              (p - b == 5 && !memcmp(b, "false", 5))))
            goto bad;
    } else {
        if (*p != '-' && !g_ascii_isdigit(*p))
            goto bad;
        while (p < e && (ctab[(guchar)*p] & C_NUM))
            p++;
    }
    *atom = b;
    *len = (gsize)(p - b);
    while (p < e && (ctab[(guchar)*p] & C_WS))
        p++;
    if (p != e)
        goto bad;
    return TRUE;
bad:
    ev->error = "unexpected character";
    ev->error_pos = (gsize)(p - ev->data);
    return FALSE;
}

/* The layout fast path.  hapvm writes results with json-glib's pretty
 * printer and hapvm_result_build()'s member order, so nearly every element
 * of `functions` is, byte for byte,
 *
 *     \n    {\n      "name" : STR,\n      "module" : V,\n ... "startup" : V\n    }
 *
 * with the twelve members in a fixed order.  layout_element() matches that
 * text directly (the keys and the whitespace between them with fixed
 * comparisons, the values with a small scanner) and takes `name` and
 * `hap_f` on the way, skipping the two-stage walk.  It accepts only what the
 * general walk accepts, with the same record: values are strings without
 * escapes or control characters, numbers by the same character rule,
 * true/false/null, or flat arrays of those; `name` a string, `hap_f` a
 * boolean.  On any other byte it returns NULL and the general walk reads the
 * element (so an element of another layout, a future member, an escape, or
 * an error is the general walk's business, and the reported error is its). */

void
hapvm_fleet_set_layout_fast_path(gboolean on)
{
    layout_enabled = on;
}

void
hapvm_fleet_get_layout_counts(guint64 *fast, guint64 *general)
{
    *fast = layout_elements;
    *general = general_elements;
}

/* At a string's first byte: just after its closing quote, or NULL (an
 * escape, a control character, the end of data). */
static inline const char *
layout_string(const char *p, const char *e)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);

    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f);
        guint m = (guint)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bsl)), ctl));

        if (m) {
            p += __builtin_ctz(m);
            return *p == '"' ? p + 1 : NULL;
        }
        p += 16;
    }
#endif
    for (; p < e; p++)
        if (ctab[(guchar)*p] & C_STR)
            return *p == '"' ? p + 1 : NULL;
    return NULL;
}

/* A scalar (string, number, true, false, null): just after it, or NULL.
 * What follows a number or literal is checked by the caller. */
static inline const char *
layout_scalar(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        return layout_string(p + 1, e);
    case 't':
        return e - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'n':
        return e - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return e - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    default:
        if (*p != '-' && !g_ascii_isdigit(*p))
            return NULL;
        for (p++; p < e && (ctab[(guchar)*p] & C_NUM); p++)
            ;
        return p;
    }
}

static inline const char *
layout_ws(const char *p, const char *e)
{
    while (p < e && (ctab[(guchar)*p] & C_WS))
        p++;
    return p;
}

/* A member's value: a scalar or a flat array of scalars (any whitespace). */
static inline const char *
layout_value(const char *p, const char *e)
{
    if (p >= e || *p != '[')
        return layout_scalar(p, e);
    p = layout_ws(p + 1, e);
    if (p < e && *p == ']')
        return p + 1;
    for (;;) {
        if (!(p = layout_scalar(p, e)))
            return NULL;
        /* A scalar ends at whitespace, ',' or ']' ("12x", "nullx" do not). */
        p = layout_ws(p, e);
        if (p >= e)
            return NULL;
        if (*p == ']')
            return p + 1;
        if (*p != ',')
            return NULL;
        p = layout_ws(p + 1, e);
    }
}

/* p[0..n) == lit[0..n), n <= 32, with p + n within the data: two
 * overlapping 16-byte comparisons (libc's memcmp is a call here). */
static inline gboolean
layout_eq(const char *p, const char *lit, gsize n)
{
#ifdef __SSE2__
    if (n >= 16) {
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_loadu_si128((const __m128i *)lit));
        __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + n - 16)),
                                  _mm_loadu_si128((const __m128i *)(lit + n - 16)));

        return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(a, b), _mm_setzero_si128())) == 0xffff;
    }
#endif
    return memcmp(p, lit, n) == 0;
}

#define LAYOUT_LIT(p, e, lit) \
    ((gsize)((e) - (p)) >= sizeof(lit) - 1 && layout_eq((p), lit, sizeof(lit) - 1) ? (p) + sizeof(lit) - 1 : NULL)

/* One element from p (just after the '[' or ','): just after its '}', or
 * NULL.  The member after each value is matched with its leading ",\n", so
 * a value is always followed by exactly what the general walk would need. */
static const char *
layout_element(const char *p, const char *e, const char **name, gsize *name_len, gboolean *hap_f)
{
#define I6 ",\n      \""
#define M(k) { I6 k "\" : ", sizeof(I6 k "\" : ") - 1 }
    static const struct {
        const char *text;
        gsize len;
    } rest[] = {
        M("module"), M("address"), M("file"), M("lines"), M("subsystem"), M("roles"), M("contexts"),
        M("first_seen_s"), M("count"),
    };
#undef M
    const char *q;

    if (!(p = LAYOUT_LIT(p, e, "\n    {\n      \"name\" : \"")))
        return NULL;
    if (!(q = layout_string(p, e)))
        return NULL;
    *name = p;
    *name_len = (gsize)(q - 1 - p);
    p = q;
    for (guint i = 0; i < G_N_ELEMENTS(rest); i++) {
        if ((gsize)(e - p) < rest[i].len || !layout_eq(p, rest[i].text, rest[i].len))
            return NULL;
        if (!(p = layout_value(p + rest[i].len, e)))
            return NULL;
    }
    if (!(p = LAYOUT_LIT(p, e, I6 "hap_f\" : ")))
        return NULL;
    if ((q = LAYOUT_LIT(p, e, "true")))
        *hap_f = TRUE;
    else if ((q = LAYOUT_LIT(p, e, "false")))
        *hap_f = FALSE;
    else
        return NULL;
    if (!(p = LAYOUT_LIT(q, e, I6 "startup\" : ")) || !(p = layout_value(p, e)))
        return NULL;
    return LAYOUT_LIT(p, e, "\n    }");
#undef I6
}

enum { ST_VALUE, ST_KEY, ST_COLON, ST_COMMA };

/* Restart stage 1 at `at`, outside any string (after a ',' or '}' the
 * layout path consumed; the "other" bytes before it were checked).  The
 * blocks stay on the grid the general walk alone would use, so that a file
 * with several errors reports the same first one either way. */
static gboolean
events_rebase(Events *ev, gsize at)
{
    ev->base = ev->origin + (at - ev->origin) / 64 * 64;
    ev->skip = (guint)(at - ev->base);
    ev->in_carry = ev->esc_carry = 0;
    ev->events = ev->other = 0;
    ev->other_count = 0;
    return at >= ev->len || events_fill(ev);
}

/* No stray byte so far: the "other" bytes up to `prev` (inclusive) are all
 * in validated scalars.  Else the layout path is not tried, and the general
 * walk reports the stray byte at the end as usual. */
static inline gboolean
events_balanced(const Events *ev, gsize prev, gsize atoms)
{
    gsize off = prev + 1 - ev->base;
    guint64 after = off >= 64 ? 0 : ev->other & ~((G_GUINT64_CONSTANT(1) << off) - 1);

    return ev->other_count - (guint64)__builtin_popcountll(after) == atoms;
}



static gboolean
scan_functions(Scan *s, Collect *c, HapvmFleetNames *names)
{
    Events ev = { .data = s->start, .len = (gsize)(s->end - s->start) };
    guint8 stack[66];       /* '[' or '{'; [0] = the functions array */
    int depth = 0, state = ST_VALUE;
    gboolean first = TRUE;
    gsize prev, pos, atoms = 0, layout_tried = (gsize)-1;
    /* The element being read (depth 2 = inside an element object). */
    int key = 0;            /* 1 name, 2 hap_f, 0 other */
    const char *name = NULL;
    gsize name_len = 0;
    int hap_f = -1;

    classify_init_once();
    if (peek(s) != '[')
        return FAIL(s, "functions is not an array");
    prev = (gsize)(s->p - s->start);
    stack[depth++] = '[';
    ev.base = ev.origin = prev + 1;
    if (ev.base >= ev.len)
        return FAIL(s, "unexpected end of file");
    /* The first block starts right after the '['. */
    if (!events_fill(&ev))
        goto fail;
    g_array_set_size(c->functions, 0);
    for (;;) {
        char ch;

        if (G_UNLIKELY(depth == 1) && state == ST_VALUE && layout_enabled && prev != layout_tried &&
            events_balanced(&ev, prev, atoms)) {
            const char *p = ev.data + prev + 1, *e = ev.data + ev.len, *q, *nm;
            gsize nl;
            gboolean hf;
            guint64 k = 0;

            layout_tried = prev;
            while ((q = layout_element(p, e, &nm, &nl, &hf))) {
                if (hf) {
                    guint32 id = hapvm_fleet_names_intern(names, nm, nl);

                    g_array_append_val(c->functions, id);
                }
                k++;
                p = q;
                if (q < e && *q == ',')
                    p = q + 1;
                else
                    break;
            }
            if (k) {
                /* Resume after the last ',' (a value next) or '}' (a ',' or ']' next). */
                layout_elements += k;
                prev = layout_tried = (gsize)(p - 1 - ev.data);
                state = p[-1] == ',' ? ST_VALUE : ST_COMMA;
                first = FALSE;
                atoms = 0;
                if (!events_rebase(&ev, prev + 1))
                    goto fail;
            }
        }
        if ((pos = events_next(&ev)) == (gsize)-1) {
            if (!ev.error) {
                ev.error = "unexpected end of file (truncated?)";
                ev.error_pos = ev.len;
            }
            goto fail;
        }
        ch = ev.data[pos];
        switch (state) {
        case ST_VALUE: {
            const char *atom;
            gsize alen;

            if (!gap_scalar(&ev, prev + 1, pos, &atom, &alen))
                goto fail;
            if (alen) {
                if (depth == 1) {
                    ev.error = "a functions[] element is not an object";
                    goto fail_here;
                }
                atoms += alen;
                if (depth == 2 && key == 2) {
                    if (alen == 4 && !memcmp(atom, "true", 4))
                        hap_f = 1;
                    else if (alen == 5 && !memcmp(atom, "false", 5))
                        hap_f = 0;
                    else
                        goto not_bool;
                }
                goto comma;  /* this event ends the scalar */
            }
            if (depth == 2 && key == 2 && ch != '"' && ch != '{' && ch != '[')
                goto not_bool;
            if (ch == '"') {
                gsize close = events_next(&ev);

                if (depth == 1) {
                    ev.error = "a functions[] element is not an object";
                    goto fail_here;
                }

                if (close == (gsize)-1)
                    goto eof;
                if (depth == 2 && key == 1) {
                    name = ev.data + pos + 1;
                    name_len = close - pos - 1;
                } else if (depth == 2 && key == 2) {
                    goto not_bool;
                }
                pos = close;
                state = ST_COMMA;
            } else if (ch == '{' || ch == '[') {
                if (depth == 2 && key == 2)
                    goto not_bool;
                if (depth == 1 && ch != '{') {
                    ev.error = "a functions[] element is not an object";
                    goto fail_here;
                }
                if (depth >= 64) {
                    ev.error = "nested too deeply";
                    goto fail_here;
                }
                stack[depth++] = (guint8)ch;
                if (depth == 2) {
                    name = NULL;
                    hap_f = -1;
                }
                state = ch == '{' ? ST_KEY : ST_VALUE;
                first = TRUE;
                break;
            } else if (ch == ']' && first && stack[depth - 1] == '[') {
                goto close;
            } else {
                ev.error = depth == 1 ? "a functions[] element is not an object" : "expected a value";
                goto fail_here;
            }
            break;
        }
        case ST_KEY:
            if (ch == '}' && first)
                goto close;
            if (ch != '"') {
                ev.error = "expected a member name";
                goto fail_here;
            }
            {
                gsize close = events_next(&ev), kl;
                const char *k = ev.data + pos + 1;

                if (close == (gsize)-1)
                    goto eof;
                kl = close - pos - 1;
                if (depth == 2)
                    key = kl == 4 && k[0] == 'n' && k[1] == 'a' && k[2] == 'm' && k[3] == 'e' ? 1
                          : kl == 5 && k[0] == 'h' && k[1] == 'a' && k[2] == 'p' && k[3] == '_' && k[4] == 'f' ? 2
                                                                                                           : 0;
                pos = close;
            }
            state = ST_COLON;
            break;
        case ST_COLON:
            if (ch != ':') {
                ev.error = "expected ':' after a member name";
                goto fail_here;
            }
            state = ST_VALUE;
            first = FALSE;
            break;
        case ST_COMMA:
        comma:
            if (ch == ',') {
                state = stack[depth - 1] == '{' ? ST_KEY : ST_VALUE;
                first = FALSE;
                break;
            }
            if ((ch == '}' && stack[depth - 1] == '{') || (ch == ']' && stack[depth - 1] == '[')) {
            close:
                if (depth == 2) {
                    /* An element done. */
                    general_elements++;
                    if (!name) {
                        ev.error = "a functions[] element has no name";
                        goto fail_here;
                    }
                    if (hap_f < 0) {
                        ev.error = "a functions[] element has no hap_f";
                        goto fail_here;
                    }
                    if (hap_f) {
                        guint32 id;

                        if (memchr(name, '\\', name_len)) {
                            g_autofree char *d = unescape(name, name_len);

                            if (!d) {
                                ev.error = "bad escape in a string";
                                goto fail_here;
                            }
                            id = hapvm_fleet_names_intern(names, d, strlen(d));
                        } else {
                            id = hapvm_fleet_names_intern(names, name, name_len);
                        }
                        g_array_append_val(c->functions, id);
                    }
                }
                depth--;
                state = ST_COMMA;
                first = FALSE;
                if (depth == 0)
                    goto done;
                break;
            }
            ev.error = stack[depth - 1] == '{' ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array";
            goto fail_here;
        }
        prev = pos;
        continue;
    }
done:
    /* Stray bytes: every "other" byte up to here must be in a scalar. */
    {
        gsize off = pos - ev.base + 1;
        guint64 after = off >= 64 ? 0 : ev.other & ~((G_GUINT64_CONSTANT(1) << off) - 1);

        if (ev.other_count - (guint64)__builtin_popcountll(after) != atoms) {
            s->p = s->start + prev;
            return FAIL(s, "unexpected character in the functions array");
        }
    }
    s->p = ev.data + pos + 1;
    c->have_functions = TRUE;
    return TRUE;
not_bool:
    ev.error = "functions[].hap_f is not a boolean";
fail_here:
    ev.error_pos = pos;
    goto fail;
eof:
    /* events_next() also ends on stage 1's errors (in the next block): keep those. */
    if (!ev.error) {
        ev.error = "unexpected end of file (truncated?)";
        ev.error_pos = ev.len;
    }
fail:
    s->p = ev.data + MIN(ev.error_pos, ev.len);
    return FAIL(s, ev.error);
}

static gboolean
scan_top(Scan *s, Collect *c, HapvmFleetNames *names)
{
    static const char *e_schema = "schema is not a string";

    ws(s);
    SECTION_BEGIN(s, "the file's top level") {
        gboolean ok;

        if (KEY(k, kl, "schema")) {
            g_autofree char *v = NULL;

            ok = get_string(s, &v, &e_schema);
            c->schema_ok = g_strcmp0(v, HAPVM_RESULT_SCHEMA) == 0;
        } else if (KEY(k, kl, "version")) {
            double v;

            ok = get_number(s, &v, NULL, "version is not a number");
            c->version = (gint64)v;
        } else if (KEY(k, kl, "target")) {
            ok = scan_target(s, c);
        } else if (KEY(k, kl, "kernel")) {
            ok = peek(s) == 'n' ? skip_literal(s, "null", 4) : scan_kernel(s, c);
        } else if (KEY(k, kl, "timing")) {
            ok = peek(s) == 'n' ? skip_literal(s, "null", 4) : scan_timing(s, c);
        } else if (KEY(k, kl, "loss")) {
            ok = scan_loss(s, c);
        } else if (KEY(k, kl, "scores")) {
            ok = scan_scores(s, c);
        } else if (KEY(k, kl, "collector")) {
            ok = peek(s) == 'n' ? skip_literal(s, "null", 4) : scan_collector(s, c);
        } else if (KEY(k, kl, "functions")) {
            ok = scan_functions(s, c, names);
        } else {
            ok = skip_value(s, 1);
        }
        if (!ok)
            return FALSE;
    }
    if (r != 0)
        return FALSE;
    ws(s);
    if (s->p != s->end)
        return FAIL(s, "trailing data after the result object");
    return TRUE;
}

static HapvmFleetResult *
read_bytes(const char *data, gsize len, const char *path, HapvmFleetNames *names, GArray *scratch,
           GError **error)
{
    Scan s = { .p = data, .end = data + len, .start = data };
    Collect c;
    HapvmFleetResult *r;

    ctab_init_once();
    if (len == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "empty file");
        return NULL;
    }
    collect_init(&c, path, scratch);
    if (!scan_top(&s, &c, names)) {
        /* Position as line:column, like json-glib. */
        guint line = 1;
        const char *ls = data;

        for (const char *q = data; q < s.p && q < s.end; q++)
            if (*q == '\n')
                line++, ls = q + 1;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%u:%u: %s", line, (guint)(s.p - ls) + 1,
                    s.error ? s.error : "malformed JSON");
        collect_clear(&c);
        return NULL;
    }
    r = collect_finish(&c, error);
    collect_clear(&c);
    return r;
}

HapvmFleetResult *
hapvm_fleet_read_bytes(const char *data, gsize len, const char *path, HapvmFleetNames *names,
                       GError **error)
{
    g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(guint32));

    return read_bytes(data, len, path, names, scratch, error);
}

/* read() into a buffer reused per thread: measured faster than mmap here
 * (no page-table set-up and teardown per file, and the buffer stays in the
 * CPU cache for the scan). */
static HapvmFleetResult *
read_fast(const char *path, HapvmFleetNames *names, GArray *scratch, GByteArray *buf, GError **error)
{
    struct stat st;
    gsize got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s", g_strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "not a regular file");
        return NULL;
    }
    /* One byte more than the size, to see a file that grew. */
    for (;;) {
        ssize_t n;

        if (buf->len < got + 1 + MAX((gsize)st.st_size, 4096))
            g_byte_array_set_size(buf, (guint)(got + 1 + MAX((gsize)st.st_size, 4096)));
        n = read(fd, buf->data + got, buf->len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s", g_strerror(e));
            return NULL;
        }
        if (n == 0)
            break;
        got += (gsize)n;
        if (got >= 0x7fffffffu) {
            close(fd);
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "file too large");
            return NULL;
        }
    }
    close(fd);
    return read_bytes((const char *)buf->data, got, path, names, scratch, error);
}

/* ------------------------------------------------------------------------ */
/* The reference reader: json-glib */

/* A member: absent or null → *out stays NULL; another type → error. */
static gboolean
ref_string(JsonObject *o, const char *name, char **out, const char *what, GError **error)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;

    if (!n || JSON_NODE_HOLDS_NULL(n))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s is not a string", what);
        return FALSE;
    }
    g_free(*out);
    *out = g_strdup(json_node_get_string(n));
    return TRUE;
}

static gboolean
node_is_number(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) &&
           (json_node_get_value_type(n) == G_TYPE_INT64 || json_node_get_value_type(n) == G_TYPE_DOUBLE);
}

static gboolean
node_is_bool(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN;
}

/* An object member, or NULL; another type → error. */
static gboolean
ref_object(JsonObject *o, const char *name, JsonObject **out, gboolean null_ok, const char *what,
           GError **error)
{
    JsonNode *n = json_object_get_member(o, name);

    *out = NULL;
    if (!n || (null_ok && JSON_NODE_HOLDS_NULL(n)))
        return TRUE;
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s is not an object", what);
        return FALSE;
    }
    *out = json_node_get_object(n);
    return TRUE;
}

static HapvmFleetResult *
read_reference(const char *path, HapvmFleetNames *names, GError **error)
{
    g_autoptr(JsonParser) p = json_parser_new_immutable();
    g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GError) e = NULL;
    JsonObject *top, *target, *kernel, *timing, *loss, *scores, *coll;
    JsonNode *n;
    Collect c;
    HapvmFleetResult *r = NULL;

    if (!json_parser_load_from_mapped_file(p, path, &e)) {
        if (e->domain == G_FILE_ERROR)
            g_propagate_error(error, g_steal_pointer(&e));
        else  /* json-glib's message starts with the path: leave it out */
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s",
                        g_str_has_prefix(e->message, path) && e->message[strlen(path)] == ':'
                            ? e->message + strlen(path) + 1
                            : e->message);
        return NULL;
    }
    n = json_parser_get_root(p);
    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, n ? "the top level is not an object" : "empty file");
        return NULL;
    }
    top = json_node_get_object(n);
    collect_init(&c, path, scratch);
    if ((n = json_object_get_member(top, "schema"))) {
        if (!JSON_NODE_HOLDS_NULL(n) &&
            (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "schema is not a string");
            goto out;
        }
        c.schema_ok = !JSON_NODE_HOLDS_NULL(n) && g_strcmp0(json_node_get_string(n), HAPVM_RESULT_SCHEMA) == 0;
    }
    if ((n = json_object_get_member(top, "version"))) {
        if (!node_is_number(n)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "version is not a number");
            goto out;
        }
        c.version = (gint64)json_node_get_double(n);
    }
    if (!ref_object(top, "target", &target, FALSE, "target", error) ||
        !ref_object(top, "kernel", &kernel, TRUE, "kernel", error) ||
        !ref_object(top, "timing", &timing, TRUE, "timing", error) ||
        !ref_object(top, "loss", &loss, FALSE, "loss", error) ||
        !ref_object(top, "scores", &scores, FALSE, "scores", error) ||
        !ref_object(top, "collector", &coll, TRUE, "collector", error))
        goto out;
    if (!ref_string(target, "kind", &c.r->kind, "target.kind", error) ||
        !ref_string(target, "name", &c.r->target, "target.name", error) ||
        !ref_string(kernel, "release", &c.r->release, "kernel.release", error) ||
        !ref_string(kernel, "build_id", &c.r->build_id, "kernel.build_id", error) ||
        !ref_string(timing, "started", &c.r->started, "timing.started", error))
        goto out;
    c.have_kind = c.r->kind != NULL;
    if (loss && (n = json_object_get_member(loss, "complete"))) {
        if (!node_is_bool(n)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "loss.complete is not a boolean");
            goto out;
        }
        c.r->loss_complete = json_node_get_boolean(n);
        c.have_loss = TRUE;
    }
    if (scores) {
        static const char *const sn[] = { "hap_f", "hap_l", "hap" };
        double *sv[] = { &c.r->hap_f, &c.r->hap_l, &c.r->hap };
        gboolean *snull[] = { NULL, &c.hap_l_null, &c.hap_null };

        for (guint i = 0; i < 3; i++) {
            if (!(n = json_object_get_member(scores, sn[i])))
                continue;
            if (snull[i] && JSON_NODE_HOLDS_NULL(n))
                continue;
            if (!node_is_number(n)) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "scores.%s is not a number", sn[i]);
                goto out;
            }
            *sv[i] = json_node_get_double(n);
            if (snull[i])
                *snull[i] = FALSE;
            else
                c.have_hap_f = TRUE;
        }
    }
    if (coll) {
        JsonObject *labels;

        c.r->has_collector = TRUE;
        if (!ref_string(coll, "host", &c.r->host, "collector.host", error) ||
            !ref_string(coll, "domain", &c.r->domain, "collector.domain", error) ||
            !ref_string(coll, "uuid", &c.r->uuid, "collector.uuid", error) ||
            !ref_object(coll, "labels", &labels, TRUE, "collector.labels", error))
            goto out;
        if ((n = json_object_get_member(coll, "partial")) && !JSON_NODE_HOLDS_NULL(n)) {
            if (!node_is_bool(n)) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "collector.partial is not a boolean");
                goto out;
            }
            c.r->partial = json_node_get_boolean(n);
        }
        if (labels) {
            g_autoptr(GList) members = json_object_get_members(labels);

            for (GList *l = members; l; l = l->next) {
                char *v = NULL;

                if (!ref_string(labels, l->data, &v, "collector.labels: a value", error))
                    goto out;
                if (v)
                    collect_label(&c, g_strdup(l->data), v);
            }
        }
    }
    if ((n = json_object_get_member(top, "functions"))) {
        JsonArray *a;

        if (!JSON_NODE_HOLDS_ARRAY(n)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "functions is not an array");
            goto out;
        }
        a = json_node_get_array(n);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonNode *en = json_array_get_element(a, i), *nn, *hn;
            JsonObject *fo;
            const char *name;
            guint32 id;

            if (!JSON_NODE_HOLDS_OBJECT(en)) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "a functions[] element is not an object");
                goto out;
            }
            fo = json_node_get_object(en);
            nn = json_object_get_member(fo, "name");
            hn = json_object_get_member(fo, "hap_f");
            if (!nn) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "a functions[] element has no name");
                goto out;
            }
            if (!JSON_NODE_HOLDS_VALUE(nn) || json_node_get_value_type(nn) != G_TYPE_STRING) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "functions[].name is not a string");
                goto out;
            }
            if (!hn) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "a functions[] element has no hap_f");
                goto out;
            }
            if (!node_is_bool(hn)) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "functions[].hap_f is not a boolean");
                goto out;
            }
            if (!json_node_get_boolean(hn))
                continue;
            name = json_node_get_string(nn);
            id = hapvm_fleet_names_intern(names, name, strlen(name));
            g_array_append_val(c.functions, id);
        }
        c.have_functions = TRUE;
    }
    r = collect_finish(&c, error);
out:
    collect_clear(&c);
    return r;
}

HapvmFleetResult *
hapvm_fleet_read_file(const char *path, HapvmFleetReader reader, HapvmFleetNames *names, GError **error)
{
    g_autoptr(GArray) scratch = NULL;

    if (reader == HAPVM_FLEET_READER_REFERENCE)
        return read_reference(path, names, error);
    g_autoptr(GByteArray) buf = g_byte_array_new();

    scratch = g_array_new(FALSE, FALSE, sizeof(guint32));
    return read_fast(path, names, scratch, buf, error);
}

/* ------------------------------------------------------------------------ */
/* The fleet */

struct HapvmFleet {
    HapvmFleetOptions opt;
    char **group_by;
    GPtrArray *files;        /* char*, sorted once read */
    GHashTable *seen;        /* files added (a path given twice is read once) */
    HapvmFleetNames *names;  /* merged */
    GPtrArray *results;      /* HapvmFleetResult*, by path */
    GPtrArray *malformed;    /* HapvmFleetMalformed* */
    GPtrArray *ranking, *excluded;
    GPtrArray *groups;       /* HapvmFleetGroup* */
    HapvmFleetGroup classes[3];
    char *reference_build_id;
    GPtrArray *other_builds; /* "build-id (N results)" lines for the warning */
    gboolean by_hap;
    guint superseded;
};

static void
group_free(HapvmFleetGroup *g)
{
    if (!g)
        return;
    g_free(g->key);
    g_strfreev(g->values);
    g_free(g);
}

static void
malformed_free(HapvmFleetMalformed *m)
{
    g_free(m->path);
    g_free(m->reason);
    g_free(m);
}

HapvmFleet *
hapvm_fleet_new(const HapvmFleetOptions *opt)
{
    HapvmFleet *f = g_new0(HapvmFleet, 1);

    f->opt = *opt;
    f->group_by = g_strdupv(opt->group_by);
    f->opt.group_by = f->group_by;
    f->opt.build_id = NULL;
    f->reference_build_id = g_strdup(opt->build_id);
    f->files = g_ptr_array_new_with_free_func(g_free);
    f->seen = g_hash_table_new(g_str_hash, g_str_equal);
    f->results = g_ptr_array_new_with_free_func((GDestroyNotify)hapvm_fleet_result_free);
    f->malformed = g_ptr_array_new_with_free_func((GDestroyNotify)malformed_free);
    f->ranking = g_ptr_array_new();
    f->excluded = g_ptr_array_new();
    f->groups = g_ptr_array_new_with_free_func((GDestroyNotify)group_free);
    f->other_builds = g_ptr_array_new_with_free_func(g_free);
    return f;
}

void
hapvm_fleet_free(HapvmFleet *f)
{
    if (!f)
        return;
    g_strfreev(f->group_by);
    g_hash_table_unref(f->seen);
    g_ptr_array_unref(f->files);
    hapvm_fleet_names_free(f->names);
    g_ptr_array_unref(f->ranking);
    g_ptr_array_unref(f->excluded);
    g_ptr_array_unref(f->results);
    g_ptr_array_unref(f->malformed);
    g_ptr_array_unref(f->groups);
    for (guint i = 0; i < 3; i++)
        g_free(f->classes[i].key);
    g_free(f->reference_build_id);
    g_ptr_array_unref(f->other_builds);
    g_free(f);
}

static const char *const member_keys[] = {
    "collector.host", "collector.domain", "collector.uuid", "target.kind", "target.name",
    "kernel.release", "kernel.build_id",
};

gboolean
hapvm_fleet_check_group_key(const char *key, GError **error)
{
    gsize n = strlen(key);

    for (guint i = 0; i < G_N_ELEMENTS(member_keys); i++)
        if (strcmp(key, member_keys[i]) == 0)
            return TRUE;
    if (n < 1 || n > 64)
        goto bad;
    for (const char *p = key; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_')
            goto bad;
    return TRUE;
bad:
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                "'%s' is not a group key: give a label name ([A-Za-z0-9_]{1,64}, as in collector.labels) or "
                "one of collector.host, collector.domain, collector.uuid, target.kind, target.name, "
                "kernel.release, kernel.build_id", key);
    return FALSE;
}

static const char *
group_value(const HapvmFleetResult *r, const char *key)
{
    if (!strchr(key, '.'))
        return hapvm_fleet_result_get_label(r, key);
    if (!strcmp(key, "collector.host"))
        return r->host;
    if (!strcmp(key, "collector.domain"))
        return r->domain;
    if (!strcmp(key, "collector.uuid"))
        return r->has_collector ? r->uuid : NULL;
    if (!strcmp(key, "target.kind"))
        return r->kind;
    if (!strcmp(key, "target.name"))
        return r->target;
    if (!strcmp(key, "kernel.release"))
        return r->release;
    if (!strcmp(key, "kernel.build_id"))
        return r->build_id;
    return NULL;
}

static gboolean
add_file(HapvmFleet *f, const char *path)
{
    if (g_hash_table_contains(f->seen, path))
        return TRUE;
    g_ptr_array_add(f->files, g_strdup(path));
    g_hash_table_add(f->seen, f->files->pdata[f->files->len - 1]);
    return TRUE;
}

/* Recursive walk; symlinks to directories are not followed (no loops),
 * symlinks to files are read. */
static void
walk(HapvmFleet *f, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        HapvmFleetMalformed *m = g_new0(HapvmFleetMalformed, 1);

        m->path = g_strdup(dir);
        m->reason = g_strdup_printf("cannot read directory: %s", g_strerror(errno));
        g_ptr_array_add(f->malformed, m);
        return;
    }
    while ((e = readdir(d))) {
        g_autofree char *p = NULL;
        gboolean is_dir = e->d_type == DT_DIR, is_file = e->d_type == DT_REG || e->d_type == DT_LNK;

        if (e->d_name[0] == '.')
            continue;  /* ., .., and hidden files such as hapvmd's temporaries */
        p = g_build_filename(dir, e->d_name, NULL);
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;

            if (lstat(p, &st) < 0)
                continue;
            is_dir = S_ISDIR(st.st_mode);
            is_file = S_ISREG(st.st_mode) || S_ISLNK(st.st_mode);
        }
        if (is_dir && depth < 64)
            walk(f, p, depth + 1);
        else if (is_file && g_str_has_suffix(e->d_name, ".json"))
            add_file(f, p);
    }
    closedir(d);
}

gboolean
hapvm_fleet_add_path(HapvmFleet *f, const char *path, GError **error)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        int e = errno;

        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot read '%s': %s", path,
                    g_strerror(e));
        return FALSE;
    }
    if (S_ISDIR(st.st_mode))
        walk(f, path, 0);
    else
        add_file(f, path);
    return TRUE;
}

guint
hapvm_fleet_get_n_files(HapvmFleet *f)
{
    return f->files->len;
}

/* ---- Reading in parallel ---- */

typedef struct {
    HapvmFleet *f;
    HapvmFleetResult **out;
    char **errors;
    gint *next;
    HapvmFleetNames *names;
    GArray *scratch;
    GArray *mine;            /* guint: indices this worker read */
    GByteArray *buf;         /* file contents, reused */
} Worker;

static gpointer
worker_run(gpointer data)
{
    Worker *w = data;
    guint n = w->f->files->len;

    for (;;) {
        guint i = (guint)g_atomic_int_add(w->next, 1);
        g_autoptr(GError) e = NULL;
        const char *path;

        if (i >= n)
            break;
        path = w->f->files->pdata[i];
        w->out[i] = w->f->opt.reader == HAPVM_FLEET_READER_REFERENCE
                        ? read_reference(path, w->names, &e)
                        : read_fast(path, w->names, w->scratch, w->buf, &e);
        if (w->out[i])
            g_array_append_val(w->mine, i);
        else
            w->errors[i] = g_strdup(e->message);
    }
    return NULL;
}

static int
cmp_path(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
read_all(HapvmFleet *f)
{
    guint n = f->files->len, nw = f->opt.threads;
    g_autofree HapvmFleetResult **out = NULL;
    g_autofree char **errors = NULL;
    g_autofree Worker *w = NULL;
    g_autofree GThread **th = NULL;
    gint next = 0;

    g_ptr_array_sort(f->files, cmp_path);
    if (nw == 0)
        nw = MIN(g_get_num_processors(), 8);
    nw = CLAMP(nw, 1, MAX(n, 1));
    out = g_new0(HapvmFleetResult *, n);
    errors = g_new0(char *, n);
    w = g_new0(Worker, nw);
    th = g_new0(GThread *, nw);
    for (guint i = 0; i < nw; i++) {
        w[i] = (Worker){ f, out, errors, &next, hapvm_fleet_names_new(),
                         g_array_new(FALSE, FALSE, sizeof(guint32)), g_array_new(FALSE, FALSE, sizeof(guint)),
                         g_byte_array_new() };
        if (i > 0)
            th[i] = g_thread_new("hapvm-fleet", worker_run, &w[i]);
    }
    worker_run(&w[0]);
    for (guint i = 1; i < nw; i++)
        g_thread_join(th[i]);

    /* Merge the workers' names: local id → global id, results rewritten. */
    f->names = hapvm_fleet_names_new();
    for (guint i = 0; i < nw; i++) {
        guint nl = hapvm_fleet_names_count(w[i].names);
        g_autofree guint32 *map = g_new(guint32, MAX(nl, 1));

        for (guint j = 0; j < nl; j++) {
            const NameEntry *e = &g_array_index(w[i].names->entries, NameEntry, j);

            map[j] = hapvm_fleet_names_intern(f->names, w[i].names->arena->str + e->off, e->len);
        }
        for (guint j = 0; j < w[i].mine->len; j++) {
            HapvmFleetResult *r = out[g_array_index(w[i].mine, guint, j)];

            for (guint k = 0; k < r->n_functions; k++)
                r->functions[k] = map[r->functions[k]];
        }
        hapvm_fleet_names_free(w[i].names);
        g_array_unref(w[i].scratch);
        g_array_unref(w[i].mine);
        g_byte_array_unref(w[i].buf);
    }
    for (guint i = 0; i < n; i++) {
        if (out[i]) {
            g_ptr_array_add(f->results, out[i]);
        } else {
            HapvmFleetMalformed *m = g_new0(HapvmFleetMalformed, 1);

            m->path = g_strdup(f->files->pdata[i]);
            m->reason = errors[i];
            g_ptr_array_add(f->malformed, m);
        }
    }
}

/* ---- Statistics ---- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (R's type 7). */
static double
quantile(const double *sorted, guint n, double q)
{
    double h = (n - 1) * q;
    guint lo = (guint)floor(h);

    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

/* v is sorted in place. */
static void
stats_of(double *v, guint n, HapvmFleetStats *s)
{
    double sum = 0, ss = 0;

    memset(s, 0, sizeof(*s));
    s->n = n;
    if (n == 0)
        return;
    qsort(v, n, sizeof(double), cmp_double);
    for (guint i = 0; i < n; i++)
        sum += v[i];
    s->mean = sum / n;
    for (guint i = 0; i < n; i++)
        ss += (v[i] - s->mean) * (v[i] - s->mean);
    s->sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
    s->min = v[0];
    s->max = v[n - 1];
    s->q1 = quantile(v, n, 0.25);
    s->median = quantile(v, n, 0.5);
    s->q3 = quantile(v, n, 0.75);
}

static double
metric(const HapvmFleet *f, const HapvmFleetResult *r)
{
    return f->by_hap ? r->hap : r->hap_f;
}

static gboolean
has_metric(const HapvmFleet *f, const HapvmFleetResult *r)
{
    return !f->by_hap || r->has_hap_l;
}

/* Fill a group's numbers from its members; outliers are marked on the
 * members when `fences` (Tukey: outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] of
 * the ranking metric, groups of 4 or more). */
static void
group_fill(HapvmFleet *f, HapvmFleetGroup *g, GPtrArray *members, gboolean fences)
{
    guint n = members->len, nl = 0, nm = 0, words = (hapvm_fleet_names_count(f->names) + 63) / 64;
    g_autofree double *vf = g_new(double, MAX(n, 1));
    g_autofree double *vl = g_new(double, MAX(n, 1));
    g_autofree double *vh = g_new(double, MAX(n, 1));
    g_autofree double *vm = g_new(double, MAX(n, 1));
    g_autofree guint64 *bits = g_new0(guint64, MAX(words, 1));
    HapvmFleetStats ms;

    for (guint i = 0; i < n; i++) {
        const HapvmFleetResult *r = members->pdata[i];

        vf[i] = r->hap_f;
        if (r->has_hap_l) {
            vl[nl] = r->hap_l;
            vh[nl++] = r->hap;
        }
        if (has_metric(f, r))
            vm[nm++] = metric(f, r);
        for (guint k = 0; k < r->n_functions; k++)
            bits[r->functions[k] >> 6] |= G_GUINT64_CONSTANT(1) << (r->functions[k] & 63);
    }
    g->n = n;
    g->n_lines = nl;
    stats_of(vf, n, &g->hap_f);
    stats_of(vl, nl, &g->hap_l);
    stats_of(vh, nl, &g->hap);
    g->union_f = 0;
    for (guint i = 0; i < words; i++)
        g->union_f += (guint)__builtin_popcountll(bits[i]);
    g->n_outliers = 0;
    if (!fences || nm < 4)
        return;
    stats_of(vm, nm, &ms);
    for (guint i = 0; i < n; i++) {
        HapvmFleetResult *r = members->pdata[i];
        double iqr = ms.q3 - ms.q1, v = metric(f, r);

        if (!has_metric(f, r))
            continue;
        if (v > ms.q3 + 1.5 * iqr)
            r->outlier = 1;
        else if (v < ms.q1 - 1.5 * iqr)
            r->outlier = -1;
        if (r->outlier)
            g->n_outliers++;
    }
}

static HapvmFleetClass
class_of(const char *kind)
{
    if (!g_strcmp0(kind, "kvm") || !g_strcmp0(kind, "xen"))
        return HAPVM_FLEET_CLASS_VM;
    if (!g_strcmp0(kind, "process") || !g_strcmp0(kind, "cgroup") || !g_strcmp0(kind, "command"))
        return HAPVM_FLEET_CLASS_CONTAINER;
    return HAPVM_FLEET_CLASS_OTHER;
}

/* Newest first: timing.started (ISO 8601 UTC sorts as text), then the
 * file's name (hapvmd names files by UTC timestamp). */
static gboolean
newer(const HapvmFleetResult *a, const HapvmFleetResult *b)
{
    int c = g_strcmp0(a->started, b->started);
    g_autofree char *ba = NULL, *bb = NULL;

    if (c)
        return c > 0;
    ba = g_path_get_basename(a->path);
    bb = g_path_get_basename(b->path);
    c = strcmp(ba, bb);
    return c ? c > 0 : strcmp(a->path, b->path) > 0;
}

static int
cmp_rank(gconstpointer pa, gconstpointer pb, gpointer data)
{
    const HapvmFleet *f = data;
    const HapvmFleetResult *a = *(HapvmFleetResult *const *)pa, *b = *(HapvmFleetResult *const *)pb;
    gboolean ha = has_metric(f, a), hb = has_metric(f, b);
    double ma = metric(f, a), mb = metric(f, b);

    if (ha != hb)
        return ha ? -1 : 1;
    if (ha && ma != mb)
        return ma > mb ? -1 : 1;
    if (a->hap_f != b->hap_f)
        return a->hap_f > b->hap_f ? -1 : 1;
    return strcmp(a->path, b->path);
}

static int
cmp_group(gconstpointer a, gconstpointer b)
{
    return strcmp((*(HapvmFleetGroup *const *)a)->key, (*(HapvmFleetGroup *const *)b)->key);
}

static void
analyse(HapvmFleet *f)
{
    g_autoptr(GHashTable) newest = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) builds = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) by_key = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) live = g_ptr_array_new();
    g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    GPtrArray *cm[3] = { g_ptr_array_new(), g_ptr_array_new(), g_ptr_array_new() };
    guint nb = 0;
    GHashTableIter it;
    gpointer k, v;

    /* --latest */
    for (guint i = 0; i < f->results->len; i++) {
        HapvmFleetResult *r = f->results->pdata[i], *o;

        if (!f->opt.latest)
            continue;
        o = g_hash_table_lookup(newest, r->uuid);
        if (!o || newer(r, o))
            g_hash_table_insert(newest, r->uuid, r);
    }
    for (guint i = 0; i < f->results->len; i++) {
        HapvmFleetResult *r = f->results->pdata[i];

        r->superseded = f->opt.latest && g_hash_table_lookup(newest, r->uuid) != r;
        if (r->superseded)
            f->superseded++;
        else
            g_ptr_array_add(live, r);
    }

    /* The reference build-id: given, or the most common (ties: the smallest). */
    for (guint i = 0; i < live->len; i++) {
        HapvmFleetResult *r = live->pdata[i];

        if (r->build_id)
            g_hash_table_insert(builds, r->build_id,
                                GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(builds, r->build_id)) + 1));
    }
    if (!f->reference_build_id) {
        g_hash_table_iter_init(&it, builds);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (GPOINTER_TO_UINT(v) > nb ||
                (GPOINTER_TO_UINT(v) == nb && strcmp(k, f->reference_build_id) < 0)) {
                nb = GPOINTER_TO_UINT(v);
                g_free(f->reference_build_id);
                f->reference_build_id = g_strdup(k);
            }
        }
    }
    {
        g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(builds), (GCompareFunc)strcmp);
        guint none = 0;

        for (GList *l = keys; l; l = l->next)
            if (g_strcmp0(l->data, f->reference_build_id) != 0)
                g_ptr_array_add(f->other_builds,
                                g_strdup_printf("%s (%u results)", (char *)l->data,
                                                GPOINTER_TO_UINT(g_hash_table_lookup(builds, l->data))));
        for (guint i = 0; i < live->len; i++)
            none += ((HapvmFleetResult *)live->pdata[i])->build_id == NULL;
        if (none && f->reference_build_id)
            g_ptr_array_add(f->other_builds, g_strdup_printf("none (%u results)", none));
    }

    /* Flags, then who is ranked. */
    for (guint i = 0; i < live->len; i++) {
        HapvmFleetResult *r = live->pdata[i];

        r->flags = 0;
        if (!r->loss_complete)
            r->flags |= HAPVM_FLEET_FLAG_LOSS;
        if (r->partial)
            r->flags |= HAPVM_FLEET_FLAG_PARTIAL;
        if (g_strcmp0(r->build_id, f->reference_build_id) != 0)
            r->flags |= HAPVM_FLEET_FLAG_OTHER_BUILD;
        r->klass = class_of(r->kind);
        g_ptr_array_add(r->flags && !f->opt.include_incomplete ? f->excluded : f->ranking, r);
    }

    /* The ranking metric. */
    if (f->opt.rank_by == HAPVM_FLEET_RANK_HAP) {
        f->by_hap = TRUE;
    } else if (f->opt.rank_by == HAPVM_FLEET_RANK_HAP_F) {
        f->by_hap = FALSE;
    } else {
        f->by_hap = f->ranking->len > 0;
        for (guint i = 0; i < f->ranking->len; i++)
            f->by_hap &= ((HapvmFleetResult *)f->ranking->pdata[i])->has_hap_l;
    }
    g_ptr_array_sort_with_data(f->ranking, cmp_rank, f);
    for (guint i = 0; i < f->ranking->len; i++)
        ((HapvmFleetResult *)f->ranking->pdata[i])->rank = i + 1;

    /* Groups (of ranked results). */
    for (guint i = 0; i < f->ranking->len; i++) {
        HapvmFleetResult *r = f->ranking->pdata[i];
        g_autoptr(GString) key = g_string_new(NULL);
        HapvmFleetGroup *g;
        guint nk = f->group_by ? g_strv_length(f->group_by) : 0;

        for (guint j = 0; j < nk; j++) {
            const char *val = group_value(r, f->group_by[j]);

            g_string_append_printf(key, "%s%s=%s", j ? "," : "", f->group_by[j], val ? val : "(none)");
        }
        if (nk == 0)
            g_string_assign(key, "(all)");
        g = g_hash_table_lookup(by_key, key->str);
        if (!g) {
            g = g_new0(HapvmFleetGroup, 1);
            g->key = g_strdup(key->str);
            g->values = g_new0(char *, nk + 1);
            for (guint j = 0; j < nk; j++) {
                const char *val = group_value(r, f->group_by[j]);

                g->values[j] = g_strdup(val ? val : "(none)");
            }
            g_ptr_array_add(f->groups, g);
            g_hash_table_insert(by_key, g->key, g);
        }
        r->outlier = 0;
        g_ptr_array_add(cm[r->klass], r);
    }
    g_ptr_array_sort(f->groups, cmp_group);
    for (guint i = 0; i < f->groups->len; i++) {
        HapvmFleetGroup *g = f->groups->pdata[i];

        g_hash_table_insert(by_key, g->key, GUINT_TO_POINTER(i + 1));
        g_ptr_array_add(members, g_ptr_array_new());
    }
    for (guint i = 0; i < f->ranking->len; i++) {
        HapvmFleetResult *r = f->ranking->pdata[i];
        g_autoptr(GString) key = g_string_new(NULL);
        guint nk = f->group_by ? g_strv_length(f->group_by) : 0;

        for (guint j = 0; j < nk; j++) {
            const char *val = group_value(r, f->group_by[j]);

            g_string_append_printf(key, "%s%s=%s", j ? "," : "", f->group_by[j], val ? val : "(none)");
        }
        if (nk == 0)
            g_string_assign(key, "(all)");
        r->group = GPOINTER_TO_UINT(g_hash_table_lookup(by_key, key->str)) - 1;
        g_ptr_array_add(members->pdata[r->group], r);
    }
    for (guint i = 0; i < f->groups->len; i++)
        group_fill(f, f->groups->pdata[i], members->pdata[i], TRUE);
    for (guint c = 0; c < 3; c++) {
        static const char *const names[] = { "vm", "container", "other" };

        f->classes[c].key = g_strdup(names[c]);
        group_fill(f, &f->classes[c], cm[c], FALSE);
        g_ptr_array_unref(cm[c]);
    }
}

void
hapvm_fleet_run(HapvmFleet *f)
{
    read_all(f);
    analyse(f);
}

GPtrArray *hapvm_fleet_get_results(HapvmFleet *f) { return f->results; }
GPtrArray *hapvm_fleet_get_ranking(HapvmFleet *f) { return f->ranking; }
GPtrArray *hapvm_fleet_get_excluded(HapvmFleet *f) { return f->excluded; }
GPtrArray *hapvm_fleet_get_groups(HapvmFleet *f) { return f->groups; }
GPtrArray *hapvm_fleet_get_malformed(HapvmFleet *f) { return f->malformed; }
gboolean hapvm_fleet_ranked_by_hap(HapvmFleet *f) { return f->by_hap; }
const char *hapvm_fleet_get_reference_build_id(HapvmFleet *f) { return f->reference_build_id; }
guint hapvm_fleet_count_superseded(HapvmFleet *f) { return f->superseded; }
const HapvmFleetNames *hapvm_fleet_get_names(HapvmFleet *f) { return f->names; }

const HapvmFleetGroup *
hapvm_fleet_get_class(HapvmFleet *f, HapvmFleetClass c)
{
    return &f->classes[c];
}

guint
hapvm_fleet_count_flag(HapvmFleet *f, HapvmFleetFlags flag)
{
    guint n = 0;

    for (guint i = 0; i < f->results->len; i++) {
        const HapvmFleetResult *r = f->results->pdata[i];

        n += !r->superseded && (r->flags & flag);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Output */

static const char *const class_titles[] = {
    "VMs (kvm, xen)", "containers and processes (process, cgroup, command)", "other kinds",
};

static char *
flags_str(const HapvmFleetResult *r, gboolean with_outlier)
{
    GString *s = g_string_new(NULL);

    if (r->flags & HAPVM_FLEET_FLAG_LOSS)
        g_string_append(s, "loss,");
    if (r->flags & HAPVM_FLEET_FLAG_PARTIAL)
        g_string_append(s, "partial,");
    if (r->flags & HAPVM_FLEET_FLAG_OTHER_BUILD)
        g_string_append(s, "other-build,");
    if (with_outlier && r->outlier)
        g_string_append(s, r->outlier > 0 ? "outlier-high," : "outlier-low,");
    if (s->len)
        g_string_truncate(s, s->len - 1);
    return g_string_free(s, FALSE);
}

static char *
labels_str(const HapvmFleetResult *r)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < r->n_labels; i++)
        g_string_append_printf(s, "%s%s=%s", i ? ";" : "", r->label_names[i], r->label_values[i]);
    return g_string_free(s, FALSE);
}

/* HAP-F and HAP-L are counts, HAP a small real number. */
static char *
num(double v, gboolean hap)
{
    return hap ? g_strdup_printf("%.3f", v) : g_strdup_printf("%.0f", v);
}

static void
print_stats_line(FILE *out, const char *name, const HapvmFleetStats *s, gboolean hap, guint n_all)
{
    g_autofree char *mn = NULL, *md = NULL, *mx = NULL, *mean = NULL, *sd = NULL;

    if (s->n == 0) {
        fprintf(out, "    %-6s n/a (no result with HAP-L)\n", name);
        return;
    }
    mn = num(s->min, hap);
    mx = num(s->max, hap);
    if (hap) {
        md = g_strdup_printf("%.3f", s->median);
        mean = g_strdup_printf("%.3f", s->mean);
        sd = g_strdup_printf("%.3f", s->sd);
    } else {
        md = s->median == floor(s->median) ? g_strdup_printf("%.0f", s->median) : g_strdup_printf("%.1f", s->median);
        mean = g_strdup_printf("%.1f", s->mean);
        sd = g_strdup_printf("%.1f", s->sd);
    }
    fprintf(out, "    %-6s min %s  median %s  max %s  mean %s ± %s", name, mn, md, mx, mean, sd);
    if (s->n != n_all)
        fprintf(out, "  (%u of %u results)", s->n, n_all);
    fputc('\n', out);
}

static void
print_group_block(FILE *out, const char *title, const HapvmFleetGroup *g, gboolean outliers)
{
    fprintf(out, "%s: %u result%s, %u with HAP-L; union %u HAP-F functions", title, g->n,
            g->n == 1 ? "" : "s", g->n_lines, g->union_f);
    if (outliers)
        fprintf(out, "; %u outlier%s", g->n_outliers, g->n_outliers == 1 ? "" : "s");
    fputc('\n', out);
    if (g->n == 0)
        return;
    print_stats_line(out, "HAP-F", &g->hap_f, FALSE, g->n);
    print_stats_line(out, "HAP-L", &g->hap_l, FALSE, g->n);
    print_stats_line(out, "HAP", &g->hap, TRUE, g->n);
}

static void
print_rows(HapvmFleet *f, FILE *out, GPtrArray *rows, guint top, gboolean ranked)
{
    guint n = top && top < rows->len ? top : rows->len;

    fprintf(out, "%5s %7s %8s %8s  %-8s %-12s %-20s %-24s %-14s %s\n", ranked ? "rank" : "", "HAP-F", "HAP-L",
            "HAP", "kind", "host", "domain/target", "group", "flags", "file");
    for (guint i = 0; i < n; i++) {
        const HapvmFleetResult *r = rows->pdata[i];
        g_autofree char *fl = flags_str(r, TRUE);
        g_autofree char *hl = r->has_hap_l ? num(r->hap_l, FALSE) : g_strdup("-");
        g_autofree char *h = r->has_hap_l ? num(r->hap, TRUE) : g_strdup("-");
        g_autofree char *rk = ranked ? g_strdup_printf("%u", r->rank) : g_strdup("-");
        const char *grp = ranked ? ((HapvmFleetGroup *)f->groups->pdata[r->group])->key : "-";

        fprintf(out, "%5s %7.0f %8s %8s  %-8s %-12s %-20s %-24s %-14s %s\n", rk, r->hap_f, hl, h,
                r->kind, r->host ? r->host : "-", r->domain ? r->domain : (r->target ? r->target : "-"), grp,
                *fl ? fl : "-", r->path);
    }
    if (n < rows->len)
        fprintf(out, "  ... %u more (--top 0 shows all)\n", rows->len - n);
}

static guint
count_lines(GPtrArray *rows)
{
    guint n = 0;

    for (guint i = 0; i < rows->len; i++)
        n += ((HapvmFleetResult *)rows->pdata[i])->has_hap_l;
    return n;
}

void
hapvm_fleet_print_warnings(HapvmFleet *f, FILE *out)
{
    for (guint i = 0; i < f->malformed->len; i++) {
        const HapvmFleetMalformed *m = f->malformed->pdata[i];

        fprintf(out, "warning: %s: skipped: %s\n", m->path, m->reason);
    }
    if (f->malformed->len)
        fprintf(out, "warning: %u file%s skipped (not a readable hapvm result)\n", f->malformed->len,
                f->malformed->len == 1 ? "" : "s");
    if (f->other_builds->len) {
        fprintf(out, "warning: results of %u other kernel build%s than the reference %s: ", f->other_builds->len,
                f->other_builds->len == 1 ? "" : "s",
                f->reference_build_id ? f->reference_build_id : "(none)");
        for (guint i = 0; i < f->other_builds->len; i++)
            fprintf(out, "%s%s", i ? ", " : "", (char *)f->other_builds->pdata[i]);
        fprintf(out, "; %s (--build-id chooses the reference; --group-by kernel.build_id "
                     "--include-incomplete compares builds)\n",
                f->opt.include_incomplete ? "ranked anyway (--include-incomplete)" : "not ranked");
    }
}

void
hapvm_fleet_print_text(HapvmFleet *f, FILE *out, guint top)
{
    guint nk = f->group_by ? g_strv_length(f->group_by) : 0;
    guint nl = count_lines(f->ranking);

    fprintf(out, "hapvm fleet: %u files, %u results read, %u skipped as malformed\n", f->files->len,
            f->results->len, f->malformed->len);
    if (f->opt.latest)
        fprintf(out, "latest:   %u older results of the same uuid left out (--latest)\n", f->superseded);
    fprintf(out, "ranked:   %u, by %s", f->ranking->len, f->by_hap ? "HAP" : "HAP-F");
    if (f->by_hap && nl == f->ranking->len)
        fprintf(out, " (every ranked result has HAP-L)\n");
    else if (f->by_hap)
        fprintf(out, " (--rank-by hap; %u results without HAP-L ranked last, by HAP-F)\n", f->ranking->len - nl);
    else
        fprintf(out, " (HAP-L unavailable for %u of %u)\n", f->ranking->len - nl, f->ranking->len);
    fprintf(out, "excluded: %u (%u with loss, %u partial, %u of another kernel build)%s\n", f->excluded->len,
            hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_LOSS), hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_PARTIAL),
            hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_OTHER_BUILD),
            f->opt.include_incomplete ? "; flagged results are ranked (--include-incomplete)"
            : f->excluded->len       ? "; --include-incomplete ranks them"
                                     : "");
    fprintf(out, "kernel:   reference build-id %s\n", f->reference_build_id ? f->reference_build_id : "(none)");

    fprintf(out, "\nRANKING by %s, highest first\n", f->by_hap ? "HAP" : "HAP-F");
    print_rows(f, out, f->ranking, top, TRUE);
    if (f->excluded->len) {
        fprintf(out, "\nEXCLUDED (flagged, not ranked)\n");
        print_rows(f, out, f->excluded, top, FALSE);
    }

    fprintf(out, "\nGROUPS");
    if (nk) {
        g_autofree char *keys = g_strjoinv(",", f->group_by);

        fprintf(out, " by %s", keys);
    }
    fprintf(out, " (ranked results; outliers: %s outside Q1 - 1.5 IQR .. Q3 + 1.5 IQR of the group, "
                 "groups of 4 or more)\n",
            f->by_hap ? "HAP" : "HAP-F");
    for (guint i = 0; i < f->groups->len; i++) {
        const HapvmFleetGroup *g = f->groups->pdata[i];

        print_group_block(out, g->key, g, TRUE);
    }

    fprintf(out, "\nVMS AND CONTAINERS (ranked results)\n");
    for (guint c = 0; c < 3; c++)
        if (c < HAPVM_FLEET_CLASS_OTHER || f->classes[c].n)
            print_group_block(out, class_titles[c], &f->classes[c], FALSE);
}

/* RFC 4180 field. */
static void
csv_field(FILE *out, const char *s, gboolean last)
{
    if (!s)
        s = "";
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static void
csv_result(HapvmFleet *f, FILE *out, const HapvmFleetResult *r)
{
    g_autofree char *rank = r->rank ? g_strdup_printf("%u", r->rank) : NULL;
    g_autofree char *labels = labels_str(r);
    g_autofree char *fl = flags_str(r, FALSE);
    g_autofree char *hf = num(r->hap_f, FALSE);
    g_autofree char *hl = r->has_hap_l ? num(r->hap_l, FALSE) : NULL;
    g_autofree char *h = r->has_hap_l ? num(r->hap, TRUE) : NULL;
    static const char *const classes[] = { "vm", "container", "other" };

    csv_field(out, rank, FALSE);
    csv_field(out, r->path, FALSE);
    csv_field(out, r->uuid, FALSE);
    csv_field(out, r->host, FALSE);
    csv_field(out, r->domain, FALSE);
    csv_field(out, r->target, FALSE);
    csv_field(out, r->kind, FALSE);
    csv_field(out, classes[r->klass], FALSE);
    csv_field(out, r->build_id, FALSE);
    csv_field(out, r->rank ? ((HapvmFleetGroup *)f->groups->pdata[r->group])->key : NULL, FALSE);
    csv_field(out, labels, FALSE);
    csv_field(out, hf, FALSE);
    csv_field(out, hl, FALSE);
    csv_field(out, h, FALSE);
    csv_field(out, fl, FALSE);
    csv_field(out, r->outlier > 0 ? "high" : r->outlier < 0 ? "low" : NULL, TRUE);
}

void
hapvm_fleet_print_csv_ranking(HapvmFleet *f, FILE *out, guint top)
{
    guint n = top && top < f->ranking->len ? top : f->ranking->len;

    fprintf(out, "rank,file,uuid,host,domain,target,kind,class,build_id,group,labels,hap_f,hap_l,hap,flags,"
                 "outlier\n");
    for (guint i = 0; i < n; i++)
        csv_result(f, out, f->ranking->pdata[i]);
    n = top && top < f->excluded->len ? top : f->excluded->len;
    for (guint i = 0; i < n; i++)
        csv_result(f, out, f->excluded->pdata[i]);
}

static void
csv_stats(FILE *out, const HapvmFleetStats *s, gboolean hap, gboolean last)
{
    const double v[] = { s->min, s->q1, s->median, s->q3, s->max, s->mean, s->sd };

    for (guint i = 0; i < G_N_ELEMENTS(v); i++) {
        g_autofree char *t = s->n ? g_strdup_printf("%.6g", v[i]) : NULL;

        csv_field(out, t, last && i == G_N_ELEMENTS(v) - 1);
    }
}

static void
csv_group(FILE *out, const char *set, const HapvmFleetGroup *g)
{
    g_autofree char *n = g_strdup_printf("%u", g->n);
    g_autofree char *nl = g_strdup_printf("%u", g->n_lines);
    g_autofree char *u = g_strdup_printf("%u", g->union_f);
    g_autofree char *o = g_strdup_printf("%u", g->n_outliers);

    csv_field(out, set, FALSE);
    csv_field(out, g->key, FALSE);
    csv_field(out, n, FALSE);
    csv_field(out, nl, FALSE);
    csv_field(out, u, FALSE);
    csv_field(out, strcmp(set, "group") == 0 ? o : NULL, FALSE);
    csv_stats(out, &g->hap_f, FALSE, FALSE);
    csv_stats(out, &g->hap_l, FALSE, FALSE);
    csv_stats(out, &g->hap, TRUE, TRUE);
}

void
hapvm_fleet_print_csv_groups(HapvmFleet *f, FILE *out)
{
    fprintf(out, "set,group,results,with_hap_l,union_hap_f,outliers");
    for (guint m = 0; m < 3; m++) {
        static const char *const mn[] = { "hap_f", "hap_l", "hap" };

        for (const char *const *st = (const char *const[]){ "min", "q1", "median", "q3", "max", "mean", "sd",
                                                           NULL };
             *st; st++)
            fprintf(out, ",%s_%s", mn[m], *st);
    }
    fputc('\n', out);
    for (guint i = 0; i < f->groups->len; i++)
        csv_group(out, "group", f->groups->pdata[i]);
    for (guint c = 0; c < 3; c++)
        if (c < HAPVM_FLEET_CLASS_OTHER || f->classes[c].n)
            csv_group(out, "class", &f->classes[c]);
}

static void
json_str(JsonBuilder *b, const char *name, const char *v)
{
    hapvm_json_set_str(b, name, v);
}

static void
json_num(JsonBuilder *b, const char *name, double v, gboolean present)
{
    json_builder_set_member_name(b, name);
    if (!present)
        json_builder_add_null_value(b);
    else if (v == floor(v) && fabs(v) < 1e15)
        json_builder_add_int_value(b, (gint64)v);
    else
        json_builder_add_double_value(b, v);
}

static void
json_uint(JsonBuilder *b, const char *name, guint v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void
json_result(HapvmFleet *f, JsonBuilder *b, const HapvmFleetResult *r)
{
    static const char *const classes[] = { "vm", "container", "other" };

    json_builder_begin_object(b);
    json_num(b, "rank", r->rank, r->rank != 0);
    json_str(b, "file", r->path);
    json_str(b, "uuid", r->uuid);
    json_str(b, "host", r->host);
    json_str(b, "domain", r->domain);
    json_str(b, "target", r->target);
    json_str(b, "kind", r->kind);
    json_str(b, "class", classes[r->klass]);
    json_str(b, "build_id", r->build_id);
    json_str(b, "started", r->started);
    json_str(b, "group", r->rank ? ((HapvmFleetGroup *)f->groups->pdata[r->group])->key : NULL);
    json_builder_set_member_name(b, "labels");
    json_builder_begin_object(b);
    for (guint i = 0; i < r->n_labels; i++)
        json_str(b, r->label_names[i], r->label_values[i]);
    json_builder_end_object(b);
    json_num(b, "hap_f", r->hap_f, TRUE);
    json_num(b, "hap_l", r->hap_l, r->has_hap_l);
    json_num(b, "hap", r->hap, r->has_hap_l);
    json_builder_set_member_name(b, "flags");
    json_builder_begin_array(b);
    if (r->flags & HAPVM_FLEET_FLAG_LOSS)
        json_builder_add_string_value(b, "loss");
    if (r->flags & HAPVM_FLEET_FLAG_PARTIAL)
        json_builder_add_string_value(b, "partial");
    if (r->flags & HAPVM_FLEET_FLAG_OTHER_BUILD)
        json_builder_add_string_value(b, "other-build");
    json_builder_end_array(b);
    json_str(b, "outlier", r->outlier > 0 ? "high" : r->outlier < 0 ? "low" : NULL);
    json_builder_end_object(b);
}

static void
json_stats(JsonBuilder *b, const char *name, const HapvmFleetStats *s)
{
    json_builder_set_member_name(b, name);
    if (s->n == 0) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    json_uint(b, "n", s->n);
    json_num(b, "min", s->min, TRUE);
    json_num(b, "q1", s->q1, TRUE);
    json_num(b, "median", s->median, TRUE);
    json_num(b, "q3", s->q3, TRUE);
    json_num(b, "max", s->max, TRUE);
    json_num(b, "mean", s->mean, TRUE);
    json_num(b, "sd", s->sd, TRUE);
    json_builder_end_object(b);
}

static void
json_group(HapvmFleet *f, JsonBuilder *b, const HapvmFleetGroup *g, gboolean is_group)
{
    json_builder_begin_object(b);
    json_str(b, is_group ? "key" : "class", g->key);
    if (is_group) {
        guint nk = f->group_by ? g_strv_length(f->group_by) : 0;

        json_builder_set_member_name(b, "values");
        json_builder_begin_object(b);
        for (guint j = 0; j < nk; j++)
            json_str(b, f->group_by[j], strcmp(g->values[j], "(none)") ? g->values[j] : NULL);
        json_builder_end_object(b);
    }
    json_uint(b, "results", g->n);
    json_uint(b, "with_hap_l", g->n_lines);
    json_uint(b, "union_hap_f", g->union_f);
    if (is_group)
        json_uint(b, "outliers", g->n_outliers);
    json_stats(b, "hap_f", &g->hap_f);
    json_stats(b, "hap_l", &g->hap_l);
    json_stats(b, "hap", &g->hap);
    json_builder_end_object(b);
}

JsonNode *
hapvm_fleet_to_json(HapvmFleet *f, guint top)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    guint n;

    json_builder_begin_object(b);
    json_str(b, "schema", HAPVM_FLEET_SCHEMA);
    json_uint(b, "version", HAPVM_FLEET_VERSION);
    json_str(b, "hapvm_version", HAPVM_VERSION);
    json_builder_set_member_name(b, "options");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "group_by");
    json_builder_begin_array(b);
    for (guint i = 0; f->group_by && f->group_by[i]; i++)
        json_builder_add_string_value(b, f->group_by[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "latest");
    json_builder_add_boolean_value(b, f->opt.latest);
    json_builder_set_member_name(b, "include_incomplete");
    json_builder_add_boolean_value(b, f->opt.include_incomplete);
    json_builder_end_object(b);
    json_str(b, "rank_by", f->by_hap ? "hap" : "hap_f");
    json_str(b, "reference_build_id", f->reference_build_id);
    json_builder_set_member_name(b, "counts");
    json_builder_begin_object(b);
    json_uint(b, "files", f->files->len);
    json_uint(b, "results", f->results->len);
    json_uint(b, "malformed", f->malformed->len);
    json_uint(b, "superseded", f->superseded);
    json_uint(b, "ranked", f->ranking->len);
    json_uint(b, "ranked_with_hap_l", count_lines(f->ranking));
    json_uint(b, "excluded", f->excluded->len);
    json_uint(b, "loss", hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_LOSS));
    json_uint(b, "partial", hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_PARTIAL));
    json_uint(b, "other_build", hapvm_fleet_count_flag(f, HAPVM_FLEET_FLAG_OTHER_BUILD));
    json_builder_end_object(b);
    json_builder_set_member_name(b, "malformed");
    json_builder_begin_array(b);
    for (guint i = 0; i < f->malformed->len; i++) {
        const HapvmFleetMalformed *m = f->malformed->pdata[i];

        json_builder_begin_object(b);
        json_str(b, "file", m->path);
        json_str(b, "reason", m->reason);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "ranking");
    json_builder_begin_array(b);
    n = top && top < f->ranking->len ? top : f->ranking->len;
    for (guint i = 0; i < n; i++)
        json_result(f, b, f->ranking->pdata[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "excluded");
    json_builder_begin_array(b);
    n = top && top < f->excluded->len ? top : f->excluded->len;
    for (guint i = 0; i < n; i++)
        json_result(f, b, f->excluded->pdata[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "groups");
    json_builder_begin_array(b);
    for (guint i = 0; i < f->groups->len; i++)
        json_group(f, b, f->groups->pdata[i], TRUE);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "classes");
    json_builder_begin_array(b);
    for (guint c = 0; c < 3; c++)
        json_group(f, b, &f->classes[c], FALSE);
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* The hook's message: a small, bounded XML scanner for libvirt's domain XML
 * and the JSON request line (see hapvm-hook-msg.h). */
#include "hapvm-hook-msg.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- JSON output ------------------------------------------------------ */

void
hapvm_hook_buf_append(HapvmHookBuf *b, const char *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* Length of the valid UTF-8 sequence at S (N bytes left), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t
utf8_sequence_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

void
hapvm_hook_buf_append_json_string(HapvmHookBuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *) str;
    static const char hex[] = "0123456789abcdef";

    hapvm_hook_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && !b->overflow;) {
        unsigned char c = s[i];
        size_t run = i;

        /* Plain ASCII runs in one copy. */
        while (run < n && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            hapvm_hook_buf_append(b, str + i, run - i);
            i = run;
            continue;
        }
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char) c};
            hapvm_hook_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            switch (c) {
            case '\n': hapvm_hook_buf_append(b, "\\n", 2); break;
            case '\t': hapvm_hook_buf_append(b, "\\t", 2); break;
            case '\r': hapvm_hook_buf_append(b, "\\r", 2); break;
            default: hapvm_hook_buf_append(b, esc, 6); break;
            }
            i++;
        } else {
            size_t len = utf8_sequence_len(s + i, n - i);
            if (len == 0) {
                hapvm_hook_buf_append(b, "\xEF\xBF\xBD", 3);   /* U+FFFD */
                i++;
            } else {
                hapvm_hook_buf_append(b, str + i, len);
                i += len;
            }
        }
    }
    hapvm_hook_buf_append(b, "\"", 1);
}

void
hapvm_hook_sanitize(char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char) s[i];
        size_t len = c < 0x20 || c == 0x7F ? 0 : utf8_sequence_len((unsigned char *) s + i, n - i);
        if (len == 0) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

static void
append_str(HapvmHookBuf *b, const char *s)
{
    hapvm_hook_buf_append(b, s, strlen(s));
}

static void
append_member(HapvmHookBuf *b, const char *key, const char *value, size_t n)
{
    append_str(b, ",\"");
    append_str(b, key);
    append_str(b, "\":");
    if (value)
        hapvm_hook_buf_append_json_string(b, value, n);
    else
        append_str(b, "null");
}

size_t
hapvm_hook_request_format(char *buf, size_t cap, const HapvmHookArgs *a, const HapvmHookDomain *d)
{
    HapvmHookBuf b = {buf, 0, cap, false};
    static const char *const measure[] = {
        [HAPVM_HOOK_MEASURE_UNSET] = NULL,
        [HAPVM_HOOK_MEASURE_YES] = "yes",
        [HAPVM_HOOK_MEASURE_NO] = "no",
    };
    const char *m = measure[d->measure];

    append_str(&b, "{\"v\":1,\"op\":\"hook\"");
    append_member(&b, "driver", a->driver, strlen(a->driver));
    append_member(&b, "domain", a->domain, strlen(a->domain));
    append_member(&b, "uuid", d->has_uuid ? d->uuid : NULL, strlen(d->uuid));
    append_member(&b, "id", d->has_id ? d->id : NULL, strlen(d->id));
    append_member(&b, "operation", a->operation, strlen(a->operation));
    append_member(&b, "sub", a->sub, strlen(a->sub));
    append_member(&b, "extra", a->extra, strlen(a->extra));
    append_member(&b, "measure", m, m ? strlen(m) : 0);
    append_str(&b, ",\"labels\":{");
    for (unsigned i = 0; i < d->n_labels; i++) {
        if (i)
            append_str(&b, ",");
        hapvm_hook_buf_append_json_string(&b, d->labels[i].name, strlen(d->labels[i].name));
        append_str(&b, ":");
        hapvm_hook_buf_append_json_string(&b, d->labels[i].value, d->labels[i].value_len);
    }
    append_str(&b, "}}\n");
    return b.overflow ? 0 : b.len;
}

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

bool
hapvm_hook_reply_ok(const char *reply, size_t len)
{
    const char *p = reply, *end = reply + len;

    p = skip_ws(p, end);
    if (p == end || *p++ != '{')
        return false;
    p = skip_ws(p, end);
    if (end - p < 4 || memcmp(p, "\"ok\"", 4) != 0)
        return false;
    p = skip_ws(p + 4, end);
    if (p == end || *p++ != ':')
        return false;
    p = skip_ws(p, end);
    if (end - p < 4 || memcmp(p, "true", 4) != 0)
        return false;
    p += 4;
    return p < end && (*p == ',' || *p == '}' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
}

bool
hapvm_hook_operation_forwarded(const char *op)
{
    static const char *const ops[] = {"started", "stopped", "release", "reconnect", "migrate"};

    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

/* ---- the domain XML scanner ------------------------------------------- */

/* Not a general XML parser: it knows tags, attributes in either quote,
 * comments, CDATA, processing instructions and the DOCTYPE, checks that end
 * tags match, resolves namespace prefixes, and looks at four places only:
 * the root <domain id=>, its <uuid> child, and <metadata>/{ns}hapvm/{ns}measure
 * and {ns}label.  It stops at the first syntax error, keeping what it found. */

#define MAX_DEPTH 256
#define MAX_NS 64
#define MAX_ATTRS 32

typedef struct {
    const char *s;
    size_t n;
} Span;

typedef struct {
    Span name;
    Span value;           /* raw, entities not decoded */
} Attr;

typedef struct {
    unsigned depth;       /* element depth that declared it */
    Span prefix;          /* empty: default namespace */
    bool hapvm;           /* the URI is hapvm's */
} NsDecl;

typedef struct {
    HapvmHookDomain *dom;
    Span stack[MAX_DEPTH];
    unsigned depth;
    NsDecl ns[MAX_NS];
    unsigned n_ns;
    bool in_metadata;     /* an open <metadata> child of the root */
    bool in_hapvm;        /* an open {ns}hapvm child of it */
    bool hapvm_seen;
    bool uuid_seen;
    const char *uuid_text;   /* start of <uuid>'s text while it is open */
} Scan;

static bool
span_eq(Span a, const char *s)
{
    return a.n == strlen(s) && memcmp(a.s, s, a.n) == 0;
}

static bool
is_name_end(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>' || c == '=';
}

static const char *
find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);

    while (p < end) {
        const char *c = memchr(p, needle[0], (size_t) (end - p));
        if (!c || (size_t) (end - c) < n)
            return NULL;
        if (memcmp(c, needle, n) == 0)
            return c;
        p = c + 1;
    }
    return NULL;
}

static void
split_qname(Span q, Span *prefix, Span *local)
{
    const char *colon = memchr(q.s, ':', q.n);

    if (colon) {
        *prefix = (Span) {q.s, (size_t) (colon - q.s)};
        *local = (Span) {colon + 1, q.n - (size_t) (colon - q.s) - 1};
    } else {
        *prefix = (Span) {q.s, 0};
        *local = q;
    }
}

/* Whether element name Q is in hapvm's namespace (innermost declaration of
 * its prefix wins). */
static bool
in_hapvm_ns(const Scan *sc, Span q, Span *local)
{
    Span prefix;

    split_qname(q, &prefix, local);
    for (unsigned i = sc->n_ns; i-- > 0;)
        if (sc->ns[i].prefix.n == prefix.n && memcmp(sc->ns[i].prefix.s, prefix.s, prefix.n) == 0)
            return sc->ns[i].hapvm;
    return false;
}

static size_t
put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xC0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xE0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

typedef enum { DECODE_OK, DECODE_TOO_LONG, DECODE_BAD } DecodeResult;

/* An attribute value with its entities and character references decoded
 * and whitespace normalized as XML does, into OUT (at most CAP bytes). */
static DecodeResult
decode_attr(Span v, char *out, size_t cap, size_t *out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < v.n;) {
        char tmp[4];
        size_t tn = 1;
        char c = v.s[i];

        if (c == '&') {
            const char *semi = memchr(v.s + i, ';', v.n - i);
            Span ent;
            if (!semi)
                return DECODE_BAD;
            ent = (Span) {v.s + i + 1, (size_t) (semi - v.s) - i - 1};
            i = (size_t) (semi - v.s) + 1;
            if (span_eq(ent, "amp"))
                tmp[0] = '&';
            else if (span_eq(ent, "lt"))
                tmp[0] = '<';
            else if (span_eq(ent, "gt"))
                tmp[0] = '>';
            else if (span_eq(ent, "quot"))
                tmp[0] = '"';
            else if (span_eq(ent, "apos"))
                tmp[0] = '\'';
            else if (ent.n >= 2 && ent.s[0] == '#') {
                uint32_t cp = 0;
                bool hexa = ent.s[1] == 'x';
                size_t k = hexa ? 2 : 1;
                if (k == ent.n || ent.n - k > 8)
                    return DECODE_BAD;
                for (; k < ent.n; k++) {
                    char d = ent.s[k];
                    unsigned digit;
                    if (d >= '0' && d <= '9')
                        digit = (unsigned) (d - '0');
                    else if (hexa && d >= 'a' && d <= 'f')
                        digit = (unsigned) (d - 'a' + 10);
                    else if (hexa && d >= 'A' && d <= 'F')
                        digit = (unsigned) (d - 'A' + 10);
                    else
                        return DECODE_BAD;
                    cp = cp * (hexa ? 16 : 10) + digit;
                }
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    return DECODE_BAD;
                tn = put_utf8(tmp, cp);
            } else
                return DECODE_BAD;
        } else {
            tmp[0] = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
            i++;
        }
        if (tn > cap - o)
            return DECODE_TOO_LONG;
        memcpy(out + o, tmp, tn);
        o += tn;
    }
    *out_len = o;
    return DECODE_OK;
}

static const Attr *
attr_get(const Attr *attrs, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (span_eq(attrs[i].name, name))
            return &attrs[i];
    return NULL;
}

static void
drop_label(HapvmHookDomain *d, Span name, const char *why)
{
    if (d->n_dropped++ == 0) {
        int n = name.n > 64 ? 64 : (int) name.n;
        snprintf(d->dropped_reason, sizeof d->dropped_reason, "label '%.*s': %s", n, name.s, why);
    }
}

static void
take_label(HapvmHookDomain *d, const Attr *attrs, unsigned n_attrs)
{
    const Attr *an = attr_get(attrs, n_attrs, "name");
    const Attr *av = attr_get(attrs, n_attrs, "value");
    Span none = {"", 0};
    HapvmHookLabel *l;
    size_t name_len = 0;

    if (!an || !av) {
        drop_label(d, an ? an->value : none, "no name or no value");
        return;
    }
    if (d->n_labels == HAPVM_HOOK_MAX_LABELS) {
        drop_label(d, an->value, "more than 16 labels");
        return;
    }
    l = &d->labels[d->n_labels];
    if (decode_attr(an->value, l->name, HAPVM_HOOK_LABEL_NAME_MAX, &name_len) != DECODE_OK
        || name_len == 0) {
        drop_label(d, an->value, "name is not [A-Za-z0-9_]{1,64}");
        return;
    }
    for (size_t i = 0; i < name_len; i++) {
        char c = l->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            drop_label(d, an->value, "name is not [A-Za-z0-9_]{1,64}");
            return;
        }
    }
    l->name[name_len] = '\0';
    for (unsigned i = 0; i < d->n_labels; i++)
        if (strcmp(d->labels[i].name, l->name) == 0) {
            drop_label(d, an->value, "given twice (the first is kept)");
            return;
        }
    switch (decode_attr(av->value, l->value, HAPVM_HOOK_LABEL_VALUE_MAX, &l->value_len)) {
    case DECODE_OK:
        break;
    case DECODE_TOO_LONG:
        drop_label(d, an->value, "value longer than 256 bytes");
        return;
    case DECODE_BAD:
        drop_label(d, an->value, "value with a bad entity reference");
        return;
    }
    l->value[l->value_len] = '\0';
    d->n_labels++;
}

static void
take_measure(HapvmHookDomain *d, const Attr *attrs, unsigned n_attrs)
{
    const Attr *a = attr_get(attrs, n_attrs, "enabled");
    char v[4];
    size_t n = 0;

    if (d->measure != HAPVM_HOOK_MEASURE_UNSET || d->bad_measure)
        return;          /* the first <measure> counts */
    if (a && decode_attr(a->value, v, sizeof v, &n) == DECODE_OK) {
        if (n == 3 && memcmp(v, "yes", 3) == 0) {
            d->measure = HAPVM_HOOK_MEASURE_YES;
            return;
        }
        if (n == 2 && memcmp(v, "no", 2) == 0) {
            d->measure = HAPVM_HOOK_MEASURE_NO;
            return;
        }
    }
    d->bad_measure = true;
}

static void
take_id(HapvmHookDomain *d, const Attr *attrs, unsigned n_attrs)
{
    const Attr *a = attr_get(attrs, n_attrs, "id");

    if (!a || a->value.n == 0 || a->value.n >= sizeof d->id)
        return;
    for (size_t i = 0; i < a->value.n; i++) {
        char c = a->value.s[i];
        if (c < '0' || c > '9')
            return;
    }
    memcpy(d->id, a->value.s, a->value.n);
    d->id[a->value.n] = '\0';
    d->has_id = true;
}

/* libvirt writes the canonical 8-4-4-4-12 form. */
static void
take_uuid(HapvmHookDomain *d, const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (end - s != 36)
        return;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return;
    }
    memcpy(d->uuid, s, 36);
    d->uuid[36] = '\0';
    d->has_uuid = true;
}

/* An element start: namespaces, then what it means at its depth.  Returns
 * false to stop scanning. */
static bool
start_element(Scan *sc, Span name, const Attr *attrs, unsigned n_attrs, bool empty, const char *after)
{
    unsigned d = sc->depth;
    Span local;

    for (unsigned i = 0; i < n_attrs; i++) {
        Span an = attrs[i].name;
        bool dflt = span_eq(an, "xmlns");
        if (!dflt && !(an.n > 6 && memcmp(an.s, "xmlns:", 6) == 0))
            continue;
        if (sc->n_ns == MAX_NS)
            return false;
        sc->ns[sc->n_ns++] = (NsDecl) {
            .depth = d,
            .prefix = dflt ? (Span) {an.s, 0} : (Span) {an.s + 6, an.n - 6},
            .hapvm = span_eq(attrs[i].value, HAPVM_HOOK_NS),
        };
    }

    if (d == 0) {
        if (!span_eq(name, "domain"))
            return false;
        take_id(sc->dom, attrs, n_attrs);
    } else if (d == 1) {
        if (span_eq(name, "uuid") && !sc->uuid_seen) {
            sc->uuid_seen = true;
            if (!empty)
                sc->uuid_text = after;
        } else if (span_eq(name, "metadata") && !empty)
            sc->in_metadata = true;
    } else if (d == 2 && sc->in_metadata && !sc->hapvm_seen) {
        if (in_hapvm_ns(sc, name, &local) && span_eq(local, "hapvm")) {
            sc->hapvm_seen = true;
            sc->in_hapvm = !empty;
        }
    } else if (d == 3 && sc->in_hapvm) {
        if (in_hapvm_ns(sc, name, &local)) {
            if (span_eq(local, "measure"))
                take_measure(sc->dom, attrs, n_attrs);
            else if (span_eq(local, "label"))
                take_label(sc->dom, attrs, n_attrs);
        }
    }

    if (empty) {
        while (sc->n_ns > 0 && sc->ns[sc->n_ns - 1].depth == d)
            sc->n_ns--;
        return d > 0;     /* an empty root ends the document */
    }
    if (d == MAX_DEPTH)
        return false;
    sc->stack[sc->depth++] = name;
    return true;
}

/* Returns false to stop (root closed or a mismatch). */
static bool
end_element(Scan *sc, Span name)
{
    unsigned d;

    if (sc->depth == 0 || sc->stack[sc->depth - 1].n != name.n
        || memcmp(sc->stack[sc->depth - 1].s, name.s, name.n) != 0) {
        sc->dom->malformed = true;
        return false;
    }
    d = --sc->depth;
    while (sc->n_ns > 0 && sc->ns[sc->n_ns - 1].depth == d)
        sc->n_ns--;
    if (d == 1 && sc->in_metadata) {
        sc->in_metadata = false;
        sc->dom->metadata_done = true;
    }
    if (d == 2)
        sc->in_hapvm = false;
    return d > 0;
}

void
hapvm_hook_domain_scan(HapvmHookDomain *dom, const char *xml, size_t len)
{
    static Scan sc;          /* 4 KiB of stack saved; the hook is single-threaded */
    const char *p = xml, *end = xml + len;

    memset(dom, 0, sizeof *dom);
    memset(&sc, 0, sizeof sc);
    sc.dom = dom;

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t) (end - p));
        const char *q;

        if (!lt)
            return;
        if (sc.uuid_text) {
            /* <uuid> holds text only: this tag must be </uuid>. */
            if (lt + 7 <= end && memcmp(lt, "</uuid", 6) == 0 && is_name_end(lt[6]))
                take_uuid(dom, sc.uuid_text, lt);
            sc.uuid_text = NULL;
        }
        p = lt + 1;
        if (p == end)
            return;
        if (*p == '?') {
            if (!(q = find(p, end, "?>")))
                return;
            p = q + 2;
        } else if (*p == '!') {
            if ((size_t) (end - p) >= 3 && memcmp(p, "!--", 3) == 0)
                q = find(p + 3, end, "-->"), q = q ? q + 3 : NULL;
            else if ((size_t) (end - p) >= 8 && memcmp(p, "![CDATA[", 8) == 0)
                q = find(p + 8, end, "]]>"), q = q ? q + 3 : NULL;
            else
                q = memchr(p, '>', (size_t) (end - p)), q = q ? q + 1 : NULL;
            if (!q)
                return;
            p = q;
        } else if (*p == '/') {
            Span name = {++p, 0};
            while (p < end && !is_name_end(*p) && *p != '<')
                p++;
            name.n = (size_t) (p - name.s);
            p = skip_ws(p, end);
            if (p == end)
                return;
            if (*p != '>' || name.n == 0) {
                dom->malformed = true;
                return;
            }
            p++;
            if (!end_element(&sc, name))
                return;
        } else {
            Attr attrs[MAX_ATTRS];
            unsigned n_attrs = 0;
            Span name = {p, 0};
            bool empty = false;

            while (p < end && !is_name_end(*p) && *p != '<')
                p++;
            name.n = (size_t) (p - name.s);
            if (p == end)
                return;
            if (name.n == 0) {
                dom->malformed = true;
                return;
            }
            for (;;) {
                Span an;
                char quote;

                p = skip_ws(p, end);
                if (p == end)
                    return;
                if (*p == '>') {
                    p++;
                    break;
                }
                if (*p == '/') {
                    if (p + 1 == end)
                        return;
                    if (p[1] != '>') {
                        dom->malformed = true;
                        return;
                    }
                    empty = true;
                    p += 2;
                    break;
                }
                an.s = p;
                while (p < end && !is_name_end(*p) && *p != '<' && *p != '"' && *p != '\'')
                    p++;
                an.n = (size_t) (p - an.s);
                p = skip_ws(p, end);
                if (p == end)
                    return;
                if (an.n == 0 || *p != '=') {
                    dom->malformed = true;
                    return;
                }
                p = skip_ws(p + 1, end);
                if (p == end)
                    return;
                if (*p != '"' && *p != '\'') {
                    dom->malformed = true;
                    return;
                }
                quote = *p++;
                q = memchr(p, quote, (size_t) (end - p));
                if (!q)
                    return;
                if (memchr(p, '<', (size_t) (q - p))) {
                    dom->malformed = true;
                    return;
                }
                if (n_attrs < MAX_ATTRS)
                    attrs[n_attrs++] = (Attr) {an, {p, (size_t) (q - p)}};
                p = q + 1;
                if (p < end && !is_name_end(*p)) {
                    dom->malformed = true;   /* attributes need whitespace between them */
                    return;
                }
            }
            if (!start_element(&sc, name, attrs, n_attrs, empty, p))
                return;
        }
    }
}

/* Kernel text symbols from kallsyms, looked up by address range. */
#include "hapvm-ksyms.h"

#include <stdlib.h>
#include <string.h>

#include "hapvm-error.h"

typedef struct {
    guint64 start;
    guint64 end;
    const char *name;
    const char *module; /* interned in the chunk; NULL = vmlinux */
    guint32 dup;
} KsymEntry;

struct HapvmKsyms {
    GStringChunk *strings;
    KsymEntry *syms;   /* text symbols by start address (file order among equals) */
    gsize n;
    guint32 *by_name;  /* indexes into syms, by (module, name, dup) */
    guint64 text;
    guint rereads;     /* reads of the file that did not parse before this one */
};

void
hapvm_ksyms_free(HapvmKsyms *k)
{
    if (!k)
        return;
    if (k->strings)
        g_string_chunk_free(k->strings);
    g_free(k->syms);
    g_free(k->by_name);
    g_free(k);
}

/* Section boundary symbols: they share addresses with real functions, so they
 * only end the previous symbol's range. */
static gboolean
is_marker(const char *name)
{
    static const char *const exact[] = {
        "_text", "_stext", "_etext", "_sinittext", "_einittext", "__pi__text",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(exact); i++)
        if (strcmp(name, exact[i]) == 0)
            return TRUE;
    return g_str_has_prefix(name, "__") &&
           (g_str_has_suffix(name, "_text_start") || g_str_has_suffix(name, "_text_end"));
}

static int
cmp_module(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (!a)
        return -1;
    if (!b)
        return 1;
    return strcmp(a, b);
}

/* (start, file index) pairs: a stable sort by address. */
static int
cmp_u64_pair(const void *pa, const void *pb)
{
    const guint64 *a = pa, *b = pb;

    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

static int
cmp_u64(const void *pa, const void *pb)
{
    guint64 a = *(const guint64 *)pa, b = *(const guint64 *)pb;

    return a < b ? -1 : a > b;
}

/* qsort_r context for the by-name index. */
static int
cmp_by_name(const void *pa, const void *pb, void *data)
{
    const KsymEntry *syms = data;
    const KsymEntry *a = &syms[*(const guint32 *)pa], *b = &syms[*(const guint32 *)pb];
    int c = cmp_module(a->module, b->module);

    if (c)
        return c;
    c = strcmp(a->name, b->name);
    if (c)
        return c;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    /* Same address: keep file order (the index into syms). */
    return *(const guint32 *)pa < *(const guint32 *)pb ? -1 : 1;
}

HapvmKsyms *
hapvm_ksyms_load_data(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(HapvmKsyms) k = g_new0(HapvmKsyms, 1);
    g_autoptr(GArray) syms = g_array_new(FALSE, FALSE, sizeof(KsymEntry));
    g_autoptr(GArray) bounds = g_array_new(FALSE, FALSE, sizeof(guint64));
    const char *p = data, *end = data + len;
    gsize lineno = 0, ntext = 0, nzero = 0;
    guint64 stext = 0;

    k->strings = g_string_chunk_new(64 * 1024);
    while (p < end) {
        const char *eol = memchr(p, '\n', end - p);
        const char *line_end = eol ? eol : end;
        const char *q = p, *sym, *sym_end, *mod = NULL, *mod_end = NULL;
        guint64 addr = 0;
        int ndigits = 0;
        char type;

        lineno++;
        if (line_end == p) { /* blank line */
            p = line_end + 1;
            continue;
        }
        for (; q < line_end && g_ascii_isxdigit(*q); q++, ndigits++)
            addr = addr << 4 | (guint64)g_ascii_xdigit_value(*q);
        if (ndigits == 0 || ndigits > 16 || q + 3 > line_end || q[0] != ' ' || q[2] != ' ')
            goto bad;
        type = q[1];
        sym = q + 3;
        for (sym_end = sym; sym_end < line_end && *sym_end != '\t' && *sym_end != ' '; sym_end++)
            ;
        if (sym_end == sym)
            goto bad;
        if (sym_end < line_end) {
            const char *b = sym_end;

            while (b < line_end && (*b == '\t' || *b == ' '))
                b++;
            if (b >= line_end || *b != '[' || line_end[-1] != ']' || line_end - b < 3)
                goto bad;
            mod = b + 1;
            mod_end = line_end - 1;
        }
        p = eol ? eol + 1 : end;

        if (type == 'a' || type == 'A' || type == 'U')
            continue; /* absolute or undefined: no place in the address space */
        if (addr)
            g_array_append_val(bounds, addr);
        if (!strchr("tTwW", type))
            continue;
        ntext++;
        if (!addr) {
            nzero++;
            continue;
        }
        g_autofree char *nm = g_strndup(sym, sym_end - sym);
        if (!mod && strcmp(nm, "_text") == 0)
            k->text = addr;
        else if (!mod && strcmp(nm, "_stext") == 0)
            stext = addr;
        if (is_marker(nm))
            continue;
        KsymEntry e = { .start = addr, .name = g_string_chunk_insert(k->strings, nm) };
        if (mod) {
            g_autofree char *m = g_strndup(mod, mod_end - mod);
            e.module = g_string_chunk_insert_const(k->strings, m);
        }
        g_array_append_val(syms, e);
    }
    if (ntext == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: no text symbols", name);
        return NULL;
    }
    if (nzero == ntext) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT,
                    "%s: every symbol address is 0: the kernel hides them from this process "
                    "(kernel.kptr_restrict, or not root); run as root with kernel.kptr_restrict<2",
                    name);
        return NULL;
    }

    if (!k->text)
        k->text = stext; /* the same address on x86-64 */

    /* Stable order among equal addresses keeps file order: aliases resolve to
     * the first one listed.  qsort is not stable, so sort on (start, index). */
    k->n = syms->len;
    k->syms = (KsymEntry *)g_array_steal(syms, NULL);
    {
        g_autofree guint64 *key = g_new(guint64, 2 * (k->n ? k->n : 1));
        g_autofree KsymEntry *sorted = g_new(KsymEntry, k->n ? k->n : 1);

        for (gsize i = 0; i < k->n; i++) {
            key[2 * i] = k->syms[i].start;
            key[2 * i + 1] = i;
        }
        qsort(key, k->n, 2 * sizeof(guint64), cmp_u64_pair);
        for (gsize i = 0; i < k->n; i++)
            sorted[i] = k->syms[key[2 * i + 1]];
        memcpy(k->syms, sorted, k->n * sizeof(KsymEntry));
    }
    qsort(bounds->data, bounds->len, sizeof(guint64), cmp_u64);
    {
        const guint64 *b = (const guint64 *)bounds->data;
        gsize j = 0;

        for (gsize i = 0; i < k->n; i++) {
            while (j < bounds->len && b[j] <= k->syms[i].start)
                j++;
            k->syms[i].end = j < bounds->len ? b[j] : G_MAXUINT64;
        }
    }
    k->by_name = g_new(guint32, k->n ? k->n : 1);
    for (gsize i = 0; i < k->n; i++)
        k->by_name[i] = i;
    qsort_r(k->by_name, k->n, sizeof(guint32), cmp_by_name, k->syms);
    for (gsize i = 0; i < k->n; i++) {
        KsymEntry *e = &k->syms[k->by_name[i]];
        KsymEntry *prev = i ? &k->syms[k->by_name[i - 1]] : NULL;

        e->dup = prev && prev->module == e->module && strcmp(prev->name, e->name) == 0 ? prev->dup + 1 : 0;
    }
    return g_steal_pointer(&k);

bad:
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s:%zu: not a kallsyms line", name, lineno);
    return NULL;
}

/* A malformed line is read again: a Xen PV dom0 under TCG handed out
 * /proc/kallsyms with one line garbled, at a different place on each read.
 * A file that stays malformed is still an error. */
#define KSYMS_READS 3

HapvmKsyms *
hapvm_ksyms_load(const char *path, GError **error)
{
    g_autoptr(GError) parse_error = NULL;

    if (!path)
        path = "/proc/kallsyms";
    for (guint i = 0; i < KSYMS_READS; i++) {
        g_autofree char *data = NULL;
        gsize len = 0;
        HapvmKsyms *k;

        if (!g_file_get_contents(path, &data, &len, error))
            return NULL;
        g_clear_error(&parse_error);
        k = hapvm_ksyms_load_data(data, len, path, &parse_error);
        if (k) {
            k->rereads = i;
            return k;
        }
        if (!g_error_matches(parse_error, HAPVM_ERROR, HAPVM_ERROR_PARSE))
            break;
    }
    if (g_error_matches(parse_error, HAPVM_ERROR, HAPVM_ERROR_PARSE))
        g_prefix_error(&parse_error, "malformed on %d reads: ", KSYMS_READS);
    g_propagate_error(error, g_steal_pointer(&parse_error));
    return NULL;
}

guint
hapvm_ksyms_rereads(const HapvmKsyms *k)
{
    return k ? k->rereads : 0;
}

static void
fill(const KsymEntry *e, HapvmKsym *out)
{
    out->name = e->name;
    out->module = e->module;
    out->start = e->start;
    out->end = e->end;
    out->dup = e->dup;
}

gboolean
hapvm_ksyms_lookup(const HapvmKsyms *k, guint64 addr, HapvmKsym *out)
{
    gsize lo = 0, hi;

    /* No symbols (kallsyms unreadable): nothing resolves, e.g. no lines. */
    if (!k)
        return FALSE;
    hi = k->n;

    /* First entry with start > addr; the candidate is the run before it. */
    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;

        if (k->syms[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return FALSE;
    lo--;
    while (lo > 0 && k->syms[lo - 1].start == k->syms[lo].start)
        lo--; /* first alias in file order */
    if (addr >= k->syms[lo].end)
        return FALSE;
    fill(&k->syms[lo], out);
    return TRUE;
}

gboolean
hapvm_ksyms_lookup_name(const HapvmKsyms *k, const char *module, const char *name, guint dup,
                        HapvmKsym *out)
{
    gsize lo = 0, hi = k->n;

    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;
        const KsymEntry *e = &k->syms[k->by_name[mid]];
        int c = cmp_module(e->module, module);

        if (!c)
            c = strcmp(e->name, name);
        if (!c)
            c = e->dup < dup ? -1 : e->dup > dup;
        if (c < 0)
            lo = mid + 1;
        else if (c > 0)
            hi = mid;
        else {
            fill(e, out);
            return TRUE;
        }
    }
    return FALSE;
}

guint64
hapvm_ksyms_text(const HapvmKsyms *k)
{
    return k->text;
}

gsize
hapvm_ksyms_count(const HapvmKsyms *k)
{
    return k->n;
}

#include "hapvm-tracedat.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "hapvm-error.h"

/* Option and section ids (trace-cmd.dat.v7(5), lib/trace-cmd/include/trace-cmd.h). */
enum {
    OPT_DONE = 0,
    OPT_CPUSTAT = 2,
    OPT_BUFFER = 3,
    OPT_TRACECLOCK = 4,
    OPT_UNAME = 5,
    OPT_CPUCOUNT = 8,
    OPT_HEADER_INFO = 16,
    OPT_FTRACE_EVENTS = 17,
    OPT_EVENT_FORMATS = 18,
    OPT_KALLSYMS = 19,
    OPT_PRINTK = 20,
    OPT_CMDLINES = 21,
    OPT_BUFFER_TEXT = 22,
};
#define SEC_FL_COMPRESS 1

/* Limits against hostile files; real ones are far below. */
#define MAX_SECTION_BYTES (256u << 20) /* one inflated metadata section */
#define MAX_CHUNK_BYTES (64u << 20)    /* one inflated chunk of ring-buffer pages */
#define MAX_PAGE_BUFS (256u << 20)     /* all per-CPU page buffers together */
#define READ_BYTES (256u << 10)        /* uncompressed pages read at a time, per CPU */
#define MAX_CPU_ID 65535
#define MAX_OPTION_SECTIONS 1024

enum { COMP_NONE, COMP_ZSTD, COMP_ZLIB };

typedef struct {
    guint cpu;
    guint64 offset;    /* in the file: the pages, or the chunk stream */
    guint64 size;      /* bytes there */
    guint64 data_size; /* pages' bytes, inflated */
    guint32 nchunks;
} CpuData;

struct HapvmTraceDat {
    char *path;
    int fd;            /* uncompressed pages are read from it (see foreach_page) */
    const guint8 *map; /* the whole file, for metadata and compressed data */
    gsize len;
    guint version;
    gboolean big_endian;
    guint file_long_size;
    guint32 page_size;
    char *compression;
    int comp;
    ZSTD_DCtx *zstd;
    z_stream zs;
    gboolean zs_ready;
    struct tep_handle *tep;
    guint parse_failures;
    const char *const *systems; /* during open: event systems to parse, NULL = all */
    char *fmt_buf; /* a format being sanitized */
    gsize fmt_cap;
    GString *kallsyms, *cmdlines, *printk, *cpustats;
    char *uname, *clock, *buffer_name;
    guint cpus;
    CpuData *cpu;
    guint n_cpu;
    gboolean data_compressed;
    guint32 max_chunk;
    guint64 data_size;
};

/* ---- bounds-checked cursor -------------------------------------------- */

/* Over the mapped file, or over an inflated section (then offsets in errors
 * are those of the section in the file, plus the position inside it). */
typedef struct {
    HapvmTraceDat *td;
    const guint8 *p;
    gsize len, pos;
    guint64 origin; /* file offset of p[0], or of the compressed section */
    gboolean inflated;
} Cur;

static void G_GNUC_PRINTF(4, 5)
fail_at(HapvmTraceDat *td, GError **error, guint64 off, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: offset %" G_GUINT64_FORMAT ": %s",
                td->path, off, msg);
}

static void G_GNUC_PRINTF(3, 4)
cur_fail(const Cur *c, GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (c->inflated)
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "%s: offset %" G_GUINT64_FORMAT " (compressed section), +%" G_GSIZE_FORMAT
                    " inflated: %s", c->td->path, c->origin, c->pos, msg);
    else
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: offset %" G_GUINT64_FORMAT ": %s",
                    c->td->path, c->origin + c->pos, msg);
}

static Cur
cur_file(HapvmTraceDat *td, guint64 off)
{
    Cur c = { .td = td, .p = td->map, .len = td->len, .pos = 0, .origin = 0 };

    c.pos = off <= td->len ? off : td->len;
    return c;
}

static gboolean
cur_bytes(Cur *c, guint64 n, const guint8 **out, const char *what, GError **error)
{
    if (n > c->len - c->pos) {
        cur_fail(c, error, "%s: %" G_GUINT64_FORMAT " bytes needed, %" G_GSIZE_FORMAT " left",
                 what, n, c->len - c->pos);
        return FALSE;
    }
    *out = c->p + c->pos;
    c->pos += n;
    return TRUE;
}

static inline guint64
rd_num(const HapvmTraceDat *td, const guint8 *p, guint n)
{
    guint64 v = 0;

    for (guint i = 0; i < n; i++)
        v |= (guint64)p[td->big_endian ? n - 1 - i : i] << (8 * i);
    return v;
}

static gboolean
cur_num(Cur *c, guint n, guint64 *v, const char *what, GError **error)
{
    const guint8 *p;

    if (!cur_bytes(c, n, &p, what, error))
        return FALSE;
    *v = rd_num(c->td, p, n);
    return TRUE;
}

static gboolean
cur_u32(Cur *c, guint32 *v, const char *what, GError **error)
{
    guint64 x;

    if (!cur_num(c, 4, &x, what, error))
        return FALSE;
    *v = (guint32)x;
    return TRUE;
}

/* A NUL-terminated string inside the data. */
static gboolean
cur_str(Cur *c, const char **s, const char *what, GError **error)
{
    const guint8 *nul = memchr(c->p + c->pos, 0, c->len - c->pos);

    if (!nul) {
        cur_fail(c, error, "%s: unterminated string", what);
        return FALSE;
    }
    *s = (const char *)(c->p + c->pos);
    c->pos = nul - c->p + 1;
    return TRUE;
}

static gboolean
cur_expect(Cur *c, const char *lit, gsize n, GError **error)
{
    const guint8 *p;

    if (!cur_bytes(c, n, &p, lit, error))
        return FALSE;
    if (memcmp(p, lit, n) != 0) {
        c->pos -= n;
        cur_fail(c, error, "\"%s\" expected", lit);
        return FALSE;
    }
    return TRUE;
}

/* ---- decompression ------------------------------------------------------ */

static gboolean
inflate_block(HapvmTraceDat *td, const guint8 *in, gsize in_len, guint8 *out, gsize out_len)
{
    if (td->comp == COMP_ZSTD) {
        size_t r = ZSTD_decompressDCtx(td->zstd, out, out_len, in, in_len);
        return !ZSTD_isError(r) && r == out_len;
    }
    if (td->comp == COMP_ZLIB) {
        if (inflateReset(&td->zs) != Z_OK)
            return FALSE;
        td->zs.next_in = (Bytef *)in;
        td->zs.avail_in = in_len;
        td->zs.next_out = out;
        td->zs.avail_out = out_len;
        return inflate(&td->zs, Z_FINISH) == Z_STREAM_END && td->zs.total_out == out_len;
    }
    return FALSE;
}

/* ---- v7 sections --------------------------------------------------------- */

/* Opens the section at off (checking its id) as a cursor over its data,
 * inflated into *buf if compressed. */
static gboolean
section_open(HapvmTraceDat *td, guint64 off, guint id, Cur *out, guint8 **buf, GError **error)
{
    Cur c = cur_file(td, off);
    guint64 sid, flags, desc, size;
    const guint8 *data;

    if (off > td->len) {
        fail_at(td, error, off, "section %u: offset beyond the end of the file (%" G_GSIZE_FORMAT
                " bytes)", id, td->len);
        return FALSE;
    }
    if (!cur_num(&c, 2, &sid, "section id", error) || !cur_num(&c, 2, &flags, "section flags", error) ||
        !cur_num(&c, 4, &desc, "section description", error) ||
        !cur_num(&c, 8, &size, "section size", error))
        return FALSE;
    if (sid != id) {
        fail_at(td, error, off, "section %" G_GUINT64_FORMAT " found where section %u was expected",
                sid, id);
        return FALSE;
    }
    if (!cur_bytes(&c, size, &data, "section data", error))
        return FALSE;
    *out = (Cur){ .td = td, .p = data, .len = size, .pos = 0, .origin = c.pos - size };
    if (!(flags & SEC_FL_COMPRESS))
        return TRUE;

    guint32 zsize, rsize;
    const guint8 *z;
    if (td->comp == COMP_NONE) {
        fail_at(td, error, off, "compressed section in a file without compression");
        return FALSE;
    }
    if (!cur_u32(out, &zsize, "compressed size", error) || !cur_u32(out, &rsize, "inflated size", error) ||
        !cur_bytes(out, zsize, &z, "compressed data", error))
        return FALSE;
    if (rsize > MAX_SECTION_BYTES) {
        fail_at(td, error, off, "section inflates to %u bytes (limit %u)", rsize, MAX_SECTION_BYTES);
        return FALSE;
    }
    *buf = g_try_malloc(rsize ? rsize : 1);
    if (!*buf) {
        fail_at(td, error, off, "no memory for %u inflated bytes", rsize);
        return FALSE;
    }
    if (!inflate_block(td, z, zsize, *buf, rsize)) {
        fail_at(td, error, off, "corrupt %s data", td->compression);
        return FALSE;
    }
    *out = (Cur){ .td = td, .p = *buf, .len = rsize, .pos = 0, .origin = off, .inflated = TRUE };
    return TRUE;
}

/* ---- metadata ------------------------------------------------------------ */

static gboolean
parse_headers(HapvmTraceDat *td, Cur *c, GError **error)
{
    guint64 size;
    const guint8 *p;
    gsize at;

    if (!cur_expect(c, "header_page", 12, error) || !cur_num(c, 8, &size, "header_page size", error))
        return FALSE;
    at = c->pos;
    if (!cur_bytes(c, size, &p, "header_page", error))
        return FALSE;
    /* Size 0: an old kernel without the page layout; libtraceevent assumes
     * it (and says -1). */
    if (tep_parse_header_page(td->tep, (char *)p, size, td->file_long_size) != 0 && size) {
        c->pos = at;
        cur_fail(c, error, "header_page: cannot parse");
        return FALSE;
    }
    if (!cur_expect(c, "header_event", 13, error) || !cur_num(c, 8, &size, "header_event size", error) ||
        !cur_bytes(c, size, &p, "header_event", error))
        return FALSE;
    return TRUE;
}

static gboolean
is_digits(const char *s, const char *end)
{
    if (s == end)
        return FALSE;
    for (; s < end; s++)
        if (!g_ascii_isdigit(*s))
            return FALSE;
    return TRUE;
}

/* "\tfield:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" */
static gboolean
field_line_ok(const char *s, const char *end)
{
    static const char *const keys[] = { ";\toffset:", ";\tsize:", ";\tsigned:" };

    if (end - s < 7 || memcmp(s, "\tfield:", 7) != 0 || end[-1] != ';')
        return FALSE;
    s += 7;
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        const char *k = g_strstr_len(s, end - s, keys[i]);
        if (!k)
            return FALSE;
        s = k + strlen(keys[i]);
        const char *semi = memchr(s, ';', end - s);
        if (!semi || !is_digits(s, semi))
            return FALSE;
    }
    return TRUE;
}

/* libtraceevent 1.7 trusts format text: a truncated "print fmt" line, or one
 * naming a field whose type was garbled, makes it dereference NULL (found by
 * fuzzing in tests/tracedattest.c).  So it gets only text shaped like the
 * kernel's format files ("name:", "ID:", "format:", printable field lines,
 * then "print fmt:"), with an empty print format: events keep their fields,
 * which is what hapvm reads, but do not pretty-print.  Returns the length
 * of the text to parse, written into out (len + 16 bytes), or 0 if the text
 * is not a format. */
static gsize
format_sanitize(const char *text, gsize len, char *out)
{
    static const char empty[] = "print fmt: \"\"\n";
    const char *s = text, *end = text + len;

    for (guint line = 0; s < end; line++) {
        const char *nl = memchr(s, '\n', end - s);
        if (!nl)
            nl = end;
        for (const char *q = s; q < nl; q++)
            if ((*q < 0x20 && *q != '\t') || *q > 0x7e)
                return 0;
        if (line == 0 && !(nl - s > 6 && memcmp(s, "name: ", 6) == 0))
            return 0;
        if (line == 1 && !(nl - s > 4 && memcmp(s, "ID: ", 4) == 0 && is_digits(s + 4, nl)))
            return 0;
        if (line == 2 && !(nl - s == 7 && memcmp(s, "format:", 7) == 0))
            return 0;
        if (line > 2) {
            if (nl - s >= 11 && memcmp(s, "print fmt: ", 11) == 0) {
                memcpy(out, text, s - text);
                memcpy(out + (s - text), empty, sizeof(empty) - 1);
                return (s - text) + sizeof(empty) - 1;
            }
            if (nl != s && !field_line_ok(s, nl))
                return 0;
        }
        s = nl + 1;
    }
    return 0;
}

static gboolean
parse_format(HapvmTraceDat *td, Cur *c, const char *sys, gboolean wanted, GError **error)
{
    guint64 size;
    const guint8 *p;

    if (!cur_num(c, 8, &size, "format size", error) || !cur_bytes(c, size, &p, "format", error))
        return FALSE;
    if (!wanted)
        return TRUE;
    if (size + 16 > td->fmt_cap) {
        td->fmt_cap = size + 16;
        td->fmt_buf = g_realloc(td->fmt_buf, td->fmt_cap);
    }
    size = format_sanitize((const char *)p, size, td->fmt_buf);
    if (!size || tep_parse_event(td->tep, td->fmt_buf, size, sys) != 0)
        td->parse_failures++;
    return TRUE;
}

static gboolean
parse_ftrace_formats(HapvmTraceDat *td, Cur *c, GError **error)
{
    guint32 n;

    if (!cur_u32(c, &n, "ftrace format count", error))
        return FALSE;
    for (guint32 i = 0; i < n; i++)
        if (!parse_format(td, c, "ftrace", TRUE, error))
            return FALSE;
    return TRUE;
}

static gboolean
parse_event_formats(HapvmTraceDat *td, Cur *c, GError **error)
{
    guint32 nsys, n;
    const char *sys;

    if (!cur_u32(c, &nsys, "event system count", error))
        return FALSE;
    for (guint32 i = 0; i < nsys; i++) {
        if (!cur_str(c, &sys, "system name", error) || !cur_u32(c, &n, "event count", error))
            return FALSE;
        gboolean wanted = !td->systems || g_strv_contains(td->systems, sys);
        for (guint32 j = 0; j < n; j++)
            if (!parse_format(td, c, sys, wanted, error))
                return FALSE;
    }
    return TRUE;
}

/* A text blob preceded by its size (4 or 8 bytes); copied with a NUL.  Size
 * 0 (trace-cmd could not read the file) leaves *out NULL. */
static gboolean
parse_text(Cur *c, guint size_bytes, GString **out, const char *what, GError **error)
{
    guint64 size;
    const guint8 *p;

    if (!cur_num(c, size_bytes, &size, what, error) || !cur_bytes(c, size, &p, what, error))
        return FALSE;
    if (*out)
        g_string_free(*out, TRUE);
    *out = size ? g_string_new_len((const char *)p, size) : NULL;
    return TRUE;
}

static gboolean
parse_cmdlines(HapvmTraceDat *td, Cur *c, GError **error)
{
    if (!parse_text(c, 8, &td->cmdlines, "saved command lines", error))
        return FALSE;
    if (td->cmdlines)
        tep_parse_saved_cmdlines(td->tep, td->cmdlines->str);
    return TRUE;
}

/* ---- options --------------------------------------------------------------- */

typedef struct {
    guint64 sec[OPT_CMDLINES + 1]; /* v7: section offsets by id, 0 = absent */
    guint32 cpucount;
    /* The chosen BUFFER option: its data, copied (the options may be inflated). */
    guint8 *buffer;
    gsize buffer_len;
    guint64 buffer_at;
    gboolean buffer_inflated, have_latency;
    guint buffer_rank; /* of the chosen BUFFER: 2 if it has CPUs, +1 if top */
} Options;

static void
take_clock(HapvmTraceDat *td, const char *s, gsize n)
{
    /* trace_clock reads "local [global] counter ...": the bracketed one. */
    const char *a = memchr(s, '[', n);
    const char *b = a ? memchr(a, ']', n - (a - s)) : NULL;

    if (a && b) {
        g_free(td->clock);
        td->clock = g_strndup(a + 1, b - a - 1);
    }
}

static gboolean
handle_option(HapvmTraceDat *td, Options *o, guint id, const guint8 *p, guint32 size, Cur *c,
              GError **error)
{
    switch (id) {
    case OPT_CPUSTAT:
        if (!td->cpustats)
            td->cpustats = g_string_new(NULL);
        g_string_append_len(td->cpustats, (const char *)p, strnlen((const char *)p, size));
        if (td->cpustats->len && td->cpustats->str[td->cpustats->len - 1] != '\n')
            g_string_append_c(td->cpustats, '\n');
        break;
    case OPT_UNAME:
        g_free(td->uname);
        td->uname = g_strndup((const char *)p, size);
        break;
    case OPT_TRACECLOCK:
        take_clock(td, (const char *)p, size);
        break;
    case OPT_CPUCOUNT:
        if (size < 4) {
            cur_fail(c, error, "CPUCOUNT option of %u bytes", size);
            return FALSE;
        }
        o->cpucount = (guint32)rd_num(td, p, 4);
        break;
    case OPT_HEADER_INFO:
    case OPT_FTRACE_EVENTS:
    case OPT_EVENT_FORMATS:
    case OPT_KALLSYMS:
    case OPT_PRINTK:
    case OPT_CMDLINES:
        if (td->version < 7)
            break;
        if (size < 8) {
            cur_fail(c, error, "section option %u of %u bytes", id, size);
            return FALSE;
        }
        o->sec[id] = rd_num(td, p, 8);
        break;
    case OPT_BUFFER:
    case OPT_BUFFER_TEXT: {
        /* v6 BUFFER options describe other instances only; the top one's
         * data follows the options. */
        if (td->version < 7)
            break;
        if (id == OPT_BUFFER_TEXT) {
            o->have_latency = TRUE;
            break;
        }
        const guint8 *name = size > 8 ? memchr(p + 8, 0, size - 8) : NULL;
        gboolean top = name == p + 8;
        if (!name) {
            cur_fail(c, error, "BUFFER option without a name");
            return FALSE;
        }
        /* The top instance, else the first one; but one with CPU data
         * before one without (`trace-cmd record -B NAME` alone writes an
         * empty top buffer: "name, clock, page size, 0 CPUs"). */
        const guint8 *clock = memchr(name + 1, 0, size - (name + 1 - p));
        gboolean empty = clock && (gsize)(p + size - (clock + 1)) >= 8 && rd_num(td, clock + 5, 4) == 0;
        guint rank = (empty ? 0 : 2) + (top ? 1 : 0);
        if (o->buffer && rank <= o->buffer_rank)
            break;
        g_free(o->buffer);
        o->buffer = g_memdup2(p, size);
        o->buffer_len = size;
        o->buffer_rank = rank;
        o->buffer_inflated = c->inflated;
        o->buffer_at = c->inflated ? c->origin : c->origin + (p - c->p);
        break;
    }
    default:
        break; /* DATE, OFFSET, TSC2NSEC, GUEST, ...: not needed to find functions */
    }
    return TRUE;
}

/* One options section (v7) or block (v6); *next gets the v7 DONE pointer. */
static gboolean
parse_options(HapvmTraceDat *td, Options *o, Cur *c, guint64 *next, GError **error)
{
    for (;;) {
        guint64 id;
        guint32 size;
        const guint8 *p;
        gsize at = c->pos;

        if (!cur_num(c, 2, &id, "option id", error))
            return FALSE;
        if (id == OPT_DONE && td->version < 7)
            return TRUE;
        if (!cur_u32(c, &size, "option size", error) || !cur_bytes(c, size, &p, "option data", error))
            return FALSE;
        if (id == OPT_DONE) {
            if (size < 8) {
                c->pos = at;
                cur_fail(c, error, "DONE option of %u bytes", size);
                return FALSE;
            }
            *next = rd_num(td, p, 8);
            return TRUE;
        }
        Cur here = *c;
        here.pos = at;
        if (!handle_option(td, o, id, p, size, &here, error))
            return FALSE;
    }
}

/* ---- flyrecord data -------------------------------------------------------- */

static gboolean
add_cpu(HapvmTraceDat *td, guint64 cpu, guint64 off, guint64 size, const Cur *c, GError **error)
{
    if (cpu > MAX_CPU_ID) {
        cur_fail(c, error, "CPU id %" G_GUINT64_FORMAT " out of range", cpu);
        return FALSE;
    }
    for (guint i = 0; i < td->n_cpu; i++)
        if (td->cpu[i].cpu == cpu) {
            cur_fail(c, error, "CPU %" G_GUINT64_FORMAT " has data twice", cpu);
            return FALSE;
        }
    if (off > td->len || size > td->len - off) {
        cur_fail(c, error, "CPU %" G_GUINT64_FORMAT " data at %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                 " bytes: beyond the end of the file (%" G_GSIZE_FORMAT " bytes; truncated?)",
                 cpu, off, size, td->len);
        return FALSE;
    }
    td->cpu = g_renew(CpuData, td->cpu, td->n_cpu + 1);
    td->cpu[td->n_cpu++] = (CpuData){ .cpu = cpu, .offset = off, .size = size, .data_size = size };
    td->cpus = MAX(td->cpus, cpu + 1);
    return TRUE;
}

/* Compressed CPU data: "count, then count × (zsize, size, data)".  The size
 * trace-cmd records excludes the 4-byte count. */
static gboolean
check_chunks(HapvmTraceDat *td, CpuData *cd, GError **error)
{
    Cur c = cur_file(td, cd->offset);
    guint32 n;

    c.len = cd->offset + MIN(cd->size + 4, td->len - cd->offset);
    if (!cur_u32(&c, &n, "chunk count", error))
        return FALSE;
    cd->nchunks = n;
    cd->data_size = 0;
    for (guint32 i = 0; i < n; i++) {
        guint32 zsize, rsize;
        const guint8 *z;
        gsize at = c.pos;

        if (!cur_u32(&c, &zsize, "chunk compressed size", error) ||
            !cur_u32(&c, &rsize, "chunk size", error) || !cur_bytes(&c, zsize, &z, "chunk data", error))
            return FALSE;
        if (rsize > MAX_CHUNK_BYTES) {
            c.pos = at;
            cur_fail(&c, error, "chunk of %u bytes (limit %u)", rsize, MAX_CHUNK_BYTES);
            return FALSE;
        }
        td->max_chunk = MAX(td->max_chunk, rsize);
        cd->data_size += rsize;
    }
    return TRUE;
}

static gboolean
parse_buffer_v7(HapvmTraceDat *td, const Options *o, GError **error)
{
    Cur c = { .td = td, .p = o->buffer, .len = o->buffer_len, .origin = o->buffer_at,
              .inflated = o->buffer_inflated };
    guint64 data_off, sid, flags, ps, v;
    guint32 n;
    const char *name, *clock;

    if (!cur_num(&c, 8, &data_off, "buffer offset", error) || !cur_str(&c, &name, "buffer name", error) ||
        !cur_str(&c, &clock, "buffer clock", error) || !cur_num(&c, 4, &ps, "buffer page size", error) ||
        !cur_u32(&c, &n, "buffer CPU count", error))
        return FALSE;
    td->buffer_name = g_strdup(name);
    g_free(td->clock);
    td->clock = g_strdup(clock);
    if (ps && ps != td->page_size) {
        if (ps < 256 || ps > (16u << 20) || (ps & (ps - 1))) {
            cur_fail(&c, error, "buffer page size %" G_GUINT64_FORMAT, ps);
            return FALSE;
        }
        td->page_size = ps;
    }
    /* The data section's header says whether the pages are compressed. */
    Cur s = cur_file(td, data_off);
    if (data_off > td->len || !cur_num(&s, 2, &sid, "flyrecord section id", error) ||
        !cur_num(&s, 2, &flags, "flyrecord section flags", error)) {
        if (error && !*error)
            fail_at(td, error, data_off, "flyrecord section beyond the end of the file");
        return FALSE;
    }
    if (sid != OPT_BUFFER) {
        fail_at(td, error, data_off, "section %" G_GUINT64_FORMAT " where flyrecord data was expected", sid);
        return FALSE;
    }
    td->data_compressed = (flags & SEC_FL_COMPRESS) != 0;
    if (td->data_compressed && td->comp == COMP_NONE) {
        fail_at(td, error, data_off, "compressed data in a file without compression");
        return FALSE;
    }
    for (guint32 i = 0; i < n; i++) {
        guint64 off, size;
        Cur at = c;
        if (!cur_num(&c, 4, &v, "CPU id", error) || !cur_num(&c, 8, &off, "CPU data offset", error) ||
            !cur_num(&c, 8, &size, "CPU data size", error) || !add_cpu(td, v, off, size, &at, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_flyrecord_v6(HapvmTraceDat *td, Cur *c, guint32 cpus, GError **error)
{
    const guint8 *p;
    guint64 size;

    if (cpus > MAX_CPU_ID + 1) {
        cur_fail(c, error, "%u CPUs", cpus);
        return FALSE;
    }
    td->buffer_name = g_strdup("");
    for (guint32 i = 0; i < cpus; i++) {
        guint64 off;
        Cur at = *c;
        if (!cur_num(c, 8, &off, "CPU data offset", error) || !cur_num(c, 8, &size, "CPU data size", error))
            return FALSE;
        if (size && !add_cpu(td, i, off, size, &at, error))
            return FALSE;
    }
    td->cpus = MAX(td->cpus, cpus);
    /* Then "size, [clock]", written when trace_clock was readable. */
    Cur t = *c;
    if (cur_num(&t, 8, &size, "clock", NULL) && cur_bytes(&t, size, &p, "clock", NULL))
        take_clock(td, (const char *)p, size);
    return TRUE;
}

/* ---- open ---------------------------------------------------------------- */

/* Buffer for one CPU's uncompressed pages: pages are read, not mapped, as
 * first touches of a fresh mapping cost more than the copy (10-20× on our
 * virtualised build machines, docs/benchmarks.md), and a small buffer stays
 * in cache for the decoder. */
static gsize
page_buf_size(const HapvmTraceDat *td, const CpuData *cd)
{
    guint64 n = (cd->size + td->page_size - 1) / td->page_size * td->page_size;

    return MIN(n, MAX(READ_BYTES, td->page_size));
}

static gboolean
open_v7_sections(HapvmTraceDat *td, Cur *c, GError **error)
{
    Options o = { 0 };
    guint64 next;
    gboolean ok = FALSE;
    static const struct {
        guint id;
        const char *name;
    } order[] = {
        { OPT_HEADER_INFO, "header_page" }, { OPT_FTRACE_EVENTS, "ftrace formats" },
        { OPT_EVENT_FORMATS, "event formats" }, { OPT_KALLSYMS, "kallsyms" },
        { OPT_PRINTK, "printk formats" }, { OPT_CMDLINES, "command lines" },
    };

    if (!cur_num(c, 8, &next, "options offset", error))
        return FALSE;
    for (guint n = 0; next; n++) {
        g_autofree guint8 *buf = NULL;
        guint64 off = next;
        Cur s;

        if (n == MAX_OPTION_SECTIONS) {
            fail_at(td, error, off, "more than %u option sections (a loop?)", MAX_OPTION_SECTIONS);
            goto out;
        }
        next = 0;
        if (!section_open(td, off, OPT_DONE, &s, &buf, error) || !parse_options(td, &o, &s, &next, error))
            goto out;
    }
    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autofree guint8 *buf = NULL;
        guint64 off = o.sec[order[i].id];
        Cur s;
        gboolean r;

        if (!off) {
            if (order[i].id == OPT_HEADER_INFO) {
                fail_at(td, error, 0, "no header_page section");
                goto out;
            }
            continue;
        }
        if (!section_open(td, off, order[i].id, &s, &buf, error))
            goto out;
        switch (order[i].id) {
        case OPT_HEADER_INFO: r = parse_headers(td, &s, error); break;
        case OPT_FTRACE_EVENTS: r = parse_ftrace_formats(td, &s, error); break;
        case OPT_EVENT_FORMATS: r = parse_event_formats(td, &s, error); break;
        case OPT_KALLSYMS: r = parse_text(&s, 4, &td->kallsyms, "kallsyms", error); break;
        case OPT_PRINTK: r = parse_text(&s, 4, &td->printk, "printk formats", error); break;
        default: r = parse_cmdlines(td, &s, error); break;
        }
        if (!r)
            goto out;
    }
    if (!o.buffer) {
        fail_at(td, error, 0, o.have_latency ? "latency trace: no flyrecord data" : "no flyrecord data");
        goto out;
    }
    if (!parse_buffer_v7(td, &o, error))
        goto out;
    td->cpus = MAX(td->cpus, o.cpucount);
    ok = TRUE;
out:
    g_free(o.buffer);
    return ok;
}

static gboolean
open_v6(HapvmTraceDat *td, Cur *c, GError **error)
{
    Options o = { 0 };
    guint32 cpus;
    const guint8 *kind;

    if (!parse_headers(td, c, error) || !parse_ftrace_formats(td, c, error) ||
        !parse_event_formats(td, c, error) || !parse_text(c, 4, &td->kallsyms, "kallsyms", error) ||
        !parse_text(c, 4, &td->printk, "printk formats", error) || !parse_cmdlines(td, c, error) ||
        !cur_u32(c, &cpus, "CPU count", error) || !cur_bytes(c, 10, &kind, "data kind", error))
        return FALSE;
    if (memcmp(kind, "options  ", 10) == 0) {
        guint64 unused;
        if (!parse_options(td, &o, c, &unused, error) || !cur_bytes(c, 10, &kind, "data kind", error))
            return FALSE;
        /* An option may change the CPU count (as trace-cmd reads it). */
        if (o.cpucount)
            cpus = o.cpucount;
    }
    if (memcmp(kind, "flyrecord", 10) != 0) {
        c->pos -= 10;
        cur_fail(c, error, memcmp(kind, "latency  ", 10) == 0 ? "latency trace: no flyrecord data"
                                                               : "\"flyrecord\" expected");
        return FALSE;
    }
    return parse_flyrecord_v6(td, c, cpus, error);
}

HapvmTraceDat *
hapvm_trace_dat_open(const char *path, GError **error)
{
    return hapvm_trace_dat_open_systems(path, NULL, error);
}

HapvmTraceDat *
hapvm_trace_dat_open_systems(const char *path, const char *const *systems, GError **error)
{
    g_autoptr(HapvmTraceDat) td = g_new0(HapvmTraceDat, 1);
    struct stat st;
    int fd;
    gsize bufs;
    Cur c;
    guint64 v;
    const char *s, *zver;
    static const guint8 magic[] = { 0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g' };

    td->path = g_strdup(path);
    td->fd = -1;
    td->systems = systems;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: not a regular file", path);
        return NULL;
    }
    td->fd = fd;
    td->len = st.st_size;
    if (td->len) {
        void *m = mmap(NULL, td->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: mmap: %s", path,
                        g_strerror(e));
            return NULL;
        }
        td->map = m;
    }

    if (td->len < sizeof(magic) || memcmp(td->map, magic, sizeof(magic)) != 0) {
        fail_at(td, error, 0, "not a trace-cmd file (no \\x17\\x08\\x44tracing)");
        return NULL;
    }
    c = cur_file(td, sizeof(magic));
    if (!cur_str(&c, &s, "version", error))
        return NULL;
    if (strcmp(s, "6") != 0 && strcmp(s, "7") != 0) {
        fail_at(td, error, sizeof(magic), "file version \"%.16s\" (6 and 7 are read)", s);
        return NULL;
    }
    td->version = s[0] - '0';
    if (!cur_num(&c, 1, &v, "endianness", error))
        return NULL;
    if (v > 1) {
        cur_fail(&c, error, "endianness byte %" G_GUINT64_FORMAT, v);
        return NULL;
    }
    td->big_endian = v;
    if (!cur_num(&c, 1, &v, "long size", error))
        return NULL;
    if (v != 4 && v != 8) {
        cur_fail(&c, error, "long size %" G_GUINT64_FORMAT, v);
        return NULL;
    }
    td->file_long_size = v;
    if (!cur_num(&c, 4, &v, "page size", error))
        return NULL;
    if (v < 256 || v > (16u << 20) || (v & (v - 1))) {
        c.pos -= 4;
        cur_fail(&c, error, "page size %" G_GUINT64_FORMAT, v);
        return NULL;
    }
    td->page_size = v;

    td->tep = tep_alloc();
    tep_set_file_bigendian(td->tep, td->big_endian ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
    tep_set_local_bigendian(td->tep, G_BYTE_ORDER == G_BIG_ENDIAN ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
    tep_set_long_size(td->tep, td->file_long_size);
    tep_set_page_size(td->tep, td->page_size);

    td->compression = g_strdup("none");
    if (td->version >= 7) {
        gsize at = c.pos;
        if (!cur_str(&c, &s, "compression", error) || !cur_str(&c, &zver, "compression version", error))
            return NULL;
        g_free(td->compression);
        td->compression = g_strdup(s);
        if (strcmp(s, "zstd") == 0) {
            td->comp = COMP_ZSTD;
            td->zstd = ZSTD_createDCtx();
        } else if (strcmp(s, "zlib") == 0) {
            td->comp = COMP_ZLIB;
            if (inflateInit(&td->zs) != Z_OK) {
                fail_at(td, error, at, "zlib: cannot initialise");
                return NULL;
            }
            td->zs_ready = TRUE;
        } else if (strcmp(s, "none") != 0) {
            fail_at(td, error, at, "compression \"%.32s\" (zstd and zlib are read)", s);
            return NULL;
        }
        if (!open_v7_sections(td, &c, error))
            return NULL;
    } else if (!open_v6(td, &c, error)) {
        return NULL;
    }

    /* Every CPU's data checked now, so foreach_page fails only on bad compressed bytes. */
    for (guint i = 0; i < td->n_cpu; i++) {
        if (td->data_compressed && td->cpu[i].size && !check_chunks(td, &td->cpu[i], error))
            return NULL;
        td->data_size += td->cpu[i].data_size;
    }
    bufs = 0;
    for (guint i = 0; i < td->n_cpu; i++)
        bufs += td->data_compressed ? td->max_chunk : page_buf_size(td, &td->cpu[i]);
    if (bufs > MAX_PAGE_BUFS) {
        fail_at(td, error, 0, "%u CPUs with data: %" G_GSIZE_FORMAT " bytes of buffers needed",
                td->n_cpu, bufs);
        return NULL;
    }
    tep_set_cpus(td->tep, td->cpus);
    td->systems = NULL;
    g_clear_pointer(&td->fmt_buf, g_free);
    td->fmt_cap = 0;
    return g_steal_pointer(&td);
}

void
hapvm_trace_dat_free(HapvmTraceDat *td)
{
    if (!td)
        return;
    if (td->map)
        munmap((void *)td->map, td->len);
    if (td->fd >= 0)
        close(td->fd);
    if (td->tep)
        tep_free(td->tep);
    ZSTD_freeDCtx(td->zstd);
    if (td->zs_ready)
        inflateEnd(&td->zs);
    if (td->kallsyms)
        g_string_free(td->kallsyms, TRUE);
    if (td->cmdlines)
        g_string_free(td->cmdlines, TRUE);
    if (td->printk)
        g_string_free(td->printk, TRUE);
    if (td->cpustats)
        g_string_free(td->cpustats, TRUE);
    g_free(td->cpu);
    g_free(td->fmt_buf);
    g_free(td->uname);
    g_free(td->clock);
    g_free(td->buffer_name);
    g_free(td->compression);
    g_free(td->path);
    g_free(td);
}

/* ---- getters ------------------------------------------------------------- */

guint hapvm_trace_dat_get_version(const HapvmTraceDat *td) { return td->version; }
const char *hapvm_trace_dat_get_compression(const HapvmTraceDat *td) { return td->compression; }
gboolean hapvm_trace_dat_is_big_endian(const HapvmTraceDat *td) { return td->big_endian; }
gsize hapvm_trace_dat_get_page_size(const HapvmTraceDat *td) { return td->page_size; }
guint hapvm_trace_dat_get_cpus(const HapvmTraceDat *td) { return td->cpus; }
guint64 hapvm_trace_dat_get_data_size(const HapvmTraceDat *td) { return td->data_size; }
const char *hapvm_trace_dat_get_buffer_name(const HapvmTraceDat *td) { return td->buffer_name; }
const char *hapvm_trace_dat_get_clock(const HapvmTraceDat *td) { return td->clock; }
struct tep_handle *hapvm_trace_dat_get_tep(HapvmTraceDat *td) { return td->tep; }
guint hapvm_trace_dat_get_parse_failures(const HapvmTraceDat *td) { return td->parse_failures; }
const char *hapvm_trace_dat_get_uname(const HapvmTraceDat *td) { return td->uname; }

guint
hapvm_trace_dat_get_long_size(const HapvmTraceDat *td)
{
    return tep_get_header_page_size(td->tep);
}

guint64
hapvm_trace_dat_get_cpu_data_size(const HapvmTraceDat *td, guint cpu)
{
    for (guint i = 0; i < td->n_cpu; i++)
        if (td->cpu[i].cpu == cpu)
            return td->cpu[i].data_size;
    return 0;
}

static const char *
text_of(const GString *s, gsize *len)
{
    if (len)
        *len = s ? s->len : 0;
    return s ? s->str : NULL;
}

const char *hapvm_trace_dat_get_kallsyms(const HapvmTraceDat *td, gsize *len) { return text_of(td->kallsyms, len); }
const char *hapvm_trace_dat_get_cmdlines(const HapvmTraceDat *td, gsize *len) { return text_of(td->cmdlines, len); }
const char *hapvm_trace_dat_get_printk_formats(const HapvmTraceDat *td, gsize *len) { return text_of(td->printk, len); }
const char *hapvm_trace_dat_get_cpustats(const HapvmTraceDat *td, gsize *len) { return text_of(td->cpustats, len); }

/* ---- pages --------------------------------------------------------------- */

typedef struct {
    const CpuData *cd;
    const guint8 *p, *end; /* pages left in the buffer */
    guint8 *buf;           /* this CPU's buffer: pages read, or a chunk inflated */
    gsize cap;
    guint64 pos, stop;     /* uncompressed: file range still to read */
    Cur chunks;            /* compressed: the chunk stream */
    guint32 chunks_left;
    guint64 ts;            /* timestamp of the page at p */
} PageIter;

static inline void
iter_ts(const HapvmTraceDat *td, PageIter *it)
{
    it->ts = it->end - it->p >= 8 ? rd_num(td, it->p, 8) : 0;
}

static int
iter_read(HapvmTraceDat *td, PageIter *it, GError **error)
{
    gsize n = MIN(it->cap, it->stop - it->pos), got = 0;

    while (got < n) {
        ssize_t r = pread(td->fd, it->buf + got, n - got, it->pos + got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            if (e)
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", td->path,
                            g_strerror(e));
            else
                fail_at(td, error, it->pos + got, "the file shrank while read");
            return -1;
        }
        got += r;
    }
    it->pos += n;
    it->p = it->buf;
    it->end = it->buf + n;
    return 1;
}

/* Makes it->p point at a page, reading or inflating more if needed: 1, or
 * 0 at the end, or -1 on error. */
static int
iter_fill(HapvmTraceDat *td, PageIter *it, GError **error)
{
    while (it->p == it->end) {
        guint32 zsize, rsize;
        const guint8 *z;
        guint64 at;

        if (!td->data_compressed) {
            if (it->pos == it->stop)
                return 0;
            if (iter_read(td, it, error) < 0)
                return -1;
            continue;
        }
        if (!it->chunks_left)
            return 0;
        at = it->chunks.pos;
        /* Bounds were checked at open. */
        if (!cur_u32(&it->chunks, &zsize, "chunk", error) || !cur_u32(&it->chunks, &rsize, "chunk", error) ||
            !cur_bytes(&it->chunks, zsize, &z, "chunk", error))
            return -1;
        it->chunks_left--;
        if (!inflate_block(td, z, zsize, it->buf, rsize)) {
            fail_at(td, error, at, "CPU %u: corrupt %s chunk", it->cd->cpu, td->compression);
            return -1;
        }
        it->p = it->buf;
        it->end = it->buf + rsize;
    }
    iter_ts(td, it);
    return 1;
}

gboolean
hapvm_trace_dat_foreach_page(HapvmTraceDat *td, HapvmPageFunc func, gpointer data, GError **error)
{
    g_autofree PageIter *its = g_new0(PageIter, td->n_cpu ? td->n_cpu : 1);
    g_autofree guint8 *bufs = NULL;
    gsize total = 0;
    guint live = 0;
    gboolean ok = TRUE;

    /* One allocation for all CPUs' buffers (bounded at open). */
    for (guint i = 0; i < td->n_cpu; i++) {
        its[i].cap = td->data_compressed ? td->max_chunk : page_buf_size(td, &td->cpu[i]);
        total += its[i].cap;
    }
    bufs = g_malloc(total ? total : 1);
    total = 0;
    for (guint i = 0; i < td->n_cpu; i++) {
        PageIter *it = &its[i];
        const CpuData *cd = &td->cpu[i];

        it->cd = cd;
        it->buf = bufs + total;
        total += it->cap;
        it->p = it->end = it->buf;
        if (td->data_compressed) {
            if (cd->size) {
                it->chunks = cur_file(td, cd->offset + 4);
                it->chunks_left = cd->nchunks;
            }
        } else {
            it->pos = cd->offset;
            it->stop = cd->offset + cd->size;
        }
        int r = iter_fill(td, it, error);
        if (r < 0)
            return FALSE;
        if (r > 0)
            its[live++] = *it;
    }
    /* Merge by page timestamp; few CPUs, so a linear scan. */
    while (live) {
        guint k = 0;
        for (guint i = 1; i < live; i++)
            if (its[i].ts < its[k].ts)
                k = i;
        PageIter *it = &its[k];
        gsize n = MIN((gsize)(it->end - it->p), td->page_size);
        func(data, it->p, n, (int)it->cd->cpu);
        it->p += n;
        int r = iter_fill(td, it, error);
        if (r < 0) {
            ok = FALSE;
            break;
        }
        if (r == 0)
            its[k] = its[--live];
    }
    return ok;
}

/* What ftrace can see of a kernel build: see hapvm-visibility.h and
 * docs/methodology.md ("What ftrace cannot see").
 *
 * One pass per object (vmlinux, each .ko):
 *   1. function symbols (STT_FUNC, size > 0, executable section), as the
 *      line index takes them: aliases share a record, foo.cold belongs to foo
 *      of the same compile unit;
 *   2. the object's ftrace call sites: vmlinux's __start_mcount_loc ..
 *      __stop_mcount_loc (link addresses, in .init.data), a module's
 *      __mcount_loc section through its relocations (the section itself is
 *      zeros in a .ko); a function is traceable when one lies in it;
 *   3. per compile unit, every statement row of the line table is put in the
 *      class its function allows (own-file rows of a traceable function are
 *      the lines HAP-L counts), and the unit's top-level subprogram DIEs tell
 *      abstract (inlined) functions from out-of-line ones.
 * A .ko is relocated by libdwfl (simple and fast enough for an offline
 * report); the vmlinux is read in chunks of units, each with its own Dwarf
 * handle so decoded line tables do not pile up. */
#include "hapvm-visibility.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-dwarf.h"
#include "hapvm-error.h"
#include "hapvm-lineindex.h"

#define CUS_PER_HANDLE 64

typedef struct {
    char *path;            /* relative to the source tree */
    const char *subsystem; /* interned */
    guint8 *cls;           /* per line: 0 = no code, else HapvmVisLine + 1 (lower wins) */
    guint32 ncls;
} VisFile;

typedef struct {
    const char *name;  /* in the Vis string chunk */
    VisFile *file;
    guint line;
    guint8 abstract;   /* has a DW_AT_inline (inlined) abstract instance */
    guint8 outofline;  /* has a concrete out-of-line instance */
} InlEntry;

typedef struct {
    guint64 start, end;
    const char *name;
    VisFile *own;      /* owner's own file (first statement row) */
    gint32 owner;      /* alias -> first of the group; cold -> its hot part */
    guint16 mcount;    /* ftrace sites in it */
    guint8 cold, alias, init, noinstr, claimed, orphan_cold;
    gint8 fclass;      /* HapvmVisFunc, -1 = not yet */
} VSym;
G_STATIC_ASSERT(G_STRUCT_OFFSET(VSym, start) == 0); /* hapvm_dwarf_lower_bound */

typedef struct {
    const char *module; /* "vmlinux" or module name (Vis strings) */
    gboolean is_rel;
    VSym *syms;
    gsize nsyms;
    guint64 noinstr[3][2]; /* vmlinux: noinstr, entry and cpuidle text */
    HapvmVisObject st;
} VObj;

struct HapvmVisibility {
    GStringChunk *strings;
    GHashTable *files;       /* path -> VisFile */
    GHashTable *raw_files;   /* DWARF spelling -> VisFile (skips re-normalising) */
    GHashTable *inl;         /* InlEntry -> InlEntry */
    GHashTable *funcs;       /* "module\tname" -> class + 1 */
    GHashTable *inline_only; /* "file\tname" -> 1 */
    GPtrArray *listing;      /* "module\tsymbol\tfile\tclass" per function (hapvm index --visibility --list) */
    GHashTable *bucket_map;  /* name -> index in buckets */
    GArray *buckets;         /* HapvmVisBucket, sorted by name at the end */
    GArray *objects;         /* HapvmVisObject */
    HapvmVisBucket total;
    char *build_id;
    char *vmlinux;
    double seconds;
    guint no_lines;
    /* per-unit scratch */
    GPtrArray *canon;
    GArray *rows;
    GArray *cu_syms;
};

static const char *const func_names[HAPVM_VIS_NFUNC] = {
    "traceable", "noinstr", "asm", "notrace", "init", "inline_only",
};
static const char *const line_names[HAPVM_VIS_NLINE] = {
    "counted", "inlined", "noinstr", "asm", "notrace", "init",
};

const char *
hapvm_vis_func_name(HapvmVisFunc c)
{
    return c < HAPVM_VIS_NFUNC ? func_names[c] : "?";
}

const char *
hapvm_vis_line_name(HapvmVisLine c)
{
    return c < HAPVM_VIS_NLINE ? line_names[c] : "?";
}

/* ------------------------------------------------------------------------ */
/* Files, buckets, inline keys */

static void
vis_file_free(gpointer p)
{
    VisFile *f = p;

    g_free(f->path);
    g_free(f->cls);
    g_free(f);
}

static VisFile *
vis_file(HapvmVisibility *v, const char *dwarf_path)
{
    VisFile *f = g_hash_table_lookup(v->raw_files, dwarf_path);
    g_autofree char *path = NULL;

    if (f)
        return f;
    path = hapvm_kernel_source_path(dwarf_path);
    f = g_hash_table_lookup(v->files, path);
    if (!f) {
        f = g_new0(VisFile, 1);
        f->path = g_steal_pointer(&path);
        f->subsystem = hapvm_subsystem_of_file(f->path);
        g_hash_table_insert(v->files, f->path, f);
    }
    g_hash_table_insert(v->raw_files, g_string_chunk_insert_const(v->strings, dwarf_path), f);
    return f;
}

static void
vis_file_mark(VisFile *f, guint32 line, HapvmVisLine c)
{
    if (line >= f->ncls) {
        guint32 n = MAX(line + 1, f->ncls * 2);

        n = MAX(n, 64);
        f->cls = g_realloc(f->cls, n);
        memset(f->cls + f->ncls, 0, n - f->ncls);
        f->ncls = n;
    }
    if (f->cls[line] == 0 || f->cls[line] > c + 1)
        f->cls[line] = c + 1;
}

static HapvmVisBucket *
vis_bucket(HapvmVisibility *v, const char *name)
{
    gpointer idx;

    if (g_hash_table_lookup_extended(v->bucket_map, name, NULL, &idx))
        return &g_array_index(v->buckets, HapvmVisBucket, GPOINTER_TO_UINT(idx));
    HapvmVisBucket b = { .name = name };
    g_array_append_val(v->buckets, b);
    g_hash_table_insert(v->bucket_map, (gpointer)name, GUINT_TO_POINTER(v->buckets->len - 1));
    return &g_array_index(v->buckets, HapvmVisBucket, v->buckets->len - 1);
}

static guint
inl_hash(gconstpointer p)
{
    const InlEntry *e = p;

    return g_str_hash(e->name) ^ g_direct_hash(e->file) ^ (e->line * 2654435761u);
}

static gboolean
inl_equal(gconstpointer a, gconstpointer b)
{
    const InlEntry *x = a, *y = b;

    return x->file == y->file && x->line == y->line && strcmp(x->name, y->name) == 0;
}

/* ------------------------------------------------------------------------ */
/* Symbols and ftrace sites */

static int
cmp_vsym(const void *pa, const void *pb)
{
    const VSym *a = pa, *b = pb;

    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Index of the symbol containing addr (the first of an alias group), or -1. */
static gssize
sym_at(const VObj *o, guint64 addr)
{
    gsize lo = 0, hi = o->nsyms;

    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;

        if (o->syms[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    const VSym *s = &o->syms[lo - 1];
    if (addr >= s->end)
        return -1;
    return s->alias ? s->owner : (gssize)(lo - 1);
}

typedef struct {
    guint64 base;  /* address of the section (0 in an ET_EXEC: st_value is absolute) */
    gboolean text, init, noinstr;
} SecInfo;

static SecInfo *
section_info(Elf *elf, gboolean is_rel, gboolean vmlinux, size_t *nsec_out)
{
    size_t nsec = 0, shstrndx = 0;
    SecInfo *si;
    Elf_Scn *scn = NULL;

    if (elf_getshdrnum(elf, &nsec) != 0 || elf_getshdrstrndx(elf, &shstrndx) != 0)
        return NULL;
    si = g_new0(SecInfo, nsec ? nsec : 1);
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        size_t i = elf_ndxscn(scn);
        const char *name;

        if (!gelf_getshdr(scn, &sh) || i >= nsec)
            continue;
        name = elf_strptr(elf, shstrndx, sh.sh_name);
        si[i].base = is_rel ? sh.sh_addr : 0;
        si[i].text = (sh.sh_flags & SHF_EXECINSTR) != 0;
        if (name) {
            /* Init code is freed after boot (vmlinux: .exit.text too, it
             * lies in the init region) or after a module's init ran. */
            si[i].init = g_str_has_prefix(name, ".init") || (vmlinux && strcmp(name, ".exit.text") == 0);
            si[i].noinstr = strcmp(name, ".noinstr.text") == 0 || strcmp(name, ".entry.text") == 0 ||
                            strcmp(name, ".cpuidle.text") == 0;
        }
    }
    *nsec_out = nsec;
    return si;
}

/* Function symbols; for the vmlinux also the __mcount_loc bounds and the
 * noinstr text ranges (one .text section there, so these come from the
 * linker script's symbols). */
static gboolean
read_syms(HapvmVisibility *v, VObj *o, Elf *elf, const SecInfo *si, size_t nsec, guint64 mcount[2],
          const char *path, GError **error)
{
    g_autoptr(GArray) syms = g_array_new(FALSE, FALSE, sizeof(VSym));
    static const char *const ranges[3][2] = {
        { "__noinstr_text_start", "__noinstr_text_end" },
        { "__entry_text_start", "__entry_text_end" },
        { "__cpuidle_text_start", "__cpuidle_text_end" },
    };
    GElf_Shdr shdr;
    gsize nsyms = 0;
    Elf_Data *data = hapvm_dwarf_symtab(elf, &shdr, &nsyms);

    for (gsize i = 1; data && i < nsyms; i++) {
        GElf_Sym s;
        const char *name;

        if (!gelf_getsym(data, i, &s) || !(name = elf_strptr(elf, shdr.sh_link, s.st_name)) || !name[0])
            continue;
        if (!o->is_rel && s.st_shndx != SHN_UNDEF) {
            if (strcmp(name, "__start_mcount_loc") == 0)
                mcount[0] = s.st_value;
            else if (strcmp(name, "__stop_mcount_loc") == 0)
                mcount[1] = s.st_value;
            for (int r = 0; r < 3; r++)
                for (int e = 0; e < 2; e++)
                    if (strcmp(name, ranges[r][e]) == 0)
                        o->noinstr[r][e] = s.st_value;
        }
        if (GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_size == 0 || s.st_shndx == SHN_UNDEF ||
            s.st_shndx >= nsec || !si[s.st_shndx].text)
            continue;
        VSym sym = { .start = si[s.st_shndx].base + s.st_value, .name = g_string_chunk_insert_const(v->strings, name),
                     .init = si[s.st_shndx].init, .noinstr = si[s.st_shndx].noinstr, .fclass = -1 };
        sym.end = sym.start + s.st_size;
        g_array_append_val(syms, sym);
    }
    if (syms->len == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: no function symbols (stripped?)", path);
        return FALSE;
    }
    qsort(syms->data, syms->len, sizeof(VSym), cmp_vsym);
    o->nsyms = syms->len;
    o->syms = (VSym *)g_array_free(g_steal_pointer(&syms), FALSE);
    for (gsize i = 0; i < o->nsyms; i++) {
        VSym *s = &o->syms[i];
        gsize base;

        s->owner = i;
        s->cold = hapvm_dwarf_cold_base(s->name, &base);
        if (i && s->start == o->syms[i - 1].start) {
            s->alias = 1;
            s->owner = o->syms[i - 1].alias ? o->syms[i - 1].owner : (gint32)(i - 1);
        }
        for (int r = 0; r < 3; r++)
            if (o->noinstr[r][1] > o->noinstr[r][0] && s->start >= o->noinstr[r][0] && s->start < o->noinstr[r][1])
                s->noinstr = 1;
    }
    return TRUE;
}

static void
add_site(VObj *o, guint64 addr)
{
    gssize i = sym_at(o, addr);

    o->st.mcount_entries++;
    if (i < 0) {
        o->st.mcount_outside++;
        return;
    }
    if (o->syms[i].init)
        o->st.mcount_init++;
    if (o->syms[i].mcount)
        o->st.mcount_shared++;
    if (o->syms[i].mcount < G_MAXUINT16)
        o->syms[i].mcount++;
}

/* vmlinux: the table between __start_mcount_loc and __stop_mcount_loc. */
static gboolean
read_sites_exec(VObj *o, Elf *elf, const guint64 mcount[2], const char *path, GError **error)
{
    Elf_Scn *scn = NULL;

    if (!mcount[0] || mcount[1] < mcount[0] || (mcount[1] - mcount[0]) % 8) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                    "%s: no __start_mcount_loc/__stop_mcount_loc (a kernel without dynamic ftrace?)", path);
        return FALSE;
    }
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
            mcount[0] < sh.sh_addr || mcount[1] > sh.sh_addr + sh.sh_size)
            continue;
        if (!(d = elf_getdata(scn, NULL)) || !d->d_buf || d->d_size < sh.sh_size)
            break;
        for (guint64 a = mcount[0]; a < mcount[1]; a += 8) {
            guint64 site;

            memcpy(&site, (const guint8 *)d->d_buf + (a - sh.sh_addr), 8);
            add_site(o, site);
        }
        return TRUE;
    }
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: __mcount_loc table not in a section with data", path);
    return FALSE;
}

/* A module: __mcount_loc holds zeros, each entry relocated (R_X86_64_64)
 * against a text section symbol + offset. */
static gboolean
read_sites_rel(VObj *o, Elf *elf, const SecInfo *si, size_t nsec, const char *path, GError **error)
{
    size_t shstrndx, mc = 0;
    Elf_Scn *scn = NULL;

    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        goto bad;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        const char *n;

        if (gelf_getshdr(scn, &sh) && (n = elf_strptr(elf, shstrndx, sh.sh_name)) && strcmp(n, "__mcount_loc") == 0)
            mc = elf_ndxscn(scn);
    }
    if (!mc)
        return TRUE; /* a module without ftrace sites (all notrace) */
    scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh, symsh;
        Elf_Data *rd, *symd;
        Elf_Scn *symscn;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || sh.sh_info != mc || !sh.sh_entsize)
            continue;
        if (!(rd = elf_getdata(scn, NULL)) || !(symscn = elf_getscn(elf, sh.sh_link)) ||
            !gelf_getshdr(symscn, &symsh) || !(symd = elf_getdata(symscn, NULL)))
            goto bad;
        for (gsize i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Rela r;
            GElf_Sym s;

            if (!gelf_getrela(rd, i, &r) || !gelf_getsym(symd, GELF_R_SYM(r.r_info), &s) ||
                GELF_R_TYPE(r.r_info) != R_X86_64_64 || s.st_shndx >= nsec)
                goto bad;
            add_site(o, si[s.st_shndx].base + s.st_value + r.r_addend);
        }
        return TRUE;
    }
bad:
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: unreadable __mcount_loc relocations", path);
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Units */

static HapvmVisFunc
func_class(VSym *s)
{
    HapvmVisFunc c;

    if (s->fclass >= 0)
        return s->fclass;
    if (s->init)
        c = HAPVM_VIS_INIT;
    else if (s->mcount)
        c = HAPVM_VIS_TRACEABLE;
    else if (s->noinstr)
        c = HAPVM_VIS_NOINSTR;
    else if (s->own && (g_str_has_suffix(s->own->path, ".S") || g_str_has_suffix(s->own->path, ".s")))
        c = HAPVM_VIS_ASM;
    else
        c = HAPVM_VIS_NOTRACE;
    if (s->own) /* the file decides asm: keep the answer only once it is known */
        s->fclass = c;
    return c;
}

static const HapvmVisLine line_of_func[HAPVM_VIS_NFUNC] = {
    [HAPVM_VIS_TRACEABLE] = HAPVM_VIS_LINE_COUNTED, [HAPVM_VIS_NOINSTR] = HAPVM_VIS_LINE_NOINSTR,
    [HAPVM_VIS_ASM] = HAPVM_VIS_LINE_ASM,           [HAPVM_VIS_NOTRACE] = HAPVM_VIS_LINE_NOTRACE,
    [HAPVM_VIS_INIT] = HAPVM_VIS_LINE_INIT,         [HAPVM_VIS_INLINE_ONLY] = HAPVM_VIS_LINE_INLINED,
};

static void
inl_mark(HapvmVisibility *v, Dwarf_Die *die, gboolean abstract)
{
    const char *name = dwarf_diename(die);
    Dwarf_Attribute a;
    Dwarf_Word fi;
    int line = 0;
    InlEntry key, *e;

    if (!name || !dwarf_attr(die, DW_AT_decl_file, &a) || dwarf_formudata(&a, &fi) != 0 || fi >= v->canon->len ||
        !g_ptr_array_index(v->canon, fi))
        return;
    dwarf_decl_line(die, &line);
    key = (InlEntry){ .name = name, .file = g_ptr_array_index(v->canon, fi), .line = line > 0 ? line : 0 };
    if (!(e = g_hash_table_lookup(v->inl, &key))) {
        e = g_new0(InlEntry, 1);
        *e = key;
        e->name = g_string_chunk_insert_const(v->strings, name);
        g_hash_table_add(v->inl, e);
    }
    if (abstract)
        e->abstract = 1;
    else
        e->outofline = 1;
}

/* Top-level subprograms: abstract instances (DW_AT_inline: inlined) and
 * concrete out-of-line ones (code ranges; through DW_AT_abstract_origin when
 * they are the out-of-line copy of an inlined function). */
static void
scan_subprograms(HapvmVisibility *v, Dwarf_Die *cudie)
{
    Dwarf_Die die;

    if (dwarf_child(cudie, &die) != 0)
        return;
    do {
        Dwarf_Attribute a;
        Dwarf_Word inl;

        if (dwarf_tag(&die) != DW_TAG_subprogram)
            continue;
        if (dwarf_attr(&die, DW_AT_inline, &a)) {
            if (dwarf_formudata(&a, &inl) == 0 && (inl == DW_INL_inlined || inl == DW_INL_declared_inlined))
                inl_mark(v, &die, TRUE);
        } else if (dwarf_hasattr(&die, DW_AT_low_pc) || dwarf_hasattr(&die, DW_AT_ranges)) {
            Dwarf_Die origin;

            if (dwarf_attr(&die, DW_AT_abstract_origin, &a)) {
                if (dwarf_formref_die(&a, &origin))
                    inl_mark(v, &origin, FALSE);
            } else {
                inl_mark(v, &die, FALSE);
            }
        }
    } while (dwarf_siblingof(&die, &die) == 0);
}

static void
process_cu(HapvmVisibility *v, VObj *o, Dwarf_Die *cudie, Dwarf_Addr bias)
{
    Dwarf_Lines *lines;
    Dwarf_Files *files;
    size_t nlines, nfiles;
    HapvmDwarfRow *rows;
    const guint32 *cs;
    guint ncs;

    if (dwarf_getsrclines(cudie, &lines, &nlines) != 0 || nlines == 0 ||
        dwarf_getsrcfiles(cudie, &files, &nfiles) != 0)
        return;
    g_ptr_array_set_size(v->canon, 0);
    for (size_t i = 0; i < nfiles; i++) {
        const char *src = dwarf_filesrc(files, i, NULL, NULL);

        g_ptr_array_add(v->canon, src ? vis_file(v, src) : NULL);
    }
    g_array_set_size(v->rows, nlines);
    rows = (HapvmDwarfRow *)v->rows->data;
    hapvm_dwarf_rows_read(lines, nlines, bias, rows);

    /* The unit's functions: symbols starting in its ranges (as the line index). */
    g_array_set_size(v->cu_syms, 0);
    {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;

        while ((off = dwarf_ranges(cudie, off, &base, &lo, &hi)) > 0)
            for (gsize s = hapvm_dwarf_lower_bound(o->syms, o->nsyms, sizeof(VSym), lo + bias);
                 s < o->nsyms && o->syms[s].start < hi + bias; s++)
                if (!o->syms[s].claimed) {
                    guint32 si = s;

                    o->syms[s].claimed = 1;
                    g_array_append_val(v->cu_syms, si);
                }
    }
    cs = (const guint32 *)v->cu_syms->data;
    ncs = v->cu_syms->len;
    for (guint k = 0; k < ncs; k++) {
        VSym *s = &o->syms[cs[k]];
        gssize first = hapvm_dwarf_rows_first_stmt(rows, nlines, s->start, s->end);

        if (first >= 0 && rows[first].file < v->canon->len)
            s->own = g_ptr_array_index(v->canon, rows[first].file);
    }
    for (guint k = 0; k < ncs; k++) {
        VSym *s = &o->syms[cs[k]];
        gsize base;

        if (!s->cold || s->alias || !hapvm_dwarf_cold_base(s->name, &base))
            continue;
        s->orphan_cold = 1;
        for (guint m = 0; m < ncs; m++) {
            const VSym *p = &o->syms[cs[m]];

            if (!p->cold && !p->alias && strlen(p->name) == base && strncmp(p->name, s->name, base) == 0) {
                s->owner = cs[m];
                s->own = p->own;
                s->orphan_cold = 0;
                break;
            }
        }
    }

    /* Every statement row: the class of the code it lies in. */
    for (size_t i = 0; i < nlines; i++) {
        const HapvmDwarfRow *r = &rows[i];
        VisFile *f;
        gssize si;
        VSym *fn;
        HapvmVisFunc fc;

        if (!r->stmt || r->endseq || r->line == 0 || r->file >= v->canon->len || !(f = g_ptr_array_index(v->canon, r->file)))
            continue;
        if ((si = sym_at(o, r->addr)) < 0)
            continue; /* not in a function symbol */
        fn = &o->syms[o->syms[si].owner];
        fc = func_class(fn);
        if (fc == HAPVM_VIS_TRACEABLE)
            vis_file_mark(f, r->line, f == fn->own ? HAPVM_VIS_LINE_COUNTED : HAPVM_VIS_LINE_INLINED);
        else
            vis_file_mark(f, r->line, line_of_func[fc]);
    }
    scan_subprograms(v, cudie);
}

/* After all units: count the object's functions. */
static void
finish_object(HapvmVisibility *v, VObj *o)
{
    for (gsize i = 0; i < o->nsyms; i++) {
        VSym *s = &o->syms[i];
        VSym *fn = &o->syms[s->owner];
        g_autofree char *key = NULL;

        if (!fn->own)
            continue;
        key = g_strdup_printf("%s\t%s", o->module, s->name);
        if (!g_hash_table_contains(v->funcs, key))
            g_hash_table_insert(v->funcs, g_steal_pointer(&key), GINT_TO_POINTER(func_class(fn) + 1));
    }
    for (gsize i = 0; i < o->nsyms; i++) {
        VSym *s = &o->syms[i];
        HapvmVisFunc c;

        if (s->owner != (gint32)i || s->alias || (s->cold && !s->orphan_cold))
            continue;
        if (!s->own) {
            if (!s->cold)
                v->no_lines++;
            continue;
        }
        c = func_class(s);
        g_ptr_array_add(v->listing, g_strdup_printf("%s\t%s\t%s\t%s", o->module, s->name, s->own->path, func_names[c]));
        vis_bucket(v, s->own->subsystem)->functions[c]++;
        v->total.functions[c]++;
        o->st.functions++;
        if (c == HAPVM_VIS_TRACEABLE)
            o->st.traceable++;
    }
    g_array_append_val(v->objects, o->st);
}

/* ------------------------------------------------------------------------ */
/* Objects */

static gboolean
do_vmlinux(HapvmVisibility *v, const char *path, const HapvmKernelInfo *kernel, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf *elf = NULL;
    VObj o = { .module = "vmlinux" };
    g_autofree SecInfo *si = NULL;
    size_t nsec = 0, hsz;
    guint64 mcount[2] = { 0, 0 };
    Dwarf_Off off = 0, next;
    gboolean ok = FALSE, more = TRUE;

    o.st.module = o.module;
    if (fd < 0 || !(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)) || elf_kind(elf) != ELF_K_ELF) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO, "%s: not a readable ELF file: %s", path,
                    fd < 0 ? g_strerror(errno) : elf_errmsg(-1));
        goto out;
    }
    if (!(v->build_id = hapvm_dwarf_build_id(elf))) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH, "%s has no GNU build-id note", path);
        goto out;
    }
    if (kernel->build_id && g_ascii_strcasecmp(v->build_id, kernel->build_id) != 0) {
        g_autofree char *pkg = hapvm_debuginfo_package(kernel->release);

        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH,
                    "%s has build-id %s, but the kernel (%s) has %s: this debuginfo is for another build; "
                    "install the %s of that kernel",
                    path, v->build_id, kernel->release, kernel->build_id, pkg);
        goto out;
    }
    if (!(si = section_info(elf, FALSE, TRUE, &nsec)) || !read_syms(v, &o, elf, si, nsec, mcount, path, error) ||
        !read_sites_exec(&o, elf, mcount, path, error))
        goto out;
    while (more) {
        Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
        guint n = 0;

        if (!dw) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO, "%s: no DWARF: %s", path, dwarf_errmsg(-1));
            goto out;
        }
        more = FALSE;
        while (dwarf_nextcu(dw, off, &next, &hsz, NULL, NULL, NULL) == 0) {
            Dwarf_Die cudie;

            if (dwarf_offdie(dw, off + hsz, &cudie))
                process_cu(v, &o, &cudie, 0);
            off = next;
            if (++n == CUS_PER_HANDLE) {
                more = TRUE;
                break;
            }
        }
        dwarf_end(dw);
    }
    finish_object(v, &o);
    ok = TRUE;
out:
    g_free(o.syms);
    if (elf)
        elf_end(elf);
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A .ko that cannot be read is left out with a warning, as in the index. */
static void
do_module(HapvmVisibility *v, const char *path)
{
    static char *no_path = NULL;
    static const Dwfl_Callbacks cb = {
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = &no_path,
    };
    g_autofree char *name = hapvm_dwarf_module_name(path);
    g_autoptr(GError) error = NULL;
    g_autofree SecInfo *si = NULL;
    Dwfl *dwfl = dwfl_begin(&cb);
    Dwfl_Module *mod;
    VObj o = { .is_rel = TRUE };
    Dwarf_Addr bias = 0, ebias = 0;
    Dwarf *dw;
    Elf *elf, *plain = NULL;
    int fd = -1;
    size_t nsec = 0, hsz;
    guint64 mcount[2] = { 0, 0 };
    Dwarf_Off off = 0, next;

    o.module = g_string_chunk_insert_const(v->strings, name);
    o.st.module = o.module;
    dwfl_report_begin(dwfl);
    mod = dwfl_report_offline(dwfl, name, path, -1);
    dwfl_report_end(dwfl, NULL, NULL);
    /* getdwarf first: it relocates, and lays the sections out (sh_addr). */
    if (!mod || !(dw = dwfl_module_getdwarf(mod, &bias)) || !(elf = dwfl_module_getelf(mod, &ebias))) {
        g_warning("%s: cannot read DWARF (%s); left out", path, dwfl_errmsg(-1));
        goto out;
    }
    if (!(si = section_info(elf, TRUE, FALSE, &nsec)) || !read_syms(v, &o, elf, si, nsec, mcount, path, &error)) {
        g_warning("%s; left out", error ? error->message : "unreadable sections");
        goto out;
    }
    /* libdwfl has applied (and emptied) __mcount_loc's relocations in its
     * copy: read them from a pristine handle, with its section layout. */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || !(plain = elf_begin(fd, ELF_C_READ_MMAP, NULL)) ||
        !read_sites_rel(&o, plain, si, nsec, path, &error)) {
        g_warning("%s; left out", error ? error->message : "cannot reopen");
        goto out;
    }
    while (dwarf_nextcu(dw, off, &next, &hsz, NULL, NULL, NULL) == 0) {
        Dwarf_Die cudie;

        if (dwarf_offdie(dw, off + hsz, &cudie))
            process_cu(v, &o, &cudie, bias);
        off = next;
    }
    finish_object(v, &o);
out:
    if (plain)
        elf_end(plain);
    if (fd >= 0)
        close(fd);
    g_free(o.syms);
    dwfl_end(dwfl);
}

/* ------------------------------------------------------------------------ */
/* Totals and API */

static int
cmp_bucket(gconstpointer a, gconstpointer b)
{
    return strcmp(((const HapvmVisBucket *)a)->name, ((const HapvmVisBucket *)b)->name);
}

static void
finish(HapvmVisibility *v)
{
    GHashTableIter it;
    gpointer val;

    g_hash_table_iter_init(&it, v->inl);
    while (g_hash_table_iter_next(&it, &val, NULL)) {
        InlEntry *e = val;

        if (!e->abstract || e->outofline)
            continue;
        vis_bucket(v, e->file->subsystem)->functions[HAPVM_VIS_INLINE_ONLY]++;
        v->total.functions[HAPVM_VIS_INLINE_ONLY]++;
        if (g_hash_table_replace(v->inline_only, g_strdup_printf("%s\t%s", e->file->path, e->name), GINT_TO_POINTER(1)))
            g_ptr_array_add(v->listing, g_strdup_printf("-\t%s\t%s\t%s", e->name, e->file->path,
                                                        func_names[HAPVM_VIS_INLINE_ONLY]));
    }
    g_hash_table_iter_init(&it, v->files);
    while (g_hash_table_iter_next(&it, NULL, &val)) {
        VisFile *f = val;
        HapvmVisBucket *b = NULL;

        for (guint32 l = 0; l < f->ncls; l++) {
            if (!f->cls[l])
                continue;
            if (!b)
                b = vis_bucket(v, f->subsystem);
            b->lines[f->cls[l] - 1]++;
            v->total.lines[f->cls[l] - 1]++;
        }
    }
    g_array_sort(v->buckets, cmp_bucket);
    g_hash_table_remove_all(v->bucket_map);
    for (guint i = 0; i < v->buckets->len; i++)
        g_hash_table_insert(v->bucket_map, (gpointer)g_array_index(v->buckets, HapvmVisBucket, i).name,
                            GUINT_TO_POINTER(i));
    g_hash_table_remove_all(v->inl);
    g_hash_table_remove_all(v->raw_files);
}

void
hapvm_visibility_free(HapvmVisibility *v)
{
    if (!v)
        return;
    g_hash_table_unref(v->files);
    g_hash_table_unref(v->raw_files);
    g_hash_table_unref(v->inl);
    g_hash_table_unref(v->funcs);
    g_hash_table_unref(v->inline_only);
    g_ptr_array_unref(v->listing);
    g_hash_table_unref(v->bucket_map);
    g_array_unref(v->buckets);
    g_array_unref(v->objects);
    g_ptr_array_unref(v->canon);
    g_array_unref(v->rows);
    g_array_unref(v->cu_syms);
    g_string_chunk_free(v->strings);
    g_free(v->build_id);
    g_free(v->vmlinux);
    g_free(v);
}

HapvmVisibility *
hapvm_visibility_measure(const HapvmKernelInfo *kernel, const char *debuginfo, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(HapvmVisibility) v = g_new0(HapvmVisibility, 1);
    g_autoptr(GPtrArray) kos = NULL;

    if (!kernel || !kernel->release) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "visibility: kernel release unknown");
        return NULL;
    }
    v->strings = g_string_chunk_new(256 * 1024);
    v->files = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vis_file_free);
    v->raw_files = g_hash_table_new(g_str_hash, g_str_equal);
    v->inl = g_hash_table_new_full(inl_hash, inl_equal, g_free, NULL);
    v->funcs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    v->inline_only = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    v->listing = g_ptr_array_new_with_free_func(g_free);
    v->bucket_map = g_hash_table_new(g_str_hash, g_str_equal);
    v->buckets = g_array_new(FALSE, FALSE, sizeof(HapvmVisBucket));
    v->objects = g_array_new(FALSE, FALSE, sizeof(HapvmVisObject));
    v->canon = g_ptr_array_new();
    v->rows = g_array_new(FALSE, FALSE, sizeof(HapvmDwarfRow));
    v->cu_syms = g_array_new(FALSE, FALSE, sizeof(guint32));
    v->total.name = "all";
    elf_version(EV_CURRENT);
    if (!hapvm_debuginfo_find(kernel->release, debuginfo, &v->vmlinux, &kos, error))
        return NULL;
    if (!do_vmlinux(v, v->vmlinux, kernel, error))
        return NULL;
    for (guint i = 0; i < kos->len; i++)
        do_module(v, g_ptr_array_index(kos, i));
    finish(v);
    v->seconds = (g_get_monotonic_time() - t0) / 1e6;
    return g_steal_pointer(&v);
}

const HapvmVisBucket *
hapvm_visibility_buckets(const HapvmVisibility *v, guint *n)
{
    *n = v->buckets->len;
    return (const HapvmVisBucket *)v->buckets->data;
}

const HapvmVisBucket *
hapvm_visibility_total(const HapvmVisibility *v)
{
    return &v->total;
}

const HapvmVisBucket *
hapvm_visibility_bucket(const HapvmVisibility *v, const char *name)
{
    gpointer idx;

    if (strcmp(name, "all") == 0)
        return &v->total;
    if (!g_hash_table_lookup_extended(v->bucket_map, name, NULL, &idx))
        return NULL;
    return &g_array_index(v->buckets, HapvmVisBucket, GPOINTER_TO_UINT(idx));
}

const HapvmVisObject *
hapvm_visibility_objects(const HapvmVisibility *v, guint *n)
{
    *n = v->objects->len;
    return (const HapvmVisObject *)v->objects->data;
}

const char *
hapvm_visibility_build_id(const HapvmVisibility *v)
{
    return v->build_id;
}

double
hapvm_visibility_seconds(const HapvmVisibility *v)
{
    return v->seconds;
}

gboolean
hapvm_visibility_function(const HapvmVisibility *v, const char *module, const char *name, HapvmVisFunc *out)
{
    g_autofree char *key = g_strdup_printf("%s\t%s", module ? module : "vmlinux", name);
    gpointer c = g_hash_table_lookup(v->funcs, key);

    if (!c)
        return FALSE;
    *out = GPOINTER_TO_INT(c) - 1;
    return TRUE;
}

gboolean
hapvm_visibility_line(const HapvmVisibility *v, const char *file, guint line, HapvmVisLine *out)
{
    const VisFile *f = g_hash_table_lookup(v->files, file);

    if (!f || line >= f->ncls || !f->cls[line])
        return FALSE;
    *out = f->cls[line] - 1;
    return TRUE;
}

gboolean
hapvm_visibility_inline_only(const HapvmVisibility *v, const char *file, const char *name)
{
    g_autofree char *key = g_strdup_printf("%s\t%s", file, name);

    return g_hash_table_contains(v->inline_only, key);
}

static guint64
runtime_lines(const HapvmVisBucket *b)
{
    guint64 n = 0;

    for (int c = 0; c < HAPVM_VIS_NLINE; c++)
        if (c != HAPVM_VIS_LINE_INIT)
            n += b->lines[c];
    return n;
}

double
hapvm_vis_bucket_untraceable_share(const HapvmVisBucket *b)
{
    guint64 n = runtime_lines(b);

    return n ? (double)(b->lines[HAPVM_VIS_LINE_NOINSTR] + b->lines[HAPVM_VIS_LINE_ASM] +
                        b->lines[HAPVM_VIS_LINE_NOTRACE]) / n
             : 0.0;
}

double
hapvm_vis_bucket_uncounted_share(const HapvmVisBucket *b)
{
    guint64 n = runtime_lines(b);

    return n ? (double)(n - b->lines[HAPVM_VIS_LINE_COUNTED]) / n : 0.0;
}

static void
print_row(const HapvmVisBucket *b, FILE *out)
{
    fprintf(out, "%-22s", b->name);
    for (int c = 0; c < HAPVM_VIS_NFUNC; c++)
        fprintf(out, " %7u", b->functions[c]);
    fprintf(out, " |");
    for (int c = 0; c < HAPVM_VIS_NLINE; c++)
        fprintf(out, " %7" G_GUINT64_FORMAT, b->lines[c]);
    fprintf(out, " | %5.1f%% %5.1f%%\n", 100 * hapvm_vis_bucket_untraceable_share(b),
            100 * hapvm_vis_bucket_uncounted_share(b));
}

void
hapvm_visibility_print(const HapvmVisibility *v, const char *const *buckets, FILE *out)
{
    guint n;
    const HapvmVisObject *objs = hapvm_visibility_objects(v, &n);
    guint64 sites = 0, outside = 0, shared = 0, init = 0, traceable = 0;

    for (guint i = 0; i < n; i++) {
        sites += objs[i].mcount_entries;
        outside += objs[i].mcount_outside;
        shared += objs[i].mcount_shared;
        init += objs[i].mcount_init;
        traceable += objs[i].traceable;
    }
    fprintf(out, "build-id:   %s\n", v->build_id);
    fprintf(out, "debuginfo:  %s + %u modules\n", v->vmlinux, n ? n - 1 : 0);
    fprintf(out, "ftrace sites (__mcount_loc): %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " in init code, %"
                 G_GUINT64_FORMAT " outside function symbols, %" G_GUINT64_FORMAT " in a function with another)\n",
            sites, init, outside, shared);
    fprintf(out, "traceable functions: %" G_GUINT64_FORMAT "; functions without line info: %u\n\n", traceable,
            v->no_lines);
    fprintf(out, "%-22s %47s | %47s | %s\n", "", "functions", "source lines", "share of run-time lines");
    fprintf(out, "%-22s", "subsystem");
    for (int c = 0; c < HAPVM_VIS_NFUNC; c++)
        fprintf(out, " %7.7s", c == HAPVM_VIS_INLINE_ONLY ? "inline" : func_names[c]);
    fprintf(out, " |");
    for (int c = 0; c < HAPVM_VIS_NLINE; c++)
        fprintf(out, " %7.7s", line_names[c]);
    fprintf(out, " | untrace uncount\n");
    print_row(&v->total, out);
    if (buckets) {
        for (gsize i = 0; buckets[i]; i++) {
            const HapvmVisBucket *b = hapvm_visibility_bucket(v, buckets[i]);

            if (b)
                print_row(b, out);
            else
                fprintf(out, "%-22s (no code)\n", buckets[i]);
        }
    } else {
        for (guint i = 0; i < v->buckets->len; i++)
            print_row(&g_array_index(v->buckets, HapvmVisBucket, i), out);
    }
}

void
hapvm_visibility_list(const HapvmVisibility *v, FILE *out)
{
    for (guint i = 0; i < v->listing->len; i++)
        fprintf(out, "%s\n", (const char *)g_ptr_array_index(v->listing, i));
}

static void
bucket_json(JsonBuilder *jb, const HapvmVisBucket *b)
{
    json_builder_begin_object(jb);
    json_builder_set_member_name(jb, "functions");
    json_builder_begin_object(jb);
    for (int c = 0; c < HAPVM_VIS_NFUNC; c++) {
        json_builder_set_member_name(jb, func_names[c]);
        json_builder_add_int_value(jb, b->functions[c]);
    }
    json_builder_end_object(jb);
    json_builder_set_member_name(jb, "lines");
    json_builder_begin_object(jb);
    for (int c = 0; c < HAPVM_VIS_NLINE; c++) {
        json_builder_set_member_name(jb, line_names[c]);
        json_builder_add_int_value(jb, b->lines[c]);
    }
    json_builder_end_object(jb);
    json_builder_set_member_name(jb, "untraceable_share");
    json_builder_add_double_value(jb, hapvm_vis_bucket_untraceable_share(b));
    json_builder_set_member_name(jb, "uncounted_share");
    json_builder_add_double_value(jb, hapvm_vis_bucket_uncounted_share(b));
    json_builder_end_object(jb);
}

JsonNode *
hapvm_visibility_to_json(const HapvmVisibility *v, const HapvmKernelInfo *kernel)
{
    g_autoptr(JsonBuilder) jb = json_builder_new();
    guint n;
    const HapvmVisObject *objs = hapvm_visibility_objects(v, &n);

    json_builder_begin_object(jb);
    json_builder_set_member_name(jb, "schema");
    json_builder_add_string_value(jb, "hapvm-visibility");
    json_builder_set_member_name(jb, "version");
    json_builder_add_int_value(jb, 1);
    json_builder_set_member_name(jb, "kernel");
    json_builder_begin_object(jb);
    json_builder_set_member_name(jb, "release");
    json_builder_add_string_value(jb, kernel->release);
    json_builder_set_member_name(jb, "build_id");
    json_builder_add_string_value(jb, v->build_id);
    json_builder_end_object(jb);
    json_builder_set_member_name(jb, "functions_without_lines");
    json_builder_add_int_value(jb, v->no_lines);
    json_builder_set_member_name(jb, "objects");
    json_builder_begin_array(jb);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_object(jb);
        json_builder_set_member_name(jb, "module");
        json_builder_add_string_value(jb, objs[i].module);
        json_builder_set_member_name(jb, "functions");
        json_builder_add_int_value(jb, objs[i].functions);
        json_builder_set_member_name(jb, "traceable");
        json_builder_add_int_value(jb, objs[i].traceable);
        json_builder_set_member_name(jb, "mcount_entries");
        json_builder_add_int_value(jb, objs[i].mcount_entries);
        json_builder_set_member_name(jb, "mcount_in_init");
        json_builder_add_int_value(jb, objs[i].mcount_init);
        json_builder_set_member_name(jb, "mcount_outside_functions");
        json_builder_add_int_value(jb, objs[i].mcount_outside);
        json_builder_set_member_name(jb, "mcount_shared");
        json_builder_add_int_value(jb, objs[i].mcount_shared);
        json_builder_end_object(jb);
    }
    json_builder_end_array(jb);
    json_builder_set_member_name(jb, "total");
    bucket_json(jb, &v->total);
    json_builder_set_member_name(jb, "subsystems");
    json_builder_begin_object(jb);
    for (guint i = 0; i < v->buckets->len; i++) {
        const HapvmVisBucket *b = &g_array_index(v->buckets, HapvmVisBucket, i);

        json_builder_set_member_name(jb, b->name);
        bucket_json(jb, b);
    }
    json_builder_end_object(jb);
    json_builder_end_object(jb);
    return json_builder_get_root(jb);
}

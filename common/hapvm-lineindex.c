/* Line index: function → (own source file, distinct own lines, subsystem).
 *
 * Speed: walking every DIE of a 6.1 vmlinux costs more than the whole budget,
 * so functions come from the ELF symbol table (STT_FUNC, size > 0) and lines
 * from the line tables alone.  A symbol belongs to the compile unit whose
 * address ranges (unit DIE) hold its start address; its own file is the file
 * of its first statement row (the row GCC emits for the function's opening
 * line); a "foo.cold" symbol is the cold part of "foo" in the same unit.  CUs
 * are split into chunks read by a few threads, each with its own Dwarf handle
 * (libdw handles are not thread-safe), and each chunk's handle is closed when
 * done so libdw's decoded line tables do not pile up.  Modules are relocated
 * here, sparingly (see work_module), then read with libdw the same way.
 *
 * Cache file (native byte order, all offsets from the file start):
 *   Header | Func[nfuncs] | Range[nranges] | Module[nmodules] | ModSym[nmodsyms] | strtab
 * Range: vmlinux function ranges by link address (cold parts included).
 * Module/ModSym: per object (vmlinux is the module named ""), symbols by
 * (name, dup) for name lookups.  Validated on load: sizes, bounds, order and a
 * checksum of the whole file. */
#include "hapvm-lineindex.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hapvm-dwarf.h"
#include "hapvm-error.h"

#define INDEX_MAGIC "HAPVMLIX"
#define INDEX_VERSION 1
#define DEFAULT_DEBUGINFO "/usr/lib/debug"
#define DEFAULT_CACHE "/var/cache/hapvm/index"
#define CUS_PER_CHUNK 48

typedef struct {
    char magic[8];
    guint32 version;
    guint32 header_size;
    guint64 file_size;
    guint64 checksum;       /* of the whole file, this field read as 0 */
    guint64 fingerprint;    /* of the debuginfo files it was built from */
    guint64 vm_text;        /* vmlinux link address of _text */
    char build_id[72];      /* hex, NUL-terminated */
    char release[64];
    guint32 nfuncs, nranges, nmodules, nmodsyms;
    guint32 strtab_size;
    guint32 objects, modules, cus, no_lines;
    guint32 pad;
    guint64 lines;
    guint64 off_funcs, off_ranges, off_modules, off_modsyms, off_strtab;
} IndexHeader;

typedef struct {
    guint32 name, file, subsystem, lines;
} IndexFunc;

typedef struct {
    guint64 start;
    guint32 size;
    guint32 func;
} IndexRange;

typedef struct {
    guint32 name, first, count, pad;
} IndexModule;

typedef struct {
    guint32 name, dup, func, pad;
} IndexModSym;

struct HapvmLineIndex {
    guint8 *data;
    gsize size;
    gboolean mapped;
    const IndexHeader *hdr;
    const IndexFunc *funcs;
    const IndexRange *ranges;
    const IndexModule *mods;
    const IndexModSym *modsyms;
    const char *strtab;
    HapvmLineIndexStats stats;
    char *cache_path;
    char *vmlinux;
};

/* ------------------------------------------------------------------------ */
/* Paths and subsystems */

static const char *const kernel_top_dirs[] = {
    "arch", "block", "certs", "crypto", "drivers", "fs", "include", "init", "io_uring", "ipc",
    "kernel", "lib", "mm", "net", "rust", "samples", "scripts", "security", "sound", "tools", "virt",
};

static gboolean
is_top_dir(const char *s, gsize len)
{
    for (gsize i = 0; i < G_N_ELEMENTS(kernel_top_dirs); i++)
        if (strlen(kernel_top_dirs[i]) == len && memcmp(s, kernel_top_dirs[i], len) == 0)
            return TRUE;
    return FALSE;
}

char *
hapvm_kernel_source_path(const char *p)
{
    g_auto(GStrv) parts = NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new();
    gsize first = 0;

    /* Absolute names (assembler CUs) carry the build's source root, e.g.
     * /build/reproducible-path/linux-6.1.192/arch/...: drop it up to the
     * first kernel top-level directory after a "linux*" component.  Other
     * absolute paths (compiler headers under /usr/lib/gcc) stay as they are. */
    parts = g_strsplit(p, "/", -1);
    if (p[0] == '/') {
        gboolean in_tree = FALSE;

        for (gsize i = 0; parts[i]; i++) {
            if (in_tree && parts[i + 1] && is_top_dir(parts[i], strlen(parts[i]))) {
                first = i;
                break;
            }
            if (g_str_has_prefix(parts[i], "linux"))
                in_tree = TRUE;
        }
    }
    for (gsize i = first; parts[i]; i++) {
        if (parts[i][0] == '\0' || strcmp(parts[i], ".") == 0) {
            if (i == 0 && p[0] == '/' && first == 0)
                g_ptr_array_add(out, ""); /* keep an unrecognised absolute path absolute */
            continue;
        }
        if (strcmp(parts[i], "..") == 0 && out->len && strcmp(g_ptr_array_index(out, out->len - 1), "..") &&
            ((const char *)g_ptr_array_index(out, out->len - 1))[0]) {
            g_ptr_array_remove_index(out, out->len - 1);
            continue;
        }
        g_ptr_array_add(out, parts[i]);
    }
    g_ptr_array_add(out, NULL);
    if (out->len == 2 && ((char *)out->pdata[0])[0] == '\0')
        return g_strdup("/");
    return g_strjoinv("/", (char **)out->pdata);
}

/* Finer buckets: (prefix, depth) — the bucket is the prefix plus `depth` more
 * path components when the file lies that deep, else the prefix itself.  The
 * first matching prefix wins, so specific entries come first. */
static const struct {
    const char *prefix;
    int depth;
} subsystem_rules[] = {
    { "arch/x86/kvm", 0 },   /* KVM x86 (svm/, vmx/, mmu/ included) */
    { "arch/x86", 1 },       /* arch/x86/kernel, arch/x86/mm, arch/x86/entry, ... */
    { "arch", 1 },           /* other architectures */
    { "virt/kvm", 0 },       /* KVM generic */
    { "virt", 1 },           /* virt/lib (irqbypass) */
    { "drivers", 1 },        /* drivers/vhost, drivers/net, drivers/block, drivers/virtio, ... */
    { "net", 1 },            /* net/core, net/ipv4, net/bridge, ...; net/socket.c -> net */
    { "fs", 1 },             /* fs/ext4, fs/9p, fs/overlayfs, ...; fs/namei.c (VFS) -> fs */
    { "kernel", 1 },         /* kernel/sched, kernel/locking, ...; kernel/fork.c -> kernel */
    { "security", 1 },       /* security/selinux, security/apparmor, ... */
    { "sound", 1 },
    { "mm", 0 },
    { "block", 0 },
    { "include", 0 },        /* out-of-line copies of header functions */
    { "lib", 0 },
    { "crypto", 0 },
    { "io_uring", 0 },
    { "ipc", 0 },
    { "init", 0 },
    { "certs", 0 },
    { "rust", 0 },
    { "samples", 0 },
    { "scripts", 0 },
    { "tools", 0 },
};

const char *
hapvm_subsystem_of_file(const char *path)
{
    if (!path)
        return g_intern_static_string("other");
    for (gsize i = 0; i < G_N_ELEMENTS(subsystem_rules); i++) {
        const char *pre = subsystem_rules[i].prefix;
        gsize n = strlen(pre);
        const char *rest, *slash;

        if (strncmp(path, pre, n) != 0 || path[n] != '/')
            continue;
        if (subsystem_rules[i].depth == 0)
            return g_intern_static_string(pre);
        rest = path + n + 1;
        slash = strchr(rest, '/');
        if (!slash || slash == rest)
            return g_intern_static_string(pre); /* a file directly in the prefix */
        g_autofree char *bucket = g_strndup(path, slash - path);
        return g_intern_string(bucket);
    }
    return g_intern_static_string("other");
}

char *
hapvm_debuginfo_package(const char *release)
{
    return g_strdup_printf("linux-image-%s-dbg", release);
}

/* ------------------------------------------------------------------------ */
/* Build: objects, symbols, work */

typedef struct {
    guint64 start, end;
    const char *name;
    guint8 cold;    /* a .cold part */
    guint8 alias;   /* same start as the previous symbol: shares its record */
    guint8 init;    /* in an .init.* section (modules: gone from kallsyms after load) */
} Sym;
G_STATIC_ASSERT(G_STRUCT_OFFSET(Sym, start) == 0); /* hapvm_dwarf_lower_bound */

typedef struct {
    const char *file;  /* interned in a worker's chunk; NULL = no line info */
    guint32 lines;
    gint32 owner;      /* index of the symbol whose record covers this range */
    gint claimed;
} SymRes;

typedef struct {
    char *path;
    char *module;      /* NULL = vmlinux */
    Sym *syms;
    gsize nsyms;
    SymRes *res;
    guint64 text;
    guint ncus;
    GStringChunk *names;
    /* vmlinux only: the main thread's handle keeps symbol names mapped. */
    int fd;
    Elf *elf;
    char *error;       /* first failure in a worker */
} Object;

typedef struct {
    Object *obj;
    Dwarf_Off first, last; /* vmlinux CU chunk [first, last); modules: whole file */
} WorkItem;

typedef struct {
    GPtrArray *items;
    gint next;
    GMutex lock;
} Build;

typedef struct {
    Build *b;
    GStringChunk *strings;
    int vm_fd;
    Elf *vm_elf;
    GArray *rows;
    GArray *lines;
    GArray *cu_syms;
    GPtrArray *canon;
    guint cus;
} Worker;

static int
cmp_sym(const void *pa, const void *pb)
{
    const Sym *a = pa, *b = pb;

    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    /* Among aliases prefer a global-looking, unsuffixed name first. */
    return strcmp(a->name, b->name);
}

static void
finish_syms(Object *obj, GArray *syms)
{
    qsort(syms->data, syms->len, sizeof(Sym), cmp_sym);
    obj->nsyms = syms->len;
    obj->syms = (Sym *)g_array_free(syms, FALSE);
    obj->res = g_new0(SymRes, obj->nsyms ? obj->nsyms : 1);
    for (gsize i = 0; i < obj->nsyms; i++) {
        gsize base;

        obj->res[i].owner = i;
        obj->syms[i].cold = hapvm_dwarf_cold_base(obj->syms[i].name, &base);
        if (i && obj->syms[i].start == obj->syms[i - 1].start) {
            obj->syms[i].alias = 1;
            obj->res[i].owner = obj->syms[i - 1].alias ? obj->res[i - 1].owner : (gint32)(i - 1);
        }
    }
}

static gboolean
section_is_text(Elf *elf, GElf_Word shndx, gboolean *init)
{
    Elf_Scn *scn = elf_getscn(elf, shndx);
    GElf_Shdr shdr;
    size_t shstrndx;
    const char *name;

    if (!scn || !gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_EXECINSTR))
        return FALSE;
    *init = FALSE;
    if (elf_getshdrstrndx(elf, &shstrndx) == 0 && (name = elf_strptr(elf, shstrndx, shdr.sh_name)))
        *init = g_str_has_prefix(name, ".init");
    return TRUE;
}

/* vmlinux symbols straight from .symtab (ET_EXEC: link addresses). */
static gboolean
vmlinux_syms(Object *obj, GError **error)
{
    g_autoptr(GArray) syms = g_array_new(FALSE, FALSE, sizeof(Sym));
    GElf_Shdr shdr;
    gsize nsyms = 0;
    Elf_Data *data = hapvm_dwarf_symtab(obj->elf, &shdr, &nsyms);

    for (gsize i = 0; data && i < nsyms; i++) {
        GElf_Sym s;
        const char *name;
        gboolean init;

        if (!gelf_getsym(data, i, &s) || !(name = elf_strptr(obj->elf, shdr.sh_link, s.st_name)))
            continue;
        if (s.st_shndx != SHN_UNDEF && (strcmp(name, "_text") == 0 || (!obj->text && strcmp(name, "_stext") == 0)))
            obj->text = s.st_value; /* _stext only if _text is missing: same address on x86-64 */
        if (GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_size == 0 || s.st_shndx == SHN_UNDEF ||
            s.st_shndx >= SHN_LORESERVE || !name[0] || !section_is_text(obj->elf, s.st_shndx, &init))
            continue;
        Sym sym = { .start = s.st_value, .end = s.st_value + s.st_size, .name = name, .init = init };
        g_array_append_val(syms, sym);
    }
    if (syms->len == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: no function symbols (stripped vmlinux?)",
                    obj->path);
        return FALSE;
    }
    finish_syms(obj, g_steal_pointer(&syms));
    return TRUE;
}

static const char *
intern_path(Worker *w, const char *dwarf_path)
{
    g_autofree char *p = hapvm_kernel_source_path(dwarf_path);

    return g_string_chunk_insert_const(w->strings, p);
}

static int
cmp_u32(const void *pa, const void *pb)
{
    guint32 a = *(const guint32 *)pa, b = *(const guint32 *)pb;

    return a < b ? -1 : a > b;
}

/* Append the own-file lines of [start, end) to w->lines. */
static void
collect_lines(Worker *w, const HapvmDwarfRow *rows, gsize n, guint64 start, guint64 end, const char *own)
{
    const char *const *canon = (const char *const *)w->canon->pdata;

    for (gsize r = hapvm_dwarf_lower_bound(rows, n, sizeof(HapvmDwarfRow), start); r < n && rows[r].addr < end;
         r++) {
        if (!rows[r].stmt || rows[r].endseq || rows[r].line == 0 || rows[r].file >= w->canon->len)
            continue;
        if (canon[rows[r].file] == own)
            g_array_append_val(w->lines, rows[r].line);
    }
}

/* One compile unit: claim the symbols that start in its address ranges, then
 * count each function's own lines.  bias: DWARF address + bias = symbol
 * address (0: .ko sections are laid out before reading, see work_module). */
static void
process_cu(Worker *w, Object *obj, Dwarf_Die *cudie, Dwarf_Addr bias)
{
    Dwarf_Lines *lines;
    Dwarf_Files *files;
    size_t nlines, nfiles;
    HapvmDwarfRow *rows;

    w->cus++;
    if (dwarf_getsrclines(cudie, &lines, &nlines) != 0 || nlines == 0)
        return;
    if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0)
        return;
    g_ptr_array_set_size(w->canon, 0);
    for (size_t i = 0; i < nfiles; i++) {
        const char *src = dwarf_filesrc(files, i, NULL, NULL);

        g_ptr_array_add(w->canon, src ? (gpointer)intern_path(w, src) : NULL);
    }
    g_array_set_size(w->rows, nlines);
    rows = (HapvmDwarfRow *)w->rows->data;
    hapvm_dwarf_rows_read(lines, nlines, bias, rows);

    /* Claim the symbols that start inside this unit's address ranges
     * (DW_AT_ranges or low/high pc of the unit DIE: exact, and cheap).  Line
     * table sequences are no substitute: libdw sorts rows by address, and a
     * sequence's zero-length tail rows then land after its end row, at the
     * next unit's first function. */
    g_array_set_size(w->cu_syms, 0);
    {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;

        while ((off = dwarf_ranges(cudie, off, &base, &lo, &hi)) > 0) {
            for (gsize s = hapvm_dwarf_lower_bound(obj->syms, obj->nsyms, sizeof(Sym), lo + bias);
                 s < obj->nsyms && obj->syms[s].start < hi + bias; s++) {
                if (g_atomic_int_compare_and_exchange(&obj->res[s].claimed, 0, 1)) {
                    guint32 si = s;

                    g_array_append_val(w->cu_syms, si);
                }
            }
        }
    }

    /* Own file: the file of the first statement row of the function (the row
     * GCC emits for its opening line).  Checked against DW_AT_decl_file of
     * every concrete subprogram of the lab kernel: 44 455 of 44 458 vmlinux
     * functions and all 2 046 of kvm, kvm-amd, vhost, vhost_net agree; the
     * rest start with an inlined header line.  Non-statement rows do not
     * count: at the entry they can still carry the previous function's line. */
    const guint32 *cs = (const guint32 *)w->cu_syms->data;
    guint ncs = w->cu_syms->len;
    for (guint k = 0; k < ncs; k++) {
        Sym *s = &obj->syms[cs[k]];
        SymRes *r = &obj->res[cs[k]];
        gssize first = hapvm_dwarf_rows_first_stmt(rows, nlines, s->start, s->end);

        if (first >= 0 && rows[first].file < w->canon->len)
            r->file = g_ptr_array_index(w->canon, rows[first].file);
    }
    /* Cold parts: own file and record of "foo" in the same unit. */
    for (guint k = 0; k < ncs; k++) {
        Sym *s = &obj->syms[cs[k]];
        gsize base;

        if (!s->cold || s->alias || !hapvm_dwarf_cold_base(s->name, &base))
            continue;
        for (guint m = 0; m < ncs; m++) {
            const Sym *p = &obj->syms[cs[m]];

            if (!p->cold && !p->alias && strlen(p->name) == base && strncmp(p->name, s->name, base) == 0) {
                obj->res[cs[k]].owner = cs[m];
                obj->res[cs[k]].file = obj->res[cs[m]].file;
                break;
            }
        }
    }
    /* Count: every owner with its cold parts, distinct line numbers. */
    for (guint k = 0; k < ncs; k++) {
        guint32 si = cs[k];
        Sym *s = &obj->syms[si];
        SymRes *r = &obj->res[si];
        const guint32 *ln;
        guint32 distinct = 0;

        if (r->owner != (gint32)si || !r->file)
            continue;
        g_array_set_size(w->lines, 0);
        collect_lines(w, rows, nlines, s->start, s->end, r->file);
        for (guint m = 0; m < ncs; m++)
            if (cs[m] != si && obj->res[cs[m]].owner == (gint32)si && !obj->syms[cs[m]].alias)
                collect_lines(w, rows, nlines, obj->syms[cs[m]].start, obj->syms[cs[m]].end, r->file);
        qsort(w->lines->data, w->lines->len, sizeof(guint32), cmp_u32);
        ln = (const guint32 *)w->lines->data;
        for (guint m = 0; m < w->lines->len; m++)
            if (m == 0 || ln[m] != ln[m - 1])
                distinct++;
        r->lines = distinct;
    }
}

static void
object_set_error(Object *obj, Build *b, const char *msg)
{
    g_mutex_lock(&b->lock);
    if (!obj->error)
        obj->error = g_strdup(msg);
    g_mutex_unlock(&b->lock);
}

static void
work_vmlinux_chunk(Worker *w, WorkItem *it)
{
    Object *obj = it->obj;
    Dwarf *dw;
    Dwarf_Off off = it->first, next;
    size_t hsz;

    if (!w->vm_elf) {
        w->vm_fd = open(obj->path, O_RDONLY | O_CLOEXEC);
        if (w->vm_fd >= 0)
            w->vm_elf = elf_begin(w->vm_fd, ELF_C_READ_MMAP, NULL);
        if (!w->vm_elf) {
            object_set_error(obj, w->b, elf_errmsg(-1));
            return;
        }
    }
    dw = dwarf_begin_elf(w->vm_elf, DWARF_C_READ, NULL);
    if (!dw) {
        object_set_error(obj, w->b, dwarf_errmsg(-1));
        return;
    }
    while (off < it->last && dwarf_nextcu(dw, off, &next, &hsz, NULL, NULL, NULL) == 0) {
        Dwarf_Die cudie;

        if (dwarf_offdie(dw, off + hsz, &cudie))
            process_cu(w, obj, &cudie, 0);
        off = next;
    }
    dwarf_end(dw); /* frees this chunk's decoded line tables */
}

/* A .ko is ET_REL: its DWARF needs relocating.  libdwfl would apply every
 * relocation of every debug section (300 000 for ext4.ko, most of them in
 * DIEs and location lists we never read), copy-on-write page by page; that
 * was 60% of the build time.  We lay the allocated sections out ourselves
 * (like dwfl_offline_section_address: in section order, aligned) and apply
 * only what the unit DIEs, range lists and line tables need. */

#define CU_DIE_WINDOW 160 /* unit header + unit DIE: the attributes we read */

static gboolean
apply_rela(Elf *elf, Elf_Scn *rela_scn, const GElf_Shdr *rela, const guint64 *base, size_t nsec,
           Elf_Data *symdata, const GArray *windows, const char **why)
{
    Elf_Scn *tscn = elf_getscn(elf, rela->sh_info);
    Elf_Data *rd = elf_getdata(rela_scn, NULL);
    Elf_Data *td = tscn ? elf_getdata(tscn, NULL) : NULL;
    gsize n = rela->sh_entsize ? rela->sh_size / rela->sh_entsize : 0;
    gsize wi = 0;

    if (!rd || !td || !td->d_buf) {
        *why = "unreadable relocation or target section";
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        GElf_Rela r;
        GElf_Sym sym;
        guint64 v;
        guint type;

        if (!gelf_getrela(rd, i, &r) || !gelf_getsym(symdata, GELF_R_SYM(r.r_info), &sym)) {
            *why = "bad relocation entry";
            return FALSE;
        }
        if (windows) { /* only relocations inside a unit's header and DIE */
            const guint64 *w = (const guint64 *)windows->data;

            while (wi < windows->len && r.r_offset >= w[wi] + CU_DIE_WINDOW)
                wi++;
            if (wi == windows->len)
                break;
            if (r.r_offset < w[wi])
                continue;
        }
        v = sym.st_value + (sym.st_shndx < nsec ? base[sym.st_shndx] : 0) + r.r_addend;
        type = GELF_R_TYPE(r.r_info);
        switch (type) {
        case R_X86_64_64:
            if (r.r_offset + 8 > td->d_size)
                goto range;
            memcpy((guint8 *)td->d_buf + r.r_offset, &v, 8);
            break;
        case R_X86_64_32:
        case R_X86_64_32S: {
            guint32 v32 = (guint32)v;

            if (r.r_offset + 4 > td->d_size)
                goto range;
            memcpy((guint8 *)td->d_buf + r.r_offset, &v32, 4);
            break;
        }
        case R_X86_64_NONE:
            break;
        default:
            *why = "unsupported relocation type (not an x86-64 module?)";
            return FALSE;
        }
    }
    return TRUE;
range:
    *why = "relocation outside its section";
    return FALSE;
}

/* Offsets of the units in .debug_info (from their length fields). */
static GArray *
unit_offsets(Elf_Data *info)
{
    GArray *offs = g_array_new(FALSE, FALSE, sizeof(guint64));
    const guint8 *p = info->d_buf;
    guint64 off = 0;

    while (off + 4 <= info->d_size) {
        guint32 len32;
        guint64 len;

        g_array_append_val(offs, off);
        memcpy(&len32, p + off, 4);
        if (len32 == 0xffffffffu) {
            if (off + 12 > info->d_size)
                break;
            memcpy(&len, p + off + 4, 8);
            len += 12;
        } else {
            len = (guint64)len32 + 4;
        }
        if (len > info->d_size - off)
            break;
        off += len;
    }
    return offs;
}

static void
work_module(Worker *w, WorkItem *it)
{
    Object *obj = it->obj;
    g_autoptr(GArray) syms = g_array_new(FALSE, FALSE, sizeof(Sym));
    g_autofree guint64 *base = NULL;
    g_autoptr(GArray) windows = NULL;
    const char *why = NULL;
    Elf *elf = NULL;
    Elf_Scn *scn = NULL, *symscn = NULL;
    Elf_Data *symdata;
    GElf_Shdr symshdr;
    GElf_Ehdr eh;
    size_t nsec = 0, shstrndx;
    guint64 next = 0x10000;
    Dwarf *dw = NULL;
    Dwarf_Off off = 0, noff;
    size_t hsz;
    int fd = open(obj->path, O_RDONLY | O_CLOEXEC);

    /* MMAP_PRIVATE: relocating writes copy only the pages they touch. */
    if (fd < 0 || !(elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL)) || !gelf_getehdr(elf, &eh) ||
        elf_getshdrnum(elf, &nsec) != 0 || elf_getshdrstrndx(elf, &shstrndx) != 0) {
        why = fd < 0 ? g_strerror(errno) : elf_errmsg(-1);
        goto out;
    }
    if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64) {
        why = "not an x86-64 relocatable object";
        goto out;
    }
    base = g_new0(guint64, nsec ? nsec : 1);
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        size_t i = elf_ndxscn(scn);

        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_SYMTAB)
            symscn = scn;
        if (sh.sh_flags & SHF_ALLOC) {
            guint64 align = sh.sh_addralign ? sh.sh_addralign : 1;

            next = (next + align - 1) & ~(align - 1);
            base[i] = next;
            next += sh.sh_size;
        }
    }
    if (!symscn || !gelf_getshdr(symscn, &symshdr) || !(symdata = elf_getdata(symscn, NULL))) {
        why = "no symbol table";
        goto out;
    }

    /* Functions. */
    obj->names = g_string_chunk_new(4096);
    for (gsize i = 1; symshdr.sh_entsize && i < symshdr.sh_size / symshdr.sh_entsize; i++) {
        GElf_Sym s;
        const char *name;
        gboolean init;

        if (!gelf_getsym(symdata, i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_size == 0 ||
            s.st_shndx == SHN_UNDEF || s.st_shndx >= nsec || !(name = elf_strptr(elf, symshdr.sh_link, s.st_name)) ||
            !name[0] || !section_is_text(elf, s.st_shndx, &init))
            continue;
        Sym sym = { .start = base[s.st_shndx] + s.st_value, .end = base[s.st_shndx] + s.st_value + s.st_size,
                    .name = g_string_chunk_insert(obj->names, name), .init = init };
        g_array_append_val(syms, sym);
    }
    finish_syms(obj, g_steal_pointer(&syms));

    /* Relocate the DWARF we read. */
    scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh, tsh;
        Elf_Scn *tscn;
        const char *tname;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !(tscn = elf_getscn(elf, sh.sh_info)) ||
            !gelf_getshdr(tscn, &tsh) || !(tname = elf_strptr(elf, shstrndx, tsh.sh_name)))
            continue;
        if (strcmp(tname, ".debug_info") == 0) {
            Elf_Data *info = elf_getdata(tscn, NULL);

            if (!info || !info->d_buf) {
                why = "unreadable .debug_info";
                goto out;
            }
            windows = unit_offsets(info);
            if (!apply_rela(elf, scn, &sh, base, nsec, symdata, windows, &why))
                goto out;
        } else if (strcmp(tname, ".debug_line") == 0 || strcmp(tname, ".debug_rnglists") == 0 ||
                   strcmp(tname, ".debug_ranges") == 0 || strcmp(tname, ".debug_addr") == 0 ||
                   strcmp(tname, ".debug_str_offsets") == 0) {
            if (!apply_rela(elf, scn, &sh, base, nsec, symdata, NULL, &why))
                goto out;
        }
    }

    if (!(dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL))) {
        why = dwarf_errmsg(-1);
        goto out;
    }
    while (dwarf_nextcu(dw, off, &noff, &hsz, NULL, NULL, NULL) == 0) {
        Dwarf_Die cudie;

        if (dwarf_offdie(dw, off + hsz, &cudie)) {
            obj->ncus++;
            process_cu(w, obj, &cudie, 0);
        }
        off = noff;
    }

out:
    if (why)
        object_set_error(obj, w->b, why);
    if (dw)
        dwarf_end(dw);
    if (elf)
        elf_end(elf);
    if (fd >= 0)
        close(fd);
}

static gpointer
worker_run(gpointer data)
{
    Worker *w = data;
    Build *b = w->b;

    for (;;) {
        gint i = g_atomic_int_add(&b->next, 1);

        if (i >= (gint)b->items->len)
            break;
        WorkItem *it = g_ptr_array_index(b->items, i);
        if (it->obj->module)
            work_module(w, it);
        else
            work_vmlinux_chunk(w, it);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Serialisation */

typedef struct {
    GString *strtab;
    GHashTable *offsets; /* string -> offset + 1 */
} StrTab;

static guint32
strtab_add(StrTab *st, const char *s)
{
    gpointer v;

    if (!s || !s[0])
        return 0;
    if ((v = g_hash_table_lookup(st->offsets, s)))
        return GPOINTER_TO_UINT(v) - 1;
    guint32 off = st->strtab->len;
    g_string_append_len(st->strtab, s, strlen(s) + 1);
    g_hash_table_insert(st->offsets, g_strdup(s), GUINT_TO_POINTER(off + 1));
    return off;
}

#define CHECKSUM_SEED 0xcbf29ce484222325ULL

/* Word-wise FNV-style mix: detects corruption at memory speed.  Each step is
 * a bijection of the state, so any single changed word changes the result. */
static guint64
checksum_from(guint64 h, const guint8 *p, gsize n)
{
    gsize i = 0;

    for (; i + 8 <= n; i += 8) {
        guint64 v;

        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static guint64
checksum(const guint8 *p, gsize n)
{
    return checksum_from(CHECKSUM_SEED, p, n);
}

/* The whole file, header included, with the checksum field read as 0. */
static guint64
file_checksum(const guint8 *data, gsize size)
{
    IndexHeader h;

    memcpy(&h, data, sizeof(h));
    h.checksum = 0;
    return checksum_from(checksum((const guint8 *)&h, sizeof(h)), data + sizeof(h), size - sizeof(h));
}

typedef struct {
    const char *name;
    guint32 dup;
    guint32 func;
} TmpModSym;

static int
cmp_tmp_modsym(const void *pa, const void *pb)
{
    const TmpModSym *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);

    if (c)
        return c;
    return a->dup < b->dup ? -1 : a->dup > b->dup;
}

static int
cmp_obj_module(const void *pa, const void *pb)
{
    const Object *a = *(Object *const *)pa, *b = *(Object *const *)pb;

    return strcmp(a->module ? a->module : "", b->module ? b->module : "");
}

typedef struct {
    const Sym *sym;
    gsize index;
} NameRank;

static int
cmp_name_rank(const void *pa, const void *pb)
{
    const NameRank *a = pa, *b = pb;
    int c = strcmp(a->sym->name, b->sym->name);

    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index; /* syms are by address */
}

static GBytes *
serialise(GPtrArray *objects, const HapvmKernelInfo *kernel, const char *build_id, guint64 fingerprint,
          guint cus)
{
    StrTab st = { g_string_new_len("", 1), g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    g_autoptr(GArray) funcs = g_array_new(FALSE, FALSE, sizeof(IndexFunc));
    g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(IndexRange));
    g_autoptr(GArray) mods = g_array_new(FALSE, FALSE, sizeof(IndexModule));
    g_autoptr(GArray) modsyms = g_array_new(FALSE, FALSE, sizeof(IndexModSym));
    IndexHeader h = { 0 };
    guint64 total_lines = 0;
    guint no_lines = 0, nmodules = 0;

    g_ptr_array_sort(objects, cmp_obj_module); /* vmlinux ("") first, then by module name */
    for (guint o = 0; o < objects->len; o++) {
        Object *obj = g_ptr_array_index(objects, o);
        g_autofree gint32 *func_of = g_new(gint32, obj->nsyms ? obj->nsyms : 1);
        g_autofree NameRank *nr = g_new(NameRank, obj->nsyms ? obj->nsyms : 1);
        g_autoptr(GArray) tmp = g_array_new(FALSE, FALSE, sizeof(TmpModSym));
        gsize nnr = 0;

        if (obj->module)
            nmodules++;
        else
            h.vm_text = obj->text;
        /* Records for owners with line info, in address order. */
        for (gsize i = 0; i < obj->nsyms; i++) {
            const SymRes *r = &obj->res[i];

            func_of[i] = -1;
            if (r->owner != (gint32)i || obj->syms[i].alias)
                continue;
            if (!r->file) {
                if (!obj->syms[i].cold)
                    no_lines++;
                continue;
            }
            IndexFunc f = { .name = strtab_add(&st, obj->syms[i].name), .file = strtab_add(&st, r->file),
                            .subsystem = strtab_add(&st, hapvm_subsystem_of_file(r->file)),
                            .lines = r->lines };
            func_of[i] = funcs->len;
            total_lines += r->lines;
            g_array_append_val(funcs, f);
        }
        for (gsize i = 0; i < obj->nsyms; i++) {
            gint32 owner = obj->res[i].owner;

            if (owner != (gint32)i && func_of[owner] >= 0)
                func_of[i] = func_of[owner];
        }
        if (!obj->module) {
            for (gsize i = 0; i < obj->nsyms; i++) {
                if (func_of[i] < 0 || obj->syms[i].alias)
                    continue;
                IndexRange rg = { .start = obj->syms[i].start,
                                  .size = (guint32)MIN(obj->syms[i].end - obj->syms[i].start, G_MAXUINT32),
                                  .func = func_of[i] };
                g_array_append_val(ranges, rg);
            }
        }
        /* Name table with duplicate ranks by address, over the symbols
         * kallsyms would list (modules drop .init symbols after loading). */
        for (gsize i = 0; i < obj->nsyms; i++)
            if (!(obj->module && obj->syms[i].init))
                nr[nnr++] = (NameRank){ &obj->syms[i], i };
        qsort(nr, nnr, sizeof(NameRank), cmp_name_rank);
        for (gsize i = 0; i < nnr; i++) {
            guint32 dup = 0;

            if (i && strcmp(nr[i].sym->name, nr[i - 1].sym->name) == 0)
                dup = ((TmpModSym *)tmp->data)[tmp->len - 1].dup + 1;
            TmpModSym t = { nr[i].sym->name, dup, func_of[nr[i].index] < 0 ? G_MAXUINT32 : (guint32)func_of[nr[i].index] };
            g_array_append_val(tmp, t);
        }
        qsort(tmp->data, tmp->len, sizeof(TmpModSym), cmp_tmp_modsym);
        IndexModule m = { .name = strtab_add(&st, obj->module), .first = modsyms->len };
        for (guint i = 0; i < tmp->len; i++) {
            const TmpModSym *t = &((TmpModSym *)tmp->data)[i];

            if (t->func == G_MAXUINT32)
                continue;
            IndexModSym ms = { .name = strtab_add(&st, t->name), .dup = t->dup, .func = t->func };
            g_array_append_val(modsyms, ms);
        }
        m.count = modsyms->len - m.first;
        g_array_append_val(mods, m);
    }

    memcpy(h.magic, INDEX_MAGIC, 8);
    h.version = INDEX_VERSION;
    h.header_size = sizeof(IndexHeader);
    h.fingerprint = fingerprint;
    g_strlcpy(h.build_id, build_id, sizeof(h.build_id));
    g_strlcpy(h.release, kernel->release ? kernel->release : "", sizeof(h.release));
    h.nfuncs = funcs->len;
    h.nranges = ranges->len;
    h.nmodules = mods->len;
    h.nmodsyms = modsyms->len;
    h.objects = objects->len;
    h.modules = nmodules;
    h.cus = cus;
    h.no_lines = no_lines;
    h.lines = total_lines;
    while (st.strtab->len % 8)
        g_string_append_c(st.strtab, '\0');
    h.strtab_size = st.strtab->len;
    h.off_funcs = sizeof(IndexHeader);
    h.off_ranges = h.off_funcs + (guint64)funcs->len * sizeof(IndexFunc);
    h.off_modules = h.off_ranges + (guint64)ranges->len * sizeof(IndexRange);
    h.off_modsyms = h.off_modules + (guint64)mods->len * sizeof(IndexModule);
    h.off_strtab = h.off_modsyms + (guint64)modsyms->len * sizeof(IndexModSym);
    h.file_size = h.off_strtab + st.strtab->len;

    guint8 *buf = g_malloc0(h.file_size);
    memcpy(buf + h.off_funcs, funcs->data, funcs->len * sizeof(IndexFunc));
    memcpy(buf + h.off_ranges, ranges->data, ranges->len * sizeof(IndexRange));
    memcpy(buf + h.off_modules, mods->data, mods->len * sizeof(IndexModule));
    memcpy(buf + h.off_modsyms, modsyms->data, modsyms->len * sizeof(IndexModSym));
    memcpy(buf + h.off_strtab, st.strtab->str, st.strtab->len);
    memcpy(buf, &h, sizeof(h));
    h.checksum = file_checksum(buf, h.file_size);
    memcpy(buf, &h, sizeof(h));
    g_string_free(st.strtab, TRUE);
    g_hash_table_unref(st.offsets);
    return g_bytes_new_take(buf, h.file_size);
}

/* ------------------------------------------------------------------------ */
/* Validation and loading */

static gboolean
str_ok(const HapvmLineIndex *idx, guint32 off)
{
    return off < idx->hdr->strtab_size;
}

static const char *
str_at(const HapvmLineIndex *idx, guint32 off)
{
    return idx->strtab + off;
}

static gboolean
index_attach(HapvmLineIndex *idx, const char *expect_build_id, const char *what, GError **error)
{
    const IndexHeader *h = (const IndexHeader *)idx->data;
    const char *why = NULL;

#define BAD(msg) do { why = (msg); goto bad; } while (0)
    if (idx->size < sizeof(IndexHeader))
        BAD("shorter than its header");
    if (memcmp(h->magic, INDEX_MAGIC, 8) != 0)
        BAD("bad magic");
    if (h->version != INDEX_VERSION)
        BAD("other format version");
    if (h->header_size != sizeof(IndexHeader) || h->file_size != idx->size)
        BAD("size mismatch (truncated?)");
    if (!memchr(h->build_id, 0, sizeof(h->build_id)) || !memchr(h->release, 0, sizeof(h->release)))
        BAD("unterminated header string");
    if (expect_build_id && strcmp(h->build_id, expect_build_id) != 0)
        BAD("other build-id");
    if (h->off_funcs != sizeof(IndexHeader) ||
        h->off_ranges != h->off_funcs + (guint64)h->nfuncs * sizeof(IndexFunc) ||
        h->off_modules != h->off_ranges + (guint64)h->nranges * sizeof(IndexRange) ||
        h->off_modsyms != h->off_modules + (guint64)h->nmodules * sizeof(IndexModule) ||
        h->off_strtab != h->off_modsyms + (guint64)h->nmodsyms * sizeof(IndexModSym) ||
        h->off_strtab + h->strtab_size != h->file_size || h->strtab_size == 0)
        BAD("inconsistent section offsets");
    if (file_checksum(idx->data, idx->size) != h->checksum)
        BAD("checksum mismatch");
    idx->hdr = h;
    idx->funcs = (const IndexFunc *)(idx->data + h->off_funcs);
    idx->ranges = (const IndexRange *)(idx->data + h->off_ranges);
    idx->mods = (const IndexModule *)(idx->data + h->off_modules);
    idx->modsyms = (const IndexModSym *)(idx->data + h->off_modsyms);
    idx->strtab = (const char *)(idx->data + h->off_strtab);
    /* Lookups trust these, so check them all (cheap: one pass). */
    if (idx->strtab[0] != '\0' || idx->strtab[h->strtab_size - 1] != '\0')
        BAD("string table not NUL-bounded");
    for (guint32 i = 0; i < h->nfuncs; i++)
        if (!str_ok(idx, idx->funcs[i].name) || !str_ok(idx, idx->funcs[i].file) ||
            !str_ok(idx, idx->funcs[i].subsystem))
            BAD("function string out of range");
    for (guint32 i = 0; i < h->nranges; i++)
        if (idx->ranges[i].func >= h->nfuncs || (i && idx->ranges[i].start < idx->ranges[i - 1].start))
            BAD("bad address range");
    for (guint32 i = 0; i < h->nmodules; i++) {
        const IndexModule *m = &idx->mods[i];

        if (!str_ok(idx, m->name) || m->first > h->nmodsyms || m->count > h->nmodsyms - m->first ||
            (i && strcmp(str_at(idx, idx->mods[i - 1].name), str_at(idx, m->name)) >= 0))
            BAD("bad module table");
        for (guint32 j = m->first; j < m->first + m->count; j++) {
            const IndexModSym *s = &idx->modsyms[j];

            if (!str_ok(idx, s->name) || s->func >= h->nfuncs)
                BAD("bad symbol entry");
            if (j > m->first) {
                const IndexModSym *p = &idx->modsyms[j - 1];
                int c = strcmp(str_at(idx, p->name), str_at(idx, s->name));

                if (c > 0 || (c == 0 && p->dup >= s->dup))
                    BAD("symbol table out of order");
            }
        }
    }
#undef BAD
    idx->stats.build_id = h->build_id;
    idx->stats.release = h->release;
    idx->stats.objects = h->objects;
    idx->stats.modules = h->modules;
    idx->stats.cus = h->cus;
    idx->stats.functions = h->nfuncs;
    idx->stats.no_lines = h->no_lines;
    idx->stats.lines = h->lines;
    idx->stats.file_size = h->file_size;
    return TRUE;

bad:
    idx->hdr = NULL;
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: not a valid hapvm line index: %s", what, why);
    return FALSE;
}

void
hapvm_line_index_free(HapvmLineIndex *idx)
{
    if (!idx)
        return;
    if (idx->mapped)
        munmap(idx->data, idx->size);
    else
        g_free(idx->data);
    g_free(idx->cache_path);
    g_free(idx->vmlinux);
    g_free(idx);
}

static HapvmLineIndex *
index_load_file(const char *path, const char *expect_build_id, GError **error)
{
    g_autoptr(HapvmLineIndex) idx = g_new0(HapvmLineIndex, 1);
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: empty or unreadable", path);
        return NULL;
    }
    idx->size = st.st_size;
    /* Validation reads every page: map them all in one go (per-page faults
     * cost more than the checksum). */
    idx->data = mmap(NULL, idx->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (idx->data == MAP_FAILED) {
        idx->data = NULL;
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: mmap: %s", path, g_strerror(errno));
        return NULL;
    }
    idx->mapped = TRUE;
    if (!index_attach(idx, expect_build_id, path, error))
        return NULL;
    idx->cache_path = g_strdup(path);
    idx->stats.cache_path = idx->cache_path;
    idx->stats.from_cache = TRUE;
    return g_steal_pointer(&idx);
}

/* ------------------------------------------------------------------------ */
/* Debuginfo discovery */

typedef struct {
    char *vmlinux;     /* NULL = not found */
    char *modules_dir; /* NULL = none */
    char *searched;    /* for messages */
    GPtrArray *kos;    /* sorted paths */
    guint64 fingerprint;
} Sources;

static void
sources_clear(Sources *s)
{
    g_free(s->vmlinux);
    g_free(s->modules_dir);
    g_free(s->searched);
    if (s->kos)
        g_ptr_array_unref(s->kos);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Sources, sources_clear)

static guint64
fingerprint_mix(guint64 h, const void *p, gsize n)
{
    return checksum_from(h * 0x100000001b3ULL + 1, p, n);
}

static guint64
fingerprint_stat(guint64 h, const char *path, const struct stat *st)
{
    guint64 v[3] = { st->st_size, st->st_mtim.tv_sec, st->st_mtim.tv_nsec };

    h = fingerprint_mix(h, path, strlen(path));
    return fingerprint_mix(h, v, sizeof(v));
}

/* Collect the .ko files under dir.  The fingerprint covers each directory's
 * mtime and each module's path, not every module's stat: 4 000 stat() calls
 * would cost more than loading the whole index.  Packages replace files by
 * rename, which changes the directory's mtime. */
static void
walk_kos(const char *dir, GPtrArray *out, guint64 *fp, int depth)
{
    DIR *d;
    struct dirent *e;
    struct stat st;

    if (depth > 16 || !(d = opendir(dir)))
        return;
    if (fstat(dirfd(d), &st) == 0)
        *fp = fingerprint_stat(*fp, dir, &st);
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        gboolean is_dir = e->d_type == DT_DIR, is_file = e->d_type == DT_REG;

        if (name[0] == '.')
            continue;
        if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
            /* Symlinked modules count; symlinked directories (build/, source/) do not. */
            if (fstatat(dirfd(d), name, &st, 0) != 0)
                continue;
            is_file = S_ISREG(st.st_mode);
            is_dir = e->d_type == DT_UNKNOWN && S_ISDIR(st.st_mode);
        }
        if (is_file && g_str_has_suffix(name, ".ko")) {
            char *p = g_build_filename(dir, name, NULL);

            *fp = fingerprint_mix(*fp, p, strlen(p));
            g_ptr_array_add(out, p);
        } else if (is_dir) {
            g_autofree char *p = g_build_filename(dir, name, NULL);

            walk_kos(p, out, fp, depth + 1);
        }
    }
    closedir(d);
}

static int
cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sources_find(Sources *s, const char *release, const char *debuginfo)
{
    const char *root = debuginfo ? debuginfo : DEFAULT_DEBUGINFO;

    if (g_file_test(root, G_FILE_TEST_IS_REGULAR)) {
        s->vmlinux = g_strdup(root);
        s->searched = g_strdup(root);
    } else {
        g_autofree char *in_dir = g_build_filename(root, "vmlinux", NULL);
        g_autofree char *boot = g_strdup_printf("%s/boot/vmlinux-%s", root, release);
        g_autofree char *moddir = g_strdup_printf("%s/lib/modules/%s", root, release);

        if (g_file_test(boot, G_FILE_TEST_IS_REGULAR)) {
            s->vmlinux = g_steal_pointer(&boot);
            s->modules_dir = g_steal_pointer(&moddir);
        } else if (g_file_test(in_dir, G_FILE_TEST_IS_REGULAR)) { /* a lib/modules/<release>-like dir */
            s->vmlinux = g_steal_pointer(&in_dir);
            s->modules_dir = g_strdup(root);
        }
        s->searched = g_strdup_printf("%s/boot/vmlinux-%s, %s/vmlinux", root, release, root);
    }
    s->kos = g_ptr_array_new_with_free_func(g_free);
    if (s->vmlinux) {
        struct stat st;

        if (stat(s->vmlinux, &st) == 0)
            s->fingerprint = fingerprint_stat(0, s->vmlinux, &st);
        if (s->modules_dir)
            walk_kos(s->modules_dir, s->kos, &s->fingerprint, 0);
        g_ptr_array_sort(s->kos, cmp_strp);
    }
}

static void
object_free(gpointer p)
{
    Object *obj = p;

    if (obj->elf)
        elf_end(obj->elf);
    if (obj->fd >= 0)
        close(obj->fd);
    if (obj->names)
        g_string_chunk_free(obj->names);
    g_free(obj->syms);
    g_free(obj->res);
    g_free(obj->path);
    g_free(obj->module);
    g_free(obj->error);
    g_free(obj);
}

static guint
thread_count(void)
{
    const char *env = g_getenv("HAPVM_INDEX_THREADS");
    guint n = env ? (guint)g_ascii_strtoull(env, NULL, 10) : g_get_num_processors();

    return CLAMP(n, 1, 8);
}

static GBytes *
index_build(const HapvmKernelInfo *kernel, Sources *src, char **build_id_out, GError **error)
{
    g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func(object_free);
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
    Build b = { .items = items };
    Object *vm = g_new0(Object, 1);
    g_autofree char *build_id = NULL;
    g_autofree Worker *workers = NULL;
    g_autofree GThread **threads = NULL;
    Dwarf *dw;
    Dwarf_Off off = 0, next, chunk_start = 0;
    size_t hsz;
    guint ncu = 0, nthreads = thread_count(), cus = 0;
    GBytes *out;

    elf_version(EV_CURRENT);
    vm->path = g_strdup(src->vmlinux);
    vm->fd = open(vm->path, O_RDONLY | O_CLOEXEC);
    g_ptr_array_add(objects, vm);
    if (vm->fd < 0 || !(vm->elf = elf_begin(vm->fd, ELF_C_READ_MMAP, NULL)) ||
        elf_kind(vm->elf) != ELF_K_ELF) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO, "%s: not a readable ELF file: %s",
                    vm->path, vm->fd < 0 ? g_strerror(errno) : elf_errmsg(-1));
        return NULL;
    }
    build_id = hapvm_dwarf_build_id(vm->elf);
    if (!build_id) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH, "%s has no GNU build-id note",
                    vm->path);
        return NULL;
    }
    if (kernel->build_id && g_ascii_strcasecmp(build_id, kernel->build_id) != 0) {
        g_autofree char *pkg = hapvm_debuginfo_package(kernel->release);

        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH,
                    "%s has build-id %s, but the kernel (%s) has %s: this debuginfo is for another "
                    "build; install the %s that matches the running kernel",
                    vm->path, build_id, kernel->release, kernel->build_id, pkg);
        return NULL;
    }
    if (!vmlinux_syms(vm, error))
        return NULL;
    dw = dwarf_begin_elf(vm->elf, DWARF_C_READ, NULL);
    if (!dw) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO, "%s: no DWARF: %s", vm->path,
                    dwarf_errmsg(-1));
        return NULL;
    }
    /* Chunks of CUs by offset; each worker opens its own handle on them. */
    while (dwarf_nextcu(dw, off, &next, &hsz, NULL, NULL, NULL) == 0) {
        if (++ncu % CUS_PER_CHUNK == 0) {
            WorkItem *it = g_new0(WorkItem, 1);

            *it = (WorkItem){ vm, chunk_start, next };
            g_ptr_array_add(items, it);
            chunk_start = next;
        }
        off = next;
    }
    dwarf_end(dw);
    if (off > chunk_start) {
        WorkItem *it = g_new0(WorkItem, 1);

        *it = (WorkItem){ vm, chunk_start, off };
        g_ptr_array_add(items, it);
    }
    vm->ncus = ncu;
    if (ncu == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO, "%s has no DWARF compile units "
                    "(a stripped image, not the -dbg vmlinux?)", vm->path);
        return NULL;
    }
    for (guint i = 0; i < src->kos->len; i++) {
        Object *m = g_new0(Object, 1);
        WorkItem *it = g_new0(WorkItem, 1);

        m->fd = -1;
        m->path = g_strdup(g_ptr_array_index(src->kos, i));
        m->module = hapvm_dwarf_module_name(m->path);
        g_ptr_array_add(objects, m);
        it->obj = m;
        g_ptr_array_add(items, it);
    }

    g_mutex_init(&b.lock);
    workers = g_new0(Worker, nthreads);
    threads = g_new0(GThread *, nthreads);
    for (guint t = 0; t < nthreads; t++) {
        Worker *w = &workers[t];

        w->b = &b;
        w->vm_fd = -1;
        w->strings = g_string_chunk_new(64 * 1024);
        w->rows = g_array_new(FALSE, FALSE, sizeof(HapvmDwarfRow));
        w->lines = g_array_new(FALSE, FALSE, sizeof(guint32));
        w->cu_syms = g_array_new(FALSE, FALSE, sizeof(guint32));
        w->canon = g_ptr_array_new();
        if (t > 0)
            threads[t] = g_thread_new("hapvm-index", worker_run, w);
    }
    worker_run(&workers[0]);
    for (guint t = 1; t < nthreads; t++)
        g_thread_join(threads[t]);
    g_mutex_clear(&b.lock);

    /* Worker buffers go now; interned file names stay until serialised. */
    for (guint t = 0; t < nthreads; t++) {
        Worker *w = &workers[t];

        if (w->vm_elf)
            elf_end(w->vm_elf);
        if (w->vm_fd >= 0)
            close(w->vm_fd);
        g_array_unref(w->rows);
        g_array_unref(w->lines);
        g_array_unref(w->cu_syms);
        g_ptr_array_unref(w->canon);
        cus += w->cus;
    }
    if (vm->error) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: cannot read DWARF: %s", vm->path, vm->error);
        out = NULL;
    } else {
        /* A module whose DWARF cannot be read is left out, not fatal: its
         * functions then have no line info, like an asm function. */
        for (guint i = objects->len; i-- > 1;) {
            Object *m = g_ptr_array_index(objects, i);

            if (m->error || !m->syms)
                g_ptr_array_remove_index(objects, i);
        }
        out = serialise(objects, kernel, build_id, src->fingerprint, cus);
    }
    for (guint t = 0; t < nthreads; t++)
        g_string_chunk_free(workers[t].strings);
    if (out && build_id_out)
        *build_id_out = g_steal_pointer(&build_id);
    return out;
}

static char *
vmlinux_build_id(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf *elf;
    char *id = NULL;

    if (fd < 0)
        return NULL;
    elf_version(EV_CURRENT);
    if ((elf = elf_begin(fd, ELF_C_READ_MMAP, NULL))) {
        id = hapvm_dwarf_build_id(elf);
        elf_end(elf);
    }
    close(fd);
    return id;
}

static HapvmLineIndex *
line_index_open(const HapvmKernelInfo *kernel, const char *debuginfo, const char *cache_dir,
                gboolean force, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    g_auto(Sources) src = { 0 };
    g_autofree char *build_id = NULL;
    g_autofree char *cache_path = NULL;
    g_autoptr(HapvmLineIndex) idx = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(GError) cache_error = NULL;

    if (!kernel || !kernel->release) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "line index: kernel release unknown");
        return NULL;
    }
    sources_find(&src, kernel->release, debuginfo);
    if (!cache_dir)
        cache_dir = DEFAULT_CACHE;
    if (kernel->build_id)
        build_id = g_ascii_strdown(kernel->build_id, -1);
    else if (src.vmlinux)
        build_id = vmlinux_build_id(src.vmlinux);
    if (build_id) {
        g_autofree char *name = g_strdup_printf("%s.lix", build_id);

        cache_path = g_build_filename(cache_dir, name, NULL);
    }

    if (!force && cache_path && g_file_test(cache_path, G_FILE_TEST_EXISTS)) {
        /* An invalid or stale cache is simply rebuilt. */
        idx = index_load_file(cache_path, build_id, &cache_error);
        if (idx && src.vmlinux && idx->hdr->fingerprint != src.fingerprint)
            g_clear_pointer(&idx, hapvm_line_index_free);
        if (idx) {
            idx->vmlinux = g_strdup(src.vmlinux);
            idx->stats.vmlinux = idx->vmlinux;
            idx->stats.seconds = (g_get_monotonic_time() - t0) / 1e6;
            return g_steal_pointer(&idx);
        }
    }
    if (!src.vmlinux) {
        g_autofree char *pkg = hapvm_debuginfo_package(kernel->release);

        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO,
                    "no debuginfo for kernel %s (searched %s): install %s "
                    "(apt-get install %s) or give its path with --debuginfo",
                    kernel->release, src.searched, pkg, pkg);
        return NULL;
    }
    g_clear_pointer(&build_id, g_free);
    bytes = index_build(kernel, &src, &build_id, error);
    if (!bytes)
        return NULL;
    if (!cache_path) {
        g_autofree char *name = g_strdup_printf("%s.lix", build_id);

        cache_path = g_build_filename(cache_dir, name, NULL);
    }
    idx = g_new0(HapvmLineIndex, 1);
    idx->data = g_bytes_unref_to_data(g_steal_pointer(&bytes), &idx->size);
    if (!index_attach(idx, build_id, "new index", error))
        return NULL; /* a bug: the builder wrote something the loader rejects */
    if (g_mkdir_with_parents(cache_dir, 0755) == 0 &&
        g_file_set_contents_full(cache_path, (const char *)idx->data, idx->size,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, NULL)) {
        idx->cache_path = g_steal_pointer(&cache_path);
        idx->stats.cache_path = idx->cache_path;
    }
    idx->vmlinux = g_strdup(src.vmlinux);
    idx->stats.vmlinux = idx->vmlinux;
    idx->stats.seconds = (g_get_monotonic_time() - t0) / 1e6;
    return g_steal_pointer(&idx);
}

HapvmLineIndex *
hapvm_line_index_load_cache(const char *path, const char *build_id, GError **error)
{
    return index_load_file(path, build_id, error);
}

HapvmLineIndex *
hapvm_line_index_open(const HapvmKernelInfo *kernel, const char *debuginfo, const char *cache_dir,
                      GError **error)
{
    return line_index_open(kernel, debuginfo, cache_dir, FALSE, error);
}

HapvmLineIndex *
hapvm_line_index_rebuild(const HapvmKernelInfo *kernel, const char *debuginfo, const char *cache_dir,
                         GError **error)
{
    return line_index_open(kernel, debuginfo, cache_dir, TRUE, error);
}

void
hapvm_line_index_get_stats(const HapvmLineIndex *idx, HapvmLineIndexStats *out)
{
    *out = idx->stats;
}

/* ------------------------------------------------------------------------ */
/* Lookups */

static void
fill_info(const HapvmLineIndex *idx, guint32 func, HapvmLineInfo *out)
{
    const IndexFunc *f = &idx->funcs[func];

    out->file = str_at(idx, f->file);
    out->lines = f->lines;
    out->subsystem = str_at(idx, f->subsystem);
}

gboolean
hapvm_line_index_lookup_symbol(const HapvmLineIndex *idx, const char *module, const char *name, guint dup,
                               HapvmLineInfo *out)
{
    const char *want = module ? module : "";
    gsize lo = 0, hi = idx->hdr->nmodules;
    const IndexModule *m = NULL;

    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;
        int c = strcmp(str_at(idx, idx->mods[mid].name), want);

        if (c < 0)
            lo = mid + 1;
        else if (c > 0)
            hi = mid;
        else {
            m = &idx->mods[mid];
            break;
        }
    }
    if (!m)
        return FALSE;
    lo = m->first;
    hi = m->first + m->count;
    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;
        const IndexModSym *s = &idx->modsyms[mid];
        int c = strcmp(str_at(idx, s->name), name);

        if (!c)
            c = s->dup < dup ? -1 : s->dup > dup;
        if (c < 0)
            lo = mid + 1;
        else if (c > 0)
            hi = mid;
        else {
            fill_info(idx, s->func, out);
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
hapvm_line_index_lookup(const HapvmLineIndex *idx, const HapvmKsyms *ksyms, guint64 addr,
                        HapvmLineInfo *out)
{
    HapvmKsym sym;

    if (!hapvm_ksyms_lookup(ksyms, addr, &sym))
        return FALSE;
    if (sym.module)
        return hapvm_line_index_lookup_symbol(idx, sym.module, sym.name, sym.dup, out);

    /* vmlinux: undo KASLR, then by address. */
    guint64 ktext = hapvm_ksyms_text(ksyms);
    guint64 link = ktext && idx->hdr->vm_text ? addr - ktext + idx->hdr->vm_text : addr;
    gsize lo = 0, hi = idx->hdr->nranges;

    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;

        if (idx->ranges[mid].start <= link)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return FALSE;
    const IndexRange *r = &idx->ranges[lo - 1];
    if (link - r->start >= r->size)
        return FALSE;
    fill_info(idx, r->func, out);
    return TRUE;
}

void
hapvm_line_index_dump(const HapvmLineIndex *idx, FILE *out)
{
    for (guint32 m = 0; m < idx->hdr->nmodules; m++) {
        const IndexModule *mod = &idx->mods[m];
        const char *mname = str_at(idx, mod->name);

        for (guint32 j = mod->first; j < mod->first + mod->count; j++) {
            const IndexModSym *s = &idx->modsyms[j];
            const IndexFunc *f = &idx->funcs[s->func];

            fprintf(out, "%s\t%s\t%u\t%s\t%u\t%s\t%s\n", mname[0] ? mname : "vmlinux", str_at(idx, s->name),
                    s->dup, str_at(idx, f->file), f->lines, str_at(idx, f->subsystem), str_at(idx, f->name));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Debuginfo discovery, for other readers of the same files (visibility) */

gboolean
hapvm_debuginfo_find(const char *release, const char *debuginfo, char **vmlinux, GPtrArray **kos,
                     GError **error)
{
    g_auto(Sources) src = { 0 };

    sources_find(&src, release, debuginfo);
    if (!src.vmlinux) {
        g_autofree char *pkg = hapvm_debuginfo_package(release);

        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO,
                    "no debuginfo for kernel %s (searched %s): install %s "
                    "(apt-get install %s) or give its path with --debuginfo",
                    release, src.searched, pkg, pkg);
        return FALSE;
    }
    *vmlinux = g_steal_pointer(&src.vmlinux);
    *kos = g_steal_pointer(&src.kos);
    return TRUE;
}

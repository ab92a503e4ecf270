/* See hapvm-dwarf.h. */
#include "hapvm-dwarf.h"

#include <elfutils/libdwelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

gboolean
hapvm_dwarf_cold_base(const char *name, gsize *base_len)
{
    const char *dot = strstr(name, ".cold");

    while (dot) {
        const char *rest = dot + 5;

        if (*rest == '\0' || (*rest == '.' && rest[1] && strspn(rest + 1, "0123456789") == strlen(rest + 1))) {
            *base_len = dot - name;
            return TRUE;
        }
        dot = strstr(dot + 1, ".cold");
    }
    return FALSE;
}

char *
hapvm_dwarf_module_name(const char *ko)
{
    g_autofree char *base = g_path_get_basename(ko);
    char *name = g_strndup(base, strlen(base) - 3); /* ".ko" */

    g_strdelimit(name, "-", '_'); /* the kernel's module names use '_' */
    return name;
}

char *
hapvm_dwarf_build_id(Elf *elf)
{
    const void *id;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);

    if (n <= 0)
        return NULL;
    GString *hex = g_string_sized_new(n * 2);
    for (ssize_t i = 0; i < n; i++)
        g_string_append_printf(hex, "%02x", ((const guint8 *)id)[i]);
    return g_string_free(hex, FALSE);
}

Elf_Data *
hapvm_dwarf_symtab(Elf *elf, GElf_Shdr *shdr, gsize *n)
{
    Elf_Scn *scn = NULL;

    while ((scn = elf_nextscn(elf, scn))) {
        Elf_Data *data;

        if (!gelf_getshdr(scn, shdr) || shdr->sh_type != SHT_SYMTAB)
            continue;
        data = elf_getdata(scn, NULL);
        if (!data || !shdr->sh_entsize)
            return NULL;
        *n = shdr->sh_size / shdr->sh_entsize;
        return data;
    }
    return NULL;
}

static int
cmp_row(const void *pa, const void *pb)
{
    const HapvmDwarfRow *a = pa, *b = pb;

    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

void
hapvm_dwarf_rows_read(Dwarf_Lines *lines, size_t nlines, Dwarf_Addr bias, HapvmDwarfRow *rows)
{
    gboolean sorted = TRUE;

    for (size_t i = 0; i < nlines; i++) {
        Dwarf_Line *l = dwarf_onesrcline(lines, i);
        Dwarf_Addr a = 0;
        Dwarf_Files *lf;
        size_t fi = G_MAXUINT32;
        int lineno = 0;
        bool end = false, stmt = false;

        dwarf_lineaddr(l, &a);
        dwarf_lineno(l, &lineno);
        dwarf_lineendsequence(l, &end);
        dwarf_linebeginstatement(l, &stmt);
        if (dwarf_line_file(l, &lf, &fi) != 0)
            fi = G_MAXUINT32;
        rows[i] = (HapvmDwarfRow){ .addr = a + bias, .line = lineno > 0 ? (guint32)lineno : 0, .file = fi,
                                   .endseq = end, .stmt = stmt };
        if (i && rows[i].addr < rows[i - 1].addr)
            sorted = FALSE;
    }
    if (!sorted) /* libdw sorts by address; keep working if a version does not */
        qsort(rows, nlines, sizeof(HapvmDwarfRow), cmp_row);
}

G_STATIC_ASSERT(G_STRUCT_OFFSET(HapvmDwarfRow, addr) == 0);

gsize
hapvm_dwarf_lower_bound(const void *items, gsize n, gsize size, guint64 addr)
{
    gsize lo = 0, hi = n;

    while (lo < hi) {
        gsize mid = lo + (hi - lo) / 2;

        if (*(const guint64 *)((const guint8 *)items + mid * size) < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

gssize
hapvm_dwarf_rows_first_stmt(const HapvmDwarfRow *rows, gsize n, guint64 start, guint64 end)
{
    gsize first = hapvm_dwarf_lower_bound(rows, n, sizeof(HapvmDwarfRow), start);

    while (first < n && (rows[first].endseq || !rows[first].stmt) && rows[first].addr < end)
        first++;
    return first < n && rows[first].addr < end ? (gssize)first : -1;
}

/* Pieces of the kernel debuginfo walk that the line index (hapvm-lineindex.c)
 * and the visibility report (hapvm-visibility.c) share, so the two read
 * symbols and line tables by the same rules. */
#pragma once

#include <elfutils/libdw.h>
#include <gelf.h>
#include <glib.h>

/* One row of a compile unit's line table. */
typedef struct {
    guint64 addr;
    guint32 line;
    guint32 file;   /* CU file index */
    guint8 endseq;
    guint8 stmt;    /* is_stmt: a statement start, not a spill-over or mid-line row */
} HapvmDwarfRow;

/* "foo.cold" or "foo.cold.<digits>": TRUE, with the length of "foo". */
gboolean hapvm_dwarf_cold_base(const char *name, gsize *base_len);

/* The kernel's name of a module file: basename without ".ko", '-' as '_'. */
char *hapvm_dwarf_module_name(const char *ko);

/* The GNU build-id note in hex, NULL without one. */
char *hapvm_dwarf_build_id(Elf *elf);

/* The first SHT_SYMTAB section: its data, header and number of entries;
 * NULL if there is none or it cannot be read. */
Elf_Data *hapvm_dwarf_symtab(Elf *elf, GElf_Shdr *shdr, gsize *n);

/* The unit's @nlines line table rows, addresses + @bias, sorted by address. */
void hapvm_dwarf_rows_read(Dwarf_Lines *lines, size_t nlines, Dwarf_Addr bias, HapvmDwarfRow *rows);

/* In @n items of @size bytes whose first member is a guint64 address, sorted
 * by it (line table rows, symbols): the first at or after @addr (@n if none). */
gsize hapvm_dwarf_lower_bound(const void *items, gsize n, gsize size, guint64 addr);

/* The first statement row in [@start, @end), the row GCC emits for a
 * function's opening line: its file is the function's own file.  -1 if none. */
gssize hapvm_dwarf_rows_first_stmt(const HapvmDwarfRow *rows, gsize n, guint64 start, guint64 end);

/* Per-build-id line index: kernel function → (source file, number of its own
 * source lines, subsystem), built from Debian's -dbg DWARF with libdw and
 * cached on disk in a compact mmap-able file.  The counting rule is in
 * docs/methodology.md ("How lines are counted"). */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "hapvm-kernel.h"
#include "hapvm-ksyms.h"

typedef struct HapvmLineIndex HapvmLineIndex;

typedef struct {
    const char *file;      /* relative to the kernel source tree */
    guint32 lines;         /* distinct own-file lines over all the function's ranges */
    const char *subsystem; /* hapvm_subsystem_of_file(file) */
} HapvmLineInfo;

typedef struct {
    const char *build_id;   /* hex */
    const char *release;
    const char *vmlinux;    /* debuginfo used (NULL when loaded from a cache alone) */
    const char *cache_path; /* NULL when the index could not be written */
    gboolean from_cache;    /* loaded from the cache, nothing rebuilt */
    double seconds;         /* wall time of open (build or load) */
    guint objects;          /* vmlinux + modules indexed */
    guint modules;
    guint cus;              /* compile units read */
    guint functions;        /* function records (with line info) */
    guint no_lines;         /* function symbols without line-table rows (asm, stubs) */
    guint64 lines;          /* sum of the records' line counts */
    guint64 file_size;      /* bytes of the index file */
} HapvmLineIndexStats;

/* Open the index for kernel (release + build-id; a NULL build_id accepts the
 * debuginfo's own build-id, for indexing another machine's kernel ahead of
 * time).  debuginfo: NULL = /usr/lib/debug (Debian's layout:
 * boot/vmlinux-<release> and lib/modules/<release>/ and its .ko files), or a directory with
 * that layout, or a directory holding vmlinux and .ko files (the layout of
 * lib/modules/<release>), or a vmlinux file.  cache_dir: NULL =
 * /var/cache/hapvm/index.  A valid cache whose sources are unchanged is
 * mmapped; otherwise the index is rebuilt and written back (a cache that
 * cannot be written is not an error: see stats.cache_path).
 * Errors: HAPVM_ERROR_NO_DEBUGINFO (names the package and the path searched),
 * HAPVM_ERROR_BUILD_ID_MISMATCH, HAPVM_ERROR_PARSE (unreadable DWARF). */
HapvmLineIndex *hapvm_line_index_open(const HapvmKernelInfo *kernel, const char *debuginfo,
                                      const char *cache_dir, GError **error);
/* Like open, but always rebuilds (and rewrites the cache). */
HapvmLineIndex *hapvm_line_index_rebuild(const HapvmKernelInfo *kernel, const char *debuginfo,
                                         const char *cache_dir, GError **error);
/* Load one cache file (mmap) and validate it: magic, version, sizes, section
 * bounds, every index and string offset, table order, and a checksum of the
 * whole file.  build_id NULL = any.  HAPVM_ERROR_PARSE when invalid. */
HapvmLineIndex *hapvm_line_index_load_cache(const char *path, const char *build_id, GError **error);
void hapvm_line_index_free(HapvmLineIndex *idx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmLineIndex, hapvm_line_index_free)

/* Map a running-kernel address (as ftrace reports it) to its function's
 * record.  vmlinux: by address, shifted by the KASLR offset (kallsyms _text
 * minus the vmlinux's _text).  Modules: by (module, symbol name, duplicate
 * rank) from ksyms.  A .cold part maps to its function.  FALSE when the
 * address is not in an indexed function with line info.  No allocation. */
gboolean hapvm_line_index_lookup(const HapvmLineIndex *idx, const HapvmKsyms *ksyms, guint64 addr,
                                 HapvmLineInfo *out);
/* By symbol: module NULL = vmlinux (first symbol of that name by address,
 * dup = rank among same-named symbols).  For tests and reports. */
gboolean hapvm_line_index_lookup_symbol(const HapvmLineIndex *idx, const char *module,
                                        const char *name, guint dup, HapvmLineInfo *out);
/* One line per symbol: module ("vmlinux"), symbol, dup, file, lines,
 * subsystem, and the symbol whose record it shares (itself, or the hot part
 * of a .cold symbol, or the first of aliases). */
void hapvm_line_index_dump(const HapvmLineIndex *idx, FILE *out);
void hapvm_line_index_get_stats(const HapvmLineIndex *idx, HapvmLineIndexStats *out);

/* Subsystem bucket of a source path (relative to the kernel tree); the table
 * is in docs/methodology.md.  Returns an interned string. */
const char *hapvm_subsystem_of_file(const char *path);
/* Normalise a DWARF file name to a path relative to the kernel source tree
 * ("./x" and "/build/.../linux-6.1.192/x" both give "x").  Newly allocated. */
char *hapvm_kernel_source_path(const char *dwarf_path);

/* Where Debian's package puts the vmlinux, and the package to install. */
char *hapvm_debuginfo_package(const char *release);
/* The debuginfo files hapvm_line_index_open would read for release: the
 * vmlinux and the .ko paths (sorted), same search and same error. */
gboolean hapvm_debuginfo_find(const char *release, const char *debuginfo, char **vmlinux, GPtrArray **kos,
                              GError **error);

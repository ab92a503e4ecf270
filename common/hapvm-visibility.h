/* What the function tracer can see of a kernel build, measured offline from
 * its debuginfo (the inputs of hapvm index): every function with code is
 * classed as traceable (its entry is an ftrace call site listed in
 * __mcount_loc), out of line but not traceable (noinstr, assembler, notrace,
 * init code freed after boot or module load) or inline-only (no out-of-line
 * instance), and every source line with code by where its code lies.  Totals
 * per HAP-L subsystem bucket.  Rules: docs/methodology.md, "What ftrace
 * cannot see". */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "hapvm-kernel.h"

/* Function classes. */
typedef enum {
    HAPVM_VIS_TRACEABLE,   /* out of line, entry in __mcount_loc */
    HAPVM_VIS_NOINSTR,     /* out of line in .noinstr.text / .entry.text / .cpuidle.text */
    HAPVM_VIS_ASM,         /* out of line, from a .S file, no ftrace site */
    HAPVM_VIS_NOTRACE,     /* out of line C without an ftrace site (notrace, -pg removed) */
    HAPVM_VIS_INIT,        /* .init.text (vmlinux: also .exit.text): freed after boot / load */
    HAPVM_VIS_INLINE_ONLY, /* only inlined instances (DW_AT_inline, no concrete out-of-line copy) */
    HAPVM_VIS_NFUNC
} HapvmVisFunc;

/* Line classes: a source line (file, line number) with statement rows goes
 * to the first of these its rows allow. */
typedef enum {
    HAPVM_VIS_LINE_COUNTED, /* in a traceable function, of its own file: HAP-L counts it */
    HAPVM_VIS_LINE_INLINED, /* only inlined from another file into traceable functions: run, not counted */
    HAPVM_VIS_LINE_NOINSTR, /* otherwise: only in non-traceable code, by reason */
    HAPVM_VIS_LINE_ASM,
    HAPVM_VIS_LINE_NOTRACE,
    HAPVM_VIS_LINE_INIT,
    HAPVM_VIS_NLINE
} HapvmVisLine;

typedef struct {
    const char *name;              /* subsystem bucket, or "all" */
    guint functions[HAPVM_VIS_NFUNC];
    guint64 lines[HAPVM_VIS_NLINE];
} HapvmVisBucket;

typedef struct {
    const char *module;            /* "vmlinux" or the module name */
    guint functions;               /* out-of-line functions with line info (records) */
    guint traceable;               /* of those, with an ftrace site */
    guint mcount_entries;          /* __mcount_loc entries */
    guint mcount_outside;          /* entries in no function symbol */
    guint mcount_shared;           /* entries in a function that already had one */
    guint mcount_init;             /* entries in init code */
} HapvmVisObject;

typedef struct HapvmVisibility HapvmVisibility;

/* Read the vmlinux and modules of debuginfo (NULL = /usr/lib/debug; the
 * layouts hapvm_line_index_open accepts).  kernel->build_id NULL accepts the
 * vmlinux's own.  Errors: HAPVM_ERROR_NO_DEBUGINFO, HAPVM_ERROR_BUILD_ID_MISMATCH,
 * HAPVM_ERROR_PARSE. */
HapvmVisibility *hapvm_visibility_measure(const HapvmKernelInfo *kernel, const char *debuginfo,
                                          GError **error);
void hapvm_visibility_free(HapvmVisibility *vis);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmVisibility, hapvm_visibility_free)

/* Buckets sorted by name, and the whole kernel. */
const HapvmVisBucket *hapvm_visibility_buckets(const HapvmVisibility *vis, guint *n);
const HapvmVisBucket *hapvm_visibility_total(const HapvmVisibility *vis);
const HapvmVisBucket *hapvm_visibility_bucket(const HapvmVisibility *vis, const char *name);
const HapvmVisObject *hapvm_visibility_objects(const HapvmVisibility *vis, guint *n);
const char *hapvm_visibility_build_id(const HapvmVisibility *vis);
double hapvm_visibility_seconds(const HapvmVisibility *vis);

/* Class of an out-of-line function symbol (module NULL = vmlinux; the first
 * symbol of that name by address; a .cold part or alias gives its
 * function's class).  FALSE when there is no such function with line info. */
gboolean hapvm_visibility_function(const HapvmVisibility *vis, const char *module, const char *name,
                                   HapvmVisFunc *out);
/* Class of a source line (file relative to the source tree); FALSE when
 * no statement row of the objects read has it. */
gboolean hapvm_visibility_line(const HapvmVisibility *vis, const char *file, guint line, HapvmVisLine *out);
/* Whether a DWARF function name declared in file (relative to the source
 * tree) is inline-only in the objects read. */
gboolean hapvm_visibility_inline_only(const HapvmVisibility *vis, const char *file, const char *name);

/* Shares of a bucket's lines, over its lines that can run after boot
 * (all classes but init): not traceable (noinstr + asm + notrace), and
 * invisible to HAP-L (those plus inlined from another file).  0 when empty. */
double hapvm_vis_bucket_untraceable_share(const HapvmVisBucket *b);
double hapvm_vis_bucket_uncounted_share(const HapvmVisBucket *b);

const char *hapvm_vis_func_name(HapvmVisFunc c);
const char *hapvm_vis_line_name(HapvmVisLine c);

/* One line per function: module ("vmlinux"; "-" for inline-only
 * functions), symbol (DWARF name for inline-only), own file, class. */
void hapvm_visibility_list(const HapvmVisibility *vis, FILE *out);
/* Text table (buckets: NULL = all) and the JSON object of docs/hapvm-index.md. */
void hapvm_visibility_print(const HapvmVisibility *vis, const char *const *buckets, FILE *out);
JsonNode *hapvm_visibility_to_json(const HapvmVisibility *vis, const HapvmKernelInfo *kernel);

/* Kernel text symbols from /proc/kallsyms, resolved by address range.
 *
 * Names alone are ambiguous (a 6.1 kernel has thousands of .isra/.constprop/
 * .part/.cold clones and hundreds of duplicate static names), so lookups go
 * by address: a symbol covers [start, next symbol). */
#pragma once

#include <glib.h>

typedef struct HapvmKsyms HapvmKsyms;

typedef struct {
    const char *name;
    const char *module; /* NULL = vmlinux */
    guint64 start;
    guint64 end;        /* next symbol's address (any type), exclusive */
    guint dup;          /* rank among symbols of the same (module, name), by address */
} HapvmKsym;

/* Load a kallsyms file (NULL = /proc/kallsyms).  Keeps text symbols
 * (t/T/w/W).  Fails with HAPVM_ERROR_NOT_ROOT when every text address is 0
 * (kptr_restrict, or not root) and HAPVM_ERROR_PARSE on malformed lines.
 * A file that does not parse is read up to 3 times before that error. */
HapvmKsyms *hapvm_ksyms_load(const char *path, GError **error);
/* How many reads of the file were malformed before the one that loaded. */
guint hapvm_ksyms_rereads(const HapvmKsyms *k);
/* Same, from a buffer (the text of a kallsyms file); name is for messages. */
HapvmKsyms *hapvm_ksyms_load_data(const char *data, gsize len, const char *name, GError **error);
void hapvm_ksyms_free(HapvmKsyms *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmKsyms, hapvm_ksyms_free)

/* The symbol whose range holds addr.  Layout markers (_text, _stext, _etext,
 * __entry_text_start, ...) bound ranges but are never returned when a real
 * symbol shares their address.  No allocation.  FALSE for k NULL. */
gboolean hapvm_ksyms_lookup(const HapvmKsyms *k, guint64 addr, HapvmKsym *out);
/* By (module, name, dup); module NULL = vmlinux.  O(log n). */
gboolean hapvm_ksyms_lookup_name(const HapvmKsyms *k, const char *module, const char *name,
                                 guint dup, HapvmKsym *out);
/* Runtime address of vmlinux's _text (else _stext; 0 if neither): the KASLR base. */
guint64 hapvm_ksyms_text(const HapvmKsyms *k);
/* Number of text symbols kept. */
gsize hapvm_ksyms_count(const HapvmKsyms *k);

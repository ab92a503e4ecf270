/* Identity of the running kernel: release and GNU build-id.  Every result
 * carries both, and debuginfo is accepted only for a matching build-id. */
#pragma once

#include <glib.h>

typedef struct {
    char *release;  /* as uname -r */
    char *build_id; /* lower-case hex of NT_GNU_BUILD_ID */
} HapvmKernelInfo;

void hapvm_kernel_info_free(HapvmKernelInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmKernelInfo, hapvm_kernel_info_free)

/* Read <root>/proc/sys/kernel/osrelease and <root>/sys/kernel/notes.
 * root NULL means "/"; tests pass a fixture tree. */
HapvmKernelInfo *hapvm_kernel_info_read(const char *root, GError **error);

/* Find the GNU build-id in a sequence of ELF notes (the layout of
 * /sys/kernel/notes and of a PT_NOTE segment).  Returns the hex string, or
 * NULL with HAPVM_ERROR_PARSE when the notes are malformed or have none. */
char *hapvm_kernel_notes_build_id(const guint8 *data, gsize len, GError **error);

#include "hapvm-kernel.h"

#include <string.h>

#include "hapvm-error.h"

#define NT_GNU_BUILD_ID 3

void
hapvm_kernel_info_free(HapvmKernelInfo *info)
{
    if (!info)
        return;
    g_free(info->release);
    g_free(info->build_id);
    g_free(info);
}

static guint32
read_u32(const guint8 *p)
{
    guint32 v;

    memcpy(&v, p, sizeof(v)); /* notes are in host byte order */
    return v;
}

char *
hapvm_kernel_notes_build_id(const guint8 *data, gsize len, GError **error)
{
    gsize off = 0;

    while (len - off >= 12) {
        guint32 namesz = read_u32(data + off);
        guint32 descsz = read_u32(data + off + 4);
        guint32 type = read_u32(data + off + 8);
        gsize name_pad = ((gsize)namesz + 3) & ~(gsize)3;
        gsize desc_pad = ((gsize)descsz + 3) & ~(gsize)3;
        const guint8 *name = data + off + 12;
        const guint8 *desc = name + name_pad;

        if (name_pad > len - off - 12 || desc_pad > len - off - 12 - name_pad) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                        "kernel notes: note at offset %zu overruns the %zu-byte buffer", off, len);
            return NULL;
        }
        if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(name, "GNU", 4) == 0) {
            if (descsz == 0) {
                g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE,
                            "kernel notes: empty GNU build-id");
                return NULL;
            }
            GString *hex = g_string_sized_new(descsz * 2);
            for (guint32 i = 0; i < descsz; i++)
                g_string_append_printf(hex, "%02x", desc[i]);
            return g_string_free(hex, FALSE);
        }
        off += 12 + name_pad + desc_pad;
    }
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "kernel notes: no GNU build-id note");
    return NULL;
}

HapvmKernelInfo *
hapvm_kernel_info_read(const char *root, GError **error)
{
    g_autoptr(HapvmKernelInfo) info = g_new0(HapvmKernelInfo, 1);
    g_autofree char *rel_path = g_build_filename(root ? root : "/", "proc/sys/kernel/osrelease", NULL);
    g_autofree char *notes_path = g_build_filename(root ? root : "/", "sys/kernel/notes", NULL);
    g_autofree char *notes = NULL;
    gsize notes_len = 0;

    if (!g_file_get_contents(rel_path, &info->release, NULL, error))
        return NULL;
    g_strstrip(info->release);
    if (!g_file_get_contents(notes_path, &notes, &notes_len, error)) {
        g_prefix_error(error, "cannot read the kernel build-id: ");
        return NULL;
    }
    info->build_id = hapvm_kernel_notes_build_id((const guint8 *)notes, notes_len, error);
    if (!info->build_id) {
        g_prefix_error(error, "%s: ", notes_path);
        return NULL;
    }
    return g_steal_pointer(&info);
}

/* hapvm list: running libvirt domains and what hapvm would trace of each. */
#include <stdio.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-kvm-target.h"

int
hapvm_cmd_list(int argc, char **argv, GError **error)
{
    g_autofree char *uri = NULL;
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default: as virsh)", "URI" },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

    g_option_context_set_summary(ctx, "List running QEMU/KVM domains with their QEMU pid and tasks by role.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, error)) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    if (argc > 1) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unexpected argument '%s'", argv[1]);
        return -1;
    }
    return hapvm_kvm_list(uri, NULL, stdout, error) ? 0 : -1;
}

/* hapvm results: the results hapvmd stored, per domain. */
#include <stdio.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-store.h"

int
hapvm_cmd_results(int argc, char **argv, GError **error)
{
    g_autofree char *dir = NULL;
    gboolean paths = FALSE;
    GOptionEntry entries[] = {
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir, "result store (default " HAPVM_STORE_DEFAULT_DIR ")", "DIR" },
        { "paths", 0, 0, G_OPTION_ARG_NONE, &paths, "print only the files, newest last", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("[DOMAIN|UUID]");
    g_option_context_set_summary(ctx, "List the results hapvmd stored; `hapvm report FILE` shows one.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, error) || argc > 2) {
        if (!*error)
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unexpected argument '%s'", argv[2]);
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    const char *filter = argc > 1 ? argv[1] : NULL;
    const char *d = dir ? dir : HAPVM_STORE_DEFAULT_DIR;
    guint skipped = 0;
    g_autoptr(GError) e = NULL;
    g_autoptr(GPtrArray) list = hapvm_store_list(d, filter, &skipped, &e);
    if (!list) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot read the result store: %s (hapvmd stores "
                    "results there; --dir for another place)", e->message);
        return -1;
    }
    if (skipped)
        g_printerr("hapvm results: %u unreadable file(s) skipped\n", skipped);
    if (filter && !list->len) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN, "no results for '%s' in %s", filter, d);
        return -1;
    }
    if (!paths)
        printf("%-18s %-20s %-36s %7s %8s %8s  %-s\n", "WHEN", "DOMAIN", "UUID", "HAP-F", "HAP-L", "HAP", "NOTE");
    for (guint i = 0; i < list->len; i++) {
        HapvmStoreEntry *x = list->pdata[i];
        if (paths) {
            printf("%s\n", x->path);
            continue;
        }
        char hl[32] = "n/a", h[32] = "n/a", hf[32] = "n/a";
        if (x->hap_f >= 0)
            g_snprintf(hf, sizeof hf, "%" G_GINT64_FORMAT, x->hap_f);
        if (x->hap_l >= 0)
            g_snprintf(hl, sizeof hl, "%" G_GINT64_FORMAT, x->hap_l);
        if (x->hap >= 0)
            g_snprintf(h, sizeof h, "%.2f", x->hap);
        g_autofree char *note = g_strdup_printf("%s%s%s", x->end_reason ? x->end_reason : "",
                                                x->partial ? ", partial" : "", x->complete ? "" : ", LOST EVENTS");
        /* Names are the user's bytes: shown escaped, one line per result. */
        g_autofree char *name = g_strescape(x->domain ? x->domain : "?", NULL);
        printf("%-18s %-20s %-36s %7s %8s %8s  %s\n", x->stamp, name, x->uuid, hf, hl, h, note);
    }
    if (!paths)
        printf("%u result(s) in %s\n", list->len, d);
    return 0;
}

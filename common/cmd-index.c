/* hapvm index: build (or check) the line index ahead of time, so that the
 * first measurement does not pay for reading the kernel's DWARF. */
#include <stdio.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-kernel.h"
#include "hapvm-lineindex.h"
#include "hapvm-result.h"
#include "hapvm-visibility.h"

static int
index_visibility(const HapvmKernelInfo *kernel, const char *debuginfo, const char *const *subsystems,
                 gboolean list, const char *json, GError **error)
{
    g_autoptr(HapvmVisibility) vis = hapvm_visibility_measure(kernel, debuginfo, error);

    if (!vis)
        return -1;
    if (list) {
        hapvm_visibility_list(vis, stdout);
        return 0;
    }
    printf("kernel:     %s\n", kernel->release);
    hapvm_visibility_print(vis, subsystems, stdout);
    printf("read in %.1f s\n", hapvm_visibility_seconds(vis));
    if (json) {
        g_autoptr(JsonNode) node = hapvm_visibility_to_json(vis, kernel);

        if (!hapvm_result_write(node, json, error))
            return -1;
    }
    return 0;
}

int
hapvm_cmd_index(int argc, char **argv, GError **error)
{
    g_autofree char *debuginfo = NULL;
    g_autofree char *cache = NULL;
    g_autofree char *release = NULL;
    g_autofree char *build_id = NULL;
    gboolean rebuild = FALSE;
    gboolean dump = FALSE;
    gboolean visibility = FALSE;
    g_autofree char *json = NULL;
    g_auto(GStrv) subsystems = NULL;
    gboolean list = FALSE;
    const GOptionEntry entries[] = {
        { "debuginfo", 0, 0, G_OPTION_ARG_FILENAME, &debuginfo,
          "debuginfo: a dir laid out like /usr/lib/debug (default), a dir of vmlinux + .ko, or a vmlinux",
          "PATH" },
        { "cache", 0, 0, G_OPTION_ARG_FILENAME, &cache, "index cache dir (default /var/cache/hapvm/index)",
          "DIR" },
        { "release", 0, 0, G_OPTION_ARG_STRING, &release,
          "index this kernel release instead of the running kernel's", "R" },
        { "build-id", 0, 0, G_OPTION_ARG_STRING, &build_id,
          "with --release: the build-id the debuginfo must have (default: accept its own)", "HEX" },
        { "rebuild", 0, 0, G_OPTION_ARG_NONE, &rebuild, "rebuild even if the cache is valid", NULL },
        { "dump", 0, 0, G_OPTION_ARG_NONE, &dump,
          "print every symbol's record (module, symbol, dup, file, lines, subsystem, record owner) as TSV",
          NULL },
        { "visibility", 0, 0, G_OPTION_ARG_NONE, &visibility,
          "report what ftrace cannot see (noinstr, asm, notrace, init, inline-only) per subsystem, from the "
          "debuginfo alone (no cache)", NULL },
        { "subsystem", 0, 0, G_OPTION_ARG_STRING_ARRAY, &subsystems,
          "with --visibility: print only these subsystems (repeatable; default all)", "S" },
        { "list", 0, 0, G_OPTION_ARG_NONE, &list,
          "with --visibility: print every function's class instead (TSV: module, symbol, file, class)", NULL },
        { "json", 0, 0, G_OPTION_ARG_FILENAME, &json, "with --visibility: also write the figures as JSON", "FILE" },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- build the kernel line index (HAP-L)");
    g_autoptr(HapvmKernelInfo) kernel = NULL;
    g_autoptr(HapvmLineIndex) idx = NULL;
    HapvmLineIndexStats st;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Reads the kernel's DWARF once and caches, per build-id, each\n"
                                      "function's source file, own-line count and subsystem.");
    if (!g_option_context_parse(ctx, &argc, &argv, error)) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    if (argc > 1) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unexpected argument '%s'", argv[1]);
        return -1;
    }
    if (build_id && !release) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--build-id needs --release");
        return -1;
    }
    if ((json || subsystems || list) && !visibility) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "--json, --list and --subsystem go with --visibility");
        return -1;
    }
    if (visibility && (dump || rebuild || cache)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                    "--visibility reads the debuginfo itself: --dump, --rebuild and --cache do not apply");
        return -1;
    }
    if (release) {
        kernel = g_new0(HapvmKernelInfo, 1);
        kernel->release = g_steal_pointer(&release);
        kernel->build_id = g_steal_pointer(&build_id);
    } else if (!(kernel = hapvm_kernel_info_read(NULL, error))) {
        return -1;
    }
    if (visibility)
        return index_visibility(kernel, debuginfo, (const char *const *)subsystems, list, json, error);
    idx = rebuild ? hapvm_line_index_rebuild(kernel, debuginfo, cache, error)
                  : hapvm_line_index_open(kernel, debuginfo, cache, error);
    if (!idx)
        return -1;
    hapvm_line_index_get_stats(idx, &st);
    if (dump) {
        hapvm_line_index_dump(idx, stdout);
        return 0;
    }
    printf("kernel:     %s (build-id %s)\n", st.release, st.build_id);
    printf("debuginfo:  %s\n", st.vmlinux ? st.vmlinux : "(not present; cached index used)");
    printf("indexed:    vmlinux + %u modules, %u compile units\n", st.modules, st.cus);
    printf("functions:  %u with line info, %u without (asm, stubs)\n", st.functions, st.no_lines);
    printf("lines:      %" G_GUINT64_FORMAT " (own-file source lines, summed over functions)\n", st.lines);
    if (st.cache_path)
        printf("cache:      %s (%.1f MB)\n", st.cache_path, st.file_size / 1e6);
    else
        printf("cache:      not written (cache dir not writable); index kept in memory only\n");
    printf("%s in %.1f ms\n", st.from_cache ? "loaded" : "built", st.seconds * 1e3);
    return 0;
}

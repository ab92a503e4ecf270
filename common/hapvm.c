/* hapvm: command-line front end.  One function per subcommand behind a
 * dispatch table, as trace-cmd does. */
#include <stdio.h>
#include <string.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"
#include "hapvm-kernel.h"

typedef int (*HapvmCommandFunc)(int argc, char **argv, GError **error);

typedef struct {
    const char *name;
    HapvmCommandFunc func;
    const char *summary;
} HapvmCommand;

static int
cmd_version(int argc, char **argv, GError **error)
{
    printf("hapvm %s\n", HAPVM_VERSION);
    return 0;
}

static int
cmd_info(int argc, char **argv, GError **error)
{
    g_autoptr(HapvmKernelInfo) k = hapvm_kernel_info_read(NULL, error);

    if (!k)
        return -1;
    printf("kernel release:  %s\n", k->release);
    printf("kernel build-id: %s\n", k->build_id);
    return 0;
}

static const HapvmCommand commands[] = {
    { "index", hapvm_cmd_index, "build the kernel line index (HAP-L) from debuginfo" },
    { "list", hapvm_cmd_list, "list running QEMU/KVM domains and their tasks by role" },
    { "measure", hapvm_cmd_measure, "measure the HAP of a VM, process, cgroup or command" },
    { "baseline", hapvm_cmd_baseline, "record an idle target, to subtract with --baseline" },
    { "report", hapvm_cmd_report, "print the summary of a result file" },
    { "results", hapvm_cmd_results, "list the results hapvmd stored, per domain" },
    { "status", hapvm_cmd_status, "show what hapvmd is measuring now" },
    { "compare", hapvm_cmd_compare, "compare results: scores, roles, entry points, function sets" },
    { "aggregate", hapvm_cmd_aggregate, "mean and sd of repeated runs, their union function set" },
    { "import", hapvm_cmd_import, "score a trace-cmd recording (trace.dat) as measure does" },
    { "info", cmd_info, "show the running kernel's release and build-id" },
    { "version", cmd_version, "print hapvm's version" },
    { "fleet", hapvm_cmd_fleet, "rank and group many stored results (by label, VMs vs containers)" },
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: hapvm COMMAND [ARGS...]\n\ncommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (commands[i].func(argc - 1, argv + 1, &error) == 0)
            return 0;
        if (error)
            fprintf(stderr, "hapvm %s: %s\n", argv[1], error->message);
        return error ? hapvm_error_exit_code(error) : 1;
    }
    fprintf(stderr, "hapvm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

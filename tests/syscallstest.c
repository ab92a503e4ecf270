/* x86-64 system-call names and numbers (common/hapvm-syscall-names.c is
 * generated from the UAPI header): checked against this machine's own
 * <asm/unistd_64.h>, and both directions against each other. */
#include <asm/unistd_64.h>

#include "hapvm-syscalls.h"

static void
test_known(void)
{
    g_assert_cmpstr(hapvm_syscall_name(__NR_read), ==, "read");
    g_assert_cmpstr(hapvm_syscall_name(__NR_getppid), ==, "getppid");
    g_assert_cmpstr(hapvm_syscall_name(__NR_sysinfo), ==, "sysinfo");
    g_assert_cmpint(hapvm_syscall_nr("read"), ==, __NR_read);
    g_assert_cmpint(hapvm_syscall_nr("getppid"), ==, __NR_getppid);
    g_assert_cmpint(hapvm_syscall_nr("sysinfo"), ==, __NR_sysinfo);
    g_assert_cmpint(hapvm_syscall_nr("umount2"), ==, __NR_umount2);
    g_assert_cmpint(hapvm_syscall_nr("futex_waitv"), ==, __NR_futex_waitv);
}

static void
test_unknown(void)
{
    g_assert_null(hapvm_syscall_name(-1));
    g_assert_null(hapvm_syscall_name(100000));
    g_assert_cmpint(hapvm_syscall_nr("ni_syscall"), ==, -1);
    g_assert_cmpint(hapvm_syscall_nr("newfstat"), ==, -1); /* the kernel's name, not the UAPI one */
    g_assert_cmpint(hapvm_syscall_nr(""), ==, -1);
}

static void
test_round_trip(void)
{
    guint named = 0;

    for (gint64 nr = 0; nr < 1024; nr++) {
        const char *name = hapvm_syscall_name(nr);
        if (!name)
            continue;
        named++;
        g_assert_cmpint(hapvm_syscall_nr(name), ==, nr);
    }
    g_assert_cmpuint(named, >, 350);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/syscalls/known", test_known);
    g_test_add_func("/syscalls/unknown", test_unknown);
    g_test_add_func("/syscalls/round-trip", test_round_trip);
    return g_test_run();
}

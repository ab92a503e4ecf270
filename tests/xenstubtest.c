/* The system interface of a build without the meson feature `xen`
 * (xen/hapvm-xen-sys-stub.c, linked here whatever the build has). */
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-xen-domain.h"

static void
test_stub(void)
{
    g_autoptr(GError) error = NULL;

    g_assert_false(hapvm_xen_sys_available());
    g_assert_null(hapvm_xen_sys_open(&error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED);
    g_assert_true(g_str_has_prefix(error->message, "this hapvm was built without Xen support: "));
    /* The fix is in the message. */
    g_assert_nonnull(strstr(error->message, "libxen-dev"));
    g_assert_nonnull(strstr(error->message, "-Dxen=enabled"));
    g_assert_cmpint(hapvm_error_exit_code(error), ==, 1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen/stub/built-without-xen", test_stub);
    return g_test_run();
}

/* Kernel identity: release and GNU build-id from /sys/kernel/notes. */
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-kernel.h"

/* tests/data/kernel/debian-6.1.0-56 holds /proc/sys/kernel/osrelease and
 * /sys/kernel/notes read inside the lab host.  The expected id was taken
 * independently: the vmlinux inside Debian's vmlinuz-6.1.0-56-amd64
 * (xz-decompressed) and `readelf -n` on it. */
#define LAB_BUILD_ID "eb4fbcd037e7253717950bf2b93bd5566f47c56f"

static char *
fixture_root(void)
{
    return g_test_build_filename(G_TEST_DIST, "data", "kernel", "debian-6.1.0-56", NULL);
}

static void
test_fixture(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *root = fixture_root();
    g_autoptr(HapvmKernelInfo) k = hapvm_kernel_info_read(root, &error);

    g_assert_no_error(error);
    g_assert_nonnull(k);
    g_assert_cmpstr(k->release, ==, "6.1.0-56-amd64");
    g_assert_cmpstr(k->build_id, ==, LAB_BUILD_ID);
}

static void
test_truncated(void)
{
    g_autofree char *root = fixture_root();
    g_autofree char *path = g_build_filename(root, "sys", "kernel", "notes", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    gsize found_at = 0;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    /* Every prefix: either the build-id (only once its note is complete) or a
     * clean error.  Exact-size copies let ASan catch any over-read. */
    for (gsize n = 0; n <= len; n++) {
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *copy = g_memdup2(data, n ? n : 1);
        g_autofree char *id = hapvm_kernel_notes_build_id(copy, n, &error);

        if (id) {
            g_assert_no_error(error);
            g_assert_cmpstr(id, ==, LAB_BUILD_ID);
            if (!found_at)
                found_at = n;
        } else {
            g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
            g_assert_cmpuint(found_at, ==, 0);
        }
    }
    /* The build-id note is not the first one in this kernel's notes. */
    g_assert_cmpuint(found_at, >, 12 + 4 + 20);
    g_assert_cmpuint(found_at, <=, len);
}

static void
test_no_build_id(void)
{
    /* One "Xen" note of type 6 and one GNU note of another type (1: ABI tag). */
    static const guint8 notes[] = {
        4, 0, 0, 0, 8, 0, 0, 0, 6, 0, 0, 0, 'X', 'e', 'n', 0, 'l', 'i', 'n', 'u', 'x', 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 'G', 'N', 'U', 0, 1, 2, 3, 4,
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *id = hapvm_kernel_notes_build_id(notes, sizeof(notes), &error);

    g_assert_null(id);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "no GNU build-id"));
}

static void
test_huge_sizes(void)
{
    /* namesz near 2^32 must not wrap the bounds check. */
    static const guint8 notes[] = {
        0xfd, 0xff, 0xff, 0xff, 4, 0, 0, 0, 3, 0, 0, 0, 'G', 'N', 'U', 0, 1, 2, 3, 4,
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *id = hapvm_kernel_notes_build_id(notes, sizeof(notes), &error);

    g_assert_null(id);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
}

static void
test_missing_root(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKernelInfo) k = hapvm_kernel_info_read("/nonexistent-hapvm-root", &error);

    g_assert_null(k);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_running_kernel(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKernelInfo) k = hapvm_kernel_info_read(NULL, &error);
    g_autofree char *rel = NULL;

    g_assert_no_error(error);
    g_assert_true(g_file_get_contents("/proc/sys/kernel/osrelease", &rel, NULL, NULL));
    g_assert_cmpstr(k->release, ==, g_strstrip(rel));
    /* Linux links with --build-id=sha1: 20 bytes. */
    g_assert_cmpuint(strlen(k->build_id), ==, 40);
    for (const char *p = k->build_id; *p; p++)
        g_assert_true(g_ascii_isxdigit(*p) && !g_ascii_isupper(*p));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kernel/fixture", test_fixture);
    g_test_add_func("/kernel/truncated", test_truncated);
    g_test_add_func("/kernel/no-build-id", test_no_build_id);
    g_test_add_func("/kernel/huge-sizes", test_huge_sizes);
    g_test_add_func("/kernel/missing-root", test_missing_root);
    g_test_add_func("/kernel/running-kernel", test_running_kernel);
    return g_test_run();
}

/* See labdebuginfo.h. */
#include "labdebuginfo.h"

#include <glib.h>

static char *debuginfo_dir;

const char *
lab_debuginfo(void)
{
    if (!debuginfo_dir) {
        const char *env = g_getenv("HAPVM_TEST_DEBUGINFO");

        if (env) {
            debuginfo_dir = g_strdup(env);
        } else {
            g_autofree char *script = g_test_build_filename(G_TEST_DIST, "lab", "debuginfo", NULL);
            char *argv[] = { script, NULL };
            g_autofree char *out = NULL;
            g_autoptr(GError) error = NULL;
            int status = 0;

            g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, &out, NULL,
                                       &status, &error));
            g_assert_no_error(error);
            g_assert_true(g_spawn_check_wait_status(status, NULL));
            debuginfo_dir = g_strdup(g_strstrip(out));
        }
    }
    return debuginfo_dir;
}

void
lab_debuginfo_free(void)
{
    g_clear_pointer(&debuginfo_dir, g_free);
}

/* See xenfake.h. */
#include "xenfake.h"

#include <string.h>

#include "hapvm-error.h"

static gboolean
fake_list(gpointer self, GArray *out, GError **error)
{
    XenFake *f = self;

    if (f->fail_list) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT, "xc_domain_getinfolist: Operation not permitted");
        return FALSE;
    }
    g_array_append_vals(out, f->infos->data, f->infos->len);
    return TRUE;
}

static char *
fake_read(gpointer self, const char *path, GError **error)
{
    XenFake *f = self;

    if (f->fail_path && strcmp(path, f->fail_path) == 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "xenstore read %s: Connection reset", path);
        return NULL;
    }
    return g_strdup(g_hash_table_lookup(f->store, path));
}

static void
fake_close(gpointer self)
{
    XenFake *f = self;

    if (f->closed)
        *f->closed = TRUE;
    g_array_unref(f->infos);
    g_hash_table_unref(f->store);
    g_free(f);
}

static gboolean
fake_coverage(gpointer self, HapvmXenCoverageOp op, GByteArray *out, GError **error)
{
    XenFake *f = self;

    if (f->coverage != XEN_FAKE_COVERAGE_WORKS) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "this Xen is built without coverage (fake)");
        return FALSE;
    }
    if (op == HAPVM_XEN_COVERAGE_RESET)
        f->cov_resets++;
    if (op == HAPVM_XEN_COVERAGE_READ) {
        f->cov_reads++;
        g_byte_array_append(out, (const guint8 *)"XCOV-data", 9);
    }
    return TRUE;
}

/* Without a coverage operation, to test hapvm_xen_sys_coverage's own
 * answer to a back end that has none. */
static const HapvmXenSysOps fake_ops_no_coverage = { fake_list, fake_read, fake_close, NULL };
static const HapvmXenSysOps fake_ops = { fake_list, fake_read, fake_close, fake_coverage };

HapvmXenSys *
xen_fake_new(const HapvmXenDomInfo *infos, gsize n_infos, const char *const (*kv)[2], gsize n_kv,
             XenFakeCoverage coverage, XenFake **out)
{
    XenFake *f = g_new0(XenFake, 1);

    f->infos = g_array_new(FALSE, FALSE, sizeof(HapvmXenDomInfo));
    g_array_append_vals(f->infos, infos, n_infos);
    f->store = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (gsize i = 0; i < n_kv; i++)
        g_hash_table_insert(f->store, g_strdup(kv[i][0]), g_strdup(kv[i][1]));
    f->coverage = coverage;
    if (out)
        *out = f;
    return hapvm_xen_sys_new(coverage == XEN_FAKE_COVERAGE_ABSENT ? &fake_ops_no_coverage : &fake_ops, f);
}

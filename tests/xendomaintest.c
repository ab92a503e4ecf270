/* Xen domain lookup by name or domid over a fake system interface (what
 * libxenctrl and xenstore would answer), and the real interface's error
 * where there is no Xen. */
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-xen-domain.h"
#include "xenfake.h"

/* dom0, "web" (3, PV, running), "db" (12, HVM, QEMU 2000), "old" (14,
 * dying), "gone" (15, shut down), 16 without a name in xenstore. */
static HapvmXenSys *
fake_sys(XenFake **out)
{
    static const HapvmXenDomInfo infos[] = {
        { .domid = 0, .running = TRUE, .n_online_vcpus = 2 },
        { .domid = 3, .running = TRUE, .n_online_vcpus = 1 },
        { .domid = 12, .blocked = TRUE, .hvm = TRUE, .n_online_vcpus = 2 },
        { .domid = 14, .dying = TRUE },
        { .domid = 15, .shutdown = TRUE, .shutdown_reason = 0 },
        { .domid = 16, .paused = TRUE },
    };
    static const char *const kv[][2] = {
        { "/local/domain/0/name", "Domain-0" },
        { "/local/domain/3/name", "web" },
        { "/local/domain/3/vm", "/vm/3b0e7cb2-6a2c-4a8e-9a57-4ab7c0f5d1e3" },
        { "/local/domain/12/name", "db" },
        { "/local/domain/12/vm", "/vm/0c1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b" },
        { "/local/domain/12/image/device-model-pid", "2000\n" },
        { "/local/domain/14/name", "old" },
        { "/local/domain/15/name", "gone" },
        { "/local/domain/16/image/device-model-pid", "abc" },
    };

    return xen_fake_new(infos, G_N_ELEMENTS(infos), kv, G_N_ELEMENTS(kv), XEN_FAKE_COVERAGE_ABSENT, out);
}

static HapvmXenDomain *
lookup_ok(HapvmXenSys *sys, const char *what)
{
    g_autoptr(GError) error = NULL;
    HapvmXenDomain *d = hapvm_xen_domain_lookup(sys, what, &error);

    g_assert_no_error(error);
    g_assert_nonnull(d);
    return d;
}

static void
lookup_fails(HapvmXenSys *sys, const char *what, int code, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_null(hapvm_xen_domain_lookup(sys, what, &error));
    g_assert_error(error, HAPVM_ERROR, code);
    g_test_message("%s → %s", what, error->message);
    g_assert_nonnull(strstr(error->message, text));
}

static void
test_lookup(void)
{
    g_autoptr(HapvmXenSys) sys = fake_sys(NULL);
    g_autoptr(HapvmXenDomain) web = lookup_ok(sys, "web");
    g_autoptr(HapvmXenDomain) db = lookup_ok(sys, "12");
    g_autoptr(HapvmXenDomain) db2 = lookup_ok(sys, "db");
    g_autoptr(HapvmXenDomain) nameless = lookup_ok(sys, "16");
    g_autoptr(HapvmXenDomain) dom0 = lookup_ok(sys, "0");

    g_assert_cmpuint(web->info.domid, ==, 3);
    g_assert_cmpstr(web->name, ==, "web");
    g_assert_cmpstr(web->uuid, ==, "3b0e7cb2-6a2c-4a8e-9a57-4ab7c0f5d1e3");
    g_assert_cmpuint(web->dm_pid, ==, 0);
    g_assert_false(web->info.hvm);
    g_assert_cmpstr(db->name, ==, "db");
    g_assert_true(db->info.hvm);
    g_assert_cmpuint(db->dm_pid, ==, 2000);
    g_assert_cmpuint(db->info.n_online_vcpus, ==, 2);
    g_assert_cmpuint(db2->info.domid, ==, 12);
    g_assert_null(nameless->name);
    g_assert_cmpuint(nameless->dm_pid, ==, 0); /* "abc" ignored */
    g_assert_true(nameless->info.paused);
    g_assert_cmpstr(dom0->name, ==, "Domain-0");
    /* Like xl: all digits is a domid, even with leading zeros. */
    g_autoptr(HapvmXenDomain) web2 = lookup_ok(sys, "003");
    g_assert_cmpuint(web2->info.domid, ==, 3);
    /* The UUID libxl keeps in /local/domain/<id>/vm (what hapvmd passes),
     * in either case. */
    g_autoptr(HapvmXenDomain) db3 = lookup_ok(sys, "0c1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b");
    g_assert_cmpuint(db3->info.domid, ==, 12);
    g_autoptr(HapvmXenDomain) web3 = lookup_ok(sys, "3B0E7CB2-6A2C-4A8E-9A57-4AB7C0F5D1E3");
    g_assert_cmpuint(web3->info.domid, ==, 3);
    /* No coverage operation in this back end: an error, not a crash. */
    g_autoptr(GError) e = NULL;
    g_assert_false(hapvm_xen_sys_coverage(sys, HAPVM_XEN_COVERAGE_SIZE, NULL, &e));
    g_assert_error(e, HAPVM_ERROR, HAPVM_ERROR_FAILED);
}

static void
test_lookup_errors(void)
{
    XenFake *f;
    g_autoptr(HapvmXenSys) sys = fake_sys(&f);

    lookup_fails(sys, "nosuch", HAPVM_ERROR_NO_DOMAIN, "no Xen domain named 'nosuch'");
    lookup_fails(sys, "0c1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5c", HAPVM_ERROR_NO_DOMAIN, "or with that UUID");
    lookup_fails(sys, "99", HAPVM_ERROR_NO_DOMAIN, "no Xen domain with domid 99");
    lookup_fails(sys, "40000", HAPVM_ERROR_USAGE, "not a Xen domain id");
    lookup_fails(sys, "99999999999999999999", HAPVM_ERROR_USAGE, "not a Xen domain id");
    lookup_fails(sys, "", HAPVM_ERROR_USAGE, "give a domain name or domid");
    lookup_fails(sys, NULL, HAPVM_ERROR_USAGE, "give a domain name or domid");
    lookup_fails(sys, "old", HAPVM_ERROR_NOT_RUNNING, "is dying");
    lookup_fails(sys, "14", HAPVM_ERROR_NOT_RUNNING, "(domid 14) is dying");
    lookup_fails(sys, "gone", HAPVM_ERROR_NOT_RUNNING, "shut down");
    lookup_fails(sys, "Web", HAPVM_ERROR_NO_DOMAIN, "'Web'");  /* names are case-sensitive */
    /* Two live domains with one name; a dying one is passed over. */
    g_hash_table_insert(f->store, g_strdup("/local/domain/16/name"), g_strdup("web"));
    lookup_fails(sys, "web", HAPVM_ERROR_USAGE, "domids 3 and 16");
    g_hash_table_insert(f->store, g_strdup("/local/domain/16/name"), g_strdup("old"));
    g_autoptr(HapvmXenDomain) old = lookup_ok(sys, "old");
    g_assert_cmpuint(old->info.domid, ==, 16);
    /* Back-end errors come through unchanged. */
    f->fail_path = "/local/domain/3/vm";
    lookup_fails(sys, "db", HAPVM_ERROR_FAILED, "Connection reset");
    lookup_fails(sys, "3", HAPVM_ERROR_FAILED, "/local/domain/3/vm");
    f->fail_path = NULL;
    f->fail_list = TRUE;
    lookup_fails(sys, "web", HAPVM_ERROR_NOT_ROOT, "not permitted");
}

static void
test_list(void)
{
    gboolean closed = FALSE;
    XenFake *f;
    HapvmXenSys *sys = fake_sys(&f);
    g_autoptr(GError) error = NULL;

    f->closed = &closed;
    g_autoptr(GPtrArray) all = hapvm_xen_domain_list(sys, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(all->len, ==, 6);
    g_assert_cmpstr(((HapvmXenDomain *)all->pdata[2])->name, ==, "db");
    g_assert_cmpuint(((HapvmXenDomain *)all->pdata[2])->dm_pid, ==, 2000);
    f->fail_list = TRUE;
    g_assert_null(hapvm_xen_domain_list(sys, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT);
    hapvm_xen_sys_free(sys);
    g_assert_true(closed);
}

/* The interface this build links: on a host that is no Xen dom0, opening
 * it fails with a message naming the cause (or, built without Xen, says
 * so). */
static void
test_real_sys(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmXenSys) sys = NULL;

    if (hapvm_xen_sys_available() && g_file_test("/dev/xen/privcmd", G_FILE_TEST_EXISTS)) {
        g_test_skip("this host is a Xen dom0: the lab tests the real interface");
        return;
    }
    sys = hapvm_xen_sys_open(&error);
    g_assert_null(sys);
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    if (hapvm_xen_sys_available()) {
        g_assert_true(error->code == HAPVM_ERROR_FAILED || error->code == HAPVM_ERROR_NOT_ROOT);
        g_assert_nonnull(strstr(error->message, "Xen"));
        if (error->code == HAPVM_ERROR_FAILED)
            g_assert_nonnull(strstr(error->message, "must run in a Xen dom0"));
    } else {
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED);
        g_assert_nonnull(strstr(error->message, "built without Xen support"));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen/domain/lookup", test_lookup);
    g_test_add_func("/xen/domain/lookup-errors", test_lookup_errors);
    g_test_add_func("/xen/domain/list", test_list);
    g_test_add_func("/xen/domain/real-sys", test_real_sys);
    return g_test_run();
}

/* Xen dom0 task discovery on fake /proc trees (tests/data/xen/README.md):
 * thread-name rules with full (Linux >= 5.17) and cut (older) names, three
 * domains at once without cross-attribution, device models and shared
 * services. */
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-xen.h"

static char *
tree(const char *name)
{
    return g_test_build_filename(G_TEST_DIST, "data", "xen", name, NULL);
}

/* ---- names ---------------------------------------------------------- */

typedef struct {
    const char *comm;
    gboolean ok;
    guint domid;
    HapvmXenTaskKind kind;
} NameCase;

static void
test_classify(void)
{
    static const NameCase cases[] = {
        /* Full names (Linux 6.1 /proc of a kthread). */
        { "3.xvda-0", TRUE, 3, HAPVM_XEN_TASK_BLKBACK },
        { "12.xvdb-3", TRUE, 12, HAPVM_XEN_TASK_BLKBACK },
        { "32751.xvda-0", TRUE, 32751, HAPVM_XEN_TASK_BLKBACK },
        { "3.my-disk-1", TRUE, 3, HAPVM_XEN_TASK_BLKBACK },        /* '-' in the device name */
        { "3.averyverylong-0", TRUE, 3, HAPVM_XEN_TASK_BLKBACK },  /* 17 characters */
        { "blkback.7.xvda", TRUE, 7, HAPVM_XEN_TASK_BLKBACK },     /* before Linux 4.6 */
        { "vif3.0-q0-guest-rx", TRUE, 3, HAPVM_XEN_TASK_NETBACK_RX },
        { "vif3.0-q0-dealloc", TRUE, 3, HAPVM_XEN_TASK_NETBACK_DEALLOC },
        { "vif31.2-q15-guest-rx", TRUE, 31, HAPVM_XEN_TASK_NETBACK_RX },
        { "napi/vif3.0-8193", TRUE, 3, HAPVM_XEN_TASK_NAPI },
        /* Cut to 15 characters (kernels before 5.17, or any comm). */
        { "vif3.0-q0-guest", TRUE, 3, HAPVM_XEN_TASK_NETBACK_RX },
        { "vif3.0-q0-deall", TRUE, 3, HAPVM_XEN_TASK_NETBACK_DEALLOC },
        { "vif12.0-q0-gues", TRUE, 12, HAPVM_XEN_TASK_NETBACK_RX },
        { "vif123.0-q0-dea", TRUE, 123, HAPVM_XEN_TASK_NETBACK_DEALLOC },
        { "vif1234.0-q10-g", TRUE, 1234, HAPVM_XEN_TASK_NETBACK_RX },
        { "vif12345.10-q10", TRUE, 12345, HAPVM_XEN_TASK_NETBACK },  /* kind lost */
        { "vif12345.10-q1-", TRUE, 12345, HAPVM_XEN_TASK_NETBACK },
        { "vif12345.100-q1", TRUE, 12345, HAPVM_XEN_TASK_NETBACK },
        { "vif12345.123456", TRUE, 12345, HAPVM_XEN_TASK_NETBACK },  /* handle cut */
        { "napi/vif3.0-819", TRUE, 3, HAPVM_XEN_TASK_NAPI },
        { "napi/vif31.0-81", TRUE, 31, HAPVM_XEN_TASK_NAPI },
        { "napi/vif12345.1", TRUE, 12345, HAPVM_XEN_TASK_NAPI },
        { "3.averyverylong", TRUE, 3, HAPVM_XEN_TASK_BLKBACK },    /* ring cut off */
        { "blkback.7.xvdab", TRUE, 7, HAPVM_XEN_TASK_BLKBACK },
        /* Not backends. */
        { "vif3.0-q0-guest-tx", FALSE, 0, 0 },
        { "vif3.0-q0-gues", FALSE, 0, 0 },     /* 14: not cut, so incomplete */
        { "vif3.0-q0-", FALSE, 0, 0 },
        { "vif3.0", FALSE, 0, 0 },
        { "vif3", FALSE, 0, 0 },
        { "vif.0-q0-dealloc", FALSE, 0, 0 },
        { "vifx.0-q0-dealloc", FALSE, 0, 0 },
        { "vif3.0-x0-dealloc", FALSE, 0, 0 },
        { "vif3.0-q0-deallocx", FALSE, 0, 0 },
        { "vif40000.0-q0-dealloc", FALSE, 0, 0 }, /* above the last guest domid */
        { "99999.xvda-0", FALSE, 0, 0 },
        { "3.xvda", FALSE, 0, 0 },             /* no ring and not cut */
        { "3.xvda-", FALSE, 0, 0 },
        { "3.xvda-0x", FALSE, 0, 0 },
        { "3.", FALSE, 0, 0 },
        { "3", FALSE, 0, 0 },
        { "3x.xvda-0", FALSE, 0, 0 },
        { "blkback.x.xvda", FALSE, 0, 0 },
        { "blkback.7", FALSE, 0, 0 },
        { "blkback.7.", FALSE, 0, 0 },
        { "napi/eth0-8193", FALSE, 0, 0 },
        { "napi/vif3.0-81x", FALSE, 0, 0 },
        { "napi/vif3.0", FALSE, 0, 0 },
        { "kworker/3:1", FALSE, 0, 0 },
        { "xenwatch", FALSE, 0, 0 },
        { "", FALSE, 0, 0 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint domid = 777;
        HapvmXenTaskKind kind = (HapvmXenTaskKind)99;
        gboolean ok = hapvm_xen_classify_kthread(cases[i].comm, &domid, &kind);

        g_test_message("'%s'", cases[i].comm);
        g_assert_cmpint(ok, ==, cases[i].ok);
        if (!ok)
            continue;
        g_assert_cmpuint(domid, ==, cases[i].domid);
        g_assert_cmpint(kind, ==, cases[i].kind);
    }
}

/* ---- /proc ---------------------------------------------------------- */

typedef struct {
    guint32 tid;
    HapvmRole role;
    HapvmXenTaskKind kind;
} Want;

static void
check_tasks(const GArray *got, const Want *want, guint n, int domid)
{
    for (guint i = 0; i < got->len; i++) {
        const HapvmXenTask *t = &g_array_index(got, HapvmXenTask, i);
        g_test_message("got %u %s %s '%s'", t->tid, hapvm_role_name(t->role), hapvm_xen_task_kind_name(t->kind),
                       t->comm);
    }
    g_assert_cmpuint(got->len, ==, n);
    for (guint i = 0; i < n; i++) {
        const HapvmXenTask *t = &g_array_index(got, HapvmXenTask, i);
        g_assert_cmpuint(t->tid, ==, want[i].tid);
        g_assert_cmpint(t->role, ==, want[i].role);
        g_assert_cmpint(t->kind, ==, want[i].kind);
        g_assert_cmpint(t->domid, ==, want[i].role == HAPVM_ROLE_SHARED ? -1 : domid);
    }
}

#define BB HAPVM_ROLE_BACKEND, HAPVM_XEN_TASK_BLKBACK
#define RX HAPVM_ROLE_BACKEND, HAPVM_XEN_TASK_NETBACK_RX
#define DA HAPVM_ROLE_BACKEND, HAPVM_XEN_TASK_NETBACK_DEALLOC
#define NB HAPVM_ROLE_BACKEND, HAPVM_XEN_TASK_NETBACK
#define NAPI HAPVM_ROLE_BACKEND, HAPVM_XEN_TASK_NAPI
#define DM HAPVM_ROLE_EMULATOR, HAPVM_XEN_TASK_DEVICE_MODEL
#define SH(k) HAPVM_ROLE_SHARED, HAPVM_XEN_TASK_##k

/* Domain 3's own tasks; the same in both trees (proc-5.10 only has cut
 * names). */
static const Want dom3[] = {
    { 500, BB }, { 501, BB }, { 502, BB }, { 505, BB },
    { 510, RX }, { 511, DA }, { 512, RX }, { 513, DA }, { 520, NAPI },
    { 2100, DM }, { 2101, DM },
};

static void
scan_ok(const char *name, guint domid, const HapvmXenScanHints *hints, GArray *out)
{
    g_autofree char *root = tree(name);
    g_autoptr(GError) error = NULL;

    g_assert_true(hapvm_xen_scan_tasks(root, domid, hints, out, &error));
    g_assert_no_error(error);
}

static void
test_scan_dom3(gconstpointer data)
{
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    scan_ok(data, 3, NULL, got);
    check_tasks(got, dom3, G_N_ELEMENTS(dom3), 3);
}

static void
test_scan_dom12_shared(void)
{
    static const Want want[] = {
        { 30, SH(XENBUS) }, { 31, SH(XENBUS) },
        { 400, SH(XENSTORED) }, { 401, SH(XENSTORED) }, { 410, SH(XENCONSOLED) },
        { 420, SH(QDISK_DOM0) }, { 421, SH(QDISK_DOM0) }, { 422, SH(QDISK_DOM0) },
        { 503, BB }, { 514, RX }, { 515, DA },
        { 2000, DM }, { 2001, DM }, { 2002, DM },
    };
    HapvmXenScanHints hints = { .shared = TRUE };
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    scan_ok("proc-6.1", 12, &hints, got);
    check_tasks(got, want, G_N_ELEMENTS(want), 12);
    /* The comms are /proc's: full kthread names, QEMU's cut. */
    g_assert_cmpstr(g_array_index(got, HapvmXenTask, 10).comm, ==, "vif12.0-q0-dealloc");
    g_assert_cmpstr(g_array_index(got, HapvmXenTask, 11).comm, ==, "qemu-system-i38");
    g_assert_cmpuint(g_array_index(got, HapvmXenTask, 12).pid, ==, 2000);
}

/* Three domains at once (3, 12 and 31, whose name starts like 3's): each
 * backend kthread of the tree goes to exactly one of them. */
static void
test_no_cross_attribution(gconstpointer data)
{
    static const guint doms[] = { 3, 12, 31, 13, 1 };
    g_autoptr(GHashTable) owner = g_hash_table_new(NULL, NULL);
    guint n_backends = 0;

    for (guint i = 0; i < G_N_ELEMENTS(doms); i++) {
        g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
        scan_ok(data, doms[i], NULL, got);
        if (doms[i] == 13 || doms[i] == 1)
            g_assert_cmpuint(got->len, ==, 0);
        for (guint j = 0; j < got->len; j++) {
            const HapvmXenTask *t = &g_array_index(got, HapvmXenTask, j);
            g_assert_false(g_hash_table_contains(owner, GUINT_TO_POINTER(t->tid)));
            g_hash_table_insert(owner, GUINT_TO_POINTER(t->tid), GUINT_TO_POINTER(doms[i]));
            if (t->role == HAPVM_ROLE_BACKEND)
                n_backends++;
        }
    }
    /* 500-505, 510-517, 520-521: 16 backend kthreads; 601 has no stat. */
    g_assert_cmpuint(n_backends, ==, 16);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(owner, GUINT_TO_POINTER(504))), ==, 31);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(owner, GUINT_TO_POINTER(516))), ==, 31);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(owner, GUINT_TO_POINTER(521))), ==, 31);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(owner, GUINT_TO_POINTER(505))), ==, 3);
    /* The user process named like a blkback thread is nobody's. */
    g_assert_false(g_hash_table_contains(owner, GUINT_TO_POINTER(600)));
}

/* Cut names: both netback kthreads of vif12345.10-q10 read the same. */
static void
test_scan_cut_kind_lost(void)
{
    static const Want want[] = { { 530, NB }, { 531, NB } };
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    scan_ok("proc-5.10", 12345, NULL, got);
    check_tasks(got, want, G_N_ELEMENTS(want), 12345);
    g_assert_cmpstr(g_array_index(got, HapvmXenTask, 0).comm, ==, "vif12345.10-q10");
}

/* xenstore's device-model-pid: trusted for a process without -xen-domid,
 * never over a cmdline naming another domain (a stale pid). */
static void
test_dm_pid_hint(void)
{
    HapvmXenScanHints stale = { .dm_pid = 2100 };  /* domain 3's QEMU */
    HapvmXenScanHints bare = { .dm_pid = 2200 };   /* no -xen-domid */
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    scan_ok("proc-6.1", 31, &stale, got);
    for (guint i = 0; i < got->len; i++)
        g_assert_cmpint(g_array_index(got, HapvmXenTask, i).role, ==, HAPVM_ROLE_BACKEND);
    g_assert_cmpuint(got->len, ==, 4); /* 504, 516, 517, 521 */
    g_array_set_size(got, 0);
    scan_ok("proc-6.1", 31, &bare, got);
    g_assert_cmpuint(got->len, ==, 6);
    g_assert_cmpuint(g_array_index(got, HapvmXenTask, 4).tid, ==, 2200);
    g_assert_cmpint(g_array_index(got, HapvmXenTask, 5).role, ==, HAPVM_ROLE_EMULATOR);
    g_assert_cmpuint(g_array_index(got, HapvmXenTask, 5).pid, ==, 2200);
}

static void
test_scan_errors(void)
{
    g_autofree char *root = tree("proc-6.1");
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
    HapvmXenTask sentinel = { .tid = 42 };
    g_autoptr(GError) error = NULL;

    g_array_append_val(got, sentinel);
    g_assert_false(hapvm_xen_scan_tasks(root, 0, NULL, got, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_assert_nonnull(strstr(error->message, "dom0"));
    g_clear_error(&error);
    g_assert_false(hapvm_xen_scan_tasks(root, 0x7ff0, NULL, got, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);
    g_assert_false(hapvm_xen_scan_tasks("/nonexistent-hapvm-proc", 3, NULL, got, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED);
    g_assert_cmpuint(got->len, ==, 1);
    g_assert_cmpuint(g_array_index(got, HapvmXenTask, 0).tid, ==, 42);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen/discovery/classify", test_classify);
    g_test_add_data_func("/xen/discovery/dom3-6.1", "proc-6.1", test_scan_dom3);
    g_test_add_data_func("/xen/discovery/dom3-5.10-cut", "proc-5.10", test_scan_dom3);
    g_test_add_func("/xen/discovery/dom12-shared", test_scan_dom12_shared);
    g_test_add_data_func("/xen/discovery/no-cross-attribution-6.1", "proc-6.1", test_no_cross_attribution);
    g_test_add_data_func("/xen/discovery/no-cross-attribution-5.10", "proc-5.10", test_no_cross_attribution);
    g_test_add_func("/xen/discovery/cut-kind-lost", test_scan_cut_kind_lost);
    g_test_add_func("/xen/discovery/dm-pid-hint", test_dm_pid_hint);
    g_test_add_func("/xen/discovery/errors", test_scan_errors);
    return g_test_run();
}

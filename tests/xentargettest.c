/* The Xen target without a Xen host: a fake system interface over the
 * dom0 /proc fixtures (tests/data/xen/proc-6.1), a stand-in xentrace that
 * streams the committed xentrace scenario, and coverage back ends. */
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-xen-target.h"
#include "xenfake.h"

/* dom0; 3 "web" (PV), 12 "db" (HVM, QEMU 2000), 31 "decoy"; and 2 for the
 * xentrace scenario's PV domain. */
static HapvmXenSys *
fake_sys(XenFake **out)
{
    static const HapvmXenDomInfo infos[] = {
        { .domid = 0, .running = TRUE }, { .domid = 2, .running = TRUE }, { .domid = 3, .running = TRUE },
        { .domid = 12, .running = TRUE, .hvm = TRUE }, { .domid = 31, .running = TRUE },
    };
    static const char *const kv[][2] = {
        { "/local/domain/0/name", "Domain-0" },
        { "/local/domain/2/name", "two" },
        { "/local/domain/3/name", "web" },
        { "/local/domain/3/vm", "/vm/3b0e7cb2-6a2c-4a8e-9a57-4ab7c0f5d1e3" },
        { "/libxl/3/type", "pv" },
        { "/local/domain/12/name", "db" },
        { "/local/domain/12/image/device-model-pid", "2000" },
        { "/local/domain/31/name", "decoy" },
    };

    return xen_fake_new(infos, G_N_ELEMENTS(infos), kv, G_N_ELEMENTS(kv), XEN_FAKE_COVERAGE_UNSUPPORTED, out);
}

static HapvmXenTarget *
open_ok(const char *what, XenFake **f)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *root = g_test_build_filename(G_TEST_DIST, "data", "xen", "proc-6.1", NULL);
    HapvmXenTarget *t = hapvm_xen_target_open(fake_sys(f), what, root, &error);

    g_assert_no_error(error);
    g_assert_nonnull(t);
    return t;
}

static gboolean
has_tid(const GArray *a, guint32 tid, HapvmRole role)
{
    for (guint i = 0; i < a->len; i++)
        if (g_array_index(a, HapvmXenTask, i).tid == tid)
            return g_array_index(a, HapvmXenTask, i).role == role;
    return FALSE;
}

static void
test_refresh(void)
{
    XenFake *f;
    g_autoptr(HapvmXenTarget) t = open_ok("web", &f);
    g_autoptr(GArray) fresh = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint(t->domid, ==, 3);
    g_assert_cmpstr(t->type, ==, "pv");
    g_assert_cmpstr(t->uuid, ==, "3b0e7cb2-6a2c-4a8e-9a57-4ab7c0f5d1e3");
    gboolean ok = hapvm_xen_target_refresh(t, fresh, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_no_error(error);
    /* Its backends (blkback, netback, threaded NAPI), its PV QEMU, the
     * shared services; nothing of domains 12 or 31, no decoy. */
    for (guint32 tid = 500; tid <= 502; tid++)
        g_assert_true(has_tid(fresh, tid, HAPVM_ROLE_BACKEND));
    g_assert_true(has_tid(fresh, 505, HAPVM_ROLE_BACKEND));
    for (guint32 tid = 510; tid <= 513; tid++)
        g_assert_true(has_tid(fresh, tid, HAPVM_ROLE_BACKEND));
    g_assert_true(has_tid(fresh, 520, HAPVM_ROLE_BACKEND));
    g_assert_true(has_tid(fresh, 2100, HAPVM_ROLE_EMULATOR));
    g_assert_true(has_tid(fresh, 400, HAPVM_ROLE_SHARED));
    g_assert_true(has_tid(fresh, 410, HAPVM_ROLE_SHARED));
    g_assert_true(has_tid(fresh, 420, HAPVM_ROLE_SHARED));
    g_assert_true(has_tid(fresh, 30, HAPVM_ROLE_SHARED));
    for (guint32 tid = 503; tid <= 504; tid++)
        g_assert_false(has_tid(fresh, tid, HAPVM_ROLE_BACKEND));
    g_assert_false(has_tid(fresh, 514, HAPVM_ROLE_BACKEND));
    g_assert_false(has_tid(fresh, 521, HAPVM_ROLE_BACKEND));
    g_assert_false(has_tid(fresh, 600, HAPVM_ROLE_BACKEND));
    g_assert_false(has_tid(fresh, 2000, HAPVM_ROLE_EMULATOR));
    g_assert_cmpuint(t->tasks->len, ==, fresh->len);
    guint first = fresh->len;

    /* A second scan finds nothing new. */
    g_array_set_size(fresh, 0);
    g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
    g_assert_cmpuint(fresh->len, ==, 0);
    g_assert_cmpuint(t->n_added_late, ==, 0);
    g_assert_cmpuint(t->tasks->len, ==, first);
    g_assert_null(t->ended);

    /* Destroyed: the target ends, no error, nothing added. */
    g_array_remove_index(f->infos, 2);
    g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
    g_assert_no_error(error);
    g_assert_nonnull(t->ended);
    g_test_message("ended: %s", t->ended);
    g_assert_nonnull(strstr(t->ended, "domid 3"));
    g_assert_cmpuint(fresh->len, ==, 0);
}

static void
test_refresh_errors(void)
{
    XenFake *f;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) fresh = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));

    /* Gone before the first scan: an error (nothing was measured). */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("3", &f);
        g_array_remove_index(f->infos, 2);
        g_assert_false(hapvm_xen_target_refresh(t, fresh, &error));
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
        g_clear_error(&error);
    }
    /* Dying counts as gone too. */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("web", &f);
        g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
        g_array_index(f->infos, HapvmXenDomInfo, 2).dying = TRUE;
        g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
        g_assert_nonnull(t->ended);
        g_assert_nonnull(strstr(t->ended, "dying"));
    }
    /* The domid now names another domain (UUID changed). */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("web", &f);
        g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
        g_hash_table_insert(f->store, g_strdup("/local/domain/3/vm"), g_strdup("/vm/00000000-0000-0000-0000-000000000001"));
        g_assert_true(hapvm_xen_target_refresh(t, fresh, &error));
        g_assert_nonnull(t->ended);
        g_assert_nonnull(strstr(t->ended, "another domain"));
    }
    /* dom0 is the host. */
    g_autoptr(HapvmXenTarget) t0 = hapvm_xen_target_open(fake_sys(NULL), "Domain-0", NULL, &error);
    g_assert_null(t0);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_assert_nonnull(strstr(error->message, "dom0"));
}

static void
test_dom0(void)
{
    g_autofree char *dir = g_dir_make_tmp("hapvm-xen-XXXXXX", NULL);
    g_autofree char *xen = g_build_filename(dir, "xen", NULL);
    g_autofree char *caps = g_build_filename(xen, "capabilities", NULL);

    g_assert_false(hapvm_xen_is_dom0(dir));
    g_assert_cmpint(g_mkdir(xen, 0755), ==, 0);
    g_assert_true(g_file_set_contents(caps, "", 0, NULL)); /* a domU */
    g_assert_false(hapvm_xen_is_dom0(dir));
    g_assert_true(g_file_set_contents(caps, "control_d\n", -1, NULL));
    g_assert_true(hapvm_xen_is_dom0(dir));
    unlink(caps);
    rmdir(xen);
    rmdir(dir);
}

static JsonObject *
vm_json(const HapvmXenTarget *t, JsonNode **keep)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    hapvm_xen_target_to_json(t, b);
    json_builder_end_object(b);
    *keep = json_builder_get_root(b);
    return hapvm_json_object(json_node_get_object(*keep), "vm");
}

static char *
write_script(const char *dir, const char *name, const char *body)
{
    char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, body, -1, NULL));
    g_assert_cmpint(chmod(path, 0755), ==, 0);
    return path;
}

/* A stand-in xentrace: checks its arguments, streams the committed
 * scenario to stdout, runs until SIGINT like the real one. */
static void
test_xentrace(void)
{
    XenFake *f;
    g_autoptr(HapvmXenTarget) t = open_ok("two", &f);
    g_autofree char *dir = g_dir_make_tmp("hapvm-xt-XXXXXX", NULL);
    g_autofree char *scen = g_test_build_filename(G_TEST_DIST, "data", "xen", "scenario.xentrace", NULL);
    g_autofree char *body = g_strdup_printf(
        "#!/bin/sh\n"
        "[ \"$1 $2 $3 $4 $5\" = \"-D -e 0x003af000 -S 256\" ] && [ -f \"$6\" ] || "
        "{ echo \"bad args: $*\" >&2; exit 2; }\n"
        "trap 'exit 0' INT\n"
        "cat '%s' > \"$6\"\n"
        "while :; do sleep 0.05; done\n", scen);
    g_autofree char *xt = write_script(dir, "xentrace", body);
    gsize len;
    g_autofree char *data = NULL;
    g_autoptr(JsonNode) keep = NULL;

    g_assert_true(g_file_get_contents(scen, &data, &len, NULL));
    t->xentrace_save = g_build_filename(dir, "saved.bin", NULL);
    g_assert_true(hapvm_xen_target_start_xentrace(t, xt));
    g_assert_null(t->xentrace_unavailable);
    /* A second measurement would share Xen's one set of buffers: refused. */
    {
        g_autoptr(HapvmXenTarget) t2 = open_ok("web", NULL);
        g_assert_false(hapvm_xen_target_start_xentrace(t2, xt));
        g_test_message("%s", t2->xentrace_unavailable);
        g_assert_nonnull(strstr(t2->xentrace_unavailable, "another hapvm measurement"));
    }
    hapvm_xen_target_stop_xentrace(t);
    g_assert_null(t->reader_error);
    g_assert_cmpuint(t->xentrace_bytes, ==, len);
    /* The saved copy is the stream, byte for byte. */
    g_autofree char *saved = NULL;
    gsize saved_len = 0;
    g_assert_true(g_file_get_contents(t->xentrace_save, &saved, &saved_len, NULL));
    g_assert_cmpmem(saved, saved_len, data, len);
    unlink(t->xentrace_save);
    /* What the parser says of domain 2 when fed the file directly. */
    g_autoptr(HapvmXenTrace) ref = hapvm_xen_trace_new();
    g_assert_true(hapvm_xen_trace_load_file(ref, scen, NULL));
    JsonObject *vm = vm_json(t, &keep);
    JsonObject *ep = hapvm_json_object(vm, "xen_entry_points");
    g_assert_nonnull(ep);
    g_assert_cmpint(hapvm_json_int(ep, "domid"), ==, 2);
    g_assert_cmpint(hapvm_json_int(ep, "pv_hypercalls_total"), ==,
                    (gint64)hapvm_xen_trace_hypercalls_total(ref, 2, HAPVM_XEN_HC_PV));
    g_assert_cmpint(hapvm_json_int(ep, "pv_hypercalls_total"), >, 0);
    g_assert_cmpint(hapvm_json_int(ep, "grant_maps_by_others"), ==,
                    (gint64)hapvm_xen_trace_grant_maps_of(ref, 2, FALSE));
    JsonObject *xto = hapvm_json_object(vm, "xentrace");
    g_assert_true(hapvm_json_boolean(xto, "available"));
    g_assert_cmpint(hapvm_json_int(xto, "bytes"), ==, (gint64)len);
}

static void
test_xentrace_unavailable(void)
{
    g_autofree char *dir = g_dir_make_tmp("hapvm-xt-XXXXXX", NULL);
    g_autoptr(JsonNode) keep = NULL;

    /* Refused at start (another xentrace holds Xen's buffers, say). */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("two", NULL);
        g_autofree char *xt = write_script(dir, "xentrace-busy",
                                           "#!/bin/sh\necho 'ERROR: Failed to enable trace buffers' >&2\nexit 1\n");
        g_assert_false(hapvm_xen_target_start_xentrace(t, xt));
        g_test_message("%s", t->xentrace_unavailable);
        g_assert_nonnull(strstr(t->xentrace_unavailable, "Failed to enable trace buffers"));
        g_assert_nonnull(strstr(t->xentrace_unavailable, "status 1"));
        hapvm_xen_target_stop_xentrace(t); /* harmless */
        JsonObject *vm = vm_json(t, &keep);
        g_assert_null(hapvm_json_object(vm, "xen_entry_points"));
        g_assert_false(hapvm_json_boolean(hapvm_json_object(vm, "xentrace"), "available"));
        g_assert_nonnull(strstr(hapvm_json_string(hapvm_json_object(vm, "xentrace"), "reason"), "trace buffers"));
    }
    /* Not there. */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("two", NULL);
        g_autofree char *missing = g_build_filename(dir, "nope", NULL);
        g_assert_false(hapvm_xen_target_start_xentrace(t, missing));
        g_assert_nonnull(strstr(t->xentrace_unavailable, "xen-utils"));
    }
    /* Xen 4.17's xentrace without an output file: its usage on stdout,
     * status 1, after the start check (slow dom0), saving on. */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("two", NULL);
        g_autofree char *xt = write_script(dir, "xentrace-usage",
                                           "#!/bin/sh\nsleep 1\necho 'Usage: xentrace [OPTION...] [output file]'\n"
                                           "exit 1\n");
        t->xentrace_save = g_build_filename(dir, "usage.bin", NULL);
        g_assert_true(hapvm_xen_target_start_xentrace(t, xt));
        g_usleep(1500000);
        hapvm_xen_target_stop_xentrace(t);
        g_assert_nonnull(t->reader_error);
        g_test_message("%s", t->reader_error);
        g_assert_nonnull(strstr(t->reader_error, "status 1: Usage: xentrace"));
        g_assert_cmpuint(t->xentrace_bytes, ==, 0);
        JsonObject *vm = vm_json(t, &keep);
        g_assert_nonnull(hapvm_json_object(vm, "xentrace"));
    }
    /* Garbage on stdout: the parse error is kept, xentrace is still
     * drained and stopped. */
    {
        g_autoptr(HapvmXenTarget) t = open_ok("two", NULL);
        g_autofree char *xt = write_script(dir, "xentrace-junk",
                                           "#!/bin/sh\ntrap 'exit 0' INT\nhead -c 100000 /dev/zero | tr '\\0' 'x' > \"$6\"\n"
                                           "while :; do sleep 0.05; done\n");
        g_assert_true(hapvm_xen_target_start_xentrace(t, xt));
        hapvm_xen_target_stop_xentrace(t);
        g_assert_nonnull(t->reader_error);
        g_test_message("%s", t->reader_error);
        g_assert_cmpuint(t->xentrace_bytes, ==, 100000);
    }
}

static void
test_coverage(void)
{
    XenFake *f;
    g_autoptr(JsonNode) keep = NULL;
    g_autofree char *dir = g_dir_make_tmp("hapvm-cov-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "xen.cov", NULL);

    {
        g_autoptr(HapvmXenTarget) t = open_ok("web", &f);
        hapvm_xen_target_coverage_begin(t, file);
        hapvm_xen_target_coverage_end(t);
        JsonObject *cov = hapvm_json_object(vm_json(t, &keep), "hypervisor_coverage");
        g_assert_false(hapvm_json_boolean(cov, "available"));
        g_assert_nonnull(strstr(hapvm_json_string(cov, "reason"), "without coverage"));
        g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
    }
    {
        g_autoptr(HapvmXenTarget) t = open_ok("web", &f);
        g_autofree char *got = NULL;
        f->coverage = XEN_FAKE_COVERAGE_WORKS;
        hapvm_xen_target_coverage_begin(t, file);
        g_assert_cmpuint(f->cov_resets, ==, 1);
        hapvm_xen_target_coverage_end(t);
        g_assert_cmpuint(f->cov_reads, ==, 1);
        g_assert_true(g_file_get_contents(file, &got, NULL, NULL));
        g_assert_cmpstr(got, ==, "XCOV-data");
        JsonObject *cov = hapvm_json_object(vm_json(t, &keep), "hypervisor_coverage");
        g_assert_true(hapvm_json_boolean(cov, "available"));
        g_assert_cmpint(hapvm_json_int(cov, "bytes"), ==, 9);
        g_assert_nonnull(strstr(hapvm_json_string(cov, "scope"), "hypervisor-wide"));
        unlink(file);
    }
    rmdir(dir);
}

/* The result's identity, tasks and threaded-NAPI state. */
static void
test_json(void)
{
    g_autoptr(HapvmXenTarget) t = open_ok("web", NULL);
    g_autoptr(GArray) fresh = g_array_new(FALSE, FALSE, sizeof(HapvmXenTask));
    g_autofree char *net = g_dir_make_tmp("hapvm-net-XXXXXX", NULL);
    g_autoptr(JsonNode) keep = NULL;
    static const char *const vifs[][2] = { { "vif3.0", "1\n" }, { "vif3.1", "0\n" }, { "vif31.0", "1\n" } };

    for (guint i = 0; i < G_N_ELEMENTS(vifs); i++) {
        g_autofree char *d = g_build_filename(net, vifs[i][0], NULL);
        g_autofree char *p = g_build_filename(d, "threaded", NULL);
        g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
        g_assert_true(g_file_set_contents(p, vifs[i][1], -1, NULL));
    }
    t->sysfs_net = g_strdup(net);
    g_assert_true(hapvm_xen_target_refresh(t, fresh, NULL));
    t->xentrace_unavailable = g_strdup("disabled with --no-xentrace");
    JsonObject *vm = vm_json(t, &keep);
    g_assert_cmpstr(hapvm_json_string(vm, "hypervisor"), ==, "xen");
    g_assert_cmpstr(hapvm_json_string(vm, "name"), ==, "web");
    g_assert_cmpint(hapvm_json_int(vm, "domid"), ==, 3);
    g_assert_cmpstr(hapvm_json_string(vm, "type"), ==, "pv");
    JsonArray *tasks = hapvm_json_array(vm, "tasks");
    g_assert_cmpuint(json_array_get_length(tasks), ==, fresh->len);
    gboolean saw_blkback = FALSE, saw_xenstored = FALSE;
    for (guint i = 0; i < json_array_get_length(tasks); i++) {
        JsonObject *o = json_array_get_object_element(tasks, i);
        if (hapvm_json_int(o, "tid") == 500) {
            saw_blkback = TRUE;
            g_assert_cmpstr(hapvm_json_string(o, "comm"), ==, "3.xvda-0");
            g_assert_cmpstr(hapvm_json_string(o, "role"), ==, "backend");
            g_assert_cmpstr(hapvm_json_string(o, "kind"), ==, "blkback");
        }
        if (hapvm_json_int(o, "tid") == 400) {
            saw_xenstored = TRUE;
            g_assert_cmpstr(hapvm_json_string(o, "role"), ==, "shared");
        }
    }
    g_assert_true(saw_blkback && saw_xenstored);
    JsonArray *napi = hapvm_json_array(vm, "netback_napi");
    g_assert_cmpuint(json_array_get_length(napi), ==, 2); /* not vif31.0 */
    g_assert_cmpstr(hapvm_json_string(json_array_get_object_element(napi, 0), "interface"), ==, "vif3.0");
    g_assert_true(hapvm_json_boolean(json_array_get_object_element(napi, 0), "threaded"));
    g_assert_false(hapvm_json_boolean(json_array_get_object_element(napi, 1), "threaded"));
    g_assert_cmpstr(hapvm_json_string(hapvm_json_object(vm, "xentrace"), "reason"), ==, "disabled with --no-xentrace");
    for (guint i = 0; i < G_N_ELEMENTS(vifs); i++) {
        g_autofree char *d = g_build_filename(net, vifs[i][0], NULL);
        g_autofree char *p = g_build_filename(d, "threaded", NULL);
        unlink(p);
        rmdir(d);
    }
    rmdir(net);
}

/* libvirt's side, where no libxl driver runs: a connection to another
 * driver is refused by name, an unreachable daemon says how to fix it. */
static void
test_libvirt_errors(void)
{
    g_autoptr(GError) error = NULL;
    HapvmXenTarget *t = hapvm_xen_target_open_libvirt("test:///default", "test", &error);

    g_assert_null(t);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_assert_nonnull(strstr(error->message, "uses the TEST driver, not Xen's (libxl)"));
    g_assert_nonnull(strstr(error->message, "without --xen"));
    g_clear_error(&error);

    t = hapvm_xen_target_open_libvirt("xen+unix:///system?socket=/nonexistent/hapvm-test.sock", "web", &error);
    g_assert_null(t);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_LIBVIRT);
    g_assert_true(g_str_has_prefix(error->message, "cannot connect to libvirt at xen+unix:///system"));
    g_assert_nonnull(strstr(error->message, "is libvirtd running with its libxl driver?"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_autofree char *lockdir = g_dir_make_tmp("hapvm-lock-XXXXXX", NULL);
    g_autofree char *lock = g_build_filename(lockdir, "xentrace.lock", NULL);
    g_setenv("HAPVM_XENTRACE_LOCK", lock, TRUE);
    g_test_add_func("/xen/target/refresh", test_refresh);
    g_test_add_func("/xen/target/refresh-errors", test_refresh_errors);
    g_test_add_func("/xen/target/dom0", test_dom0);
    g_test_add_func("/xen/target/xentrace", test_xentrace);
    g_test_add_func("/xen/target/xentrace-unavailable", test_xentrace_unavailable);
    g_test_add_func("/xen/target/coverage", test_coverage);
    g_test_add_func("/xen/target/json", test_json);
    g_test_add_func("/xen/target/libvirt-errors", test_libvirt_errors);
    int rc = g_test_run();
    unlink(lock);
    rmdir(lockdir);
    return rc;
}

/* KVM front end discovery: libvirt status XML and QEMU task roles.
 *
 * Fixtures in tests/data/kvm/ are hand-written; their README says where each
 * format comes from.  labkvm.xml / labtcg.xml / malformed.xml are status
 * files; proc-6.1/ and proc-6.13/ are fake /proc trees of a Linux < 6.4 host
 * (vhost and KVM workers are kthreads outside QEMU's thread group) and of a
 * Linux >= 6.13 host (vhost and NX-recovery workers inside the group).  Some
 * tests build a small /proc tree in a temporary directory instead. */
#include <glib/gstdio.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-kvm.h"

#define KT_FLAGS 2129984u /* 0x208040: PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC */
#define USER_FLAGS 4194560u

static char *
data_dir(void)
{
    return g_test_build_filename(G_TEST_DIST, "data", "kvm", NULL);
}

/* ---- status XML ------------------------------------------------------- */

static void
test_status_kvm(void)
{
    g_autofree char *dir = data_dir();
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, "labkvm", &error);

    g_assert_no_error(error);
    g_assert_nonnull(st);
    g_assert_cmpuint(st->qemu_pid, ==, 21295);
    g_assert_cmpstr(st->state, ==, "running");
    g_assert_cmpstr(st->name, ==, "labkvm");
    g_assert_cmpstr(st->uuid, ==, "5b0a3c1e-8d4f-4b7a-9e21-0c6f2d9a7e13");
    g_assert_cmpint(st->id, ==, 3);
    g_assert_cmpstr(st->type, ==, "kvm");
    g_assert_cmpint(st->domain_type, ==, HAPVM_KVM_DOMAIN_KVM);
    /* Only domstatus's <vcpus>: the domain's hotplug list (4 entries, no
     * pids) is ignored. */
    g_assert_cmpuint(st->vcpus->len, ==, 2);
    g_assert_cmpuint(g_array_index(st->vcpus, HapvmKvmVcpu, 0).id, ==, 0);
    g_assert_cmpuint(g_array_index(st->vcpus, HapvmKvmVcpu, 0).tid, ==, 21301);
    g_assert_cmpuint(hapvm_kvm_status_vcpu_tid(st, 1), ==, 21302);
    g_assert_cmpuint(hapvm_kvm_status_vcpu_tid(st, 2), ==, 0);
    g_assert_cmpuint(st->n_iothreads, ==, 1);
    g_assert_cmpuint(st->iothread_ids->len, ==, 1);
    g_assert_cmpuint(g_array_index(st->iothread_ids, guint, 0), ==, 1);
}

static void
test_status_tcg(void)
{
    g_autofree char *dir = data_dir();
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, "labtcg", &error);

    g_assert_no_error(error);
    g_assert_cmpuint(st->qemu_pid, ==, 15850);
    g_assert_cmpint(st->domain_type, ==, HAPVM_KVM_DOMAIN_TCG);
    g_assert_cmpstr(st->type, ==, "qemu");
    g_assert_cmpint(st->id, ==, 1);
    /* Listed 1 then 0; sorted by id. */
    g_assert_cmpuint(st->vcpus->len, ==, 2);
    g_assert_cmpuint(g_array_index(st->vcpus, HapvmKvmVcpu, 0).id, ==, 0);
    g_assert_cmpuint(g_array_index(st->vcpus, HapvmKvmVcpu, 0).tid, ==, 15863);
    g_assert_cmpuint(g_array_index(st->vcpus, HapvmKvmVcpu, 1).tid, ==, 15864);
    g_assert_cmpuint(st->n_iothreads, ==, 0);
    g_assert_cmpuint(st->iothread_ids->len, ==, 0);
}

static void
test_status_malformed(void)
{
    g_autofree char *dir = data_dir();
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, "malformed", &error);

    g_assert_null(st);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "malformed.xml"));
}

static void
test_status_missing(void)
{
    g_autofree char *dir = data_dir();
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, "nosuchdomain", &error);

    g_assert_null(st);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_assert_true(g_str_has_prefix(error->message, "domain nosuchdomain is not running (no status file "));
    g_clear_error(&error);

    g_assert_null(hapvm_kvm_status_load("/nonexistent-hapvm-dir", "labkvm", &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_clear_error(&error);

    const char *bad[] = { "", ".", "..", "../labkvm", "a/b" };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_null(hapvm_kvm_status_load(dir, bad[i], &error));
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
        g_clear_error(&error);
    }
}

static void
test_status_invalid(void)
{
    static const char *const docs[] = {
        "",
        "   \n",
        "not xml at all",
        "<domain type='kvm'><name>x</name></domain>",                        /* not a status file */
        "<domstatus state='running'><domain type='kvm'><name>x</name></domain></domstatus>", /* no pid */
        "<domstatus pid='abc'><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='0'><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='-5'><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='99999999999'><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='1'><vcpus><vcpu id='0'/></vcpus><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='1'><vcpus><vcpu id='0' pid='7x'/></vcpus><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='1'><vcpus><vcpu pid='7'/></vcpus><domain type='kvm'><name>x</name></domain></domstatus>",
        "<domstatus pid='1'><vcpus><vcpu id='0' pid='7'/><vcpu id='0' pid='8'/></vcpus>"
        "<domain type='kvm'><name>x</name></domain></domstatus>",                 /* duplicate vCPU */
        "<domstatus pid='1'></domstatus>",                                      /* no domain */
        "<domstatus pid='1'><domain type='kvm'></domain></domstatus>",          /* no name */
        "<domstatus pid='1'><domain type='kvm'><name> </name></domain></domstatus>",
        "<domstatus pid='1'><domain type='kvm' id='x'><name>x</name></domain></domstatus>",
        "<domstatus pid='1'><domain type='kvm'><name>x</name></domain><domain><name>y</name></domain></domstatus>",
        "<domstatus pid='1'><domain type='kvm'><name>x</name><iothreads>two</iothreads></domain></domstatus>",
        "<domstatus pid='1'><domain type='kvm'><name>x</name><iothreadids><iothread/></iothreadids></domain></domstatus>",
        "<domstatus pid='1'><domain type='kvm'><name>x</name></domain>",        /* cut short */
    };

    for (guint i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_parse(docs[i], strlen(docs[i]), &error);
        if (!error)
            g_test_message("accepted: %s", docs[i]);
        g_assert_null(st);
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
        g_assert_true(g_str_has_prefix(error->message, "status XML: "));
    }

    /* Minimal valid document; unknown type, no id; text outside elements. */
    const char *ok = "<domstatus pid='42'>junk<domain type='hvf'><name>x&amp;y</name></domain></domstatus>";
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_parse(ok, strlen(ok), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(st->name, ==, "x&y");
    g_assert_cmpint(st->domain_type, ==, HAPVM_KVM_DOMAIN_OTHER);
    g_assert_cmpint(st->id, ==, -1);
    g_assert_null(st->uuid);
    g_assert_null(st->state);

    /* Length is honoured: the document ends at len. */
    const char *two = "<domstatus pid='42'><domain type='kvm'><name>x</name></domain></domstatus><extra>";
    g_autoptr(HapvmKvmStatus) st2 = hapvm_kvm_status_parse(two, strlen(two) - strlen("<extra>"), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(st2->qemu_pid, ==, 42);
}

/* ---- temporary /proc trees -------------------------------------------- */

static void
put(const char *path, const char *contents)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_file_set_contents(path, contents, -1, &error);
    g_assert_no_error(error);
}

/* A task: <root>/<pid>/task/<tid>/{comm,stat}, and <root>/<pid>/... for the
 * leader.  comm is written as given (plus "\n" unless raw). */
static void
put_task(const char *root, guint pid, guint tid, const char *comm, gboolean raw, int ppid, guint flags)
{
    g_autofree char *c = raw ? g_strdup(comm) : g_strconcat(comm, "\n", NULL);
    g_autofree char *s = g_strdup_printf("%u (%.15s) S %d 0 0 0 -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", tid, comm,
                                         ppid, flags);
    g_autofree char *p = g_strdup_printf("%u", pid);
    g_autofree char *t = g_strdup_printf("%u", tid);
    g_autofree char *tc = g_build_filename(root, p, "task", t, "comm", NULL);
    g_autofree char *ts = g_build_filename(root, p, "task", t, "stat", NULL);

    put(tc, c);
    put(ts, s);
    if (pid == tid) {
        g_autofree char *pc = g_build_filename(root, p, "comm", NULL);
        g_autofree char *ps = g_build_filename(root, p, "stat", NULL);
        put(pc, c);
        put(ps, s);
    }
}

static void
rm_tree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *n;

    if (d)
        while ((n = g_dir_read_name(d))) {
            g_autofree char *sub = g_build_filename(path, n, NULL);
            rm_tree(sub);
        }
    g_remove(path);
}

/* ---- scanning --------------------------------------------------------- */

typedef struct {
    guint32 tid;
    HapvmRole role;
    int vcpu;
    gboolean in_group;
    const char *comm;
} Want;

static void
check_tasks(const GArray *got, guint from, const Want *want, guint n)
{
    for (guint i = from; i < got->len; i++) {
        const HapvmKvmTask *t = &g_array_index(got, HapvmKvmTask, i);
        g_test_message("tid %u %-15s %s vcpu %d %s", t->tid, t->comm, hapvm_role_name(t->role), t->vcpu,
                       t->in_group ? "group" : "outside");
    }
    g_assert_cmpuint(got->len - from, ==, n);
    for (guint i = 0; i < n; i++) {
        const HapvmKvmTask *t = &g_array_index(got, HapvmKvmTask, from + i);
        g_assert_cmpuint(t->tid, ==, want[i].tid);
        g_assert_cmpstr(hapvm_role_name(t->role), ==, hapvm_role_name(want[i].role));
        g_assert_cmpint(t->vcpu, ==, want[i].vcpu);
        g_assert_cmpint(t->in_group, ==, want[i].in_group);
        g_assert_cmpstr(t->comm, ==, want[i].comm);
    }
}

static GArray *
scan(const char *tree, guint pid)
{
    g_autofree char *dir = data_dir();
    g_autofree char *root = g_build_filename(dir, tree, NULL);
    g_autoptr(GError) error = NULL;
    GArray *out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));

    g_assert_true(hapvm_kvm_scan_tasks(root, pid, out, &error));
    g_assert_no_error(error);
    return out;
}

static void
test_scan_61_kvm(void)
{
    static const Want want[] = {
        { 21295, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86" },
        { 21296, HAPVM_ROLE_EMULATOR, -1, TRUE, "call_rcu" },
        { 21297, HAPVM_ROLE_KTHREAD, -1, FALSE, "kvm-nx-lpage-re" }, /* the only one: ours */
        { 21298, HAPVM_ROLE_IOTHREAD, -1, TRUE, "IO iothread1" },
        { 21299, HAPVM_ROLE_EMULATOR, -1, TRUE, "IO mon_iothread" },
        { 21300, HAPVM_ROLE_KTHREAD, -1, FALSE, "kvm-pit/21295" },
        { 21301, HAPVM_ROLE_VCPU, 0, TRUE, "CPU 0/KVM" },
        { 21302, HAPVM_ROLE_VCPU, 1, TRUE, "CPU 1/KVM" },
        { 21303, HAPVM_ROLE_VHOST, -1, FALSE, "vhost-21295" },
        { 21304, HAPVM_ROLE_EMULATOR, -1, TRUE, "vnc_worker" },
        { 21305, HAPVM_ROLE_VHOST, -1, FALSE, "vhost-21295" },
        { 21310, HAPVM_ROLE_EMULATOR, -1, TRUE, "worker" },
    };
    /* Not: vhost-30000, kvm-pit/2129, a user process named vhost-21295,
     * malformed/missing stat, ppid 2 without PF_KTHREAD. */
    g_autoptr(GArray) out = scan("proc-6.1", 21295);

    check_tasks(out, 0, want, G_N_ELEMENTS(want));
}

static void
test_scan_61_tcg(void)
{
    static const Want want[] = {
        { 15850, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86" },
        { 15851, HAPVM_ROLE_EMULATOR, -1, TRUE, "call_rcu" },
        { 15863, HAPVM_ROLE_VCPU, 0, TRUE, "CPU 0/TCG" },
        { 15864, HAPVM_ROLE_VCPU, 1, TRUE, "CPU 1/TCG" },
    };
    /* The host's only kvm-nx-lpage-re is not a TCG QEMU's. */
    g_autoptr(GArray) out = scan("proc-6.1", 15850);

    check_tasks(out, 0, want, G_N_ELEMENTS(want));
}

static void
test_scan_613(void)
{
    static const Want want[] = {
        { 4194000, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86" },
        { 4194001, HAPVM_ROLE_EMULATOR, -1, TRUE, "call_rcu" },
        { 4194002, HAPVM_ROLE_KTHREAD, -1, FALSE, "kvm-pit/4194000" }, /* 15 characters */
        { 4194003, HAPVM_ROLE_VCPU, 0, TRUE, "CPU 0/KVM" },
        { 4194004, HAPVM_ROLE_VCPU, 1, TRUE, "CPU 1/KVM" },
        { 4194005, HAPVM_ROLE_VHOST, -1, TRUE, "vhost-4194000" },
        { 4194006, HAPVM_ROLE_KTHREAD, -1, TRUE, "kvm-nx-lpage-re" },
        { 4194007, HAPVM_ROLE_IOTHREAD, -1, TRUE, "IO iothread1234" }, /* cut "IO iothread12345" */
        { 4194008, HAPVM_ROLE_EMULATOR, -1, TRUE, "iou-wrk-4194003" },
        { 4194009, HAPVM_ROLE_EMULATOR, -1, TRUE, "worker" },
        { 4194010, HAPVM_ROLE_VHOST, -1, TRUE, "vhost-4194000" },
    };
    g_autoptr(GArray) out = scan("proc-6.13", 4194000);

    check_tasks(out, 0, want, G_N_ELEMENTS(want));

    /* The other VM gets only its own workers. */
    static const Want other[] = {
        { 500, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86" },
        { 501, HAPVM_ROLE_VCPU, 0, TRUE, "CPU 0/KVM" },
        { 502, HAPVM_ROLE_VHOST, -1, TRUE, "vhost-500" },
        { 503, HAPVM_ROLE_KTHREAD, -1, TRUE, "kvm-nx-lpage-re" },
        { 504, HAPVM_ROLE_KTHREAD, -1, FALSE, "kvm-pit/500" },
    };
    g_autoptr(GArray) out2 = scan("proc-6.13", 500);
    check_tasks(out2, 0, other, G_N_ELEMENTS(other));
}

/* Two KVM VMs on a < 6.13 host: the recovery kthreads ("kvm-nx-lpage-re",
 * pid cut off) cannot be told apart, so neither VM gets one. */
static void
test_scan_nx_ambiguous(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *root = g_dir_make_tmp("hapvm-kvm-XXXXXX", &error);
    g_assert_no_error(error);

    put_task(root, 2, 2, "kthreadd", FALSE, 0, KT_FLAGS);
    put_task(root, 100, 100, "qemu-system-x86", FALSE, 1, USER_FLAGS);
    put_task(root, 100, 101, "CPU 0/KVM", FALSE, 1, USER_FLAGS);
    put_task(root, 102, 102, "kvm-nx-lpage-re", FALSE, 2, KT_FLAGS);
    {
        g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
        g_assert_true(hapvm_kvm_scan_tasks(root, 100, out, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(out->len, ==, 3);
        g_assert_cmpuint(g_array_index(out, HapvmKvmTask, 2).tid, ==, 102);
    }
    put_task(root, 200, 200, "qemu-system-x86", FALSE, 1, USER_FLAGS);
    put_task(root, 200, 201, "CPU 0/KVM", FALSE, 1, USER_FLAGS);
    put_task(root, 202, 202, "kvm-nx-lpage-re", FALSE, 2, KT_FLAGS);
    for (guint pid = 100; pid <= 200; pid += 100) {
        g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
        g_assert_true(hapvm_kvm_scan_tasks(root, pid, out, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(out->len, ==, 2); /* main thread and vCPU only */
        for (guint i = 0; i < out->len; i++)
            g_assert_cmpint(g_array_index(out, HapvmKvmTask, i).role, !=, HAPVM_ROLE_KTHREAD);
    }
    rm_tree(root);
}

/* Two KVM VMs on 5.17 <= Linux < 6.13, as the lab's 6.1 shows them: /proc
 * gives kernel threads their full name, "kvm-nx-lpage-recovery-<tgid>", so
 * each VM gets its own and not the other's. */
static void
test_scan_nx_full_names(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *root = g_dir_make_tmp("hapvm-kvm-XXXXXX", &error);
    g_assert_no_error(error);

    put_task(root, 2, 2, "kthreadd", FALSE, 0, KT_FLAGS);
    for (guint pid = 100; pid <= 200; pid += 100) {
        g_autofree char *nx = g_strdup_printf("kvm-nx-lpage-recovery-%u", pid);
        put_task(root, pid, pid, "qemu-system-x86", FALSE, 1, USER_FLAGS);
        put_task(root, pid, pid + 1, "CPU 0/KVM", FALSE, 1, USER_FLAGS);
        put_task(root, pid + 2, pid + 2, nx, FALSE, 2, KT_FLAGS);
    }
    /* A user process with that name is not a kthread. */
    put_task(root, 300, 300, "kvm-nx-lpage-recovery-100", FALSE, 1, USER_FLAGS);
    for (guint pid = 100; pid <= 200; pid += 100) {
        g_autofree char *nx = g_strdup_printf("kvm-nx-lpage-recovery-%u", pid);
        const Want want[] = {
            { pid, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86" },
            { pid + 1, HAPVM_ROLE_VCPU, 0, TRUE, "CPU 0/KVM" },
            { pid + 2, HAPVM_ROLE_KTHREAD, -1, FALSE, nx },
        };
        g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
        g_assert_true(hapvm_kvm_scan_tasks(root, pid, out, &error));
        g_assert_no_error(error);
        check_tasks(out, 0, want, G_N_ELEMENTS(want));
    }
    rm_tree(root);
}

/* Comm files as the kernel never writes them: longer than 15 characters,
 * without a newline, empty; and non-numeric entries in the task dir. */
static void
test_scan_odd_comms(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *root = g_dir_make_tmp("hapvm-kvm-XXXXXX", &error);
    g_assert_no_error(error);

    put_task(root, 300, 300, "qemu-system-x86_64", FALSE, 1, USER_FLAGS);
    put_task(root, 300, 301, "CPU 3/KVM", TRUE, 1, USER_FLAGS);
    put_task(root, 300, 302, "", TRUE, 1, USER_FLAGS);
    put_task(root, 300, 303, "IO iothread-with-a-long-id", FALSE, 1, USER_FLAGS);
    put_task(root, 300, 304, "vhost-300\nextra", TRUE, 1, USER_FLAGS);
    g_autofree char *junk = g_build_filename(root, "300", "task", "self", "comm", NULL);
    put(junk, "CPU 9/KVM\n");
    g_autofree char *nocomm = g_build_filename(root, "300", "task", "305", "stat", NULL);
    put(nocomm, "305 (x) S 1 0 0 0 -1 0\n"); /* exited between listing and reading */

    static const Want want[] = {
        /* Kept as /proc gives them (kthreads' full names reach 63). */
        { 300, HAPVM_ROLE_EMULATOR, -1, TRUE, "qemu-system-x86_64" },
        { 301, HAPVM_ROLE_VCPU, 3, TRUE, "CPU 3/KVM" },
        { 302, HAPVM_ROLE_EMULATOR, -1, TRUE, "" },
        { 303, HAPVM_ROLE_IOTHREAD, -1, TRUE, "IO iothread-with-a-long-id" },
        { 304, HAPVM_ROLE_VHOST, -1, TRUE, "vhost-300" },
    };
    g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
    HapvmKvmTask keep = { .tid = 1, .role = HAPVM_ROLE_PROCESS, .vcpu = -1 };
    g_array_append_val(out, keep);
    g_assert_true(hapvm_kvm_scan_tasks(root, 300, out, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_array_index(out, HapvmKvmTask, 0).tid, ==, 1); /* appended after */
    check_tasks(out, 1, want, G_N_ELEMENTS(want));
    rm_tree(root);
}

static void
test_scan_missing(void)
{
    g_autofree char *dir = data_dir();
    g_autofree char *root = g_build_filename(dir, "proc-6.1", NULL);
    g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
    g_autoptr(GError) error = NULL;
    HapvmKvmTask keep = { .tid = 7, .vcpu = -1 };

    g_array_append_val(out, keep);
    g_assert_false(hapvm_kvm_scan_tasks(root, 99999, out, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_clear_error(&error);
    g_assert_false(hapvm_kvm_scan_tasks("/nonexistent-hapvm-proc", 1, out, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_clear_error(&error);
    g_assert_false(hapvm_kvm_scan_tasks(root, 0, out, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE);
    g_clear_error(&error);
    g_assert_cmpuint(out->len, ==, 1); /* untouched on failure */

    /* A task dir with no thread left (process exiting). */
    g_autofree char *tmp = g_dir_make_tmp("hapvm-kvm-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *empty = g_build_filename(tmp, "400", "task", NULL);
    g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
    g_assert_false(hapvm_kvm_scan_tasks(tmp, 400, out, &error));
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE);
    g_assert_cmpuint(out->len, ==, 1);
    rm_tree(tmp);
}

static void
test_classify(void)
{
    static const struct {
        const char *comm;
        HapvmRole role;
        int vcpu;
    } cases[] = {
        { "CPU 0/KVM", HAPVM_ROLE_VCPU, 0 },
        { "CPU 17/TCG", HAPVM_ROLE_VCPU, 17 },
        { "CPU 4095/KVM", HAPVM_ROLE_VCPU, 4095 },
        { "ALL CPUs/TCG", HAPVM_ROLE_VCPU, -1 }, /* single-threaded TCG */
        { "CPU x/KVM", HAPVM_ROLE_EMULATOR, -1 },
        { "CPU /KVM", HAPVM_ROLE_EMULATOR, -1 },
        { "CPU 3/", HAPVM_ROLE_EMULATOR, -1 },
        { "CPU -1/KVM", HAPVM_ROLE_EMULATOR, -1 },
        { "IO iothread1", HAPVM_ROLE_IOTHREAD, -1 },
        { "IO iothread1234", HAPVM_ROLE_IOTHREAD, -1 },
        { "IO mon_iothread", HAPVM_ROLE_EMULATOR, -1 },
        { "iothread2", HAPVM_ROLE_IOTHREAD, -1 },
        { "vhost-4194304", HAPVM_ROLE_VHOST, -1 },
        { "vhost-", HAPVM_ROLE_EMULATOR, -1 },
        { "vhost-12a", HAPVM_ROLE_EMULATOR, -1 },
        { "kvm-nx-lpage-re", HAPVM_ROLE_KTHREAD, -1 },
        { "qemu-system-x86", HAPVM_ROLE_EMULATOR, -1 },
        { "worker", HAPVM_ROLE_EMULATOR, -1 },
        { "iou-sqp-21295", HAPVM_ROLE_EMULATOR, -1 },
        { "", HAPVM_ROLE_EMULATOR, -1 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        int vcpu = 99;
        HapvmRole r = hapvm_kvm_classify_thread(cases[i].comm, &vcpu);
        g_test_message("'%s' → %s %d", cases[i].comm, hapvm_role_name(r), vcpu);
        g_assert_cmpint(r, ==, cases[i].role);
        g_assert_cmpint(vcpu, ==, cases[i].vcpu);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/status/kvm", test_status_kvm);
    g_test_add_func("/kvm/status/tcg", test_status_tcg);
    g_test_add_func("/kvm/status/malformed", test_status_malformed);
    g_test_add_func("/kvm/status/missing", test_status_missing);
    g_test_add_func("/kvm/status/invalid", test_status_invalid);
    g_test_add_func("/kvm/scan/6.1-kvm", test_scan_61_kvm);
    g_test_add_func("/kvm/scan/6.1-tcg", test_scan_61_tcg);
    g_test_add_func("/kvm/scan/6.13", test_scan_613);
    g_test_add_func("/kvm/scan/nx-ambiguous", test_scan_nx_ambiguous);
    g_test_add_func("/kvm/scan/nx-full-names", test_scan_nx_full_names);
    g_test_add_func("/kvm/scan/odd-comms", test_scan_odd_comms);
    g_test_add_func("/kvm/scan/missing", test_scan_missing);
    g_test_add_func("/kvm/classify", test_classify);
    return g_test_run();
}

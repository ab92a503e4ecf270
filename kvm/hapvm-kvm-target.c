/* A KVM/QEMU VM as a measurement target. */
#include "hapvm-kvm-target.h"

#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hapvm-error.h"
#include "hapvm-proc.h"
#include "hapvm-result.h"

void
hapvm_kvm_target_free(HapvmKvmTarget *t)
{
    if (!t)
        return;
    g_free(t->uri);
    g_free(t->name);
    g_free(t->uuid);
    g_free(t->accel);
    if (t->seen)
        g_hash_table_unref(t->seen);
    hapvm_kvm_entry_free(t->entry);
    g_free(t);
}

static HapvmKvmTarget *
target_new(void)
{
    HapvmKvmTarget *t = g_new0(HapvmKvmTarget, 1);

    t->id = -1;
    t->seen = g_hash_table_new(NULL, NULL);
    return t;
}

/* The accelerator from the vCPU threads' names ("CPU 0/KVM", "CPU 0/TCG",
 * "ALL CPUs/TCG"). */
static const char *
accel_of(const GArray *tasks)
{
    for (guint i = 0; i < tasks->len; i++) {
        const HapvmKvmTask *k = &g_array_index(tasks, HapvmKvmTask, i);
        if (k->role != HAPVM_ROLE_VCPU)
            continue;
        if (g_str_has_suffix(k->comm, "/KVM"))
            return "kvm";
        if (g_str_has_suffix(k->comm, "/TCG"))
            return "tcg";
    }
    return "unknown";
}

HapvmKvmTarget *
hapvm_kvm_target_open_pid(const char *proc_root, guint32 pid, GError **error)
{
    g_autoptr(GArray) tasks = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
    g_autoptr(HapvmKvmTarget) t = NULL;
    gboolean vcpus = FALSE;

    if (!hapvm_kvm_scan_tasks(proc_root, pid, tasks, error))
        return NULL;
    for (guint i = 0; i < tasks->len; i++)
        if (g_array_index(tasks, HapvmKvmTask, i).role == HAPVM_ROLE_VCPU)
            vcpus = TRUE;
    if (!vcpus) {
        g_autofree char *path = g_strdup_printf("%s/%u/comm", proc_root ? proc_root : "/proc", pid);
        g_autofree char *comm = NULL;
        g_file_get_contents(path, &comm, NULL, NULL);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_QEMU,
                    "process %u (%s) has no QEMU vCPU thread (\"CPU n/KVM\"): not a QEMU VM, or QEMU runs "
                    "without debug-threads=on (add '-name NAME,debug-threads=on'); measure a plain process "
                    "with --pid", pid, comm ? g_strchomp(comm) : "?");
        return NULL;
    }
    t = target_new();
    t->qemu_pid = pid;
    t->name = g_strdup_printf("qemu-%u", pid);
    t->accel = g_strdup(accel_of(tasks));
    return g_steal_pointer(&t);
}

static void
silent_libvirt_errors(void *data, virErrorPtr err)
{
    /* Reported through GError instead of libvirt's default stderr print. */
}

static const char *
libvirt_message(void)
{
    const char *m = virGetLastErrorMessage();
    return m ? m : "unknown libvirt error";
}

static gboolean
looks_like_uuid(const char *s)
{
    return strlen(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-';
}

/* libvirt's QEMU state directory for a connection URI. */
static char *
default_run_dir(const char *uri)
{
    const char *env = g_getenv("HAPVM_LIBVIRT_RUN_DIR");

    if (env)
        return g_strdup(env);
    if (uri && strstr(uri, "/session"))
        return g_build_filename(g_get_user_runtime_dir(), "libvirt", "qemu", "run", NULL);
    return g_strdup("/run/libvirt/qemu");
}

static virConnectPtr
connect_qemu(const char *uri, GError **error)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, silent_libvirt_errors);
    conn = virConnectOpenReadOnly(uri);
    if (!conn) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_LIBVIRT,
                    "cannot connect to libvirt at %s: %s; is libvirtd (or virtqemud) running? "
                    "give another connection with -c URI", uri ? uri : "the default URI", libvirt_message());
        return NULL;
    }
    const char *type = virConnectGetType(conn);
    if (!type || g_ascii_strcasecmp(type, "QEMU") != 0) {
        g_autofree char *actual = virConnectGetURI(conn);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_QEMU,
                    "libvirt connection %s uses the %s driver; hapvm measures QEMU/KVM domains here "
                    "(use qemu:///system, or the Xen front end for Xen)", actual ? actual : "?",
                    type ? type : "unknown");
        virConnectClose(conn);
        return NULL;
    }
    return conn;
}

static virDomainPtr
lookup_domain(virConnectPtr conn, const char *domain)
{
    virDomainPtr d = NULL;

    if (hapvm_proc_is_id(domain)) {
        guint64 id;
        if (g_ascii_string_to_unsigned(domain, 10, 0, G_MAXINT, &id, NULL))
            d = virDomainLookupByID(conn, (int)id);
    }
    if (!d && looks_like_uuid(domain))
        d = virDomainLookupByUUIDString(conn, domain);
    if (!d)
        d = virDomainLookupByName(conn, domain);
    return d;
}

HapvmKvmTarget *
hapvm_kvm_target_open_domain(const char *uri, const char *domain, const char *run_dir, GError **error)
{
    virConnectPtr conn = connect_qemu(uri, error);
    virDomainPtr d;
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *name = NULL, *dir = NULL;
    int active, id;

    if (!conn)
        return NULL;
    d = lookup_domain(conn, domain);
    if (!d) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN,
                    "no domain '%s' (by name, UUID or ID) on %s; 'hapvm list' or 'virsh list --all' shows "
                    "the domains", domain, uri ? uri : "the default libvirt connection");
        virConnectClose(conn);
        return NULL;
    }
    name = g_strdup(virDomainGetName(d));
    if (virDomainGetUUIDString(d, uuid) != 0)
        uuid[0] = '\0';
    active = virDomainIsActive(d);
    id = (int)virDomainGetID(d);
    virDomainFree(d);
    virConnectClose(conn);
    if (active != 1) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_RUNNING,
                    "domain '%s' is not running; start it ('virsh start %s') and measure it while it works",
                    name, name);
        return NULL;
    }

    /* The public API gives neither QEMU's pid nor thread ids: libvirt's
     * status file does. */
    dir = run_dir ? g_strdup(run_dir) : default_run_dir(uri);
    g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, name, error);
    if (!st) {
        g_prefix_error(error, "domain '%s': ", name);
        return NULL;
    }
    if (st->domain_type == HAPVM_KVM_DOMAIN_OTHER) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_QEMU, "domain '%s' has type '%s', not kvm or qemu",
                    name, st->type ? st->type : "?");
        return NULL;
    }
    g_autoptr(GArray) tasks = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
    if (!hapvm_kvm_scan_tasks(NULL, st->qemu_pid, tasks, error)) {
        g_prefix_error(error, "domain '%s': ", name);
        return NULL;
    }
    HapvmKvmTarget *t = target_new();
    t->uri = g_strdup(uri);
    t->name = g_steal_pointer(&name);
    t->uuid = uuid[0] ? g_strdup(uuid) : g_strdup(st->uuid);
    t->id = id >= 0 ? id : st->id;
    t->qemu_pid = st->qemu_pid;
    /* libvirt's type says what the domain asked for; the threads say what
     * runs. */
    t->accel = g_strdup(st->domain_type == HAPVM_KVM_DOMAIN_TCG ? "tcg" : accel_of(tasks));
    return t;
}

gboolean
hapvm_kvm_target_scan(HapvmMeasurement *m, gpointer target, GError **error)
{
    HapvmKvmTarget *t = target;
    g_autoptr(GArray) tasks = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
    g_autoptr(GError) e = NULL;

    if (!hapvm_kvm_scan_tasks(NULL, t->qemu_pid, tasks, &e)) {
        if (t->n_scans && g_error_matches(e, HAPVM_ERROR, HAPVM_ERROR_TARGET_GONE))
            return TRUE; /* QEMU exited: the engine ends the run */
        g_propagate_error(error, g_steal_pointer(&e));
        return FALSE;
    }
    for (guint i = 0; i < tasks->len; i++) {
        const HapvmKvmTask *k = &g_array_index(tasks, HapvmKvmTask, i);
        gpointer key = GUINT_TO_POINTER(k->tid);
        gpointer val = GUINT_TO_POINTER((guint)k->role + 1);
        if (g_hash_table_lookup(t->seen, key) == val)
            continue;
        gboolean gone;
        if (!hapvm_measurement_add_listed_task(m, k->tid, k->role, &gone, error))
            return FALSE;
        if (gone)
            continue; /* exited since the scan */
        if (t->n_scans && !g_hash_table_contains(t->seen, key))
            t->n_added_late++;
        g_hash_table_insert(t->seen, key, val);
    }
    t->n_scans++;
    return TRUE;
}

void
hapvm_kvm_target_attach(HapvmKvmTarget *t, HapvmMeasurement *m)
{
    HapvmTrace *tr = hapvm_measurement_get_trace(m);

    hapvm_kvm_entry_free(t->entry);
    t->entry = hapvm_kvm_entry_new(hapvm_trace_get_tep(tr), hapvm_measurement_get_decoder(m), HAPVM_ROLE_VCPU);
}

void
hapvm_kvm_target_to_json(const HapvmKvmTarget *t, JsonBuilder *b)
{
    json_builder_set_member_name(b, "vm");
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "hypervisor", "kvm");
    hapvm_json_set_str(b, "name", t->name);
    hapvm_json_set_str(b, "uuid", t->uuid);
    hapvm_json_set_int(b, "libvirt_id", t->id);
    hapvm_json_set_str(b, "libvirt_uri", t->uri);
    hapvm_json_set_int(b, "qemu_pid", t->qemu_pid);
    hapvm_json_set_str(b, "accel", t->accel);
    hapvm_json_set_str(b, "note", g_strcmp0(t->accel, "kvm") == 0 ? NULL
                       : "not KVM-accelerated (QEMU TCG): the guest runs in QEMU's user space, so it has no "
                         "KVM exits and its HAP is the emulator's system calls");
    hapvm_json_set_int(b, "rescans", t->n_scans);
    hapvm_json_set_int(b, "tasks_added_by_rescan", t->n_added_late);
    if (t->entry)
        hapvm_kvm_entry_to_json(t->entry, b);
    json_builder_end_object(b);
}

gboolean
hapvm_kvm_list(const char *uri, const char *run_dir, FILE *out, GError **error)
{
    virConnectPtr conn = connect_qemu(uri, error);
    virDomainPtr *doms = NULL;
    g_autofree char *dir = NULL;
    int n;

    if (!conn)
        return FALSE;
    n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_LIBVIRT, "cannot list domains: %s", libvirt_message());
        virConnectClose(conn);
        return FALSE;
    }
    dir = run_dir ? g_strdup(run_dir) : default_run_dir(uri);
    fprintf(out, "%-5s %-24s %-36s %-8s %s\n", "ID", "NAME", "UUID", "QEMU", "TASKS (role: tid comm)");
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        const char *name = virDomainGetName(doms[i]);
        g_autoptr(GError) e = NULL;
        virDomainGetUUIDString(doms[i], uuid);
        g_autoptr(HapvmKvmStatus) st = hapvm_kvm_status_load(dir, name, &e);
        g_autoptr(GArray) tasks = g_array_new(FALSE, FALSE, sizeof(HapvmKvmTask));
        if (st)
            hapvm_kvm_scan_tasks(NULL, st->qemu_pid, tasks, e ? NULL : &e);
        fprintf(out, "%-5d %-24s %-36s %-8u", (int)virDomainGetID(doms[i]), name, uuid, st ? st->qemu_pid : 0);
        if (e)
            fprintf(out, " (%s)", e->message);
        for (guint k = 0; k < tasks->len; k++) {
            const HapvmKvmTask *tk = &g_array_index(tasks, HapvmKvmTask, k);
            fprintf(out, "%s%s: %u %s", k ? ", " : " ", hapvm_role_name(tk->role), tk->tid, tk->comm);
        }
        fprintf(out, "\n");
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
    return TRUE;
}

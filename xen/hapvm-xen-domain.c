/* Xen domain lookup over the system interface (hapvm-xen-domain.h). */
#include "hapvm-xen-domain.h"

#include <string.h>

#include "hapvm-error.h"
#include "hapvm-proc.h"
#include "hapvm-xen.h"

struct HapvmXenSys {
    const HapvmXenSysOps *ops;
    gpointer self;
};

HapvmXenSys *
hapvm_xen_sys_new(const HapvmXenSysOps *ops, gpointer self)
{
    HapvmXenSys *sys = g_new0(HapvmXenSys, 1);

    g_return_val_if_fail(ops && ops->list && ops->read, NULL);
    sys->ops = ops;
    sys->self = self;
    return sys;
}

void
hapvm_xen_sys_free(HapvmXenSys *sys)
{
    if (!sys)
        return;
    if (sys->ops->close)
        sys->ops->close(sys->self);
    g_free(sys);
}

void
hapvm_xen_domain_free(HapvmXenDomain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->uuid);
    g_free(d);
}

/* A xenstore value, stripped; NULL if absent or empty.  Errors other than
 * absence are the back end's. */
static gboolean
xs_value(HapvmXenSys *sys, const char *path, char **out, GError **error)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *v = sys->ops->read(sys->self, path, &e);

    if (e) {
        g_propagate_error(error, g_steal_pointer(&e));
        return FALSE;
    }
    *out = NULL;
    if (v && *g_strstrip(v))
        *out = g_steal_pointer(&v);
    return TRUE;
}

static HapvmXenDomain *
domain_from_info(HapvmXenSys *sys, const HapvmXenDomInfo *info, GError **error)
{
    g_autoptr(HapvmXenDomain) d = g_new0(HapvmXenDomain, 1);
    g_autofree char *base = g_strdup_printf("/local/domain/%u", info->domid);
    g_autofree char *p_name = g_strconcat(base, "/name", NULL);
    g_autofree char *p_vm = g_strconcat(base, "/vm", NULL);
    g_autofree char *p_dm = g_strconcat(base, "/image/device-model-pid", NULL);
    g_autofree char *vm = NULL, *dm = NULL;
    guint64 v;

    d->info = *info;
    if (!xs_value(sys, p_name, &d->name, error) || !xs_value(sys, p_vm, &vm, error) ||
        !xs_value(sys, p_dm, &dm, error))
        return NULL;
    /* libxl writes "/vm/<uuid>". */
    if (vm && g_str_has_prefix(vm, "/vm/") && vm[4])
        d->uuid = g_strdup(vm + 4);
    /* A malformed pid is ignored (the /proc scan finds QEMU by its
     * -xen-domid anyway). */
    if (dm && g_ascii_string_to_unsigned(dm, 10, 1, G_MAXINT32, &v, NULL))
        d->dm_pid = (guint32)v;
    return g_steal_pointer(&d);
}

static GArray *
list_infos(HapvmXenSys *sys, GError **error)
{
    g_autoptr(GArray) infos = g_array_new(FALSE, FALSE, sizeof(HapvmXenDomInfo));

    if (!sys->ops->list(sys->self, infos, error))
        return NULL;
    return g_steal_pointer(&infos);
}

GPtrArray *
hapvm_xen_domain_list(HapvmXenSys *sys, GError **error)
{
    g_autoptr(GArray) infos = list_infos(sys, error);
    g_autoptr(GPtrArray) out = NULL;

    if (!infos)
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)hapvm_xen_domain_free);
    for (guint i = 0; i < infos->len; i++) {
        HapvmXenDomain *d = domain_from_info(sys, &g_array_index(infos, HapvmXenDomInfo, i), error);
        if (!d)
            return NULL;
        g_ptr_array_add(out, d);
    }
    return g_steal_pointer(&out);
}

static HapvmXenDomain *
check_alive(HapvmXenDomain *d, const char *what, GError **error)
{
    if (d->info.dying || d->info.shutdown) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_RUNNING,
                    "Xen domain %s (domid %u) is %s: nothing to measure", what, d->info.domid,
                    d->info.dying ? "dying" : "shut down");
        hapvm_xen_domain_free(d);
        return NULL;
    }
    return d;
}

char *
hapvm_xen_sys_read(HapvmXenSys *sys, const char *path, GError **error)
{
    return sys->ops->read(sys->self, path, error);
}

gboolean
hapvm_xen_sys_coverage(HapvmXenSys *sys, HapvmXenCoverageOp op, GByteArray *out, GError **error)
{
    if (!sys->ops->coverage) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "no hypervisor coverage interface");
        return FALSE;
    }
    return sys->ops->coverage(sys->self, op, out, error);
}

HapvmXenDomain *
hapvm_xen_domain_lookup(HapvmXenSys *sys, const char *what, GError **error)
{
    g_autoptr(GArray) infos = NULL;
    g_autoptr(HapvmXenDomain) found = NULL;

    if (!what || !*what) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "no Xen domain named: give a domain name or domid");
        return NULL;
    }
    infos = list_infos(sys, error);
    if (!infos)
        return NULL;
    if (hapvm_proc_is_id(what)) {
        guint64 id;
        if (!g_ascii_string_to_unsigned(what, 10, 0, HAPVM_XEN_DOMID_MAX, &id, NULL)) {
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "%s is not a Xen domain id (0..%u)", what,
                        HAPVM_XEN_DOMID_MAX);
            return NULL;
        }
        for (guint i = 0; i < infos->len; i++) {
            const HapvmXenDomInfo *info = &g_array_index(infos, HapvmXenDomInfo, i);
            if (info->domid == id)
                return (found = domain_from_info(sys, info, error))
                           ? check_alive(g_steal_pointer(&found), what, error)
                           : NULL;
        }
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN, "no Xen domain with domid %s (see 'xl list')", what);
        return NULL;
    }
    for (guint i = 0; i < infos->len; i++) {
        g_autoptr(HapvmXenDomain) d = domain_from_info(sys, &g_array_index(infos, HapvmXenDomInfo, i), error);
        if (!d)
            return NULL;
        if (g_strcmp0(d->name, what) != 0 && !(d->uuid && g_ascii_strcasecmp(d->uuid, what) == 0))
            continue;
        if (found) {
            /* xenstore does not forbid it; a dying domain can keep its
             * name while its successor starts. */
            if (found->info.dying && !d->info.dying) {
                hapvm_xen_domain_free(found);
                found = g_steal_pointer(&d);
                continue;
            }
            if (d->info.dying)
                continue;
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                        "two Xen domains are named '%s' (domids %u and %u): give the domid", what,
                        found->info.domid, d->info.domid);
            return NULL;
        }
        found = g_steal_pointer(&d);
    }
    if (!found) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DOMAIN, "no Xen domain named '%s' or with that UUID "
                    "(see 'xl list')", what);
        return NULL;
    }
    return check_alive(g_steal_pointer(&found), what, error);
}

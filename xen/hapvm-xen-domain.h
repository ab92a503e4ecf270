/* Xen domains by name or domid, through a small system interface: the real
 * one (libxenctrl's xc_domain_getinfolist + xenstore reads) when hapvm is
 * built with the meson feature `xen`, a stub that says "built without Xen
 * support" otherwise, or a fake in tests. */
#pragma once

#include <glib.h>

/* One domain as xc_domain_getinfolist() reports it (struct
 * xen_domctl_getdomaininfo, XEN_DOMINF_* flags), reduced. */
typedef struct {
    guint32 domid;
    gboolean dying, shutdown, paused, running, blocked, hvm;
    guint shutdown_reason;    /* valid when shutdown */
    guint n_online_vcpus;
    guint64 cpu_time_ns;
} HapvmXenDomInfo;

typedef enum {
    HAPVM_XEN_COVERAGE_SIZE = 0,  /* XEN_SYSCTL_COVERAGE_get_size: out gets nothing */
    HAPVM_XEN_COVERAGE_RESET,     /* XEN_SYSCTL_COVERAGE_reset */
    HAPVM_XEN_COVERAGE_READ,      /* XEN_SYSCTL_COVERAGE_read: the raw gcov/LLVM stream into out */
} HapvmXenCoverageOp;

typedef struct {
    /* Every domain, domid order (HapvmXenDomInfo into @out). */
    gboolean (*list)(gpointer self, GArray *out, GError **error);
    /* A xenstore node's value; NULL without error when it does not exist. */
    char *(*read)(gpointer self, const char *path, GError **error);
    void (*close)(gpointer self);
    /* XEN_SYSCTL_coverage_op (may be NULL).  EOPNOTSUPP (Xen built without
     * CONFIG_COVERAGE) is HAPVM_ERROR_FAILED with a message saying so. */
    gboolean (*coverage)(gpointer self, HapvmXenCoverageOp op, GByteArray *out, GError **error);
} HapvmXenSysOps;

typedef struct HapvmXenSys HapvmXenSys;

/* The system's Xen: libxenctrl + xenstore (needs root in a dom0), or the
 * stub's error "built without Xen support" (HAPVM_ERROR_FAILED).  Errors:
 * HAPVM_ERROR_NOT_ROOT (permission), HAPVM_ERROR_FAILED (not a dom0, no
 * xenstore). */
HapvmXenSys *hapvm_xen_sys_open(GError **error);
/* TRUE when this hapvm was built with Xen support. */
gboolean hapvm_xen_sys_available(void);

/* Wrap @ops over @self (tests, other back ends); @ops must outlive it. */
HapvmXenSys *hapvm_xen_sys_new(const HapvmXenSysOps *ops, gpointer self);
void hapvm_xen_sys_free(HapvmXenSys *sys);
/* A xenstore node's value; NULL without error when it does not exist. */
char *hapvm_xen_sys_read(HapvmXenSys *sys, const char *path, GError **error);
/* Hypervisor code coverage (global to Xen, not per domain). */
gboolean hapvm_xen_sys_coverage(HapvmXenSys *sys, HapvmXenCoverageOp op, GByteArray *out, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmXenSys, hapvm_xen_sys_free)

typedef struct {
    HapvmXenDomInfo info;
    char *name;               /* /local/domain/<id>/name; "domain-<id>" style never invented: NULL if absent */
    char *uuid;               /* /local/domain/<id>/vm is "/vm/<uuid>"; NULL if absent */
    guint32 dm_pid;           /* /local/domain/<id>/image/device-model-pid, 0 if none */
} HapvmXenDomain;

void hapvm_xen_domain_free(HapvmXenDomain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmXenDomain, hapvm_xen_domain_free)

/* Resolve @what like xl does: all digits → a domid, anything else → a
 * name from xenstore (or the domain's UUID, /local/domain/<id>/vm).  Errors: HAPVM_ERROR_NO_DOMAIN (no such domain),
 * HAPVM_ERROR_NOT_RUNNING (dying or shut down), HAPVM_ERROR_USAGE (empty,
 * domid out of range, or a name two domains share), and the back end's. */
HapvmXenDomain *hapvm_xen_domain_lookup(HapvmXenSys *sys, const char *what, GError **error);

/* Every domain with its xenstore facts (HapvmXenDomain *, free func set). */
GPtrArray *hapvm_xen_domain_list(HapvmXenSys *sys, GError **error);

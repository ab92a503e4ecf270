/* A fake Xen system interface for the tests: what libxenctrl and xenstore
 * would answer, from a domain table and a xenstore key/value table that each
 * test keeps as its own fixture. */
#pragma once

#include "hapvm-xen-domain.h"

typedef enum {
    XEN_FAKE_COVERAGE_ABSENT,      /* the back end has no coverage operation */
    XEN_FAKE_COVERAGE_UNSUPPORTED, /* it has one; Xen says built without coverage */
    XEN_FAKE_COVERAGE_WORKS,       /* reset and read succeed ("XCOV-data") */
} XenFakeCoverage;

typedef struct {
    GArray *infos;            /* HapvmXenDomInfo */
    GHashTable *store;        /* xenstore path → value */
    const char *fail_path;    /* a read of this path fails */
    gboolean fail_list;       /* listing domains fails (not permitted) */
    gboolean *closed;         /* set when the interface is freed */
    XenFakeCoverage coverage; /* ABSENT or not is fixed when the interface is made */
    guint cov_resets, cov_reads;
} XenFake;

/* An interface over a copy of @infos and @kv (xenstore path, value pairs).
 * With @out, the fake itself, to turn its knobs; it lives as long as the
 * interface. */
HapvmXenSys *xen_fake_new(const HapvmXenDomInfo *infos, gsize n_infos, const char *const (*kv)[2], gsize n_kv,
                          XenFakeCoverage coverage, XenFake **out);

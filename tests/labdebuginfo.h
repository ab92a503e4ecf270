/* The lab kernel's debuginfo, for the tests that read it (lineindextest,
 * visibilitytest): tests/lab/debuginfo fetches and extracts it on first use,
 * into $HAPVM_LAB_CACHE/dbg-<release>; $HAPVM_TEST_DEBUGINFO overrides the
 * path.  The tests fail, never skip, when it cannot be had. */
#pragma once

#define LAB_RELEASE "6.1.0-56-amd64"
/* From tests/kerneltest.c: readelf -n on the lab vmlinux. */
#define LAB_BUILD_ID "eb4fbcd037e7253717950bf2b93bd5566f47c56f"

/* The debuginfo dir, fetched on the first call. */
const char *lab_debuginfo(void);
/* Forgets it (at the end of a test's main). */
void lab_debuginfo_free(void);

/* The HTML report (docs/hapvm-report.md, "--format html"): one self-contained
 * page (no network, no external scripts, fonts or style sheets; charts are
 * inline SVG written here) rendered from result JSON objects. */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <json-glib/json-glib.h>

/* One result (n == 1): the full report.  Several: a comparison (grouped bars
 * by collector.labels.workload, one bar per result, and a side-by-side
 * table).  files[i] names result i in the page (its file name; NULL or
 * files NULL: unnamed).  Every string from the results is escaped.  Fails
 * (HAPVM_ERROR_FAILED) only when writing to out fails, or on n == 0. */
gboolean hapvm_html_write(JsonObject *const *results, const char *const *files, guint n, FILE *out,
                          GError **error);

/* The same into path (written to a temporary file, then renamed), or to
 * stdout when path is NULL or "-". */
gboolean hapvm_html_write_file(JsonObject *const *results, const char *const *files, guint n, const char *path,
                               GError **error);

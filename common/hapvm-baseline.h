/* Idle baselines: what the host runs for a target that does nothing (a VM
 * booted and idle, a container started and idle), recorded by `hapvm
 * baseline`, and its subtraction from a measurement, so a report shows the
 * raw scores and the scores of what the workload itself added. */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <json-glib/json-glib.h>

/* The "baseline" member of a result (docs/result-schema.md): the baseline
 * file's identity, and HAP-F, HAP-L, HAP and per role recomputed over the
 * HAP-F functions (by name and module) that the baseline's HAP-F set lacks.
 * Refused (HAPVM_ERROR_BUILD_ID_MISMATCH) when the kernel build-ids or the
 * HAP-F rule differ; HAPVM_ERROR_PARSE when baseline is not a baseline
 * recording and allow_any is FALSE. */
JsonNode *hapvm_baseline_subtract(JsonObject *result, JsonObject *baseline, const char *baseline_file,
                                  gboolean allow_any, GError **error);

/* Print the member's lines under a summary. */
void hapvm_baseline_print(JsonObject *member, FILE *out);

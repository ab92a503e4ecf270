/* Scoring and the versioned JSON result (schema: docs/result-schema.md).
 * The text summary is rendered from the JSON, so `hapvm report` prints
 * exactly what `hapvm measure` printed. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hapvm-kernel.h"
#include "hapvm-ksyms.h"
#include "hapvm-lineindex.h"
#include "hapvm-measure.h"

#define HAPVM_RESULT_SCHEMA "hapvm-result"
#define HAPVM_RESULT_VERSION 1
/* Defects per line: 1 in ~3,000 lines, Coverity Scan on linux-next in 2018
 * (docs/methodology.md has the source). */
#define HAPVM_DEFAULT_DENSITY (1.0 / 3000.0)

typedef struct {
    const char *target_kind;   /* "process", "cgroup", "command", "kvm", ... */
    const char *target;        /* what the user named */
    const HapvmKernelInfo *kernel;
    const HapvmKsyms *ksyms;   /* NULL: addresses only */
    const HapvmLineIndex *lines; /* NULL: HAP-L unavailable */
    const char *lines_error;   /* why lines is NULL */
    double density;
    gboolean accept_loss;
    gboolean baseline;         /* `hapvm baseline`: an idle target's recording */
    /* Front-end members (e.g. "vm"), added last to the result object. */
    void (*add_members)(JsonBuilder *b, gpointer data);
    gpointer add_data;
} HapvmResultInput;

/* Members for front ends' additions (add_members): one name/value pair
 * each; a NULL string is written as JSON null. */
void hapvm_json_set_int(JsonBuilder *b, const char *name, gint64 v);
void hapvm_json_set_str(JsonBuilder *b, const char *name, const char *v);

/* Build the result object of a finished measurement. */
JsonNode *hapvm_result_build(HapvmMeasurement *m, const HapvmResultInput *in);

/* The end of a command that made a result: write it to path (if any),
 * print the summary (unless quiet), and fail with HAPVM_ERROR_LOST_EVENTS
 * if events were lost and not accepted.  where/remedy complete the message:
 * "... were lost<where>, ... ; <remedy> --accept-loss to keep it anyway". */
gboolean hapvm_result_emit(JsonNode *result, const char *path, gboolean quiet, gboolean accept_loss,
                           const char *where, const char *remedy, GError **error);

/* Total of all loss counters in a result; 0 = complete. */
guint64 hapvm_result_get_lost(JsonObject *result);

/* Human summary of a result. */
void hapvm_result_print_summary(JsonObject *result, FILE *out);

/* Several results side by side: scores, per role, per subsystem. */
void hapvm_result_print_table(JsonObject *const *results, guint n, FILE *out);

/* Write atomically (temp file, fsync, rename). */
gboolean hapvm_result_write(JsonNode *result, const char *path, GError **error);
JsonNode *hapvm_result_load(const char *path, GError **error);

/* Prometheus exposition of hapvmd's figures: a textfile for node_exporter's
 * textfile collector and the body of the optional localhost /metrics. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* latest: uuid → JsonNode* (each domain's newest stored result);
 * sessions: HapvmdSession* running now; counters: outcome → count. */
char *hapvmd_metrics_render(GHashTable *latest, GPtrArray *sessions, const char *host, guint64 stored,
                            guint64 failed);
/* Write atomically (temp file in the same directory, rename). */
gboolean hapvmd_metrics_write(const char *path, const char *text, GError **error);

/* hapvmd: measures every libvirt domain over its lifecycle.  The libvirt
 * hook tells it about starts and stops over a root-only Unix socket
 * (docs/hapvmd-protocol.md); each measurement is a child `hapvm measure`
 * (hapvmd-session.c); results go to the store, figures to Prometheus. */
#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hapvm-json.h"
#include "hapvm-error.h"
#include "hapvm-result.h"
#include "hapvm-store.h"
#include "hapvmd-config.h"
#include "hapvmd-domain.h"
#include "hapvmd-metrics.h"
#include "hapvmd-session.h"

#define REQUEST_MAX 65536
#define REQUEST_TIMEOUT_MS 2000
#define STOP_GRACE_S 3.0
#define SHUTDOWN_BOUND_S 30

typedef struct {
    HapvmdConfig *cfg;
    char *config_path;
    GMainLoop *loop;
    GSocketService *service;
    GSocketService *http;
    GPtrArray *sessions;       /* HapvmdSession*, running or finishing */
    GHashTable *latest;        /* uuid → JsonNode* newest stored result */
    GHashTable *done_pids;     /* uuid → qemu pid measured to its end (no re-measure) */
    GHashTable *migrating;     /* uuid → TRUE: a "migrate" was announced */
    GHashTable *pending;       /* uuid → Pending: measurements to spawn after the reply */
    char *metrics_text;        /* also served over HTTP */
    guint64 stored, failed;
    GDateTime *started;
    gboolean shutting_down;
} Daemon;

static Daemon D;

/* ---- sessions ---------------------------------------------------------- */

static HapvmdSession *
find_session(const char *uuid)
{
    for (guint i = 0; i < D.sessions->len; i++)
        if (!g_ascii_strcasecmp(hapvmd_session_get_uuid(D.sessions->pdata[i]), uuid))
            return D.sessions->pdata[i];
    return NULL;
}

static void
metrics_update(void)
{
    g_free(D.metrics_text);
    D.metrics_text = hapvmd_metrics_render(D.latest, D.sessions, D.cfg->host, D.stored, D.failed);
    g_autoptr(GError) e = NULL;
    if (D.cfg->textfile && !hapvmd_metrics_write(D.cfg->textfile, D.metrics_text, &e))
        g_warning("metrics: %s", e->message);
}

static gboolean
on_session_freed(gpointer data)
{
    hapvmd_session_free(data);
    if (D.shutting_down && D.sessions->len == 0)
        g_main_loop_quit(D.loop);
    return G_SOURCE_REMOVE;
}

static void
on_session_done(HapvmdSession *s, const char *path, JsonNode *result, const char *why, gpointer data)
{
    const char *uuid = hapvmd_session_get_uuid(s);
    g_autofree char *en = g_strescape(hapvmd_session_get_domain(s), NULL);
    guint32 qemu_pid = hapvmd_session_get_qemu_pid(s);
    if (path) {
        JsonObject *r = json_node_get_object(result);
        JsonObject *col = json_object_get_object_member(r, "collector");
        JsonObject *vm = json_object_has_member(r, "vm") ? json_object_get_object_member(r, "vm") : NULL;
        D.stored++;
        g_hash_table_replace(D.latest, g_strdup(uuid), json_node_ref(result));
        if (!qemu_pid && vm && json_object_has_member(vm, "qemu_pid"))
            qemu_pid = (guint32)json_object_get_int_member(vm, "qemu_pid");
        g_message("%s (%s): result stored in %s (HAP-F %" G_GINT64_FORMAT "%s%s)", en,
                  uuid, path, json_object_get_int_member(json_object_get_object_member(r, "scores"), "hap_f"),
                  json_object_get_boolean_member(col, "partial") ? ", partial: " : "",
                  json_object_get_boolean_member(col, "partial")
                      ? json_object_get_string_member(col, "partial_reason") : "");
    } else {
        D.failed++;
        g_warning("%s (%s): no result: %s", en, uuid, why);
    }
    /* Once per QEMU process: the pick-up must not measure it again, nor
     * retry a failing one in a loop. */
    if (qemu_pid)
        g_hash_table_replace(D.done_pids, g_strdup(uuid), GUINT_TO_POINTER(qemu_pid));
    g_ptr_array_remove(D.sessions, s);
    metrics_update();
    /* Freed outside the child-watch callback that called us. */
    g_idle_add(on_session_freed, s);
}

typedef struct {
    HapvmdSessionInfo info;
    char *why;
} Pending;

static void
pending_free(Pending *p)
{
    g_free((char *)p->info.domain);
    g_free((char *)p->info.uuid);
    g_free((char *)p->info.driver);
    g_free((char *)p->info.trigger);
    if (p->info.labels)
        g_hash_table_unref(p->info.labels);
    g_free(p->why);
    g_free(p);
}

/* Spawning `hapvm measure` (fork + exec) is left for after the reply: the
 * hook waits for the reply, and libvirt for the hook. */
static gboolean
start_pending(gpointer data)
{
    Pending *p = g_hash_table_lookup(D.pending, data);
    g_autoptr(GError) e = NULL;

    if (!p)         /* cancelled: the domain stopped before we spawned */
        return G_SOURCE_REMOVE;
    g_autofree char *en = g_strescape(p->info.domain, NULL);

    if (!D.shutting_down) {
        HapvmdSession *s = hapvmd_session_start(D.cfg, &p->info, on_session_done, NULL, &e);
        if (s) {
            g_message("%s (%s): measuring (%s, %s)", en, hapvmd_session_get_uuid(s), p->info.trigger, p->why);
            g_ptr_array_add(D.sessions, s);
        } else {
            g_warning("%s: cannot start a measurement: %s", en, e->message);
            D.failed++;
        }
    }
    g_hash_table_remove(D.pending, p->info.uuid); /* frees p */
    return G_SOURCE_REMOVE;
}

/* Start measuring unless running already or policy says no; *action gets
 * the protocol's answer. */
static void
maybe_start(const char *name, const char *uuid, const char *driver, HapvmdOptIn meta, GHashTable *labels,
            const char *trigger, guint32 qemu_pid, const char **action)
{
    const char *why;
    g_autofree char *en = g_strescape(name, NULL); /* names are the user's bytes: never raw in logs */

    if (D.shutting_down) {
        *action = "ignored";
        return;
    }
    if (g_strcmp0(driver, "qemu") != 0 && g_strcmp0(driver, "libxl") != 0) {
        g_message("%s: driver %s: not measured (hapvm measures QEMU/KVM and Xen (libxl) domains)", en, driver);
        *action = "ignored";
        return;
    }
    if (!uuid || !hapvm_uuid_is_valid(uuid)) {
        g_warning("%s: not measured: no valid uuid", en);
        *action = "ignored";
        return;
    }
    g_autofree char *lu = g_ascii_strdown(uuid, -1);
    if (find_session(lu) || g_hash_table_contains(D.pending, lu)) {
        *action = "measuring";
        return;
    }
    if (!hapvmd_config_wants(D.cfg, name, meta, &why)) {
        g_message("%s: not measured: %s", en, why);
        *action = "excluded";
        return;
    }
    if (D.sessions->len + g_hash_table_size(D.pending) >= D.cfg->max_sessions) {
        g_warning("%s: not measured: %u measurements running ([measure] max_sessions)", en, D.sessions->len);
        *action = "ignored";
        return;
    }
    Pending *p = g_new0(Pending, 1);
    p->info = (HapvmdSessionInfo){
        .domain = g_strdup(name), .uuid = g_steal_pointer(&lu), .driver = g_strdup(driver),
        .labels = labels ? g_hash_table_ref(labels) : NULL, .trigger = g_strdup(trigger), .qemu_pid = qemu_pid,
    };
    p->why = g_strdup(why);
    g_hash_table_replace(D.pending, (char *)p->info.uuid, p);
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, start_pending, g_strdup(p->info.uuid), g_free);
    *action = "measuring";
}

/* Running domains from libvirt's status files: at start, and every
 * rescan seconds for a hook that never came (daemon down, or migration). */
static void
pick_up(const char *trigger)
{
    g_autoptr(GDir) dir = g_dir_open(D.cfg->libvirt_run_dir, 0, NULL);
    const char *f;

    while (dir && (f = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(f, ".xml"))
            continue;
        g_autofree char *path = g_build_filename(D.cfg->libvirt_run_dir, f, NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(HapvmdDomain) d = hapvmd_domain_load(path, &e);
        if (!d || !d->running || !d->uuid || find_session(d->uuid) || g_hash_table_contains(D.pending, d->uuid))
            continue;
        gpointer done;
        if (g_hash_table_lookup_extended(D.done_pids, d->uuid, NULL, &done) && GPOINTER_TO_UINT(done) == d->qemu_pid)
            continue;
        const char *action;
        gboolean migrated = g_hash_table_remove(D.migrating, d->uuid);
        maybe_start(d->name, d->uuid, "qemu", d->measure, d->labels, migrated ? "migrate" : trigger, d->qemu_pid,
                    &action);
        if (!strcmp(action, "excluded"))   /* say it once per QEMU */
            g_hash_table_replace(D.done_pids, g_strdup(d->uuid), GUINT_TO_POINTER(d->qemu_pid));
    }
}

static gboolean
on_rescan(gpointer data)
{
    pick_up("daemon-start");
    metrics_update();
    return G_SOURCE_CONTINUE;
}

/* ---- requests ---------------------------------------------------------- */

/* {"ok":OK,"KEY":"VALUE"}: "ok" first, as the hook reads only that. */
static char *
reply(gboolean ok, const char *key, const char *value)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, ok);
    hapvm_json_set_str(b, key, value);
    json_builder_end_object(b);
    g_autoptr(JsonNode) n = json_builder_get_root(b);
    return json_to_string(n, FALSE);
}

static char *
reply_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static char *
reply_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return reply(FALSE, "error", msg);
}

static char *
handle_hook(JsonObject *req)
{
    const char *name = hapvm_json_string(req, "domain"), *uuid = hapvm_json_string(req, "uuid");
    const char *op = hapvm_json_string(req, "operation"), *driver = hapvm_json_string(req, "driver");
    const char *measure = hapvm_json_string(req, "measure"), *action = "ignored";

    if (!name || !op)
        return reply_error("hook request without domain or operation");
    if (uuid && !hapvm_uuid_is_valid(uuid))
        return reply_error("hook request: '%s' is not a uuid", uuid);
    if (!uuid) {
        /* No XML on stdin: the status file has the uuid (names are not paths:
         * only a plain file name is accepted). */
        if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
            return reply_error("hook request without uuid for an unusable name");
        g_autofree char *f = g_strdup_printf("%s/%s.xml", D.cfg->libvirt_run_dir, name);
        g_autoptr(HapvmdDomain) d = hapvmd_domain_load(f, NULL);
        if (!d || !d->uuid)
            return reply_error("hook request without uuid, and no status file for the domain");
        uuid = g_intern_string(d->uuid);
    }
    g_autoptr(GHashTable) labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    JsonNode *ln = json_object_has_member(req, "labels") ? json_object_get_member(req, "labels") : NULL;
    if (ln && JSON_NODE_HOLDS_OBJECT(ln)) {
        JsonObject *lo = json_node_get_object(ln);
        g_autoptr(GList) keys = json_object_get_members(lo);
        for (GList *k = keys; k; k = k->next) {
            const char *v = hapvm_json_string(lo, k->data);
            if (hapvmd_label_is_valid(k->data, v))
                g_hash_table_replace(labels, g_strdup(k->data), g_strdup(v));
        }
    }
    HapvmdOptIn meta = !g_strcmp0(measure, "yes") ? HAPVMD_MEASURE_YES
                       : !g_strcmp0(measure, "no") ? HAPVMD_MEASURE_NO : HAPVMD_MEASURE_UNSET;

    if (!strcmp(op, "started") || !strcmp(op, "reconnect")) {
        gboolean migrated = g_hash_table_remove(D.migrating, uuid);
        maybe_start(name, uuid, driver ? driver : "qemu", meta, labels, migrated ? "migrate" : op, 0, &action);
    } else if (!strcmp(op, "stopped") || !strcmp(op, "release")) {
        HapvmdSession *s = find_session(uuid);
        g_autofree char *lu = g_ascii_strdown(uuid, -1);
        if (s && hapvmd_session_is_running(s)) {
            hapvmd_session_stop(s, STOP_GRACE_S, "domain stopped");
            action = "stopping";
        } else if (g_hash_table_remove(D.pending, lu)) {
            action = "stopping";   /* stopped before its measurement was spawned */
        }
        g_hash_table_remove(D.migrating, uuid);
    } else if (!strcmp(op, "migrate")) {
        /* Incoming: QEMU starts later; the next started/pick-up is labelled. */
        g_hash_table_add(D.migrating, g_strdup(uuid));
        action = "ignored";
    }
    return reply(TRUE, "action", action);
}

static char *
handle_status(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_set_member_name(b, "daemon");
    json_builder_begin_object(b);
    hapvm_json_set_int(b, "pid", getpid());
    hapvm_json_set_str(b, "version", HAPVM_VERSION);
    g_autofree char *since = g_date_time_format_iso8601(D.started);
    hapvm_json_set_str(b, "started", since);
    hapvm_json_set_str(b, "config", D.config_path);
    hapvm_json_set_str(b, "results_dir", D.cfg->results);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "sessions");
    json_builder_begin_array(b);
    for (guint i = 0; i < D.sessions->len; i++)
        hapvmd_session_add_status(D.sessions->pdata[i], b);
    json_builder_end_array(b);
    hapvm_json_set_int(b, "results", (gint64)D.stored);
    hapvm_json_set_int(b, "failed", (gint64)D.failed);
    json_builder_end_object(b);
    g_autoptr(JsonNode) n = json_builder_get_root(b);
    return json_to_string(n, FALSE);
}

static char *
handle_line(const char *line)
{
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) e = NULL;

    if (!json_parser_load_from_data(p, line, -1, &e))
        return reply_error("malformed request: %s", e->message);
    JsonNode *root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return reply_error("malformed request: not a JSON object");
    JsonObject *req = json_node_get_object(root);
    JsonNode *v = json_object_has_member(req, "v") ? json_object_get_member(req, "v") : NULL;
    if (!v || !JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_INT64 || json_node_get_int(v) != 1)
        return reply_error("unsupported protocol version (this hapvmd speaks v 1)");
    const char *op = hapvm_json_string(req, "op");
    if (!g_strcmp0(op, "hook"))
        return handle_hook(req);
    if (!g_strcmp0(op, "status"))
        return handle_status();
    if (!g_strcmp0(op, "ping"))
        return g_strdup("{\"ok\":true}");
    return reply_error("unknown op '%s'", op ? op : "(none)");
}

/* ---- connections ------------------------------------------------------- */

typedef struct {
    GSocketConnection *conn;
    GCancellable *cancel;
    guint timeout;
    GByteArray *buf;
    guint8 chunk[4096];
    gboolean http;
} Conn;

static void
conn_free(Conn *c)
{
    if (c->timeout)
        g_source_remove(c->timeout);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_object_unref(c->cancel);
    g_byte_array_unref(c->buf);
    g_free(c);
}

static void
conn_reply(Conn *c, const char *text, gsize len)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    GSocket *sock = g_socket_connection_get_socket(c->conn);
    /* A peer that never reads gets what fits, never the daemon's time. */
    g_socket_set_timeout(sock, 1);
    g_output_stream_write_all(out, text, len, NULL, NULL, NULL);
    conn_free(c);
}

static gboolean
on_conn_timeout(gpointer data)
{
    Conn *c = data;
    c->timeout = 0;
    g_cancellable_cancel(c->cancel);
    return G_SOURCE_REMOVE;
}

static void
on_read(GObject *src, GAsyncResult *res, gpointer data)
{
    Conn *c = data;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, NULL);

    if (n <= 0) {                   /* EOF, error, or our timeout */
        if (!c->http && n == 0 && c->buf->len) {
            g_autofree char *line = g_strndup((char *)c->buf->data, c->buf->len);
            g_autofree char *r = handle_line(line);
            g_autofree char *rl = g_strconcat(r, "\n", NULL);
            conn_reply(c, rl, strlen(rl));
            return;
        }
        conn_free(c);
        return;
    }
    g_byte_array_append(c->buf, c->chunk, n);
    if (c->http) {
        if (g_strstr_len((char *)c->buf->data, c->buf->len, "\r\n\r\n") ||
            g_strstr_len((char *)c->buf->data, c->buf->len, "\n\n")) {
            gboolean ok = c->buf->len > 13 && !memcmp(c->buf->data, "GET /metrics ", 13);
            g_autofree char *resp = ok ? g_strdup_printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4"
                                                         "\r\nContent-Length: %zu\r\n\r\n%s",
                                                         strlen(D.metrics_text), D.metrics_text)
                                       : g_strdup("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            conn_reply(c, resp, strlen(resp));
            return;
        }
        if (c->buf->len > 8192) {
            conn_free(c);
            return;
        }
    } else {
        guint8 *nl = memchr(c->buf->data, '\n', c->buf->len);
        if (nl) {
            g_autofree char *line = g_strndup((char *)c->buf->data, nl - c->buf->data);
            g_autofree char *r = handle_line(line);
            g_autofree char *rl = g_strconcat(r, "\n", NULL);
            conn_reply(c, rl, strlen(rl));
            return;
        }
        if (c->buf->len > REQUEST_MAX) {
            g_autofree char *r = reply_error("request longer than %d bytes", REQUEST_MAX);
            g_autofree char *rl = g_strconcat(r, "\n", NULL);
            conn_reply(c, rl, strlen(rl));
            return;
        }
    }
    g_input_stream_read_async(G_INPUT_STREAM(src), c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT, c->cancel,
                              on_read, c);
}

static void
conn_start(GSocketConnection *conn, gboolean http)
{
    Conn *c = g_new0(Conn, 1);
    c->conn = g_object_ref(conn);
    c->cancel = g_cancellable_new();
    c->buf = g_byte_array_new();
    c->http = http;
    c->timeout = g_timeout_add(REQUEST_TIMEOUT_MS, on_conn_timeout, c);
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(conn)), c->chunk, sizeof c->chunk,
                              G_PRIORITY_DEFAULT, c->cancel, on_read, c);
}

static gboolean
on_incoming(GSocketService *svc, GSocketConnection *conn, GObject *src, gpointer data)
{
    g_autoptr(GError) e = NULL;
    g_autoptr(GCredentials) cred = g_socket_get_credentials(g_socket_connection_get_socket(conn), &e);
    uid_t uid = cred ? g_credentials_get_unix_user(cred, NULL) : (uid_t)-1;

    if (uid != 0) {
        g_autofree char *r = reply_error("permission denied: peer uid %d is not root", (int)uid);
        g_autofree char *rl = g_strconcat(r, "\n", NULL);
        g_warning("refused a connection from uid %d (only root may talk to hapvmd)", (int)uid);
        g_socket_set_timeout(g_socket_connection_get_socket(conn), 1);
        g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), rl, strlen(rl), NULL, NULL,
                                  NULL);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    conn_start(conn, FALSE);
    return TRUE;
}

static gboolean
on_http(GSocketService *svc, GSocketConnection *conn, GObject *src, gpointer data)
{
    conn_start(conn, TRUE);
    return TRUE;
}

static gboolean
listen_unix(GError **error)
{
    g_autofree char *dir = g_path_get_dirname(D.cfg->socket);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot create %s: %s", dir, g_strerror(errno));
        return FALSE;
    }
    /* A live hapvmd answers a ping: then refuse to steal its socket. */
    g_autoptr(GSocketClient) cl = g_socket_client_new();
    g_autoptr(GSocketAddress) a = g_unix_socket_address_new(D.cfg->socket);
    g_socket_client_set_timeout(cl, 1);
    g_autoptr(GSocketConnection) other = g_socket_client_connect(cl, G_SOCKET_CONNECTABLE(a), NULL, NULL);
    if (other) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "another hapvmd is listening on %s", D.cfg->socket);
        return FALSE;
    }
    g_unlink(D.cfg->socket);
    D.service = g_socket_service_new();
    mode_t old = umask(0177); /* created 0600: no window with other bits */
    gboolean ok = g_socket_listener_add_address(G_SOCKET_LISTENER(D.service), a, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error);
    umask(old);
    if (!ok)
        return FALSE;
    chmod(D.cfg->socket, 0600);
    g_signal_connect(D.service, "incoming", G_CALLBACK(on_incoming), NULL);
    g_socket_service_start(D.service);
    return TRUE;
}

static gboolean
listen_http(GError **error)
{
    const char *colon = strrchr(D.cfg->http, ':');
    g_autofree char *host = g_strndup(D.cfg->http, colon - D.cfg->http);
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    guint64 port = g_ascii_strtoull(colon + 1, NULL, 10);
    g_autoptr(GSocketAddress) a = g_inet_socket_address_new_from_string(host, (guint)port);
    if (!a || port == 0 || port > 65535) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "[metrics] http: bad address '%s'", D.cfg->http);
        return FALSE;
    }
    D.http = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(D.http), a, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                       NULL, NULL, error))
        return FALSE;
    g_signal_connect(D.http, "incoming", G_CALLBACK(on_http), NULL);
    g_socket_service_start(D.http);
    return TRUE;
}

/* ---- lifecycle --------------------------------------------------------- */

/* Each domain's newest stored result, for the metrics after a restart. */
static void
load_latest(void)
{
    guint skipped = 0;
    g_autoptr(GPtrArray) all = hapvm_store_list(D.cfg->results, NULL, &skipped, NULL);
    for (guint i = 0; all && i < all->len; i++) {      /* oldest first: the last one wins */
        HapvmStoreEntry *e = all->pdata[i];
        JsonNode *n = hapvm_result_load(e->path, NULL);
        if (n)
            g_hash_table_replace(D.latest, g_strdup(e->uuid), n);
    }
    if (skipped)
        g_warning("%u unreadable files in %s were skipped", skipped, D.cfg->results);
}

static gboolean
on_shutdown_bound(gpointer data)
{
    g_warning("measurements did not end within %d s; exiting", SHUTDOWN_BOUND_S);
    g_main_loop_quit(D.loop);
    return G_SOURCE_REMOVE;
}

static gboolean
on_term(gpointer data)
{
    if (D.shutting_down)
        return G_SOURCE_CONTINUE;
    D.shutting_down = TRUE;
    g_message("stopping: %u measurement(s) to end (their partial results are kept)", D.sessions->len);
    if (D.service)
        g_socket_service_stop(D.service);
    if (D.sessions->len == 0) {
        g_main_loop_quit(D.loop);
        return G_SOURCE_CONTINUE;
    }
    for (guint i = 0; i < D.sessions->len; i++)
        hapvmd_session_stop(D.sessions->pdata[i], 0, "hapvmd stopped");
    g_timeout_add_seconds(SHUTDOWN_BOUND_S, on_shutdown_bound, NULL);
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *config = NULL;
    gboolean version = FALSE, check = FALSE;
    GOptionEntry entries[] = {
        { "config", 'f', 0, G_OPTION_ARG_FILENAME, &config, "configuration file (default " HAPVMD_DEFAULT_CONFIG ")", "FILE" },
        { "check-config", 0, 0, G_OPTION_ARG_NONE, &check, "check the configuration, print it, and exit", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

    setlocale(LC_ALL, "");
    g_option_context_set_summary(ctx, "Measure the HAP of every libvirt domain over its lifecycle (hapvmd(8)).");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hapvmd: %s\n", error->message);
        return 2;
    }
    if (version) {
        printf("hapvmd %s\n", HAPVM_VERSION);
        return 0;
    }
    D.cfg = hapvmd_config_load(config, &error);
    if (!D.cfg) {
        fprintf(stderr, "hapvmd: %s\n", error->message);
        return 2;
    }
    D.config_path = g_strdup(config ? config : HAPVMD_DEFAULT_CONFIG);
    if (check) {
        printf("socket=%s\nuri=%s\nresults=%s\nhapvm=%s\nlibvirt_run_dir=%s\nrescan=%g\n"
               "domains=%s\nwarmup=%g\nquiet=%g\nmax_duration=%g\nlow_overhead=%s\nlines=%s\n"
               "textfile=%s\nhttp=%s\nhost=%s\n",
               D.cfg->socket, D.cfg->uri, D.cfg->results, D.cfg->hapvm, D.cfg->libvirt_run_dir, D.cfg->rescan_s,
               D.cfg->opt_in ? "opt-in" : "all", D.cfg->warmup_s, D.cfg->quiet_s, D.cfg->max_s,
               D.cfg->low_overhead ? "true" : "false", D.cfg->lines ? "true" : "false",
               D.cfg->textfile ? D.cfg->textfile : "", D.cfg->http ? D.cfg->http : "", D.cfg->host);
        return 0;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "hapvmd: must run as root (it traces the kernel and serves a root-only socket)\n");
        return 3;
    }
    if (!g_file_test(D.cfg->hapvm, G_FILE_TEST_IS_EXECUTABLE)) {
        fprintf(stderr, "hapvmd: %s is not executable; set [daemon] hapvm= in %s\n", D.cfg->hapvm, D.config_path);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    D.loop = g_main_loop_new(NULL, FALSE);
    D.sessions = g_ptr_array_new();
    D.latest = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_node_unref);
    D.done_pids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    D.migrating = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    D.pending = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pending_free);
    D.started = g_date_time_new_now_utc();
    if (g_mkdir_with_parents(D.cfg->results, 0750) != 0) {
        fprintf(stderr, "hapvmd: cannot create %s: %s\n", D.cfg->results, g_strerror(errno));
        return 1;
    }
    if (!listen_unix(&error) || (D.cfg->http && !listen_http(&error))) {
        fprintf(stderr, "hapvmd: %s\n", error->message);
        return 1;
    }
    load_latest();
    g_unix_signal_add(SIGTERM, on_term, NULL);
    g_unix_signal_add(SIGINT, on_term, NULL);
    g_message("hapvmd %s listening on %s (results in %s, measuring with %s)", HAPVM_VERSION, D.cfg->socket,
              D.cfg->results, D.cfg->hapvm);
    pick_up("daemon-start");
    metrics_update();
    if (D.cfg->rescan_s > 0)
        g_timeout_add((guint)(D.cfg->rescan_s * 1000), on_rescan, NULL);
    g_main_loop_run(D.loop);

    g_unlink(D.cfg->socket);
    metrics_update();
    for (guint i = 0; i < D.sessions->len; i++)
        hapvmd_session_free(D.sessions->pdata[i]);
    return 0;
}

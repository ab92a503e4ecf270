#include "hapvmd-session.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-result.h"
#include "hapvm-store.h"

/* One of the child's output pipes, read line by line on the main loop. */
typedef struct {
    HapvmdSession *session;
    int fd;
    guint src;
    GString *buf;
    void (*line)(HapvmdSession *s, const char *line);
} Pipe;

struct HapvmdSession {
    const HapvmdConfig *cfg;
    char *domain, *uuid, *driver, *trigger;
    GHashTable *labels;
    guint32 qemu_pid;
    GPid pid;
    gboolean running;
    GDateTime *started;
    char *tmp_json;
    Pipe status, err;   /* --status-fd lines; stderr lines */
    guint child_src, kill_src;
    char *last_err;
    JsonNode *last_status;
    char *stop_why;
    HapvmdSessionDone done;
    gpointer done_data;
};

const char *hapvmd_session_get_uuid(const HapvmdSession *s) { return s->uuid; }
const char *hapvmd_session_get_domain(const HapvmdSession *s) { return s->domain; }
GHashTable *hapvmd_session_get_labels(const HapvmdSession *s) { return s->labels; }
gboolean hapvmd_session_is_running(const HapvmdSession *s) { return s->running; }
guint32 hapvmd_session_get_qemu_pid(const HapvmdSession *s) { return s->qemu_pid; }

static void
remove_source(guint *id)
{
    if (*id)
        g_source_remove(*id);
    *id = 0;
}

void
hapvmd_session_free(HapvmdSession *s)
{
    if (!s)
        return;
    remove_source(&s->status.src);
    remove_source(&s->err.src);
    remove_source(&s->child_src);
    remove_source(&s->kill_src);
    if (s->status.fd >= 0)
        close(s->status.fd);
    if (s->err.fd >= 0)
        close(s->err.fd);
    if (s->running && s->pid > 0) {
        /* Freed while the child runs (daemon teardown): don't orphan it. */
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    if (s->tmp_json)
        g_unlink(s->tmp_json);
    g_free(s->domain);
    g_free(s->uuid);
    g_free(s->driver);
    g_free(s->trigger);
    if (s->labels)
        g_hash_table_unref(s->labels);
    g_date_time_unref(s->started);
    g_free(s->tmp_json);
    g_string_free(s->status.buf, TRUE);
    g_string_free(s->err.buf, TRUE);
    g_free(s->last_err);
    if (s->last_status)
        json_node_unref(s->last_status);
    g_free(s->stop_why);
    g_free(s);
}

/* Read what is there; hand complete lines to line_func. FALSE at EOF. */
static gboolean
drain_lines(Pipe *p)
{
    GString *buf = p->buf;
    char chunk[4096];
    ssize_t n = read(p->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return TRUE;
    if (n <= 0)
        return FALSE;
    g_string_append_len(buf, chunk, n);
    char *nl;
    while ((nl = memchr(buf->str, '\n', buf->len))) {
        *nl = '\0';
        p->line(p->session, buf->str);
        g_string_erase(buf, 0, nl - buf->str + 1);
    }
    if (buf->len > 65536) /* a runaway line: keep the daemon's memory bounded */
        g_string_truncate(buf, 0);
    return TRUE;
}

static void
on_status_line(HapvmdSession *s, const char *line)
{
    g_autoptr(JsonParser) p = json_parser_new();
    if (!json_parser_load_from_data(p, line, -1, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
        return;
    if (s->last_status)
        json_node_unref(s->last_status);
    s->last_status = json_node_copy(json_parser_get_root(p));
}

static void
on_err_line(HapvmdSession *s, const char *line)
{
    if (!*line)
        return;
    g_autofree char *en = g_strescape(s->domain, NULL);
    g_message("%s (%s): hapvm measure: %s", en, s->uuid, line);
    g_free(s->last_err);
    s->last_err = g_strdup(line);
}

static gboolean
on_pipe(int fd, GIOCondition cond, gpointer data)
{
    Pipe *p = data;
    if (drain_lines(p))
        return G_SOURCE_CONTINUE;
    p->src = 0;
    return G_SOURCE_REMOVE;
}

static void
add_collector(HapvmdSession *s, JsonObject *r, gboolean partial, const char *partial_reason)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "host", s->cfg->host);
    hapvm_json_set_str(b, "domain", s->domain);
    hapvm_json_set_str(b, "uuid", s->uuid);
    hapvm_json_set_str(b, "driver", s->driver);
    json_builder_set_member_name(b, "labels");
    json_builder_begin_object(b);
    if (s->labels) {
        g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(s->labels), (GCompareFunc)strcmp);
        for (GList *k = keys; k; k = k->next)
            hapvm_json_set_str(b, k->data, g_hash_table_lookup(s->labels, k->data));
    }
    json_builder_end_object(b);
    hapvm_json_set_str(b, "trigger", s->trigger);
    json_builder_set_member_name(b, "partial");
    json_builder_add_boolean_value(b, partial);
    hapvm_json_set_str(b, "partial_reason", partial_reason);
    hapvm_json_set_str(b, "hapvmd_version", HAPVM_VERSION);
    json_builder_end_object(b);
    json_object_set_member(r, "collector", json_builder_get_root(b));
}

static void
finish(HapvmdSession *s, int wait_status)
{
    g_autofree char *why = NULL, *path = NULL;
    g_autoptr(JsonNode) result = NULL;
    g_autoptr(GError) e = NULL;

    /* The status and error pipes may still hold the last lines. */
    Pipe *pipes[] = { &s->status, &s->err };
    for (guint i = 0; i < G_N_ELEMENTS(pipes); i++) {
        if (!pipes[i]->src)
            continue;
        while (drain_lines(pipes[i]))
            ;
        remove_source(&pipes[i]->src);
    }
    if (g_file_test(s->tmp_json, G_FILE_TEST_EXISTS))
        result = hapvm_result_load(s->tmp_json, &e);
    if (!result) {
        if (WIFEXITED(wait_status))
            why = g_strdup_printf("hapvm measure exited with status %d%s%s", WEXITSTATUS(wait_status),
                                  s->last_err ? ": " : " and no result", s->last_err ? s->last_err : "");
        else
            why = g_strdup_printf("hapvm measure was killed by signal %d (no result)", WTERMSIG(wait_status));
        if (e)
            why = g_strconcat(why, "; ", e->message, NULL);
    } else {
        JsonObject *r = json_node_get_object(result);
        JsonObject *timing = json_object_get_object_member(r, "timing");
        const char *end = timing ? json_object_get_string_member_with_default(timing, "end_reason", "") : "";
        double elapsed = timing ? json_object_get_double_member_with_default(timing, "elapsed_s", 0) : 0;
        g_autofree char *reason = NULL;
        if (!strcmp(end, "targets-exited"))
            reason = g_strdup_printf("domain stopped after %.1f s, before the measurement's end condition", elapsed);
        else if (!strcmp(end, "interrupted"))
            reason = g_strdup_printf("stopped by hapvmd after %.1f s (%s)", elapsed,
                                     s->stop_why ? s->stop_why : "signal");
        add_collector(s, r, reason != NULL, reason);
        g_autoptr(GDateTime) when = g_date_time_ref(s->started);
        if (!hapvm_store_save(s->cfg->results, s->uuid, result, when, &path, &e))
            why = g_strdup_printf("cannot store the result: %s", e->message);
    }
    g_unlink(s->tmp_json);
    s->done(s, path, path ? result : NULL, why, s->done_data);
}

static void
on_child(GPid pid, int wait_status, gpointer data)
{
    HapvmdSession *s = data;
    s->child_src = 0;
    s->running = FALSE;
    g_spawn_close_pid(pid);
    remove_source(&s->kill_src);
    finish(s, wait_status);
}

HapvmdSession *
hapvmd_session_start(const HapvmdConfig *c, const HapvmdSessionInfo *info, HapvmdSessionDone done,
                     gpointer data, GError **error)
{
    if (!hapvm_uuid_is_valid(info->uuid)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "no valid uuid for domain '%s'", info->domain);
        return NULL;
    }
    HapvmdSession *s = g_new0(HapvmdSession, 1);
    s->cfg = c;
    s->domain = g_strdup(info->domain);
    s->uuid = g_ascii_strdown(info->uuid, -1);
    s->driver = g_strdup(info->driver ? info->driver : "qemu");
    s->trigger = g_strdup(info->trigger);
    s->labels = info->labels ? g_hash_table_ref(info->labels) : NULL;
    s->qemu_pid = info->qemu_pid;
    s->started = g_date_time_new_now_utc();
    s->status = (Pipe){ .session = s, .fd = -1, .buf = g_string_new(NULL), .line = on_status_line };
    s->err = (Pipe){ .session = s, .fd = -1, .buf = g_string_new(NULL), .line = on_err_line };

    g_autofree char *work = g_build_filename(c->results, ".work", NULL);
    if (g_mkdir_with_parents(work, 0700) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot create %s: %s", work, g_strerror(errno));
        hapvmd_session_free(s);
        return NULL;
    }
    s->tmp_json = g_strdup_printf("%s/%s.json", work, s->uuid);
    g_unlink(s->tmp_json);

    int sp[2];
    if (!g_unix_open_pipe(sp, FD_CLOEXEC, error)) {
        hapvmd_session_free(s);
        return NULL;
    }
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(c->hapvm));
    g_ptr_array_add(argv, g_strdup("measure"));
    g_ptr_array_add(argv, g_strdup(s->uuid));
    /* A libxl domain is measured from dom0 through Xen itself (its UUID
     * is in xenstore); hapvm never needs libvirt for it. */
    if (g_strcmp0(s->driver, "libxl") == 0)
        g_ptr_array_add(argv, g_strdup("--xen"));
    else
        g_ptr_array_add(argv, g_strdup_printf("--connect=%s", c->uri));
    g_ptr_array_add(argv, g_strdup_printf("--json=%s", s->tmp_json));
    g_ptr_array_add(argv, g_strdup("--status-fd=3"));
    g_ptr_array_add(argv, g_strdup("--until-steady"));
    g_ptr_array_add(argv, g_strdup_printf("--warmup=%g", c->warmup_s));
    g_ptr_array_add(argv, g_strdup_printf("--quiet=%g", c->quiet_s));
    g_ptr_array_add(argv, g_strdup_printf("--max-duration=%g", c->max_s));
    g_ptr_array_add(argv, g_strdup_printf("--density=%g", c->density));
    /* Loss is kept and flagged in the result (and in the metrics): a
     * lifecycle measurement cannot be repeated. */
    g_ptr_array_add(argv, g_strdup("--accept-loss"));
    g_ptr_array_add(argv, g_strdup("--quiet-summary"));
    if (c->low_overhead)
        g_ptr_array_add(argv, g_strdup("--low-overhead"));
    if (!c->lines)
        g_ptr_array_add(argv, g_strdup("--no-lines"));
    if (c->debuginfo)
        g_ptr_array_add(argv, g_strdup_printf("--debuginfo=%s", c->debuginfo));
    if (c->index_cache)
        g_ptr_array_add(argv, g_strdup_printf("--index-cache=%s", c->index_cache));
    if (c->buffer_kb > 0)
        g_ptr_array_add(argv, g_strdup_printf("--buffer-kb=%d", c->buffer_kb));
    g_ptr_array_add(argv, NULL);

    /* fd 3 of the child: the status pipe's write end. */
    int source_fds[] = { sp[1] }, target_fds[] = { 3 };
    int err_fd = -1;
    GPid pid;
    gboolean ok = g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)argv->pdata, NULL,
                                                   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                                   NULL, NULL, -1, -1, -1, source_fds, target_fds, 1, &pid,
                                                   NULL, NULL, &err_fd, error);
    close(sp[1]);
    if (!ok) {
        close(sp[0]);
        hapvmd_session_free(s);
        return NULL;
    }
    s->pid = pid;
    s->running = TRUE;
    s->status.fd = sp[0];
    s->err.fd = err_fd;
    Pipe *pipes[] = { &s->status, &s->err };
    for (guint i = 0; i < G_N_ELEMENTS(pipes); i++) {
        g_unix_set_fd_nonblocking(pipes[i]->fd, TRUE, NULL);
        pipes[i]->src = g_unix_fd_add(pipes[i]->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_pipe, pipes[i]);
    }
    s->child_src = g_child_watch_add(pid, on_child, s);
    s->done = done;
    s->done_data = data;
    return s;
}

static gboolean
on_kill(gpointer data)
{
    HapvmdSession *s = data;
    s->kill_src = 0;
    if (s->running)
        kill(s->pid, SIGTERM);
    return G_SOURCE_REMOVE;
}

void
hapvmd_session_stop(HapvmdSession *s, double grace_s, const char *why)
{
    if (!s->running)
        return;
    if (!s->stop_why)
        s->stop_why = g_strdup(why);
    if (grace_s <= 0) {
        remove_source(&s->kill_src);
        kill(s->pid, SIGTERM);
    } else if (!s->kill_src) {
        s->kill_src = g_timeout_add((guint)(grace_s * 1000), on_kill, s);
    }
}

void
hapvmd_session_get_progress(const HapvmdSession *s, double *elapsed, guint *functions, guint64 *lost)
{
    JsonObject *o = s->last_status ? json_node_get_object(s->last_status) : NULL;
    *elapsed = o ? json_object_get_double_member_with_default(o, "elapsed_s", 0) : 0;
    *functions = o ? (guint)json_object_get_int_member_with_default(o, "functions", 0) : 0;
    *lost = o ? (guint64)json_object_get_int_member_with_default(o, "lost", 0) : 0;
}

void
hapvmd_session_add_status(const HapvmdSession *s, JsonBuilder *b)
{
    JsonObject *o = s->last_status ? json_node_get_object(s->last_status) : NULL;
    json_builder_begin_object(b);
    hapvm_json_set_str(b, "domain", s->domain);
    hapvm_json_set_str(b, "uuid", s->uuid);
    hapvm_json_set_int(b, "pid", s->pid);
    hapvm_json_set_str(b, "trigger", s->trigger);
    g_autofree char *since = g_date_time_format_iso8601(s->started);
    hapvm_json_set_str(b, "started", since);
    json_builder_set_member_name(b, "elapsed_s");
    json_builder_add_double_value(b, o ? json_object_get_double_member_with_default(o, "elapsed_s", 0) : 0);
    const char *const ints[] = { "functions", "steady_functions", "lost", "exits", "events" };
    for (guint i = 0; i < G_N_ELEMENTS(ints); i++)
        hapvm_json_set_int(b, ints[i], o ? json_object_get_int_member_with_default(o, ints[i], 0) : 0);
    json_builder_set_member_name(b, "steady");
    json_builder_add_boolean_value(b, o && json_object_get_boolean_member_with_default(o, "steady", FALSE));
    hapvm_json_set_str(b, "state", s->stop_why ? "finishing"
                                               : o ? json_object_get_string_member_with_default(o, "state", "warmup")
                                                   : "starting");
    json_builder_end_object(b);
}

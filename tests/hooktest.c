/* The libvirt hook (libvirt-hook/hapvm-hook.c), run as libvirt runs it:
 * argv DOMAIN OPERATION SUBOP EXTRA, domain XML on stdin, against a fake
 * hapvmd in this process (one poll loop: the hook's pipes, the listening
 * socket, the connection and a datagram socket standing in for /dev/log).
 * Expected values are the ones typed into the fixtures in tests/data/hook.
 * Also, in process, the scanner and the JSON escaping on hostile input. */
#include "hapvm-hook-msg.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The hook's bound (HAPVM_HOOK_TIMEOUT_MS) and what a test accepts for a
 * whole run where the daemon is down or hung: fork, exec and the sanitizers'
 * start on a loaded machine, well under libvirt's patience. */
#define HOOK_TIMEOUT_MS 50
#define BOUND_MS 3000

typedef enum {
    SERVER_NONE,          /* no socket file at all */
    SERVER_REFUSED,       /* a socket file nobody listens on */
    SERVER_OK,            /* replies {"ok":true,...} at once */
    SERVER_ERROR,         /* replies {"ok":false,"error":...} */
    SERVER_CLOSE,         /* reads the line, closes without a reply */
    SERVER_SILENT,        /* accepts, reads, never replies */
    SERVER_NO_ACCEPT,     /* listens, never accepts */
    SERVER_BACKLOG_FULL,  /* listens, never accepts, backlog filled */
} ServerMode;

typedef enum {
    STDIN_PIPE,
    STDIN_CLOSED,         /* fd 0 not open in the hook */
    STDIN_DEVNULL,
    STDIN_STALLED,        /* a pipe nobody writes to and nobody closes */
} StdinMode;

typedef struct {
    /* in */
    const char *argv0;              /* default: the hook's path */
    const char *const *args;        /* NULL-terminated, after argv[0] */
    const char *driver_env;
    ServerMode server;
    StdinMode stdin_mode;
    const char *head;               /* stdin: head, chunk × reps, tail */
    size_t head_len;
    const char *chunk;
    size_t chunk_len;
    size_t reps;
    const char *tail;
    /* out */
    int status;
    GString *out, *err, *request;
    guint connections;
    guint64 stdin_total, stdin_written;
    gboolean stdin_epipe;
    gint64 elapsed_us;
    GPtrArray *logs;
} Run;

static const char *hook_path;
static char *tmpdir;

static void
run_clear(Run *r)
{
    if (r->out)
        g_string_free(r->out, TRUE);
    if (r->err)
        g_string_free(r->err, TRUE);
    if (r->request)
        g_string_free(r->request, TRUE);
    if (r->logs)
        g_ptr_array_unref(r->logs);
}

static int
unix_socket(int type, const char *path, struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    g_assert_cmpuint(strlen(path), <, sizeof addr->sun_path);
    strcpy(addr->sun_path, path);
    return fd;
}

static int
bind_socket(int type, const char *path)
{
    struct sockaddr_un addr;
    int fd = unix_socket(type, path, &addr);

    g_unlink(path);
    g_assert_cmpint(bind(fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
    return fd;
}

static void
set_nonblock(int fd)
{
    g_assert_cmpint(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), ==, 0);
}

/* Next stdin bytes to write: a view into head, body (the chunk repeated
 * in a block of about 64 KiB, so that writes fill the pipe) or tail. */
static const char *
stdin_next(Run *r, guint64 pos, size_t *n)
{
    static GString *block;
    guint64 body = (guint64) r->chunk_len * r->reps;

    if (pos < r->head_len) {
        *n = r->head_len - pos;
        return r->head + pos;
    }
    pos -= r->head_len;
    if (pos < body) {
        size_t off = pos % r->chunk_len;
        if (!block)
            block = g_string_new(NULL);
        if (block->len < r->chunk_len || memcmp(block->str, r->chunk, r->chunk_len) != 0) {
            g_string_truncate(block, 0);
            while (block->len < 65536)
                g_string_append_len(block, r->chunk, (gssize) r->chunk_len);
        }
        *n = MIN(block->len - off, body - pos);
        return block->str + off;
    }
    pos -= body;
    *n = r->tail ? strlen(r->tail) - pos : 0;
    return r->tail ? r->tail + pos : NULL;
}

/* Appends what is left to read on a connection whose peer has exited. */
static void
drain_request(int fd, GString *request)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        g_string_append_len(request, buf, n);
}

static void
run_hook(Run *r)
{
    g_autofree char *sock = g_build_filename(tmpdir, "hapvmd.sock", NULL);
    g_autofree char *logsock = g_build_filename(tmpdir, "log.sock", NULL);
    const char *exe = hook_path;
    int in[2] = {-1, -1}, out[2], err[2];
    int lfd = -1, cfd = -1, logfd, pidfd;
    int backlog_fds[64];
    guint n_backlog = 0;
    gboolean child_done = FALSE, replied = FALSE;
    gint64 start, kill_at;
    GPtrArray *argv = g_ptr_array_new();
    GPtrArray *env = g_ptr_array_new_with_free_func(g_free);
    pid_t pid;

    r->out = g_string_new(NULL);
    r->err = g_string_new(NULL);
    r->request = g_string_new(NULL);
    r->logs = g_ptr_array_new_with_free_func(g_free);
    r->stdin_total = r->head_len + (guint64) r->chunk_len * r->reps + (r->tail ? strlen(r->tail) : 0);

    logfd = bind_socket(SOCK_DGRAM, logsock);
    set_nonblock(logfd);
    g_unlink(sock);
    if (r->server != SERVER_NONE) {
        lfd = bind_socket(SOCK_STREAM, sock);
        if (r->server == SERVER_REFUSED) {
            close(lfd);      /* the file stays: connect() gets ECONNREFUSED */
            lfd = -1;
        } else {
            g_assert_cmpint(listen(lfd, r->server == SERVER_BACKLOG_FULL ? 0 : 16), ==, 0);
            set_nonblock(lfd);
        }
    }
    if (r->server == SERVER_BACKLOG_FULL) {
        /* Connect until the kernel says the queue is full. */
        for (;;) {
            struct sockaddr_un addr;
            int c = unix_socket(SOCK_STREAM | SOCK_NONBLOCK, sock, &addr);
            if (connect(c, (struct sockaddr *) &addr, sizeof addr) < 0) {
                g_assert_cmpint(errno, ==, EAGAIN);
                close(c);
                break;
            }
            g_assert_cmpuint(n_backlog, <, G_N_ELEMENTS(backlog_fds));
            backlog_fds[n_backlog++] = c;
        }
    }

    g_ptr_array_add(argv, (char *) (r->argv0 ? r->argv0 : hook_path));
    for (const char *const *a = r->args; a && *a; a++)
        g_ptr_array_add(argv, (char *) *a);
    g_ptr_array_add(argv, NULL);
    /* What libvirt passes (LC_ALL PATH HOME USER LOGNAME), and ours. */
    g_ptr_array_add(env, g_strdup("LC_ALL=C"));
    g_ptr_array_add(env, g_strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
    g_ptr_array_add(env, g_strdup_printf("HAPVM_SOCKET=%s", sock));
    g_ptr_array_add(env, g_strdup_printf("HAPVM_HOOK_SYSLOG=%s", logsock));
    if (r->driver_env)
        g_ptr_array_add(env, g_strdup_printf("HAPVM_HOOK_DRIVER=%s", r->driver_env));
    if (g_getenv("ASAN_OPTIONS"))
        g_ptr_array_add(env, g_strdup_printf("ASAN_OPTIONS=%s", g_getenv("ASAN_OPTIONS")));
    if (g_getenv("UBSAN_OPTIONS"))
        g_ptr_array_add(env, g_strdup_printf("UBSAN_OPTIONS=%s", g_getenv("UBSAN_OPTIONS")));
    g_ptr_array_add(env, NULL);

    if (r->stdin_mode == STDIN_PIPE || r->stdin_mode == STDIN_STALLED)
        g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(err, O_CLOEXEC), ==, 0);

    start = g_get_monotonic_time();
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (r->stdin_mode == STDIN_CLOSED)
            close(0);
        else if (r->stdin_mode == STDIN_DEVNULL) {
            int n = open("/dev/null", O_RDONLY);
            dup2(n, 0);
        } else
            dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(exe, (char **) argv->pdata, (char **) env->pdata);
        _exit(127);
    }
    pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    g_assert_cmpint(pidfd, >=, 0);
    close(out[1]);
    close(err[1]);
    if (in[0] >= 0) {
        close(in[0]);
        set_nonblock(in[1]);
        if (r->stdin_mode == STDIN_PIPE && r->stdin_total == 0) {
            close(in[1]);
            in[1] = -1;
        }
    }
    set_nonblock(out[0]);
    set_nonblock(err[0]);

    /* A hook that hangs fails the test, not the test run. */
    kill_at = start + 20 * G_USEC_PER_SEC;
    while (!child_done || out[0] >= 0 || err[0] >= 0) {
        struct pollfd p[7];
        int np = 0, ix_in = -1, ix_out = -1, ix_err = -1, ix_l = -1, ix_c = -1, ix_pid;
        char buf[65536];
        ssize_t n;

        if (in[1] >= 0 && r->stdin_mode == STDIN_PIPE)
            ix_in = np, p[np++] = (struct pollfd) {in[1], POLLOUT, 0};
        if (out[0] >= 0)
            ix_out = np, p[np++] = (struct pollfd) {out[0], POLLIN, 0};
        if (err[0] >= 0)
            ix_err = np, p[np++] = (struct pollfd) {err[0], POLLIN, 0};
        if (lfd >= 0 && cfd < 0 && r->server != SERVER_NO_ACCEPT && r->server != SERVER_BACKLOG_FULL)
            ix_l = np, p[np++] = (struct pollfd) {lfd, POLLIN, 0};
        if (cfd >= 0 && !replied)
            ix_c = np, p[np++] = (struct pollfd) {cfd, POLLIN, 0};
        ix_pid = np;
        p[np++] = (struct pollfd) {pidfd, child_done ? 0 : POLLIN, 0};

        if (g_get_monotonic_time() > kill_at) {
            kill(pid, SIGKILL);
            g_test_message("hook killed after 20 s");
            kill_at = G_MAXINT64;
        }
        g_assert_cmpint(poll(p, (nfds_t) np, 100), >=, 0);

        if (ix_in >= 0 && p[ix_in].revents) {
            size_t avail;
            const char *data = stdin_next(r, r->stdin_written, &avail);
            n = write(in[1], data, avail);
            if (n > 0)
                r->stdin_written += (guint64) n;
            else if (n < 0 && errno == EPIPE)
                r->stdin_epipe = TRUE;
            if (r->stdin_epipe || r->stdin_written == r->stdin_total) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (ix_out >= 0 && p[ix_out].revents) {
            n = read(out[0], buf, sizeof buf);
            if (n > 0)
                g_string_append_len(r->out, buf, n);
            else if (n == 0)
                close(out[0]), out[0] = -1;
        }
        if (ix_err >= 0 && p[ix_err].revents) {
            n = read(err[0], buf, sizeof buf);
            if (n > 0)
                g_string_append_len(r->err, buf, n);
            else if (n == 0)
                close(err[0]), err[0] = -1;
        }
        if (ix_l >= 0 && p[ix_l].revents) {
            cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (cfd >= 0)
                r->connections++;
        }
        if (ix_c >= 0 && p[ix_c].revents) {
            n = read(cfd, buf, sizeof buf);
            if (n > 0)
                g_string_append_len(r->request, buf, n);
            if (n == 0 || memchr(r->request->str, '\n', r->request->len)) {
                const char *reply = r->server == SERVER_OK ? "{\"ok\":true,\"action\":\"measuring\"}\n"
                    : r->server == SERVER_ERROR ? "{\"ok\":false,\"error\":\"unknown op: boom\"}\n" : NULL;
                replied = TRUE;
                if (reply)
                    g_assert_cmpint(write(cfd, reply, strlen(reply)), ==, (ssize_t) strlen(reply));
                if (r->server != SERVER_SILENT)
                    close(cfd), cfd = -2;    /* one request per connection, then no more accepts */
            }
        }
        if (p[ix_pid].revents && !child_done) {
            int status;
            g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
            r->elapsed_us = g_get_monotonic_time() - start;
            r->status = status;
            child_done = TRUE;
            if (in[1] >= 0)
                close(in[1]), in[1] = -1;
        }
    }
    close(pidfd);

    /* On a loaded machine the hook can give up on its 50 ms reply wait and
     * exit before the loop above read its request: what it sent is still
     * in the socket.  Connections made but not taken are counted (ignored
     * operations must not make any). */
    if (cfd >= 0 && !replied)
        drain_request(cfd, r->request);
    if (lfd >= 0 && r->server != SERVER_NO_ACCEPT && r->server != SERVER_BACKLOG_FULL) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            r->connections++;
            if (r->request->len == 0)
                drain_request(c, r->request);
            close(c);
        }
    }
    for (;;) {
        char buf[2048];
        ssize_t n = recv(logfd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        g_ptr_array_add(r->logs, g_strndup(buf, (gsize) n));
    }
    for (guint i = 0; i < r->logs->len; i++)
        g_test_message("log: %s", (char *) r->logs->pdata[i]);
    if (cfd >= 0)
        close(cfd);
    if (lfd >= 0)
        close(lfd);
    for (guint i = 0; i < n_backlog; i++)
        close(backlog_fds[i]);
    close(logfd);
    g_unlink(sock);
    g_unlink(logsock);
    g_ptr_array_unref(argv);
    g_ptr_array_unref(env);
}

/* What every run must show: exit 0, nothing on stdout or stderr (stderr is
 * a pipe here, not a terminal), all of stdin taken. */
static void
assert_clean(const Run *r)
{
    g_assert_true(WIFEXITED(r->status));
    g_assert_cmpint(WEXITSTATUS(r->status), ==, 0);
    g_assert_cmpuint(r->out->len, ==, 0);
    g_assert_cmpstr(r->err->str, ==, "");
    if (r->stdin_mode == STDIN_PIPE) {
        g_assert_false(r->stdin_epipe);
        g_assert_cmpuint(r->stdin_written, ==, r->stdin_total);
    }
}

static char *
fixture(const char *name, gsize *len)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "hook", name, NULL);
    char *data = NULL;

    g_assert_true(g_file_get_contents(path, &data, len, NULL));
    return data;
}

/* The request line as a JSON object (exactly one line, valid UTF-8). */
static JsonObject *
parse_request(const Run *r)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    JsonNode *root;

    g_assert_cmpuint(r->request->len, >, 0);
    g_assert_cmpint(r->request->str[r->request->len - 1], ==, '\n');
    g_assert_null(memchr(r->request->str, '\n', r->request->len - 1));
    g_assert_cmpuint(r->request->len, <=, 65536);
    g_assert_true(g_utf8_validate(r->request->str, (gssize) r->request->len, NULL));
    json_parser_load_from_data(parser, r->request->str, (gssize) r->request->len, &error);
    g_assert_no_error(error);
    root = json_parser_get_root(parser);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
    return json_object_ref(json_node_get_object(root));
}

static void
assert_member_str(JsonObject *o, const char *name, const char *expected)
{
    JsonNode *n = json_object_get_member(o, name);

    g_assert_nonnull(n);
    if (!expected) {
        g_assert_true(JSON_NODE_HOLDS_NULL(n));
        return;
    }
    g_assert_true(JSON_NODE_HOLDS_VALUE(n));
    g_assert_cmpint(json_node_get_value_type(n), ==, G_TYPE_STRING);
    g_assert_cmpstr(json_node_get_string(n), ==, expected);
}

typedef struct {
    const char *name;
    const char *value;
} Label;

/* Exactly these labels, in this order. */
static void
assert_labels(JsonObject *o, const Label *labels, guint n)
{
    JsonObject *l = json_object_get_object_member(o, "labels");
    g_autoptr(GList) members = NULL;
    guint i = 0;

    g_assert_nonnull(l);
    members = json_object_get_members(l);
    g_assert_cmpuint(g_list_length(members), ==, n);
    for (GList *m = members; m; m = m->next, i++) {
        g_assert_cmpstr(m->data, ==, labels[i].name);
        g_assert_cmpstr(json_object_get_string_member(l, labels[i].name), ==, labels[i].value);
    }
}

static guint
logs_matching(const Run *r, const char *needle)
{
    guint n = 0;

    for (guint i = 0; i < r->logs->len; i++)
        if (strstr(r->logs->pdata[i], needle))
            n++;
    return n;
}

/* No log line: the daemon answered in time.  On a loaded machine the fake
 * daemon (this process) may be late; then the one line is the timeout's and
 * the run took at least the timeout. */
static void
assert_no_log(const Run *r)
{
    if (r->logs->len == 1 && strstr(r->logs->pdata[0], "no reply from hapvmd")
        && r->elapsed_us >= HOOK_TIMEOUT_MS * 1000)
        return;
    g_assert_cmpuint(r->logs->len, ==, 0);
}

static void
run_fixture(Run *r, const char *file, const char *domain, const char *op)
{
    const char *args[] = {domain, op, "begin", "-", NULL};
    static char *data;
    gsize len = 0;

    g_clear_pointer(&data, g_free);
    data = fixture(file, &len);
    r->args = (const char *const *) g_memdup2(args, sizeof args);
    r->head = data;
    r->head_len = len;
    run_hook(r);
    g_free((gpointer) r->args);
    r->args = NULL;
}

typedef struct {
    const char *file;
    const char *domain;
    const char *uuid;
    const char *id;
    const char *measure;
    Label labels[8];
    guint n_labels;
    const char *log;      /* a log line must contain this; NULL: no line */
} FixtureCase;

static const FixtureCase fixture_cases[] = {
    {"plain.xml", "labkvm", "5b0a3c1e-8d4f-4b7a-9e21-0c6f2d9a7e13", "3", NULL, {{0}}, 0, NULL},
    {"metadata.xml", "web1", "4f6c2a9e-1b3d-4e5f-8a7b-9c0d1e2f3a4b", "12", "yes",
     {{"image", "debian-12"}, {"flavour", "m1.small"}}, 2, NULL},
    {"prefix.xml", "db-2", "0b7e51c2-9f3a-4d6e-b1c8-27a4e9d03f5b", "27", "no", {{"tier", "gold"}}, 1, NULL},
    {"defaultns.xml", "tcg-vm", "c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f", "5", "no", {{"role", "db"}}, 1, NULL},
    {"labels.xml", "labelled", "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6", "8", NULL,
     {{"image", "debian-12"},
      {"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_064", "x"},
      {"note", "R&D <team> \"q\" 'a' caf\xc3\xa9 \xe4\xb8\xad"},
      {"nl", "line1\nline2"},
      {"empty", ""},
      {"max", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
              "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"}},
     6, "7 hapvm label(s) dropped, first: label 'bad name': name is not [A-Za-z0-9_]{1,64}"},
    {"nouuid.xml", "labkvm", NULL, NULL, NULL, {{0}}, 0, "<measure enabled=...> is neither yes nor no"},
    {"baduuid.xml", "baduuid", NULL, NULL, NULL, {{0}}, 0, NULL},
    {"malformed.xml", "broken", "9e8d7c6b-5a49-4382-a1f0-e9d8c7b6a594", "4", NULL, {{"before", "1"}}, 1, NULL},
};

static void
test_message(gconstpointer data)
{
    const FixtureCase *c = data;
    Run r = {.server = SERVER_OK};
    g_autoptr(JsonObject) o = NULL;

    g_assert_cmpuint(strlen(fixture_cases[4].labels[5].value), ==, 256);
    run_fixture(&r, c->file, c->domain, "started");
    assert_clean(&r);
    g_assert_cmpuint(r.connections, ==, 1);
    o = parse_request(&r);
    g_assert_cmpint(json_object_get_int_member(o, "v"), ==, 1);
    assert_member_str(o, "op", "hook");
    assert_member_str(o, "driver", "qemu");
    assert_member_str(o, "domain", c->domain);
    assert_member_str(o, "uuid", c->uuid);
    assert_member_str(o, "id", c->id);
    assert_member_str(o, "operation", "started");
    assert_member_str(o, "sub", "begin");
    assert_member_str(o, "extra", "-");
    assert_member_str(o, "measure", c->measure);
    assert_labels(o, c->labels, c->n_labels);
    g_assert_cmpuint(json_object_get_size(o), ==, 11);
    if (c->log) {
        g_assert_cmpuint(logs_matching(&r, c->log), ==, 1);
        g_assert_cmpuint(logs_matching(&r, "hapvm-hook["), ==, r.logs->len);
        g_assert_true(g_str_has_prefix(r.logs->pdata[0], "<28>"));   /* LOG_DAEMON | LOG_WARNING */
    } else
        assert_no_log(&r);
    run_clear(&r);
}

/* The five forwarded operations, each with its sub-operation; the others
 * make no connection and no log line. */
static void
test_operations(void)
{
    static const char *const fwd[][2] = {
        {"started", "begin"}, {"stopped", "end"}, {"release", "end"}, {"reconnect", "begin"},
        {"migrate", "begin"},
    };
    static const char *const ignored[] = {"prepare", "start", "restore", "attach", "STARTED", "", "started "};

    for (guint i = 0; i < G_N_ELEMENTS(fwd); i++) {
        const char *args[] = {"web1", fwd[i][0], fwd[i][1], "-", NULL};
        Run r = {.server = SERVER_OK, .args = args};
        g_autofree char *data = fixture("metadata.xml", &r.head_len);
        g_autoptr(JsonObject) o = NULL;

        r.head = data;
        run_hook(&r);
        assert_clean(&r);
        g_assert_cmpuint(r.connections, ==, 1);
        o = parse_request(&r);
        assert_member_str(o, "operation", fwd[i][0]);
        assert_member_str(o, "sub", fwd[i][1]);
        assert_member_str(o, "uuid", "4f6c2a9e-1b3d-4e5f-8a7b-9c0d1e2f3a4b");
        assert_no_log(&r);
        run_clear(&r);
    }
    for (guint i = 0; i < G_N_ELEMENTS(ignored); i++) {
        const char *args[] = {"web1", ignored[i], "begin", "-", NULL};
        Run r = {.server = SERVER_OK, .args = args};
        g_autofree char *data = fixture("metadata.xml", &r.head_len);

        r.head = data;
        run_hook(&r);
        assert_clean(&r);
        g_assert_cmpuint(r.connections, ==, 0);
        g_assert_cmpuint(r.request->len, ==, 0);
        g_assert_cmpuint(r.logs->len, ==, 0);
        run_clear(&r);
    }
}

/* The driver from the directory libvirt ran the hook from, or its name as
 * the main hook script, or HAPVM_HOOK_DRIVER. */
static void
test_driver(void)
{
    static const struct {
        const char *dir, *name, *env, *expected;
    } cases[] = {
        {"qemu.d", "hapvm", NULL, "qemu"},
        {"libxl.d", "hapvm", NULL, "libxl"},
        {"libxl.d", "hapvm", "qemu", "qemu"},
        {"qemu.d", "hapvm", "libxl", "libxl"},
        {"qemu.d", "hapvm", "bogus", "qemu"},
        {"hooks", "libxl", NULL, "libxl"},
        {"hooks", "qemu", NULL, "qemu"},
        {"lxc.d", "hapvm", NULL, "qemu"},
        {"xlibxl.d", "hapvm", NULL, "qemu"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *dir = g_build_filename(tmpdir, "drv", cases[i].dir, NULL);
        g_autofree char *link = g_build_filename(dir, cases[i].name, NULL);
        const char *args[] = {"web1", "started", "begin", "-", NULL};
        Run r = {.server = SERVER_OK, .args = args, .argv0 = link, .driver_env = cases[i].env};
        g_autofree char *data = fixture("plain.xml", &r.head_len);
        g_autoptr(JsonObject) o = NULL;

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_unlink(link);
        g_assert_cmpint(symlink(hook_path, link), ==, 0);
        r.head = data;
        run_hook(&r);
        assert_clean(&r);
        o = parse_request(&r);
        assert_member_str(o, "driver", cases[i].expected);
        run_clear(&r);
        g_unlink(link);
        g_rmdir(dir);
    }
    g_autofree char *drv = g_build_filename(tmpdir, "drv", NULL);
    g_rmdir(drv);
}

/* Domain names libvirt may hand over, as JSON strings (invalid UTF-8 →
 * U+FFFD per byte); and never a control byte in a log line. */
static void
test_hostile_names(void)
{
    static const char *const names[][2] = {
        {"../../../etc/passwd", "../../../etc/passwd"},
        {"a\nb\r\tc", "a\nb\r\tc"},
        {"q\"uo'te\\s", "q\"uo'te\\s"},
        {"ctl\x01\x1b[31m\x7f", "ctl\x01\x1b[31m\x7f"},
        {"bad\xff\xfe", "bad\xef\xbf\xbd\xef\xbf\xbd"},
        {"over\xc0\xaf", "over\xef\xbf\xbd\xef\xbf\xbd"},
        {"surr\xed\xa0\x80", "surr\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"cut\xe4\xb8", "cut\xef\xbf\xbd\xef\xbf\xbd"},
        {"ok\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", "ok\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"},
        {"", ""},
    };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        for (int down = 0; down < 2; down++) {
            const char *args[] = {names[i][0], "stopped", "end", names[i][0], NULL};
            Run r = {.server = down ? SERVER_NONE : SERVER_OK, .args = args};
            g_autofree char *data = fixture("plain.xml", &r.head_len);

            r.head = data;
            run_hook(&r);
            assert_clean(&r);
            if (!down) {
                g_autoptr(JsonObject) o = parse_request(&r);
                assert_member_str(o, "domain", names[i][1]);
                assert_member_str(o, "extra", names[i][1]);
                assert_member_str(o, "uuid", "5b0a3c1e-8d4f-4b7a-9e21-0c6f2d9a7e13");
            } else {
                g_assert_cmpuint(r.logs->len, ==, 1);
                for (const char *c = r.logs->pdata[0]; *c; c++)
                    g_assert_false((unsigned char) *c < 0x20 || *c == 0x7f);
            }
            run_clear(&r);
        }
    }
}

/* A long argument: an 8 KiB domain name still fits; a 100 KiB one does not
 * fit the 64 KiB line and is logged, not sent. */
static void
test_long_args(void)
{
    g_autofree char *name8k = g_strnfill(8192, '\x01');
    g_autofree char *name100k = g_strnfill(100000, 'n');
    const char *args8[] = {name8k, "started", "begin", "-", NULL};
    const char *args100[] = {name100k, "started", "begin", "-", NULL};
    Run r = {.server = SERVER_OK, .args = args8};
    g_autofree char *data = fixture("labels.xml", &r.head_len);

    r.head = data;
    run_hook(&r);
    assert_clean(&r);
    {
        g_autoptr(JsonObject) o = parse_request(&r);
        g_autofree char *expected = g_strnfill(8192, '\x01');
        assert_member_str(o, "domain", expected);
    }
    run_clear(&r);

    r = (Run) {.server = SERVER_OK, .args = args100, .head = data, .head_len = strlen(data)};
    run_hook(&r);
    assert_clean(&r);
    g_assert_cmpuint(r.connections, ==, 0);
    g_assert_cmpuint(logs_matching(&r, "request longer than 65536 bytes; not sent"), ==, 1);
    run_clear(&r);
}

/* 100 MB of domain XML: all of it read, the request made from the first
 * MiB, in bounded time. */
static void
test_big_stdin(gconstpointer late_metadata)
{
    static const char head[] =
        "<domain type='kvm' id='9'>\n  <name>big</name>\n"
        "  <uuid>a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d</uuid>\n";
    static const char meta[] =
        "  <metadata>\n    <hapvm:hapvm xmlns:hapvm=\"http://hapvm.org/xmlns/libvirt/1\">\n"
        "      <hapvm:measure enabled=\"no\"/>\n      <hapvm:label name=\"size\" value=\"huge\"/>\n"
        "    </hapvm:hapvm>\n  </metadata>\n  <devices>\n";
    static const char chunk[] =
        "    <disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vdb'/></disk>\n";
    g_autoptr(GString) h = g_string_new(head);
    const char *args[] = {"big", "started", "begin", "-", NULL};
    Run r = {.server = SERVER_OK, .args = args, .chunk = chunk, .chunk_len = strlen(chunk),
             .tail = "  </devices>\n</domain>\n"};
    g_autoptr(JsonObject) o = NULL;

    if (late_metadata) {
        /* 2 MB of description first: hapvm's element is past the scanned MiB. */
        g_string_append(h, "  <description>");
        for (int i = 0; i < 2 * 1024 * 1024 / 64; i++)
            g_string_append(h, "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed d\n");
        g_string_append(h, "</description>\n");
    }
    g_string_append(h, meta);
    r.head = h->str;
    r.head_len = h->len;
    r.reps = 100 * 1000 * 1000 / r.chunk_len;
    run_hook(&r);
    assert_clean(&r);
    g_assert_cmpuint(r.stdin_total, >=, 100 * 1000 * 1000);
    g_test_message("100 MB of stdin in %.1f ms", r.elapsed_us / 1000.0);
    g_assert_cmpint(r.elapsed_us, <, 15 * G_USEC_PER_SEC);
    o = parse_request(&r);
    assert_member_str(o, "uuid", "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
    assert_member_str(o, "id", "9");
    if (late_metadata) {
        assert_member_str(o, "measure", NULL);
        assert_labels(o, NULL, 0);
        g_assert_cmpuint(logs_matching(&r, "domain XML longer than 1048576 bytes; metadata after them not read"),
                         ==, 1);
    } else {
        Label l[] = {{"size", "huge"}};
        assert_member_str(o, "measure", "no");
        assert_labels(o, l, 1);
        assert_no_log(&r);
    }
    run_clear(&r);
}

/* Not XML, or not a domain: still exit 0, a request with nulls. */
static void
test_garbage_stdin(void)
{
    static const char *const inputs[] = {
        "", "<", "<<<<>>>>", "\0\0\0\xff\xfe", "<domain id='1", "<domain id='1'><uuid>",
        "<domain id='1'/><uuid>a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d</uuid>",
        "<domstatus><domain id='2'><uuid>a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d</uuid></domain></domstatus>",
        "not xml at all", "<!-- unterminated", "<![CDATA[ <uuid>", "<?xml version='1.0'?><domain",
    };

    for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
        const char *args[] = {"g", "started", "begin", "-", NULL};
        Run r = {.server = SERVER_OK, .args = args, .head = inputs[i],
                 .head_len = i == 3 ? 5 : strlen(inputs[i])};
        g_autoptr(JsonObject) o = NULL;

        run_hook(&r);
        assert_clean(&r);
        o = parse_request(&r);
        assert_member_str(o, "uuid", NULL);
        assert_member_str(o, "measure", NULL);
        run_clear(&r);
    }
}

/* Nesting far deeper than the scanner's stack. */
static void
test_deep_stdin(void)
{
    const char *args[] = {"deep", "started", "begin", "-", NULL};
    g_autoptr(GString) x = g_string_new("<domain id='6'><uuid>a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d</uuid>");
    Run r = {.server = SERVER_OK, .args = args};
    g_autoptr(JsonObject) o = NULL;

    for (int i = 0; i < 100000; i++)
        g_string_append(x, "<a>");
    r.head = x->str;
    r.head_len = x->len;
    run_hook(&r);
    assert_clean(&r);
    o = parse_request(&r);
    assert_member_str(o, "uuid", "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
    assert_member_str(o, "id", "6");
    run_clear(&r);
}

static void
test_no_stdin(void)
{
    static const StdinMode modes[] = {STDIN_CLOSED, STDIN_DEVNULL, STDIN_PIPE};

    for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
        const char *args[] = {"nostdin", "release", "end", "-", NULL};
        Run r = {.server = SERVER_OK, .args = args, .stdin_mode = modes[i]};
        g_autoptr(JsonObject) o = NULL;

        run_hook(&r);
        assert_clean(&r);
        o = parse_request(&r);
        assert_member_str(o, "domain", "nostdin");
        assert_member_str(o, "uuid", NULL);
        assert_member_str(o, "id", NULL);
        run_clear(&r);
    }
}

/* A writer that never writes nor closes: the hook gives up reading after
 * its idle time (1 s) and still sends. */
static void
test_stalled_stdin(void)
{
    const char *args[] = {"stall", "started", "begin", "-", NULL};
    Run r = {.server = SERVER_OK, .args = args, .stdin_mode = STDIN_STALLED};
    g_autoptr(JsonObject) o = NULL;

    run_hook(&r);
    assert_clean(&r);
    o = parse_request(&r);
    assert_member_str(o, "domain", "stall");
    g_assert_cmpint(r.elapsed_us, >=, 1000 * 1000);
    g_assert_cmpint(r.elapsed_us, <, 1000 * 1000 + BOUND_MS * 1000);
    run_clear(&r);
}

static void
test_argc(void)
{
    static const char *const a1[] = {"web1", NULL};
    static const char *const a3[] = {"web1", "started", "begin", NULL};
    static const char *const a5[] = {"web1", "started", "begin", "-", "more", NULL};
    static const struct {
        const char *const *args;
        const char *log;
    } cases[] = {
        {NULL, "called with 0 arguments"},
        {a1, "called with 1 arguments"},
        {a3, "called with 3 arguments"},
        {a5, "called with 5 arguments"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        Run r = {.server = SERVER_OK, .args = cases[i].args};
        g_autofree char *data = fixture("plain.xml", &r.head_len);

        r.head = data;
        run_hook(&r);
        assert_clean(&r);
        g_assert_cmpuint(r.connections, ==, 0);
        g_assert_cmpuint(logs_matching(&r, cases[i].log), ==, 1);
        g_assert_cmpuint(r.logs->len, ==, 1);
        run_clear(&r);
    }
}

typedef struct {
    const char *name;
    ServerMode mode;
    const char *log;
    gboolean waits;       /* runs into the timeout */
} DownCase;

static const DownCase down_cases[] = {
    {"no-socket", SERVER_NONE, "hapvmd is not running (", FALSE},
    {"refused", SERVER_REFUSED, "hapvmd is not running (", FALSE},
    {"no-accept", SERVER_NO_ACCEPT, "no reply from hapvmd", TRUE},
    {"silent", SERVER_SILENT, "no reply from hapvmd", TRUE},
    {"backlog-full", SERVER_BACKLOG_FULL, "is not accepting (backlog full", TRUE},
    {"error-reply", SERVER_ERROR, "hapvmd refused the request: {\"ok\":false,\"error\":\"unknown op: boom\"}", FALSE},
    {"closed", SERVER_CLOSE, "closed without a reply", FALSE},
};

/* Daemon down, hung, refusing: exit 0, nothing on stdout, one log line,
 * bounded time. */
static void
test_down(gconstpointer data)
{
    const DownCase *c = data;
    const char *args[] = {"web1", "started", "begin", "-", NULL};
    Run r = {.server = c->mode, .args = args};
    g_autofree char *xml = fixture("metadata.xml", &r.head_len);

    r.head = xml;
    run_hook(&r);
    assert_clean(&r);
    g_test_message("hook ran %.1f ms", r.elapsed_us / 1000.0);
    g_assert_cmpint(r.elapsed_us, <, BOUND_MS * 1000);
    if (c->waits)
        g_assert_cmpint(r.elapsed_us, >=, HOOK_TIMEOUT_MS * 1000);
    g_assert_cmpuint(r.logs->len, ==, 1);
    g_assert_cmpuint(logs_matching(&r, c->log), ==, 1);
    g_assert_cmpuint(logs_matching(&r, "domain web1: "), ==, 1);
    if (c->mode == SERVER_SILENT || c->mode == SERVER_ERROR || c->mode == SERVER_CLOSE) {
        g_autoptr(JsonObject) o = parse_request(&r);
        assert_member_str(o, "domain", "web1");
    }
    run_clear(&r);
}

/* ---- in process: the scanner and the escaping ------------------------- */

static JsonObject *
format_and_parse(const HapvmHookArgs *a, const HapvmHookDomain *d)
{
    static char buf[HAPVM_HOOK_REQUEST_MAX];
    size_t n = hapvm_hook_request_format(buf, sizeof buf, a, d);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint(n, >, 0);
    g_assert_cmpint(buf[n - 1], ==, '\n');
    g_assert_null(memchr(buf, '\n', n - 1));
    g_assert_true(g_utf8_validate(buf, (gssize) n, NULL));
    json_parser_load_from_data(parser, buf, (gssize) n, &error);
    g_assert_no_error(error);
    return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Every byte value and random byte strings survive the escaping as valid
 * JSON that decodes to the input (ASCII) or U+FFFD for invalid bytes. */
static void
test_escape(void)
{
    GRand *rand = g_rand_new_with_seed(42);
    HapvmHookDomain d;

    hapvm_hook_domain_scan(&d, "", 0);
    for (int c = 1; c < 256; c++) {
        char s[2] = {(char) c, 0};
        HapvmHookArgs a = {"qemu", s, "started", "begin", "-"};
        g_autoptr(JsonObject) o = format_and_parse(&a, &d);
        const char *got = json_object_get_string_member(o, "domain");
        if (c < 0x80)
            g_assert_cmpstr(got, ==, s);
        else
            g_assert_cmpstr(got, ==, "\xef\xbf\xbd");
    }
    for (int i = 0; i < 2000; i++) {
        char s[64];
        int n = g_rand_int_range(rand, 1, (int) sizeof s);
        for (int k = 0; k < n - 1; k++)
            s[k] = (char) g_rand_int_range(rand, 1, 256);
        s[n - 1] = 0;
        HapvmHookArgs a = {"qemu", s, s, s, s};
        g_autoptr(JsonObject) o = format_and_parse(&a, &d);
        const char *got = json_object_get_string_member(o, "domain");
        if (g_utf8_validate(s, -1, NULL))
            g_assert_cmpstr(got, ==, s);
        else
            g_assert_cmpuint(strlen(got), >=, strlen(s));
    }
    g_rand_free(rand);
}

static void
test_scan_limits(void)
{
    static const char entities[] =
        "<domain><metadata><h:hapvm xmlns:h='" HAPVM_HOOK_NS "'>"
        "<h:label name='e' value='&bogus;'/><h:label name='z' value='&#0;'/>"
        "<h:label name='s' value='&#xD800;'/><h:label name='ok' value='&#x1F600;'/>"
        "</h:hapvm></metadata></domain>";
    g_autoptr(GString) x = g_string_new("<domain><metadata><h:hapvm xmlns:h='" HAPVM_HOOK_NS "'>");
    HapvmHookDomain d;

    for (int i = 0; i < 20; i++)
        g_string_append_printf(x, "<h:label name='l%02d' value='%d'/>", i, i);
    g_string_append(x, "<h:label name='bad' value='&bogus;'/>");
    g_string_append(x, "</h:hapvm></metadata></domain>");
    hapvm_hook_domain_scan(&d, x->str, x->len);
    g_assert_cmpuint(d.n_labels, ==, 16);
    g_assert_cmpstr(d.labels[15].name, ==, "l15");
    g_assert_cmpstr(d.labels[15].value, ==, "15");
    g_assert_cmpuint(d.n_dropped, ==, 5);
    g_assert_cmpstr(d.dropped_reason, ==, "label 'l16': more than 16 labels");
    g_assert_true(d.metadata_done);

    hapvm_hook_domain_scan(&d, entities, strlen(entities));
    g_assert_cmpuint(d.n_labels, ==, 1);
    g_assert_cmpstr(d.labels[0].value, ==, "\xf0\x9f\x98\x80");
    g_assert_cmpuint(d.n_dropped, ==, 3);
    g_assert_cmpstr(d.dropped_reason, ==, "label 'e': value with a bad entity reference");

    /* 16 labels of 256 bytes that each escape to 6 bytes (26 KB), and a
     * 4 KiB name of control bytes (24 KB), fit one request line. */
    {
        g_autofree char *name = g_strnfill(4096, '\x02');
        HapvmHookArgs a = {"qemu", name, "started", "begin", "-"};
        g_autoptr(JsonObject) o = NULL;
        d.n_labels = 16;
        for (int i = 0; i < 16; i++) {
            g_snprintf(d.labels[i].name, sizeof d.labels[i].name, "%064d", i);
            memset(d.labels[i].value, 0x01, 256);
            d.labels[i].value_len = 256;
        }
        o = format_and_parse(&a, &d);
        g_assert_cmpuint(json_object_get_size(json_object_get_object_member(o, "labels")), ==, 16);
    }
}

/* Random mutations of the fixtures: no crash (ASan), and what comes out is
 * well-formed: a canonical uuid, valid label names, a parseable request. */
static void
test_scan_fuzz(void)
{
    static const char *const files[] = {"metadata.xml", "prefix.xml", "labels.xml", "defaultns.xml"};
    GRand *rand = g_rand_new_with_seed(7);
    static const char alphabet[] = "<>/='\"&;:!?-[] \nhapvmlbe#x0";

    for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
        gsize len;
        g_autofree char *orig = fixture(files[f], &len);
        g_autofree char *buf = g_malloc(len);

        for (int i = 0; i < 1500; i++) {
            HapvmHookDomain d;
            HapvmHookArgs a = {"qemu", "f", "started", "begin", "-"};
            size_t cut = (size_t) g_rand_int_range(rand, 0, (gint32) len + 1);
            int edits = g_rand_int_range(rand, 0, 8);

            memcpy(buf, orig, len);
            for (int e = 0; e < edits; e++)
                buf[g_rand_int_range(rand, 0, (gint32) len)] =
                    alphabet[g_rand_int_range(rand, 0, (gint32) sizeof alphabet - 1)];
            hapvm_hook_domain_scan(&d, buf, i % 2 ? cut : len);
            if (d.has_uuid)
                g_assert_cmpuint(strlen(d.uuid), ==, 36);
            g_assert_cmpuint(d.n_labels, <=, HAPVM_HOOK_MAX_LABELS);
            for (unsigned k = 0; k < d.n_labels; k++) {
                size_t nl = strlen(d.labels[k].name);
                g_assert_cmpuint(nl, >=, 1);
                g_assert_cmpuint(nl, <=, 64);
                g_assert_cmpuint(strspn(d.labels[k].name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
                                 ==, nl);
                g_assert_cmpuint(d.labels[k].value_len, <=, 256);
            }
            g_autoptr(JsonObject) o = format_and_parse(&a, &d);
        }
    }
    g_rand_free(rand);
}

static void
test_reply_ok(void)
{
    g_assert_true(hapvm_hook_reply_ok("{\"ok\":true,\"action\":\"measuring\"}", 33));
    g_assert_true(hapvm_hook_reply_ok(" { \"ok\" : true }", 16));
    g_assert_false(hapvm_hook_reply_ok("{\"ok\":false,\"error\":\"x\"}", 24));
    g_assert_false(hapvm_hook_reply_ok("{\"ok\":truex}", 12));
    g_assert_false(hapvm_hook_reply_ok("{\"ok\":true", 10));
    g_assert_false(hapvm_hook_reply_ok("{\"error\":\"\\\"ok\\\":true\"}", 23));
    g_assert_false(hapvm_hook_reply_ok("", 0));
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    hook_path = g_getenv("HAPVM_HOOK");
    if (!hook_path) {
        g_printerr("HAPVM_HOOK: path of the hapvm-hook executable (set by meson test)\n");
        return 1;
    }
    tmpdir = g_dir_make_tmp("hooktest-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    for (guint i = 0; i < G_N_ELEMENTS(fixture_cases); i++) {
        g_autofree char *path = g_strdup_printf("/hook/message/%s", fixture_cases[i].file);
        g_test_add_data_func(path, &fixture_cases[i], test_message);
    }
    g_test_add_func("/hook/message/operations", test_operations);
    g_test_add_func("/hook/message/driver", test_driver);
    g_test_add_func("/hook/hostile/names", test_hostile_names);
    g_test_add_func("/hook/hostile/long-args", test_long_args);
    g_test_add_data_func("/hook/hostile/stdin-100MB", GINT_TO_POINTER(0), test_big_stdin);
    g_test_add_data_func("/hook/hostile/stdin-100MB-late-metadata", GINT_TO_POINTER(1), test_big_stdin);
    g_test_add_func("/hook/hostile/garbage", test_garbage_stdin);
    g_test_add_func("/hook/hostile/deep", test_deep_stdin);
    g_test_add_func("/hook/hostile/no-stdin", test_no_stdin);
    g_test_add_func("/hook/hostile/stalled-stdin", test_stalled_stdin);
    g_test_add_func("/hook/hostile/argc", test_argc);
    for (guint i = 0; i < G_N_ELEMENTS(down_cases); i++) {
        g_autofree char *path = g_strdup_printf("/hook/daemon/%s", down_cases[i].name);
        g_test_add_data_func(path, &down_cases[i], test_down);
    }
    g_test_add_func("/hook/inprocess/escape", test_escape);
    g_test_add_func("/hook/inprocess/scan-limits", test_scan_limits);
    g_test_add_func("/hook/inprocess/scan-fuzz", test_scan_fuzz);
    g_test_add_func("/hook/inprocess/reply", test_reply_ok);

    ret = g_test_run();
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return ret;
}

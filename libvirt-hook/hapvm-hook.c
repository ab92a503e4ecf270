/* hapvm-hook: the libvirt hook of hapvm (docs/hapvm-hook.md).
 *
 * libvirt runs it synchronously, as /etc/libvirt/hooks/{qemu,libxl}.d/hapvm
 * DOMAIN OPERATION SUBOP EXTRA with the domain XML on stdin, and waits.  It
 * sends one JSON line to hapvmd's socket (docs/hapvmd-protocol.md) and must
 * never get in libvirt's way: it always exits 0 (non-zero aborts a start, and
 * kills QEMU on reconnect), prints nothing on stdout (for migrate and restore
 * stdout replaces the domain XML), reads all of stdin, and gives the daemon
 * HAPVM_HOOK_TIMEOUT_MS in all.  Problems go to syslog, one line each.
 *
 * Plain libc: no glib or libvirt (calling libvirt from a hook deadlocks), so
 * that starting it costs a fork and an exec. */
#include "hapvm-hook-msg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define HAPVM_HOOK_SOCKET "/run/hapvm/hapvmd.sock"
/* Connect + send + reply, in all.  hapvmd answers before it starts any work;
 * a daemon that takes longer is treated as hung and the domain goes on. */
#define HAPVM_HOOK_TIMEOUT_MS 50
/* How much of the domain XML is scanned; the rest is read and thrown away.
 * libvirt writes <uuid> and <metadata> near the top (after name, uuid,
 * genid, title and description). */
#define HAPVM_HOOK_SCAN_MAX (1024 * 1024)
/* Reading stdin gives up when the writer sends nothing for this long, or
 * after the total: libvirt writes the whole XML at once and closes. */
#define HAPVM_HOOK_STDIN_IDLE_MS 1000
#define HAPVM_HOOK_STDIN_TOTAL_MS 10000
#define HAPVM_HOOK_REPLY_MAX 4096

static char xml_buf[HAPVM_HOOK_SCAN_MAX];
static char request[HAPVM_HOOK_REQUEST_MAX];
static const char *log_domain = "-";
static char log_domain_buf[96];

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line to syslog, as openlog("hapvm-hook", LOG_PID, LOG_DAEMON) would
 * send it, but through a nonblocking socket: glibc's syslog() blocks while
 * journald or rsyslog is stuck, and the hook must not.  HAPVM_HOOK_SYSLOG
 * names another datagram socket (tests).  Control bytes (a domain name may
 * hold newlines) and invalid UTF-8 become '?'.  On a terminal the line also goes to stderr. */
static void __attribute__((format(printf, 2, 3)))
hook_log(int priority, const char *fmt, ...)
{
    char msg[512], line[640], stamp[32];
    const char *path = getenv("HAPVM_HOOK_SYSLOG");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct tm tm;
    time_t t = time(NULL);
    va_list ap;
    int fd, n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hapvm_hook_sanitize(msg);
    if (isatty(STDERR_FILENO))
        dprintf(STDERR_FILENO, "hapvm-hook: %s\n", msg);

    if (!path || !*path)
        path = "/dev/log";
    if (strlen(path) >= sizeof addr.sun_path)
        return;
    strcpy(addr.sun_path, path);
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%b %e %T", &tm);
    n = snprintf(line, sizeof line, "<%d>%s hapvm-hook[%d]: %s", LOG_DAEMON | priority, stamp,
                 (int) getpid(), msg);
    if (n < 0)
        return;
    if (n >= (int) sizeof line)
        n = sizeof line - 1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0)
        (void) send(fd, line, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

/* Waits until FD is ready for EVENTS or DEADLINE (ms, monotonic) passes.
 * Returns 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        long long left = deadline - now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, (int) left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Reads stdin into BUF up to CAP bytes (CAP 0: throw it away) until end of
 * file, an error or a stall.  Returns the bytes kept; *DONE tells whether
 * there is nothing more to read (end, error, or a writer that stalled). */
static size_t
read_stdin(char *buf, size_t cap, bool *done, long long *total_deadline)
{
    size_t len = 0;
    char *dst = buf;

    *done = false;
    for (;;) {
        long long idle = now_ms() + HAPVM_HOOK_STDIN_IDLE_MS;
        size_t room = cap ? cap - len : HAPVM_HOOK_SCAN_MAX;
        ssize_t r;

        if (cap && room == 0)
            return len;
        if (idle > *total_deadline)
            idle = *total_deadline;
        if (wait_fd(STDIN_FILENO, POLLIN, idle) <= 0) {
            *done = true;
            return len;
        }
        r = read(STDIN_FILENO, cap ? dst + len : buf, room);
        if (r == 0) {
            *done = true;
            return len;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            *done = true;    /* EBADF, EISDIR, ...: nothing (more) to read */
            return len;
        }
        if (cap)
            len += (size_t) r;
    }
}

/* The driver: HAPVM_HOOK_DRIVER (tests), else the directory (qemu.d,
 * libxl.d) or the name (hooks/qemu, hooks/libxl) the program was run as. */
static const char *
hook_driver(const char *argv0)
{
    const char *env = getenv("HAPVM_HOOK_DRIVER");
    const char *slash, *dir;
    size_t n;

    if (env && (strcmp(env, "qemu") == 0 || strcmp(env, "libxl") == 0))
        return env;
    if (!argv0)
        return "qemu";
    slash = strrchr(argv0, '/');
    if (strcmp(slash ? slash + 1 : argv0, "libxl") == 0)
        return "libxl";
    if (!slash)
        return "qemu";
    for (dir = slash; dir > argv0 && dir[-1] != '/'; dir--)
        ;
    n = (size_t) (slash - dir);
    if (n == 7 && memcmp(dir, "libxl.d", 7) == 0)
        return "libxl";
    return "qemu";
}

/* Sends the request and checks the reply, all within HAPVM_HOOK_TIMEOUT_MS. */
static void
send_request(const char *msg, size_t len)
{
    const char *path = getenv("HAPVM_SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    long long deadline = now_ms() + HAPVM_HOOK_TIMEOUT_MS;
    char reply[HAPVM_HOOK_REPLY_MAX];
    size_t sent = 0, got = 0;
    const char *nl = NULL;
    int fd;

    if (!path || !*path)
        path = HAPVM_HOOK_SOCKET;
    if (strlen(path) >= sizeof addr.sun_path) {
        hook_log(LOG_ERR, "domain %s: socket path too long: %s", log_domain, path);
        return;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        hook_log(LOG_ERR, "domain %s: socket: %s", log_domain, strerror(errno));
        return;
    }

    /* A nonblocking AF_UNIX connect either completes or fails at once;
     * EAGAIN means hapvmd's listen backlog is full: retry until the deadline. */
    for (;;) {
        int err;

        if (connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0)
            break;
        err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            if (now_ms() + 2 >= deadline) {
                hook_log(LOG_WARNING, "domain %s: hapvmd at %s is not accepting (backlog full for %d ms); "
                         "not measured", log_domain, path, HAPVM_HOOK_TIMEOUT_MS);
                goto out;
            }
            nanosleep(&ts, NULL);
            continue;
        }
        if (err == EINPROGRESS) {
            socklen_t sl = sizeof err;
            if (wait_fd(fd, POLLOUT, deadline) <= 0) {
                hook_log(LOG_WARNING, "domain %s: hapvmd at %s did not accept within %d ms; not measured",
                         log_domain, path, HAPVM_HOOK_TIMEOUT_MS);
                goto out;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
                break;
        }
        if (err == ENOENT || err == ECONNREFUSED)
            hook_log(LOG_WARNING, "domain %s: hapvmd is not running (%s: %s); not measured",
                     log_domain, path, strerror(err));
        else
            hook_log(LOG_ERR, "domain %s: cannot connect to hapvmd at %s: %s; not measured",
                     log_domain, path, strerror(err));
        goto out;
    }

    while (sent < len) {
        ssize_t r = send(fd, msg + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) {
            sent += (size_t) r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (wait_fd(fd, POLLOUT, deadline) > 0)
                continue;
            hook_log(LOG_WARNING, "domain %s: hapvmd at %s did not read the request within %d ms; "
                     "not measured", log_domain, path, HAPVM_HOOK_TIMEOUT_MS);
            goto out;
        }
        hook_log(LOG_ERR, "domain %s: sending to hapvmd at %s: %s", log_domain, path, strerror(errno));
        goto out;
    }

    while (!nl && got < sizeof reply) {
        ssize_t r = recv(fd, reply + got, sizeof reply - got, MSG_DONTWAIT);
        if (r > 0) {
            nl = memchr(reply + got, '\n', (size_t) r);
            got += (size_t) r;
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (wait_fd(fd, POLLIN, deadline) > 0)
                continue;
            hook_log(LOG_WARNING, "domain %s: no reply from hapvmd at %s within %d ms; "
                     "the request may or may not have been taken", log_domain, path, HAPVM_HOOK_TIMEOUT_MS);
            goto out;
        }
        hook_log(LOG_ERR, "domain %s: reading hapvmd's reply: %s", log_domain, strerror(errno));
        goto out;
    }
    if (got == 0)
        hook_log(LOG_WARNING, "domain %s: hapvmd at %s closed without a reply", log_domain, path);
    else if (!hapvm_hook_reply_ok(reply, nl ? (size_t) (nl - reply) : got))
        hook_log(LOG_ERR, "domain %s: hapvmd refused the request: %.*s", log_domain,
                 (int) (nl ? nl - reply : (got > 300 ? 300 : (int) got)), reply);
out:
    close(fd);
}

/* libvirt always gives us 0, 1 and 2; if one is closed anyway, /dev/null
 * keeps the daemon socket from landing on it. */
static void
ensure_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

int
main(int argc, char **argv)
{
    long long stdin_deadline = now_ms() + HAPVM_HOOK_STDIN_TOTAL_MS;
    bool stdin_done = false, is_tty;
    HapvmHookDomain dom;
    HapvmHookArgs args;
    size_t xml_len = 0, req_len;

    signal(SIGPIPE, SIG_IGN);
    ensure_std_fds();
    /* Run by hand from a shell: don't wait for a domain XML on the terminal. */
    is_tty = isatty(STDIN_FILENO);

    if (argc != 5) {
        hook_log(LOG_ERR, "called with %d arguments; libvirt gives 4: DOMAIN OPERATION SUBOP EXTRA",
                 argc - 1);
        goto drain;
    }
    /* The name as logged: cut, so that the message itself fits a line. */
    if (strlen(argv[1]) < 80)
        log_domain = argv[1];
    else {
        snprintf(log_domain_buf, sizeof log_domain_buf, "%.76s...", argv[1]);
        log_domain = log_domain_buf;
    }
    if (!hapvm_hook_operation_forwarded(argv[2]))
        goto drain;

    if (!is_tty)
        xml_len = read_stdin(xml_buf, sizeof xml_buf, &stdin_done, &stdin_deadline);
    hapvm_hook_domain_scan(&dom, xml_buf, xml_len);
    if (dom.n_dropped)
        hook_log(LOG_WARNING, "domain %s: %u hapvm label(s) dropped, first: %s", log_domain,
                 dom.n_dropped, dom.dropped_reason);
    if (dom.bad_measure)
        hook_log(LOG_WARNING, "domain %s: hapvm <measure enabled=...> is neither yes nor no; ignored",
                 log_domain);
    if (!stdin_done && xml_len == sizeof xml_buf && !dom.metadata_done && !dom.malformed)
        hook_log(LOG_NOTICE, "domain %s: domain XML longer than %d bytes; metadata after them not read",
                 log_domain, HAPVM_HOOK_SCAN_MAX);

    args = (HapvmHookArgs) {
        .driver = hook_driver(argv[0]),
        .domain = argv[1],
        .operation = argv[2],
        .sub = argv[3],
        .extra = argv[4],
    };
    req_len = hapvm_hook_request_format(request, sizeof request, &args, &dom);
    if (req_len == 0)
        hook_log(LOG_ERR, "domain %s: request longer than %d bytes; not sent", log_domain,
                 HAPVM_HOOK_REQUEST_MAX);
    else
        send_request(request, req_len);

drain:
    if (!stdin_done && !is_tty)
        read_stdin(xml_buf, 0, &stdin_done, &stdin_deadline);
    return 0;
}

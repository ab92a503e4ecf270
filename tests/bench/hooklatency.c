/* Latency of the libvirt hook as libvirt sees it: from spawning hapvm-hook
 * (argv DOMAIN started begin -, a domain XML on stdin) to reaping it, N runs
 * each with hapvmd up (a fake replying at once), down (no socket) and hung
 * (accepts, reads, never replies); plus /bin/true, the cost of any hook.
 * Prints p50, p99 and max per case, and the child's CPU time (user + sys)
 * per call, which depends less on the machine's load (docs/benchmarks.md "Hook latency").
 *
 *   hooklatency HOOK XML [N]           (tests/bench/hook-latency runs it) */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    int fd;
    gboolean reply;
} Server;

/* The fake hapvmd: one request line per connection; replies and closes, or
 * keeps the connection silent until the client goes. */
static gpointer
server_main(gpointer data)
{
    Server *s = data;

    for (;;) {
        char buf[65536];
        size_t got = 0;
        int c = accept(s->fd, NULL, NULL);

        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        for (;;) {
            ssize_t n = read(c, buf + got, sizeof buf - got);
            if (n <= 0)
                break;
            got += (size_t) n;
            if (memchr(buf, '\n', got)) {
                if (s->reply) {
                    static const char ok[] = "{\"ok\":true,\"action\":\"measuring\"}\n";
                    if (write(c, ok, sizeof ok - 1) < 0)
                        break;
                    break;
                }
                /* hung: wait for the hook to give up and close */
                while (read(c, buf, sizeof buf) > 0)
                    ;
                break;
            }
        }
        close(c);
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void
run_case(const char *label, const char *exe, const char *xml, const char *sock, int n)
{
    g_autofree double *ms = g_new(double, n);
    g_autofree char *env_sock = g_strdup_printf("HAPVM_SOCKET=%s", sock);
    char *envp[] = {"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", env_sock, NULL};
    char *argv[] = {(char *) exe, "bench-vm", "started", "begin", "-", NULL};
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    double cpu_ms = 0;

    for (int i = 0; i < n; i++) {
        posix_spawn_file_actions_t fa;
        int in = open(xml, O_RDONLY | O_CLOEXEC);
        gint64 t0;
        pid_t pid;
        int status;

        g_assert(in >= 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in, 0);
        posix_spawn_file_actions_adddup2(&fa, devnull, 1);
        t0 = g_get_monotonic_time();
        if (posix_spawn(&pid, exe, &fa, NULL, argv, envp) != 0) {
            perror("posix_spawn");
            exit(1);
        }
        {
            struct rusage ru;
            wait4(pid, &status, 0, &ru);
            ms[i] = (double) (g_get_monotonic_time() - t0) / 1000.0;
            cpu_ms += (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0
                + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
        }
        posix_spawn_file_actions_destroy(&fa);
        close(in);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s: exit status %d\n", label, status);
            exit(1);
        }
    }
    close(devnull);
    qsort(ms, (size_t) n, sizeof *ms, cmp_double);
    printf("%-12s n=%d  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  cpu %5.2f ms/call\n", label, n,
           ms[n / 2], ms[(int) ((n - 1) * 0.99 + 0.5)], ms[n - 1], cpu_ms / n);
}

static int
listen_at(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(addr.sun_path, path, sizeof addr.sun_path);
    g_unlink(path);
    if (bind(fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(fd, 128) < 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autofree char *up = NULL, *hung = NULL, *down = NULL;
    Server s_up, s_hung;
    int n;

    if (argc < 3) {
        fprintf(stderr, "usage: hooklatency HOOK XML [N]\n");
        return 2;
    }
    n = argc > 3 ? atoi(argv[3]) : 100;
    if (n < 1)
        n = 100;
    signal(SIGPIPE, SIG_IGN);
    dir = g_dir_make_tmp("hooklatency-XXXXXX", NULL);
    up = g_build_filename(dir, "up.sock", NULL);
    hung = g_build_filename(dir, "hung.sock", NULL);
    down = g_build_filename(dir, "down.sock", NULL);
    s_up = (Server) {listen_at(up), TRUE};
    s_hung = (Server) {listen_at(hung), FALSE};
    g_thread_unref(g_thread_new("up", server_main, &s_up));
    g_thread_unref(g_thread_new("hung", server_main, &s_hung));

    run_case("/bin/true", "/bin/true", argv[2], up, n);
    run_case("daemon up", argv[1], argv[2], up, n);
    run_case("daemon down", argv[1], argv[2], down, n);
    run_case("daemon hung", argv[1], argv[2], hung, n);

    g_unlink(up);
    g_unlink(hung);
    g_rmdir(dir);
    return 0;
}

/* blknet: steady disk and network load for a lab guest (a Xen PV domU: its
 * disk is served by blkback, its vif by netback).
 *
 *   blknet run SECONDS DEV|- HOST|- PORT
 *       with HOST: first waits (up to 600 s) for the echo server at
 *       HOST:PORT to answer, so that several guests start their load together
 *       when dom0 starts the server; and stops early when the server has
 *       gone quiet for 5 s (dom0 ends the load by stopping it: under a busy
 *       TCG host, how long dom0's checks take is not known in advance).
 *       Then for SECONDS at most: one process writes and reads back 64 KiB blocks of the
 *       block device DEV with O_DIRECT (every request reaches the backend,
 *       none is served from the guest's page cache) and checks what it read;
 *       another sends 1 KiB UDP datagrams to HOST:PORT and counts the
 *       replies of an echo server there ("-" skips either part).  Exits 1
 *       on an I/O error or a mismatch, 3 when no echo came back, else 0.
 *   blknet echo PORT SECONDS
 *       UDP echo server on PORT for SECONDS or until SIGTERM (run it in
 *       dom0 for the above).
 *
 * Static, so it runs unchanged in the lab host and in a guest's busybox.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLK (64 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t stop;
static void on_usr1(int sig) { (void)sig; stop = 1; }

static int disk_loop(const char *dev, double secs)
{
    double t0 = now();
    int fd = open(dev, O_RDWR | O_DIRECT | O_SYNC);
    if (fd < 0) {
        fprintf(stderr, "blknet: open %s: %s\n", dev, strerror(errno));
        return 1;
    }
    unsigned long long size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0 || size < BLK) {
        fprintf(stderr, "blknet: %s: no size (%s)\n", dev, strerror(errno));
        return 1;
    }
    unsigned char *w, *r;
    if (posix_memalign((void **)&w, 4096, BLK) || posix_memalign((void **)&r, 4096, BLK))
        return 1;
    unsigned long long nblk = size / BLK, n = 0;
    double end = now() + secs;
    while (!stop && now() < end) {
        off_t off = (off_t)(n % nblk) * BLK;
        memset(w, (int)(n & 0xff), BLK);
        memcpy(w, &n, sizeof n);
        if (pwrite(fd, w, BLK, off) != BLK || pread(fd, r, BLK, off) != BLK) {
            fprintf(stderr, "blknet: I/O on %s at %lld: %s\n", dev, (long long)off, strerror(errno));
            return 1;
        }
        if (memcmp(w, r, BLK) != 0) {
            fprintf(stderr, "blknet: %s: read back differs at %lld\n", dev, (long long)off);
            return 1;
        }
        n++;
    }
    printf("blknet: disk %s: %llu writes + %llu reads of 64 KiB (%.1f MiB each way) in %.1f s\n",
           dev, n, n, n * (BLK / 1048576.0), now() - t0);
    return 0;
}

static int net_loop(const char *host, int port, double secs)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (s < 0 || inet_pton(AF_INET, host, &to.sin_addr) != 1) {
        fprintf(stderr, "blknet: bad host %s or no socket: %s\n", host, strerror(errno));
        return 1;
    }
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    unsigned long sent = 0, got = 0, errs = 0;
    double t0 = now(), end = t0 + secs, last = t0;
    while (now() < end) {
        if (got && now() - last > 5)
            break; /* the echo server stopped: dom0 ended the load */
        /* A burst, then the echoes: steady traffic both ways through the vif. */
        for (int i = 0; i < 8; i++) {
            if (sendto(s, buf, sizeof buf, 0, (struct sockaddr *)&to, sizeof to) == sizeof buf)
                sent++;
            else
                errs++; /* ECONNREFUSED from an ICMP reply while no echo server listens */
        }
        struct pollfd p = { .fd = s, .events = POLLIN };
        while (poll(&p, 1, 5) > 0) {
            if (recv(s, buf, sizeof buf, MSG_DONTWAIT) > 0) {
                got++;
                last = now();
            }
            else
                break;
        }
    }
    printf("blknet: net %s:%d: %lu datagrams sent, %lu echoes received, %lu send errors in %.1f s\n",
           host, port, sent, got, errs, now() - t0);
    if (sent == 0)
        return 1;
    return got ? 0 : 3;
}

/* Probe HOST:PORT every 0.2 s until the echo server answers. */
static int wait_for_echo(const char *host, int port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (s < 0 || inet_pton(AF_INET, host, &to.sin_addr) != 1)
        return -1;
    double t0 = now();
    char b[16] = "probe";
    while (now() - t0 < 600) {
        sendto(s, b, 5, 0, (struct sockaddr *)&to, sizeof to);
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 200) > 0 && recv(s, b, sizeof b, MSG_DONTWAIT) > 0) {
            printf("blknet: echo server %s:%d answered after %.1f s\n", host, port, now() - t0);
            close(s);
            return 0;
        }
    }
    fprintf(stderr, "blknet: no echo server at %s:%d after 600 s\n", host, port);
    close(s);
    return -1;
}

static int echo_server(int port, double secs)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "blknet: echo: bind %d: %s\n", port, strerror(errno));
        return 1;
    }
    char buf[2048];
    unsigned long n = 0;
    double end = now() + secs;
    signal(SIGTERM, on_usr1); /* stopped by dom0: still print the count */
    while (!stop) {
        double left = end - now();
        if (left <= 0)
            break;
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (len > 0 && sendto(s, buf, len, 0, (struct sockaddr *)&from, fl) == len)
            n++;
    }
    printf("blknet: echo :%d: %lu datagrams echoed\n", port, n);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && strcmp(argv[1], "run") == 0) {
        double secs = atof(argv[2]);
        const char *dev = argv[3], *host = argv[4];
        int port = atoi(argv[5]);
        pid_t child = -1;
        int rc = 0, st;
        if (strcmp(host, "-") != 0 && wait_for_echo(host, port) != 0)
            return 3;
        signal(SIGUSR1, on_usr1); /* before the fork: the child inherits it */
        if (strcmp(dev, "-") != 0) {
            child = fork();
            if (child == 0)
                _exit(disk_loop(dev, secs));
        }
        if (strcmp(host, "-") != 0)
            rc = net_loop(host, port, secs);
        if (child > 0 && strcmp(host, "-") != 0)
            kill(child, SIGUSR1);
        if (child > 0 && waitpid(child, &st, 0) == child) {
            int drc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
            if (drc != 0)
                rc = drc;
        }
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "echo") == 0)
        return echo_server(atoi(argv[2]), atof(argv[3]));
    fprintf(stderr, "usage: blknet run SECONDS DEV|- HOST|- PORT | blknet echo PORT SECONDS\n");
    return 2;
}

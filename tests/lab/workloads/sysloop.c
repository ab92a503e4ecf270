/* sysloop: a workload with a known system-call mix, for ground-truth tests.
 *
 *   sysloop getppid N     N getppid() calls
 *   sysloop fork N        fork a child that makes N getppid() calls; wait for it
 *   sysloop pipe N        N 64-byte write()+read() round trips through a pipe
 *   sysloop files N DIR   N open()+read()+close() of a small file in DIR
 *   sysloop yield N       N sched_yield() calls
 *   sysloop spin SECONDS  burn CPU in user space only (a busy non-target)
 *   sysloop disk N DEV    N 4 KiB O_DIRECT write+read pairs on DEV (a block
 *                         device: in a guest, its virtio disk); prints its
 *                         run time
 *   sysloop cpuid N       N CPUID instructions: in a KVM guest each one is a
 *                         cpuid exit handled by the host; prints its run time
 *   sysloop mix N         N rounds of sched_yield + getppid + a 64-byte pipe
 *                         round trip; prints its own run time (benchmarks)
 *
 * Static, so it runs unchanged in the lab host and in an L2 guest.  Prints its
 * own pid (and the child's) so tests can match trace records to tasks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void do_getppid(long n)
{
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
}

static int do_pipe(long n)
{
    int fd[2];
    char buf[64];

    memset(buf, 'x', sizeof(buf));
    if (pipe(fd) < 0)
        return 1;
    for (long i = 0; i < n; i++) {
        if (write(fd[1], buf, sizeof(buf)) != sizeof(buf) ||
            read(fd[0], buf, sizeof(buf)) != sizeof(buf))
            return 1;
    }
    close(fd[0]);
    close(fd[1]);
    return 0;
}

static int do_files(long n, const char *dir)
{
    char path[4096], buf[256];
    int fd;

    snprintf(path, sizeof(path), "%s/sysloop.%d", dir, (int)getpid());
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "hapvm\n", 6) != 6)
        return 1;
    close(fd);
    for (long i = 0; i < n; i++) {
        fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof(buf)) != 6)
            return 1;
        close(fd);
    }
    unlink(path);
    return 0;
}

static void do_spin(long seconds)
{
    struct timespec t0, t;
    volatile unsigned long x = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 1000000; i++)
            x += i;
        clock_gettime(CLOCK_MONOTONIC, &t); /* vDSO: no system call */
    } while (t.tv_sec - t0.tv_sec < seconds);
}

static int do_disk(long n, const char *dev)
{
    struct timespec t0, t1;
    void *buf;
    int fd = open(dev, O_RDWR | O_DIRECT);

    if (fd < 0 || posix_memalign(&buf, 4096, 4096) != 0) {
        perror(dev);
        return 1;
    }
    memset(buf, 0x5a, 4096);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        off_t off = (off_t)(i % 256) * 4096;
        if (pwrite(fd, buf, 4096, off) != 4096 || pread(fd, buf, 4096, off) != 4096) {
            perror("disk I/O");
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    printf("sysloop: elapsed %.6f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static void do_cpuid(long n)
{
    struct timespec t0, t1;
    unsigned int a, b, c, d;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        a = 0, c = 0;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("sysloop: elapsed %.6f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int main(int argc, char **argv)
{
    long n;

    if (argc < 3) {
        fprintf(stderr, "usage: sysloop getppid|fork|pipe|files|yield|spin|mix|sysinfo|cpuid|disk N [DIR|DEV]\n");
        return 2;
    }
    n = strtol(argv[2], NULL, 10);
    printf("sysloop: pid %d mode %s n %ld\n", (int)getpid(), argv[1], n);
    fflush(stdout);

    if (!strcmp(argv[1], "getppid")) {
        do_getppid(n);
    } else if (!strcmp(argv[1], "fork")) {
        int st;
        pid_t c = fork();
        if (c < 0)
            return 1;
        if (c == 0) {
            do_getppid(n);
            _exit(0);
        }
        printf("sysloop: child %d\n", (int)c);
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
    } else if (!strcmp(argv[1], "pipe")) {
        return do_pipe(n);
    } else if (!strcmp(argv[1], "files")) {
        return do_files(n, argc > 3 ? argv[3] : "/tmp");
    } else if (!strcmp(argv[1], "yield")) {
        for (long i = 0; i < n; i++)
            sched_yield();
    } else if (!strcmp(argv[1], "mix")) {
        struct timespec t0, t1;
        int fd[2];
        char buf[64] = { 0 };
        if (pipe(fd) < 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++) {
            sched_yield();
            syscall(SYS_getppid);
            if (write(fd[1], buf, sizeof(buf)) != sizeof(buf) || read(fd[0], buf, sizeof(buf)) != sizeof(buf))
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("sysloop: elapsed %.6f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    } else if (!strcmp(argv[1], "sysinfo")) {
        /* A system call nothing else here makes, n times 0.5 s apart. */
        struct sysinfo si;
        struct timespec half = { 0, 500000000 };
        for (long i = 0; i < n; i++) {
            if (sysinfo(&si) < 0)
                return 1;
            nanosleep(&half, NULL);
        }
    } else if (!strcmp(argv[1], "spin")) {
        do_spin(n);
    } else if (!strcmp(argv[1], "disk")) {
        return do_disk(n, argc > 3 ? argv[3] : "/dev/vda");
    } else if (!strcmp(argv[1], "cpuid")) {
        do_cpuid(n);
    } else {
        fprintf(stderr, "sysloop: unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}

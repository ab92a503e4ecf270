/* Kernel symbols: address-range lookups on fixture kallsyms files.
 *
 * tests/data/ksyms/suffixes.kallsyms is hand-written in the format of
 * /proc/kallsyms ("%016lx %c %s\t[%s]"): layout markers sharing an address
 * with a function, .isra/.constprop/.part/.cold clones, a static name defined
 * three times in vmlinux and twice in each of two modules, aliases (memcpy,
 * __memcpy), data symbols that end the text symbol before them, and an
 * absolute percpu symbol at 0.  Every expected value below is read off that
 * file by hand. */
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-ksyms.h"

static HapvmKsyms *
load_fixture(const char *name, GError **error)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "ksyms", name, NULL);

    return hapvm_ksyms_load(path, error);
}

static HapvmKsyms *
fixture(void)
{
    g_autoptr(GError) error = NULL;
    HapvmKsyms *k = load_fixture("suffixes.kallsyms", &error);

    g_assert_no_error(error);
    g_assert_nonnull(k);
    return k;
}

#define ASSERT_SYM(k, addr, nm, mod, s, e)                                                   \
    do {                                                                                   \
        HapvmKsym sym_;                                                                    \
        g_assert_true(hapvm_ksyms_lookup((k), (addr), &sym_));                             \
        g_assert_cmpstr(sym_.name, ==, (nm));                                              \
        g_assert_cmpstr(sym_.module, ==, (mod));                                           \
        g_assert_cmphex(sym_.start, ==, (s));                                              \
        g_assert_cmphex(sym_.end, ==, (e));                                                \
    } while (0)

static void
test_suffixes(void)
{
    g_autoptr(HapvmKsyms) k = fixture();
    HapvmKsym none;

    /* No symbols at all (kallsyms unreadable, seen in the Xen lab's dom0,
     * where HAP-L then looked addresses up in a NULL table). */
    g_assert_false(hapvm_ksyms_lookup(NULL, 0xffffffff9a000140, &none));
    /* Clones resolve by range, under their full names. */
    ASSERT_SYM(k, 0xffffffff9a000140, "tcp_v4_rcv.isra.0", NULL, 0xffffffff9a000140, 0xffffffff9a000200);
    ASSERT_SYM(k, 0xffffffff9a0001ff, "tcp_v4_rcv.isra.0", NULL, 0xffffffff9a000140, 0xffffffff9a000200);
    ASSERT_SYM(k, 0xffffffff9a000210, "kvm_set_memory.constprop.0", NULL, 0xffffffff9a000200, 0xffffffff9a000280);
    ASSERT_SYM(k, 0xffffffff9a000280, "tick_do_update.part.0", NULL, 0xffffffff9a000280, 0xffffffff9a000300);
    ASSERT_SYM(k, 0xffffffff9a000501, "vfs_read.cold", NULL, 0xffffffff9a000500, 0xffffffff9a000540);
    /* W (weak) text symbols are kept. */
    ASSERT_SYM(k, 0xffffffff9a000390, "arch_cpu_idle", NULL, 0xffffffff9a000380, 0xffffffff9a000400);
    /* The last .cold part ends at the next symbol even though it is data. */
    ASSERT_SYM(k, 0xffffffff9a0005ff, "tick_do_update.part.0.cold", NULL, 0xffffffff9a000540,
               0xffffffff9a000600);
}

static void
test_markers_and_aliases(void)
{
    g_autoptr(HapvmKsyms) k = fixture();
    HapvmKsym s;

    /* startup_64, _stext and _text share 0xffffffff9a000000: the markers
     * never win, and _text is kept as the KASLR base. */
    ASSERT_SYM(k, 0xffffffff9a000000, "startup_64", NULL, 0xffffffff9a000000, 0xffffffff9a000040);
    g_assert_cmphex(hapvm_ksyms_text(k), ==, 0xffffffff9a000000);
    /* memcpy and __memcpy: the first listed, ended by _etext. */
    ASSERT_SYM(k, 0xffffffff9a000450, "memcpy", NULL, 0xffffffff9a000440, 0xffffffff9a000480);
    /* Between _etext and vfs_read.cold nothing is text. */
    g_assert_false(hapvm_ksyms_lookup(k, 0xffffffff9a0004c0, &s));
    /* Below the first symbol, and in a data symbol's range. */
    g_assert_false(hapvm_ksyms_lookup(k, 0xffffffff99ffffff, &s));
    g_assert_false(hapvm_ksyms_lookup(k, 0xffffffff9a000650, &s));
    g_assert_false(hapvm_ksyms_lookup(k, 0, &s));
    /* 22 text symbols minus the three markers (_stext, _text, _etext). */
    g_assert_cmpuint(hapvm_ksyms_count(k), ==, 19);
}

static void
test_stext_fallback(void)
{
    static const char only_stext[] = "ffffffff9b000000 T _stext\nffffffff9b000010 T f\n";
    static const char neither[] = "ffffffff9b000010 T f\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) a = hapvm_ksyms_load_data(only_stext, sizeof(only_stext) - 1, "a", &error);
    g_autoptr(HapvmKsyms) b = hapvm_ksyms_load_data(neither, sizeof(neither) - 1, "b", &error);

    g_assert_no_error(error);
    g_assert_cmphex(hapvm_ksyms_text(a), ==, 0xffffffff9b000000);
    g_assert_cmphex(hapvm_ksyms_text(b), ==, 0);
}

static void
test_duplicates(void)
{
    g_autoptr(HapvmKsyms) k = fixture();
    HapvmKsym s;

    /* Two active_show in vmlinux... */
    ASSERT_SYM(k, 0xffffffff9a000120, "active_show", NULL, 0xffffffff9a000100, 0xffffffff9a000140);
    g_assert_true(hapvm_ksyms_lookup(k, 0xffffffff9a000120, &s));
    g_assert_cmpuint(s.dup, ==, 0);
    ASSERT_SYM(k, 0xffffffff9a000400, "active_show", NULL, 0xffffffff9a000400, 0xffffffff9a000440);
    g_assert_true(hapvm_ksyms_lookup(k, 0xffffffff9a000400, &s));
    g_assert_cmpuint(s.dup, ==, 1);
    /* ...and per module the ranks restart: by address within the module. */
    g_assert_true(hapvm_ksyms_lookup(k, 0xffffffffc0a00100, &s));
    g_assert_cmpstr(s.module, ==, "vhost");
    g_assert_cmpuint(s.dup, ==, 0);
    g_assert_cmphex(s.end, ==, 0xffffffffc0a00180); /* vhost_data */
    g_assert_true(hapvm_ksyms_lookup(k, 0xffffffffc0b00000, &s));
    g_assert_cmpstr(s.module, ==, "kvm_amd");
    g_assert_cmpuint(s.dup, ==, 0);
    g_assert_true(hapvm_ksyms_lookup(k, 0xffffffffc0b00180, &s));
    g_assert_cmpstr(s.name, ==, "active_show");
    g_assert_cmpstr(s.module, ==, "kvm_amd");
    g_assert_cmpuint(s.dup, ==, 1);
    g_assert_cmphex(s.start, ==, 0xffffffffc0b00100);
    ASSERT_SYM(k, 0xffffffffc0b00250, "svm_vcpu_run.cold", "kvm_amd", 0xffffffffc0b00200, 0xffffffffc0b00300);
    /* Module names are interned: equal pointers for one module. */
    {
        HapvmKsym a, b;

        g_assert_true(hapvm_ksyms_lookup(k, 0xffffffffc0b00000, &a));
        g_assert_true(hapvm_ksyms_lookup(k, 0xffffffffc0b00040, &b));
        g_assert_true(a.module == b.module);
    }
}

static void
test_lookup_name(void)
{
    g_autoptr(HapvmKsyms) k = fixture();
    HapvmKsym s;

    g_assert_true(hapvm_ksyms_lookup_name(k, NULL, "active_show", 1, &s));
    g_assert_cmphex(s.start, ==, 0xffffffff9a000400);
    g_assert_false(hapvm_ksyms_lookup_name(k, NULL, "active_show", 2, &s));
    g_assert_true(hapvm_ksyms_lookup_name(k, "kvm_amd", "active_show", 1, &s));
    g_assert_cmphex(s.start, ==, 0xffffffffc0b00100);
    g_assert_true(hapvm_ksyms_lookup_name(k, "vhost", "vhost_worker", 0, &s));
    g_assert_cmphex(s.start, ==, 0xffffffffc0a00000);
    g_assert_false(hapvm_ksyms_lookup_name(k, "kvm", "vhost_worker", 0, &s));
    g_assert_false(hapvm_ksyms_lookup_name(k, NULL, "vhost_worker", 0, &s));
    g_assert_false(hapvm_ksyms_lookup_name(k, NULL, "_text", 0, &s)); /* a marker */
}

static void
test_zeroed(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) k = load_fixture("zeroed.kallsyms", &error);

    g_assert_null(k);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT);
    g_assert_nonnull(strstr(error->message, "kptr_restrict"));
}

/* A FIFO stands in for a /proc file whose reads differ: each open is served
 * the next fixture of the list.  The writer waits for the reader's close
 * (inotify) before the next open, else that open could join the old reader. */
typedef struct {
    const char *fifo;
    const char *const *files;
} Serve;

static gpointer
serve_fifo(gpointer data)
{
    const Serve *sv = data;
    int in = inotify_init1(IN_CLOEXEC);

    g_assert_cmpint(in, >=, 0);
    g_assert_cmpint(inotify_add_watch(in, sv->fifo, IN_CLOSE_NOWRITE), >=, 0);
    for (const char *const *f = sv->files; *f; f++) {
        g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "ksyms", *f, NULL);
        g_autofree char *text = NULL;
        gsize len = 0;
        int fd;

        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        fd = open(sv->fifo, O_WRONLY);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, text, len), ==, (gssize)len);
        close(fd);
        for (gboolean closed = FALSE; !closed;) {
            char buf[sizeof(struct inotify_event) + 256] __attribute__((aligned(__alignof__(struct inotify_event))));
            gssize n = read(in, buf, sizeof(buf));

            g_assert_cmpint(n, >, 0);
            for (gssize off = 0; off < n;) {
                const struct inotify_event *ev = (const struct inotify_event *)(buf + off);

                closed |= (ev->mask & IN_CLOSE_NOWRITE) != 0;
                off += sizeof(*ev) + ev->len;
            }
        }
    }
    close(in);
    return NULL;
}

static HapvmKsyms *
load_served(const char *const *files, GError **error)
{
    g_autofree char *dir = g_dir_make_tmp("ksymstest-XXXXXX", NULL);
    g_autofree char *fifo = g_build_filename(dir, "kallsyms", NULL);
    Serve sv = { fifo, files };
    GThread *th;
    HapvmKsyms *k;

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    th = g_thread_new("fifo", serve_fifo, &sv);
    k = hapvm_ksyms_load(fifo, error);
    g_thread_join(th);
    unlink(fifo);
    rmdir(dir);
    return k;
}

static void
test_reread(void)
{
    static const char *const garbled_once[] = { "malformed.kallsyms", "suffixes.kallsyms", NULL };
    static const char *const garbled_twice[] = { "malformed.kallsyms", "badmodule.kallsyms",
                                                 "suffixes.kallsyms", NULL };
    static const char *const always[] = { "malformed.kallsyms", "badmodule.kallsyms",
                                          "malformed.kallsyms", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) clean = fixture();
    g_autoptr(HapvmKsyms) k = load_served(garbled_once, &error);
    HapvmKsym a, b;

    /* Loaded from the second read: the same table as the clean file. */
    g_assert_no_error(error);
    g_assert_nonnull(k);
    g_assert_cmpuint(hapvm_ksyms_rereads(k), ==, 1);
    g_assert_cmpuint(hapvm_ksyms_rereads(clean), ==, 0);
    g_assert_cmpuint(hapvm_ksyms_count(k), ==, hapvm_ksyms_count(clean));
    g_assert_true(hapvm_ksyms_lookup_name(clean, NULL, "vfs_read", 0, &a));
    g_assert_true(hapvm_ksyms_lookup(k, a.start, &b));
    g_assert_cmpstr(b.name, ==, "vfs_read");
    g_assert_cmpuint(b.end, ==, a.end);

    g_clear_pointer(&k, hapvm_ksyms_free);
    k = load_served(garbled_twice, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(hapvm_ksyms_rereads(k), ==, 2);

    /* Three malformed reads: the error names the last one's line. */
    g_clear_pointer(&k, hapvm_ksyms_free);
    k = load_served(always, &error);
    g_assert_null(k);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "malformed on 3 reads"));
    g_assert_nonnull(strstr(error->message, "kallsyms:3:"));
    g_assert_cmpuint(hapvm_ksyms_rereads(NULL), ==, 0);
}

static void
test_malformed(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) k = load_fixture("malformed.kallsyms", &error);

    g_assert_null(k);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "malformed.kallsyms:3:"));

    g_clear_error(&error);
    k = load_fixture("badmodule.kallsyms", &error);
    g_assert_null(k);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, ":2:"));

    g_clear_error(&error);
    k = hapvm_ksyms_load_data("", 0, "empty", &error);
    g_assert_null(k);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);

    g_clear_error(&error);
    k = load_fixture("does-not-exist", &error);
    g_assert_null(k);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

/* Every truncation of the fixture either loads or fails cleanly; run under
 * ASan, exact-size copies catch any read past the end. */
static void
test_truncated(void)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", "ksyms", "suffixes.kallsyms", NULL);
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    for (gsize n = 0; n <= len; n++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *copy = g_memdup2(data, n ? n : 1);
        g_autoptr(HapvmKsyms) k = hapvm_ksyms_load_data(copy, n, "cut", &error);

        g_assert_true((k != NULL) != (error != NULL));
    }
}

/* The machine's own kallsyms: as root with kptr_restrict 0 it loads (this
 * is how CI runs); otherwise it must say NOT_ROOT, not return zeros. */
static void
test_proc(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) k = hapvm_ksyms_load(NULL, &error);
    HapvmKsym s;

    if (!k) {
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NOT_ROOT);
        return;
    }
    g_assert_cmpuint(hapvm_ksyms_count(k), >, 10000);
    g_assert_cmphex(hapvm_ksyms_text(k), !=, 0);
    g_assert_true(hapvm_ksyms_lookup_name(k, NULL, "schedule", 0, &s));
    {
        HapvmKsym t;

        g_assert_true(hapvm_ksyms_lookup(k, s.start + 1, &t));
        g_assert_cmpstr(t.name, ==, "schedule");
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ksyms/suffixes", test_suffixes);
    g_test_add_func("/ksyms/markers-aliases", test_markers_and_aliases);
    g_test_add_func("/ksyms/stext-fallback", test_stext_fallback);
    g_test_add_func("/ksyms/duplicates", test_duplicates);
    g_test_add_func("/ksyms/lookup-name", test_lookup_name);
    g_test_add_func("/ksyms/zeroed", test_zeroed);
    g_test_add_func("/ksyms/malformed", test_malformed);
    g_test_add_func("/ksyms/reread", test_reread);
    g_test_add_func("/ksyms/truncated", test_truncated);
    g_test_add_func("/ksyms/proc", test_proc);
    return g_test_run();
}

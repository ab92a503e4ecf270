/* Line index: subsystem table, path normalisation, the cache file, and line
 * counts of the lab kernel (Debian 6.1.0-56-amd64, 6.1.192-2) checked against
 * numbers derived without the code under test.
 *
 * The debuginfo is the lab's (labdebuginfo.c: tests/lab/debuginfo fetches
 * and extracts it on first use, into $HAPVM_LAB_CACHE/dbg-<release>);
 * $HAPVM_TEST_DEBUGINFO overrides the path.  These tests fail, never skip,
 * when it cannot be had. */
#include <dwarf.h>
#include <fcntl.h>
#include <unistd.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-ksyms.h"
#include "hapvm-lineindex.h"
#include "labdebuginfo.h"

/* ------------------------------------------------------------------------ */
/* Pure functions */

static void
test_subsystem(void)
{
    /* Expected buckets: the table in docs/methodology.md, applied by hand. */
    static const struct { const char *path, *bucket; } cases[] = {
        { "arch/x86/kvm/x86.c", "arch/x86/kvm" },
        { "arch/x86/kvm/svm/svm.c", "arch/x86/kvm" },
        { "arch/x86/kvm/mmu/mmu.c", "arch/x86/kvm" },
        { "arch/x86/kernel/process.c", "arch/x86/kernel" },
        { "arch/x86/entry/common.c", "arch/x86/entry" },
        { "arch/x86/include/asm/msr.h", "arch/x86/include" },
        { "arch/arm64/kernel/smp.c", "arch/arm64" },
        { "virt/kvm/kvm_main.c", "virt/kvm" },
        { "virt/lib/irqbypass.c", "virt/lib" },
        { "drivers/vhost/vhost.c", "drivers/vhost" },
        { "drivers/vhost/net.c", "drivers/vhost" },
        { "drivers/net/tun.c", "drivers/net" },
        { "drivers/net/ethernet/intel/e1000/e1000_main.c", "drivers/net" },
        { "drivers/block/loop.c", "drivers/block" },
        { "drivers/virtio/virtio_ring.c", "drivers/virtio" },
        { "net/core/dev.c", "net/core" },
        { "net/ipv4/tcp.c", "net/ipv4" },
        { "net/bridge/br_stp.c", "net/bridge" },
        { "net/socket.c", "net" },
        { "fs/ext4/inode.c", "fs/ext4" },
        { "fs/9p/vfs_inode.c", "fs/9p" },
        { "fs/read_write.c", "fs" },
        { "mm/memory.c", "mm" },
        { "mm/kasan/common.c", "mm" },
        { "kernel/sched/core.c", "kernel/sched" },
        { "kernel/fork.c", "kernel" },
        { "block/blk-core.c", "block" },
        { "block/partitions/core.c", "block" },
        { "include/linux/list.h", "include" },
        { "lib/string.c", "lib" },
        { "security/selinux/hooks.c", "security/selinux" },
        { "io_uring/io_uring.c", "io_uring" },
        { "crypto/aes_generic.c", "crypto" },
        { "<built-in>", "other" },
        { "debian/build/build_amd64_none_amd64/.vmlinux.export.c", "other" },
        { "/usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h", "other" },
        { "", "other" },
        { "net", "other" },  /* not a file under net/ */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmpstr(hapvm_subsystem_of_file(cases[i].path), ==, cases[i].bucket);
    g_assert_cmpstr(hapvm_subsystem_of_file(NULL), ==, "other");
    /* Interned: the same pointer every time. */
    g_assert_true(hapvm_subsystem_of_file("net/ipv6/route.c") == hapvm_subsystem_of_file("net/ipv6/ip6_output.c"));
}

static void
test_source_path(void)
{
    /* The three spellings seen in the lab vmlinux's line tables (C units are
     * relative, generated files "./", assembler units absolute). */
    static const struct { const char *in, *out; } cases[] = {
        { "kernel/sys.c", "kernel/sys.c" },
        { "./arch/x86/include/generated/asm/syscalls_64.h", "arch/x86/include/generated/asm/syscalls_64.h" },
        { "/build/reproducible-path/linux-6.1.192/arch/x86/kernel/head_64.S", "arch/x86/kernel/head_64.S" },
        { "arch/x86/kvm/../../../virt/kvm/kvm_main.c", "virt/kvm/kvm_main.c" },
        { "/usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h", "/usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h" },
        { "<built-in>", "<built-in>" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *p = hapvm_kernel_source_path(cases[i].in);

        g_assert_cmpstr(p, ==, cases[i].out);
    }
}

/* ------------------------------------------------------------------------ */
/* The lab kernel's debuginfo */

static HapvmKernelInfo lab_kernel = { (char *)LAB_RELEASE, (char *)LAB_BUILD_ID };
static HapvmLineIndex *lab_index;
static char *cache_root;

static const HapvmLineIndex *
lab(void)
{
    if (!lab_index) {
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_build_filename(cache_root, "lab", NULL);

        lab_index = hapvm_line_index_open(&lab_kernel, lab_debuginfo(), dir, &error);
        g_assert_no_error(error);
        g_assert_nonnull(lab_index);
    }
    return lab_index;
}

#define ASSERT_FUNC(mod, name, dup, file_, lines_, subsys)                                   \
    do {                                                                                   \
        HapvmLineInfo li_;                                                                 \
        g_assert_true(hapvm_line_index_lookup_symbol(lab(), (mod), (name), (dup), &li_));  \
        g_assert_cmpstr(li_.file, ==, (file_));                                            \
        g_assert_cmpuint(li_.lines, ==, (lines_));                                         \
        g_assert_cmpstr(li_.subsystem, ==, (subsys));                                      \
    } while (0)

/* How the expected counts were derived, independently of hapvm:
 *
 *  1. GNU readelf (binutils 2.40, its own DWARF decoder) printed the line
 *     tables: `readelf --debug-dump=decodedline -W <vmlinux or .ko>`.
 *  2. The function's address range(s) came from `readelf -sW` (its symbol and
 *     its .cold symbol; in a .ko each section's rows form their own sequence,
 *     picked by its "-" end markers).
 *  3. A 20-line script kept the rows in those ranges whose Stmt column is "x"
 *     and whose file is the function's file, and counted distinct line
 *     numbers.
 *  4. The lines were read against the 6.1.192 source that built this kernel
 *     (Debian's linux-source-6.1 6.1.192-2, the same version as the -dbg
 *     package): each is a line of the function, and where the simple rule
 *     "opening brace + every line where a statement or initialised
 *     declaration starts, no closing brace" gives the count by itself, that is
 *     noted.
 */
static void
test_lab_counts(void)
{
    /* kernel/sys.c:968-977 SYSCALL_DEFINE0(getppid) { int pid; rcu_read_lock();
     * pid = task_tgid_vnr(...); rcu_read_unlock(); return pid; }
     * readelf: 969 970 972 973 974 976 = 6; source rule: brace 969, the
     * declaration 970, four statements; blank 971/975, closing 977 out. */
    ASSERT_FUNC(NULL, "__do_sys_getppid", 0, "kernel/sys.c", 6, "kernel");
    /* __x64_sys_getppid is an alias at the same address (readelf -s). */
    ASSERT_FUNC(NULL, "__x64_sys_getppid", 0, "kernel/sys.c", 6, "kernel");

    /* Two static active_show (readelf -s: ffffffff810a2ac0 size 46 and
     * ffffffff816c71a0 size 183); dup ranks by address.
     * kernel/cpu.c:2608-2612: brace 2610 + return 2611 = 2.
     * drivers/char/tpm/tpm-sysfs.c:139-158: readelf 141 142 143 144 146 149
     * 154 156 157 = 9; the source rule would also give 147 "return 0;" and
     * 152 "goto out_ops;", but both compile to jumps into code of other lines
     * and have no row of their own. */
    ASSERT_FUNC(NULL, "active_show", 0, "kernel/cpu.c", 2, "kernel");
    ASSERT_FUNC(NULL, "active_show", 1, "drivers/char/tpm/tpm-sysfs.c", 9, "drivers/char");

    /* vhost.ko, drivers/vhost/vhost.c:336-372 vhost_worker: readelf 337-340
     * 342 344 346 348-350 353-355 357 359-367 370 371 = 25.  Source rule: of
     * the 36 lines 337-372, 5 blank (341 343 347 352 356), 2 comments (345
     * 358) and 4 closing braces (351 368 369 372) are out: 25. */
    ASSERT_FUNC("vhost", "vhost_worker", 0, "drivers/vhost/vhost.c", 25, "drivers/vhost");

    /* bridge.ko, br_received_tcn_bpdu (net/bridge/br_stp.c:559-570), split
     * by GCC: .text 0x8c00+58 has 560 561 563, .text.unlikely
     * br_received_tcn_bpdu.cold 0x30a+45 has 513 515 516 564 567 568; union 9.
     * Source: brace 560, statements 561 563 564 567 568, and 513 515 516 are
     * the same-file static br_topology_change_acknowledge() inlined at 568
     * (own-file rows count whoever's they are: see docs/methodology.md).
     * The .cold symbol maps to the same record. */
    ASSERT_FUNC("bridge", "br_received_tcn_bpdu", 0, "net/bridge/br_stp.c", 9, "net/bridge");
    ASSERT_FUNC("bridge", "br_received_tcn_bpdu.cold", 0, "net/bridge/br_stp.c", 9, "net/bridge");

    /* Larger functions, readelf only: kvm.ko kvm_vcpu_ioctl (0x6f70+1811)
     * 141 lines of virt/kvm/kvm_main.c (the function, 4077-4288, and inlined
     * same-file helpers such as kvm_get_kvm at 1351 1353); kvm-amd.ko svm_vcpu_run (0x6780+1812) 152 lines of
     * arch/x86/kvm/svm/svm.c. */
    ASSERT_FUNC("kvm", "kvm_vcpu_ioctl", 0, "virt/kvm/kvm_main.c", 141, "virt/kvm");
    ASSERT_FUNC("kvm_amd", "svm_vcpu_run", 0, "arch/x86/kvm/svm/svm.c", 152, "arch/x86/kvm");
}

/* Runtime addresses: a kallsyms made up with a KASLR slide for vmlinux
 * (link addresses from readelf -s, plus 0x19000000) and arbitrary module
 * addresses; duplicates resolve by address (vmlinux) or rank (modules). */
static void
test_lab_lookup_runtime(void)
{
    static const char kallsyms[] =
        "ffffffff9a000000 T _text\n"
        "ffffffff9a0a2ac0 t active_show\n"        /* kernel/cpu.c */
        "ffffffff9a0a2af0 t cpu_smt_control_show\n"
        "ffffffff9a0be3a0 T __x64_sys_getppid\n"
        "ffffffff9a0be3a0 t __do_sys_getppid\n"
        "ffffffff9a6c71a0 t active_show\n"        /* tpm-sysfs.c */
        "ffffffff9a6c7260 t enabled_show\n"
        "ffffffffc0a00000 t vhost_worker\t[vhost]\n"
        "ffffffffc0a00100 t vhost_dev_init\t[vhost]\n"
        "ffffffffc0b00000 t br_received_tcn_bpdu\t[bridge]\n"
        "ffffffffc0b00100 t br_received_tcn_bpdu.cold\t[bridge]\n"
        "ffffffffc0b00200 t not_in_the_index\t[bridge]\n"
        "ffffffffc0c00000 t unknown_fn\t[not_indexed]\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmKsyms) k = hapvm_ksyms_load_data(kallsyms, sizeof(kallsyms) - 1, "test", &error);
    HapvmLineInfo li;

    g_assert_no_error(error);
    g_assert_true(hapvm_line_index_lookup(lab(), k, 0xffffffff9a0a2ac0, &li));
    g_assert_cmpstr(li.file, ==, "kernel/cpu.c");
    g_assert_true(hapvm_line_index_lookup(lab(), k, 0xffffffff9a6c71a0 + 5, &li));
    g_assert_cmpstr(li.file, ==, "drivers/char/tpm/tpm-sysfs.c");
    g_assert_cmpuint(li.lines, ==, 9);
    g_assert_true(hapvm_line_index_lookup(lab(), k, 0xffffffff9a0be3a0, &li));
    g_assert_cmpstr(li.file, ==, "kernel/sys.c");
    g_assert_cmpuint(li.lines, ==, 6);
    g_assert_true(hapvm_line_index_lookup(lab(), k, 0xffffffffc0a00000, &li));
    g_assert_cmpuint(li.lines, ==, 25);
    g_assert_true(hapvm_line_index_lookup(lab(), k, 0xffffffffc0b00110, &li));
    g_assert_cmpstr(li.file, ==, "net/bridge/br_stp.c");
    g_assert_cmpuint(li.lines, ==, 9);
    g_assert_false(hapvm_line_index_lookup(lab(), k, 0xffffffffc0b00200, &li));
    g_assert_false(hapvm_line_index_lookup(lab(), k, 0xffffffffc0c00000, &li));
    g_assert_false(hapvm_line_index_lookup(lab(), k, 0xffffffff99000000, &li));
}

/* A second, independent count: walk every concrete subprogram DIE (what the
 * index deliberately avoids for speed), take its DW_AT_ranges (cold parts
 * included) and DW_AT_decl_file, and count the distinct lines of statement
 * rows of that file in those ranges.  Every function of kvm, kvm-amd,
 * vhost and vhost_net whose entry has a uniquely named symbol must agree. */
typedef struct {
    Dwarf_Lines *lines;
    size_t nlines;
    Dwarf_Addr bias;
    Dwfl_Module *mod;
    const char *modname;
    GHashTable *names; /* symbol name -> count in the module */
    guint checked, mismatched;
} DieCheck;

static int
cmp_int(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

static int
die_cb(Dwarf_Die *die, void *arg)
{
    DieCheck *c = arg;
    Dwarf_Addr base, lo, hi, entry, rs[16], re[16];
    ptrdiff_t off = 0;
    int nr = 0;
    const char *decl, *sym;
    g_autofree char *own = NULL;
    g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(int));
    GElf_Sym esym;
    GElf_Off soff;
    guint distinct = 0;
    HapvmLineInfo li = { 0 };
    GElf_Word shndx;
    Elf *elf;
    Elf_Scn *scn;
    GElf_Shdr shdr;
    size_t shstrndx;

    if (dwarf_func_inline(die))
        return DWARF_CB_OK;
    while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0 && nr < 16) {
        rs[nr] = lo;
        re[nr++] = hi;
    }
    if (!nr || !(decl = dwarf_decl_file(die)))
        return DWARF_CB_OK;
    if (dwarf_entrypc(die, &entry) != 0)
        entry = rs[0];
    sym = dwfl_module_addrinfo(c->mod, entry + c->bias, &soff, &esym, &shndx, &elf, NULL);
    if (!sym || soff || GPOINTER_TO_UINT(g_hash_table_lookup(c->names, sym)) != 1)
        return DWARF_CB_OK;
    /* Module init code is gone after loading (and from kallsyms): not indexed. */
    if (elf_getshdrstrndx(elf, &shstrndx) == 0 && (scn = elf_getscn(elf, shndx)) && gelf_getshdr(scn, &shdr) &&
        g_str_has_prefix(elf_strptr(elf, shstrndx, shdr.sh_name), ".init"))
        return DWARF_CB_OK;
    own = hapvm_kernel_source_path(decl);
    for (size_t i = 0; i < c->nlines; i++) {
        Dwarf_Line *l = dwarf_onesrcline(c->lines, i);
        Dwarf_Addr a;
        bool end, stmt;
        int no;
        gboolean in = FALSE;

        dwarf_lineaddr(l, &a);
        dwarf_lineendsequence(l, &end);
        dwarf_linebeginstatement(l, &stmt);
        dwarf_lineno(l, &no);
        if (end || !stmt || no <= 0)
            continue;
        for (int k = 0; k < nr && !in; k++)
            in = a >= rs[k] && a < re[k];
        if (!in)
            continue;
        g_autofree char *src = hapvm_kernel_source_path(dwarf_linesrc(l, NULL, NULL));
        if (strcmp(src, own) == 0)
            g_array_append_val(found, no);
    }
    g_array_sort(found, cmp_int);
    for (guint i = 0; i < found->len; i++)
        if (i == 0 || g_array_index(found, int, i) != g_array_index(found, int, i - 1))
            distinct++;
    c->checked++;
    if (!hapvm_line_index_lookup_symbol(lab(), c->modname, sym, 0, &li) || strcmp(li.file, own) != 0 ||
        li.lines != distinct) {
        c->mismatched++;
        g_test_message("%s:%s: DIE walk %s %u, index %s %u", c->modname, sym, own, distinct,
                       li.file ? li.file : "-", li.lines);
    }
    return DWARF_CB_OK;
}

static void
test_lab_die_crosscheck(void)
{
    static const char *const mods[][2] = {
        { "kvm", "arch/x86/kvm/kvm.ko" },
        { "kvm_amd", "arch/x86/kvm/kvm-amd.ko" },
        { "vhost", "drivers/vhost/vhost.ko" },
        { "vhost_net", "drivers/vhost/vhost_net.ko" },
    };
    static char *dbgpath = NULL;
    static const Dwfl_Callbacks cb = {
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = &dbgpath,
    };
    guint total = 0;

    for (gsize m = 0; m < G_N_ELEMENTS(mods); m++) {
        g_autofree char *ko = g_build_filename(lab_debuginfo(), "lib", "modules", LAB_RELEASE, "kernel",
                                               mods[m][1], NULL);
        Dwfl *dwfl = dwfl_begin(&cb);
        DieCheck c = { .modname = mods[m][0], .names = g_hash_table_new(g_str_hash, g_str_equal) };
        Dwarf_Die *cu = NULL;
        int nsym;

        dwfl_report_begin(dwfl);
        c.mod = dwfl_report_offline(dwfl, mods[m][0], ko, -1);
        dwfl_report_end(dwfl, NULL, NULL);
        g_assert_nonnull(c.mod);
        nsym = dwfl_module_getsymtab(c.mod);
        for (int i = 1; i < nsym; i++) {
            GElf_Sym s;
            const char *n = dwfl_module_getsym(c.mod, i, &s, NULL);

            if (n && GELF_ST_TYPE(s.st_info) == STT_FUNC)
                g_hash_table_insert(c.names, (gpointer)n,
                                    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(c.names, n)) + 1));
        }
        while ((cu = dwfl_module_nextcu(c.mod, cu, &c.bias))) {
            if (dwarf_getsrclines(cu, &c.lines, &c.nlines) == 0)
                dwarf_getfuncs(cu, die_cb, &c, 0);
        }
        g_test_message("%s: %u functions checked, %u differ", mods[m][0], c.checked, c.mismatched);
        g_assert_cmpuint(c.mismatched, ==, 0);
        g_assert_cmpuint(c.checked, >, 20);
        total += c.checked;
        g_hash_table_unref(c.names);
        dwfl_end(dwfl);
    }
    /* kvm 1696 + kvm-amd 255 + vhost 67 + vhost_net 28 when written. */
    g_assert_cmpuint(total, >, 1500);
}

static void
test_lab_errors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HapvmLineIndex) idx = NULL;
    g_autofree char *cache = g_build_filename(cache_root, "errors", NULL);
    g_autofree char *missing = g_build_filename(cache_root, "no-such-debuginfo", NULL);
    HapvmKernelInfo other = { (char *)LAB_RELEASE, (char *)"0123456789abcdef0123456789abcdef01234567" };
    g_autofree char *pkg_msg = NULL;

    /* Debuginfo of another build. */
    idx = hapvm_line_index_open(&other, lab_debuginfo(), cache, &error);
    g_assert_null(idx);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_assert_nonnull(strstr(error->message, LAB_BUILD_ID));
    g_assert_nonnull(strstr(error->message, other.build_id));
    g_clear_error(&error);

    /* No debuginfo: names the package and where it looked. */
    idx = hapvm_line_index_open(&lab_kernel, missing, cache, &error);
    g_assert_null(idx);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO);
    g_assert_nonnull(strstr(error->message, "linux-image-6.1.0-56-amd64-dbg"));
    g_assert_nonnull(strstr(error->message, missing));
    g_clear_error(&error);

    /* A file that is not ELF. */
    {
        g_autofree char *junk = g_build_filename(cache_root, "junk-vmlinux", NULL);

        g_assert_true(g_file_set_contents(junk, "not an ELF file", -1, NULL));
        idx = hapvm_line_index_open(&lab_kernel, junk, cache, &error);
        g_assert_null(idx);
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO);
    }
}

/* ------------------------------------------------------------------------ */
/* Cache: round trip, staleness, corruption (vmlinux-only indexes: fast) */

static char *
dump_of(const HapvmLineIndex *idx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    hapvm_line_index_dump(idx, f);
    fclose(f);
    return buf;
}

static void
test_cache_roundtrip(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cache = g_build_filename(cache_root, "roundtrip", NULL);
    g_autofree char *vmlinux = g_build_filename(lab_debuginfo(), "boot", "vmlinux-" LAB_RELEASE, NULL);
    g_autoptr(HapvmLineIndex) built = hapvm_line_index_open(&lab_kernel, vmlinux, cache, &error);
    g_autoptr(HapvmLineIndex) loaded = NULL;
    g_autofree char *a = NULL, *b = NULL;
    HapvmLineIndexStats sb, sl;

    g_assert_no_error(error);
    hapvm_line_index_get_stats(built, &sb);
    g_assert_false(sb.from_cache);
    g_assert_nonnull(sb.cache_path);
    g_assert_true(g_str_has_prefix(sb.cache_path, cache));
    g_assert_cmpuint(sb.modules, ==, 0);
    g_assert_cmpuint(sb.functions, >, 40000);

    loaded = hapvm_line_index_open(&lab_kernel, vmlinux, cache, &error);
    g_assert_no_error(error);
    hapvm_line_index_get_stats(loaded, &sl);
    g_assert_true(sl.from_cache);
    g_assert_cmpuint(sl.functions, ==, sb.functions);
    g_assert_cmpuint(sl.lines, ==, sb.lines);
    a = dump_of(built);
    b = dump_of(loaded);
    g_assert_cmpstr(a, ==, b);
    /* The debuginfo can go once indexed: the cache alone serves. */
    {
        g_autofree char *gone = g_build_filename(cache_root, "deleted-debuginfo", NULL);
        g_autoptr(HapvmLineIndex) alone = hapvm_line_index_open(&lab_kernel, gone, cache, &error);
        HapvmLineIndexStats s;

        g_assert_no_error(error);
        hapvm_line_index_get_stats(alone, &s);
        g_assert_true(s.from_cache);
        g_assert_null(s.vmlinux);
    }
}

/* Adding a module to the debuginfo makes the cache stale: rebuilt, and the
 * module then resolves. */
static void
test_cache_stale(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cache = g_build_filename(cache_root, "stale", NULL);
    g_autofree char *dir = g_build_filename(cache_root, "stale-debuginfo", NULL);
    g_autofree char *kdir = g_build_filename(dir, "kernel", NULL);
    g_autofree char *vmlinux = g_build_filename(lab_debuginfo(), "boot", "vmlinux-" LAB_RELEASE, NULL);
    g_autofree char *vhost = g_build_filename(lab_debuginfo(), "lib", "modules", LAB_RELEASE, "kernel", "drivers",
                                              "vhost", "vhost.ko", NULL);
    g_autofree char *link_vm = g_build_filename(dir, "vmlinux", NULL);
    g_autofree char *link_ko = g_build_filename(kdir, "vhost.ko", NULL);
    HapvmLineInfo li;
    HapvmLineIndexStats st;

    g_assert_cmpint(g_mkdir_with_parents(kdir, 0755), ==, 0);
    g_assert_cmpint(symlink(vmlinux, link_vm), ==, 0);
    {
        g_autoptr(HapvmLineIndex) idx = hapvm_line_index_open(&lab_kernel, dir, cache, &error);

        g_assert_no_error(error);
        g_assert_false(hapvm_line_index_lookup_symbol(idx, "vhost", "vhost_worker", 0, &li));
    }
    g_assert_cmpint(symlink(vhost, link_ko), ==, 0);
    {
        g_autoptr(HapvmLineIndex) idx = hapvm_line_index_open(&lab_kernel, dir, cache, &error);

        g_assert_no_error(error);
        hapvm_line_index_get_stats(idx, &st);
        g_assert_false(st.from_cache);
        g_assert_cmpuint(st.modules, ==, 1);
        g_assert_true(hapvm_line_index_lookup_symbol(idx, "vhost", "vhost_worker", 0, &li));
    }
    {
        g_autoptr(HapvmLineIndex) idx = hapvm_line_index_open(&lab_kernel, dir, cache, &error);

        g_assert_no_error(error);
        hapvm_line_index_get_stats(idx, &st);
        g_assert_true(st.from_cache);
    }
}

/* Every byte of the header and a spread of body bytes, flipped one at a
 * time, and a spread of truncations: the loader must refuse each, and open()
 * must then rebuild rather than fail. */
static void
test_cache_corruption(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cache = g_build_filename(cache_root, "corrupt", NULL);
    g_autofree char *vmlinux = g_build_filename(lab_debuginfo(), "boot", "vmlinux-" LAB_RELEASE, NULL);
    g_autoptr(HapvmLineIndex) built = hapvm_line_index_open(&lab_kernel, vmlinux, cache, &error);
    g_autofree char *good = NULL;
    g_autofree char *bad = g_build_filename(cache_root, "corrupt-copy.lix", NULL);
    g_autofree char *orig_dump = NULL;
    HapvmLineIndexStats st;
    gsize len;
    guint rejected = 0, tried = 0;

    g_assert_no_error(error);
    hapvm_line_index_get_stats(built, &st);
    g_assert_nonnull(st.cache_path);
    g_assert_true(g_file_get_contents(st.cache_path, &good, &len, NULL));
    g_assert_cmpuint(len, ==, st.file_size);
    {
        g_autoptr(HapvmLineIndex) ok = hapvm_line_index_load_cache(st.cache_path, LAB_BUILD_ID, &error);

        g_assert_no_error(error);
        g_assert_nonnull(ok);
    }
    /* Each header byte (the first 512 bytes: header and the first records),
     * then a byte every 61 KB (odd steps hit all fields over the arrays). */
    g_assert_true(g_file_set_contents(bad, good, len, NULL));
    int fd = open(bad, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    for (gsize off = 0; off < len; off += off < 512 ? 1 : 61 * 1024 + 7) {
        g_autoptr(HapvmLineIndex) idx = NULL;
        char flipped = good[off] ^ 0x20;

        g_assert_cmpint(pwrite(fd, &flipped, 1, off), ==, 1);
        idx = hapvm_line_index_load_cache(bad, NULL, &error);
        g_assert_cmpint(pwrite(fd, &good[off], 1, off), ==, 1);
        tried++;
        if (!idx) {
            g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
            rejected++;
        }
        g_clear_error(&error);
    }
    close(fd);
    g_assert_cmpuint(rejected, ==, tried);
    g_assert_cmpuint(tried, >, 512);
    for (gsize cut = 0; cut < len; cut += cut < 1024 ? 13 : 256 * 1024 + 1) {
        g_autoptr(HapvmLineIndex) idx = NULL;

        g_assert_true(g_file_set_contents(bad, good, cut, NULL));
        idx = hapvm_line_index_load_cache(bad, NULL, &error);
        g_assert_null(idx);
        g_assert_true(error != NULL);
        g_clear_error(&error);
    }
    /* Wrong build-id asked for. */
    {
        g_autoptr(HapvmLineIndex) idx = hapvm_line_index_load_cache(st.cache_path, "00", &error);

        g_assert_null(idx);
        g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE);
        g_clear_error(&error);
    }
    /* A corrupted cache in place: open() rebuilds it, same content. */
    orig_dump = dump_of(built);
    good[len / 2] ^= 0x01;
    g_assert_true(g_file_set_contents(st.cache_path, good, len, NULL));
    {
        g_autoptr(HapvmLineIndex) idx = hapvm_line_index_open(&lab_kernel, vmlinux, cache, &error);
        g_autofree char *d = NULL;
        HapvmLineIndexStats s2;

        g_assert_no_error(error);
        hapvm_line_index_get_stats(idx, &s2);
        g_assert_false(s2.from_cache);
        d = dump_of(idx);
        g_assert_cmpstr(d, ==, orig_dump);
    }
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *n;

    if (d && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        while ((n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, n, NULL);

            rm_rf(p);
        }
    }
    g_remove(path);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    cache_root = g_dir_make_tmp("hapvm-lineindex-XXXXXX", NULL);
    g_assert_nonnull(cache_root);
    g_test_add_func("/lineindex/subsystem", test_subsystem);
    g_test_add_func("/lineindex/source-path", test_source_path);
    g_test_add_func("/lineindex/lab/counts", test_lab_counts);
    g_test_add_func("/lineindex/lab/lookup-runtime", test_lab_lookup_runtime);
    g_test_add_func("/lineindex/lab/die-crosscheck", test_lab_die_crosscheck);
    g_test_add_func("/lineindex/lab/errors", test_lab_errors);
    g_test_add_func("/lineindex/cache/roundtrip", test_cache_roundtrip);
    g_test_add_func("/lineindex/cache/stale", test_cache_stale);
    g_test_add_func("/lineindex/cache/corruption", test_cache_corruption);
    rc = g_test_run();
    g_clear_pointer(&lab_index, hapvm_line_index_free);
    rm_rf(cache_root);
    g_free(cache_root);
    lab_debuginfo_free();
    return rc;
}

/* What ftrace can see (hapvm index --visibility), on the lab kernel's
 * debuginfo (Debian 6.1.0-56-amd64): the vmlinux plus kvm, kvm-amd,
 * kvm-intel, vhost and vhost_net (a subset, so the test stays quick under
 * ASan).  Expectations come from the binaries by other means (relocations
 * against __fentry__, the __mcount_loc bounds, readelf), from the kernel's
 * source (noinstr, notrace, Makefiles that drop -pg) or from arithmetic that
 * must hold whatever the numbers.
 *
 * The debuginfo is fetched by labdebuginfo.c (tests/lab/debuginfo;
 * $HAPVM_TEST_DEBUGINFO overrides).  These tests fail, never skip, when it
 * cannot be had. */
#include <fcntl.h>
#include <gelf.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-visibility.h"
#include "labdebuginfo.h"

static const char *const lab_modules[][2] = {
    { "kvm", "arch/x86/kvm/kvm.ko" },
    { "kvm_amd", "arch/x86/kvm/kvm-amd.ko" },
    { "kvm_intel", "arch/x86/kvm/kvm-intel.ko" },
    { "vhost", "drivers/vhost/vhost.ko" },
    { "vhost_net", "drivers/vhost/vhost_net.ko" },
};

static char *subset_dir;
static HapvmVisibility *vis;
static HapvmKernelInfo lab_kernel = { (char *)LAB_RELEASE, (char *)LAB_BUILD_ID };

static char *
lab_path(const char *rel)
{
    if (g_str_has_prefix(rel, "boot/"))
        return g_build_filename(lab_debuginfo(), rel, NULL);
    return g_build_filename(lab_debuginfo(), "lib", "modules", LAB_RELEASE, "kernel", rel, NULL);
}

/* A directory of links: vmlinux + the modules above (the layout of
 * lib/modules/<release>). */
static const HapvmVisibility *
lab(void)
{
    if (!vis) {
        g_autoptr(GError) error = NULL;
        g_autofree char *vmlinux = lab_path("boot/vmlinux-" LAB_RELEASE);
        g_autofree char *link = g_build_filename(subset_dir, "vmlinux", NULL);

        g_assert_cmpint(symlink(vmlinux, link), ==, 0);
        for (gsize i = 0; i < G_N_ELEMENTS(lab_modules); i++) {
            g_autofree char *ko = lab_path(lab_modules[i][1]);
            g_autofree char *base = g_path_get_basename(ko);
            g_autofree char *l = g_build_filename(subset_dir, base, NULL);

            g_assert_cmpint(symlink(ko, l), ==, 0);
        }
        vis = hapvm_visibility_measure(&lab_kernel, subset_dir, &error);
        g_assert_no_error(error);
        g_assert_nonnull(vis);
        g_test_message("read in %.1f s", hapvm_visibility_seconds(vis));
    }
    return vis;
}

#define ASSERT_CLASS(mod, name, cls)                                              \
    do {                                                                          \
        HapvmVisFunc c_;                                                          \
        g_assert_true(hapvm_visibility_function(lab(), (mod), (name), &c_));      \
        g_assert_cmpstr(hapvm_vis_func_name(c_), ==, hapvm_vis_func_name(cls));   \
    } while (0)

/* Classes from the 6.1 source: svm_vcpu_enter_exit and vmx_vcpu_enter_exit
 * are `static noinstr void`; __svm_vcpu_run / __vmx_vcpu_run are assembler
 * in .noinstr.text (vmenter.S: `.section .noinstr.text`); do_syscall_64 is
 * `__visible noinstr`; __schedule is `static void __sched notrace`;
 * kernel/trace/ and lib/ are built without -pg (their Makefiles remove
 * CC_FLAGS_FTRACE), e.g. vsnprintf and trace_printk_init_buffers;
 * start_kernel and svm_init are __init; __switch_to_asm is assembler in
 * .text (entry_64.S). */
static void
test_functions(void)
{
    ASSERT_CLASS("kvm_amd", "svm_vcpu_run", HAPVM_VIS_TRACEABLE);
    ASSERT_CLASS("kvm_amd", "svm_vcpu_enter_exit", HAPVM_VIS_NOINSTR);
    ASSERT_CLASS("kvm_amd", "__svm_vcpu_run", HAPVM_VIS_NOINSTR);
    ASSERT_CLASS("kvm_amd", "svm_init", HAPVM_VIS_INIT);
    ASSERT_CLASS("kvm_intel", "vmx_vcpu_enter_exit", HAPVM_VIS_NOINSTR);
    ASSERT_CLASS("kvm_intel", "__vmx_vcpu_run", HAPVM_VIS_NOINSTR);
    ASSERT_CLASS("kvm", "kvm_vcpu_ioctl", HAPVM_VIS_TRACEABLE);
    ASSERT_CLASS("kvm", "kvm_arch_vcpu_ioctl_run", HAPVM_VIS_TRACEABLE);
    ASSERT_CLASS("vhost", "vhost_worker", HAPVM_VIS_TRACEABLE);
    ASSERT_CLASS(NULL, "do_syscall_64", HAPVM_VIS_NOINSTR);
    ASSERT_CLASS(NULL, "__schedule", HAPVM_VIS_NOTRACE);
    ASSERT_CLASS(NULL, "schedule", HAPVM_VIS_TRACEABLE);
    ASSERT_CLASS(NULL, "vsnprintf", HAPVM_VIS_NOTRACE);
    ASSERT_CLASS(NULL, "trace_printk_init_buffers", HAPVM_VIS_NOTRACE);
    ASSERT_CLASS(NULL, "start_kernel", HAPVM_VIS_INIT);
    ASSERT_CLASS(NULL, "__switch_to_asm", HAPVM_VIS_ASM);
    ASSERT_CLASS(NULL, "__x64_sys_getppid", HAPVM_VIS_TRACEABLE); /* an alias of __do_sys_getppid */
    {
        HapvmVisFunc c;

        g_assert_false(hapvm_visibility_function(lab(), "kvm", "no_such_function", &c));
        g_assert_false(hapvm_visibility_function(lab(), "no_such_module", "kvm_vcpu_ioctl", &c));
    }
}

/* Inline-only: `static inline` helpers, and vcpu_enter_guest (static in
 * x86.c, called once, inlined into vcpu_run); kvm_vcpu_ioctl has an
 * out-of-line copy. */
static void
test_inline_only(void)
{
    g_assert_true(hapvm_visibility_inline_only(lab(), "arch/x86/kvm/x86.c", "vcpu_enter_guest"));
    g_assert_true(hapvm_visibility_inline_only(lab(), "arch/x86/kvm/kvm_cache_regs.h", "kvm_rip_read"));
    g_assert_true(hapvm_visibility_inline_only(lab(), "arch/x86/kvm/svm/svm.h", "to_svm"));
    g_assert_true(hapvm_visibility_inline_only(lab(), "include/linux/kvm_host.h", "guest_state_enter_irqoff"));
    g_assert_false(hapvm_visibility_inline_only(lab(), "virt/kvm/kvm_main.c", "kvm_vcpu_ioctl"));
    g_assert_false(hapvm_visibility_inline_only(lab(), "arch/x86/kvm/svm/svm.c", "svm_vcpu_run"));
}

/* Lines, from `readelf --debug-dump=decodedline`: kvm-amd.ko's
 * .noinstr.text sequence starts with svm.c 3994 (svm_vcpu_enter_exit's
 * opening brace; DW_AT_decl_line 3993), then 3995, 3997, all statement
 * rows; kvm.ko's kvm_vcpu_ioctl (0x6f70) starts with the statement row
 * kvm_main.c 4079 (its opening brace), then 4080-4083. */
static void
test_lines(void)
{
    HapvmVisLine c;

    for (guint l = 3994; l <= 3997; l += (l == 3995 ? 2 : 1)) {
        g_assert_true(hapvm_visibility_line(lab(), "arch/x86/kvm/svm/svm.c", l, &c));
        g_assert_cmpstr(hapvm_vis_line_name(c), ==, "noinstr");
    }
    for (guint l = 4079; l <= 4083; l++) {
        g_assert_true(hapvm_visibility_line(lab(), "virt/kvm/kvm_main.c", l, &c));
        g_assert_cmpstr(hapvm_vis_line_name(c), ==, "counted");
    }
    g_assert_false(hapvm_visibility_line(lab(), "virt/kvm/kvm_main.c", 999999, &c));
}

/* Every __fentry__ call in a module's code has a relocation against the
 * __fentry__ symbol at the call's operand (call at start, or at start + 4
 * after an endbr64).  The functions holding one must be exactly the
 * traceable ones plus init functions that have one. */
static void
check_fentry_relocs(const char *module, const char *rel, guint *checked)
{
    g_autofree char *path = lab_path(rel);
    int fd = open(path, O_RDONLY);
    Elf *elf;
    Elf_Scn *scn = NULL, *symscn = NULL;
    GElf_Shdr symsh;
    Elf_Data *symd;
    size_t shstrndx;
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);   /* name -> count */
    g_autoptr(GHashTable) fentry = g_hash_table_new(g_str_hash, g_str_equal);  /* name set */
    g_autoptr(GPtrArray) funcs = g_ptr_array_new();
    g_autoptr(GArray) fsyms = g_array_new(FALSE, FALSE, sizeof(GElf_Sym));
    guint traced = 0;

    g_assert_cmpint(fd, >=, 0);
    elf_version(EV_CURRENT);
    elf = elf_begin(fd, ELF_C_READ, NULL);
    g_assert_nonnull(elf);
    g_assert_cmpint(elf_getshdrstrndx(elf, &shstrndx), ==, 0);
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;

        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
            symscn = scn;
    }
    g_assert_nonnull(symscn);
    gelf_getshdr(symscn, &symsh);
    symd = elf_getdata(symscn, NULL);
    for (gsize i = 1; i < symsh.sh_size / symsh.sh_entsize; i++) {
        GElf_Sym s;
        const char *n;

        gelf_getsym(symd, i, &s);
        n = elf_strptr(elf, symsh.sh_link, s.st_name);
        if (GELF_ST_TYPE(s.st_info) == STT_FUNC && s.st_size && n) {
            g_hash_table_insert(names, (gpointer)n, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(names, n)) + 1));
            g_ptr_array_add(funcs, (gpointer)n);
            g_array_append_val(fsyms, s);
        }
    }
    scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *rd;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
            continue;
        rd = elf_getdata(scn, NULL);
        for (gsize i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Rela r;
            GElf_Sym s;
            const char *n;

            gelf_getrela(rd, i, &r);
            gelf_getsym(symd, GELF_R_SYM(r.r_info), &s);
            n = elf_strptr(elf, symsh.sh_link, s.st_name);
            if (!n || strcmp(n, "__fentry__") != 0)
                continue;
            /* The function of that section containing the call. */
            for (guint j = 0; j < fsyms->len; j++) {
                const GElf_Sym *f = &g_array_index(fsyms, GElf_Sym, j);

                /* every name of it: aliases (cleanup_module = vmx_exit) too */
                if (f->st_shndx == sh.sh_info && r.r_offset > f->st_value && r.r_offset < f->st_value + f->st_size)
                    g_hash_table_add(fentry, g_ptr_array_index(funcs, j));
            }
        }
    }
    for (guint i = 0; i < funcs->len; i++) {
        const char *n = g_ptr_array_index(funcs, i);
        HapvmVisFunc c;

        if (GPOINTER_TO_UINT(g_hash_table_lookup(names, n)) != 1 || !hapvm_visibility_function(lab(), module, n, &c) ||
            c == HAPVM_VIS_INIT || strstr(n, ".cold"))
            continue;
        if ((c == HAPVM_VIS_TRACEABLE) != g_hash_table_contains(fentry, n))
            g_test_message("%s:%s: class %s, __fentry__ call %s", module, n, hapvm_vis_func_name(c),
                           g_hash_table_contains(fentry, n) ? "yes" : "no");
        g_assert_cmpint(c == HAPVM_VIS_TRACEABLE, ==, g_hash_table_contains(fentry, n));
        traced += c == HAPVM_VIS_TRACEABLE;
        (*checked)++;
    }
    g_assert_cmpuint(traced, >, 10);
    elf_end(elf);
    close(fd);
}

static void
test_fentry_relocs(void)
{
    guint checked = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(lab_modules); i++)
        check_fentry_relocs(lab_modules[i][0], lab_modules[i][1], &checked);
    g_test_message("%u module functions checked against their __fentry__ relocations", checked);
    g_assert_cmpuint(checked, >, 2000);
}

/* The site counts against the kernel's own tables: the vmlinux's
 * (__stop_mcount_loc - __start_mcount_loc) / 8 and each module's
 * __mcount_loc size / 8, read here with libelf.  Every site is in a
 * traceable function, in init code, or in no function (overridden weak
 * functions: code without a symbol, which the running kernel lists as
 * __ftrace_invalid_address___*); and one site per function. */
static guint64
table_entries(const char *path, gboolean vmlinux)
{
    int fd = open(path, O_RDONLY);
    Elf *elf;
    Elf_Scn *scn = NULL;
    size_t shstrndx;
    guint64 start = 0, stop = 0, n = 0;

    g_assert_cmpint(fd, >=, 0);
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    g_assert_nonnull(elf);
    elf_getshdrstrndx(elf, &shstrndx);
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;

        gelf_getshdr(scn, &sh);
        if (!vmlinux && strcmp(elf_strptr(elf, shstrndx, sh.sh_name), "__mcount_loc") == 0)
            n = sh.sh_size / 8;
        if (vmlinux && sh.sh_type == SHT_SYMTAB) {
            Elf_Data *d = elf_getdata(scn, NULL);

            for (gsize i = 1; i < sh.sh_size / sh.sh_entsize; i++) {
                GElf_Sym s;
                const char *name;

                gelf_getsym(d, i, &s);
                name = elf_strptr(elf, sh.sh_link, s.st_name);
                if (name && strcmp(name, "__start_mcount_loc") == 0)
                    start = s.st_value;
                if (name && strcmp(name, "__stop_mcount_loc") == 0)
                    stop = s.st_value;
            }
            n = (stop - start) / 8;
        }
    }
    elf_end(elf);
    close(fd);
    return n;
}

static void
test_sites(void)
{
    guint n;
    const HapvmVisObject *o = hapvm_visibility_objects(lab(), &n);

    g_assert_cmpuint(n, ==, 1 + G_N_ELEMENTS(lab_modules));
    for (guint i = 0; i < n; i++) {
        g_autofree char *path = NULL;
        guint64 expect;

        if (strcmp(o[i].module, "vmlinux") == 0) {
            path = lab_path("boot/vmlinux-" LAB_RELEASE);
        } else {
            for (gsize m = 0; m < G_N_ELEMENTS(lab_modules); m++)
                if (strcmp(lab_modules[m][0], o[i].module) == 0)
                    path = lab_path(lab_modules[m][1]);
        }
        g_assert_nonnull(path);
        expect = table_entries(path, strcmp(o[i].module, "vmlinux") == 0);
        g_test_message("%s: %u sites (table %" G_GUINT64_FORMAT "), %u traceable of %u functions, %u init, %u outside",
                       o[i].module, o[i].mcount_entries, expect, o[i].traceable, o[i].functions, o[i].mcount_init,
                       o[i].mcount_outside);
        g_assert_cmpuint(o[i].mcount_entries, ==, expect);
        g_assert_cmpuint(o[i].mcount_shared, ==, 0);
        g_assert_cmpuint(o[i].traceable + o[i].mcount_init + o[i].mcount_outside, ==, o[i].mcount_entries);
        /* "within a few %": what is neither traceable nor init is the dead code of weak functions. */
        g_assert_cmpuint(o[i].mcount_outside * 50, <, o[i].mcount_entries);
        g_assert_cmpuint(o[i].traceable, <=, o[i].functions);
    }
    g_assert_cmpstr(o[0].module, ==, "vmlinux");
    g_assert_cmpuint(o[0].mcount_entries, >, 30000);
}

/* Totals are the sums of the buckets; shares are shares; the build facts. */
static void
test_buckets(void)
{
    guint n;
    const HapvmVisBucket *b = hapvm_visibility_buckets(lab(), &n);
    const HapvmVisBucket *t = hapvm_visibility_total(lab());
    HapvmVisBucket sum = { 0 };
    const HapvmVisBucket *kvm, *trace, *entry;

    g_assert_cmpuint(n, >, 50);
    for (guint i = 0; i < n; i++) {
        if (i)
            g_assert_cmpint(strcmp(b[i - 1].name, b[i].name), <, 0);
        for (int c = 0; c < HAPVM_VIS_NFUNC; c++)
            sum.functions[c] += b[i].functions[c];
        for (int c = 0; c < HAPVM_VIS_NLINE; c++)
            sum.lines[c] += b[i].lines[c];
        g_assert_cmpfloat(hapvm_vis_bucket_untraceable_share(&b[i]), <=, hapvm_vis_bucket_uncounted_share(&b[i]));
        g_assert_cmpfloat(hapvm_vis_bucket_uncounted_share(&b[i]), <=, 1.0);
    }
    for (int c = 0; c < HAPVM_VIS_NFUNC; c++)
        g_assert_cmpuint(sum.functions[c], ==, t->functions[c]);
    for (int c = 0; c < HAPVM_VIS_NLINE; c++)
        g_assert_cmpuint(sum.lines[c], ==, t->lines[c]);
    {
        guint n_obj, traceable = 0;
        const HapvmVisObject *o = hapvm_visibility_objects(lab(), &n_obj);

        for (guint i = 0; i < n_obj; i++)
            traceable += o[i].traceable;
        g_assert_cmpuint(traceable, ==, t->functions[HAPVM_VIS_TRACEABLE]);
    }
    kvm = hapvm_visibility_bucket(lab(), "arch/x86/kvm");
    g_assert_nonnull(kvm);
    /* The world switch: noinstr functions and lines exist, but are few. */
    g_assert_cmpuint(kvm->functions[HAPVM_VIS_NOINSTR], >=, 4);
    g_assert_cmpuint(kvm->lines[HAPVM_VIS_LINE_NOINSTR], >, 50);
    g_assert_cmpfloat(hapvm_vis_bucket_untraceable_share(kvm), <, 0.10);
    g_assert_cmpfloat(hapvm_vis_bucket_untraceable_share(kvm), >, 0.0);
    trace = hapvm_visibility_bucket(lab(), "kernel/trace");
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->functions[HAPVM_VIS_TRACEABLE], ==, 0);
    g_assert_cmpfloat(hapvm_vis_bucket_untraceable_share(trace), ==, 1.0);
    entry = hapvm_visibility_bucket(lab(), "arch/x86/entry");
    g_assert_nonnull(entry);
    g_assert_cmpuint(entry->functions[HAPVM_VIS_NOINSTR], >, 0);
    g_assert_null(hapvm_visibility_bucket(lab(), "no/such/bucket"));
    g_assert_true(hapvm_visibility_bucket(lab(), "all") == t);
}

static void
test_json(void)
{
    g_autoptr(JsonNode) node = hapvm_visibility_to_json(lab(), &lab_kernel);
    JsonObject *o = json_node_get_object(node), *kvm;

    g_assert_cmpstr(json_object_get_string_member(o, "schema"), ==, "hapvm-visibility");
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "kernel"), "build_id"), ==,
                    LAB_BUILD_ID);
    kvm = json_object_get_object_member(json_object_get_object_member(o, "subsystems"), "arch/x86/kvm");
    g_assert_nonnull(kvm);
    g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(kvm, "functions"), "noinstr"), ==,
                    hapvm_visibility_bucket(lab(), "arch/x86/kvm")->functions[HAPVM_VIS_NOINSTR]);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "objects")), ==,
                     1 + G_N_ELEMENTS(lab_modules));
}

static void
test_errors(void)
{
    g_autoptr(GError) error = NULL;
    HapvmKernelInfo other = { (char *)LAB_RELEASE, (char *)"0123456789abcdef0123456789abcdef01234567" };
    g_autofree char *missing = g_build_filename(subset_dir, "no-such-dir", NULL);
    g_autofree char *vmlinux = lab_path("boot/vmlinux-" LAB_RELEASE);
    HapvmVisibility *v;

    v = hapvm_visibility_measure(&other, vmlinux, &error);
    g_assert_null(v);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH);
    g_assert_nonnull(strstr(error->message, LAB_BUILD_ID));
    g_clear_error(&error);
    v = hapvm_visibility_measure(&lab_kernel, missing, &error);
    g_assert_null(v);
    g_assert_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO);
    g_assert_nonnull(strstr(error->message, "linux-image-" LAB_RELEASE "-dbg"));
}

static void
rm_links(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);

        g_remove(p);
    }
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    subset_dir = g_dir_make_tmp("hapvm-vis-XXXXXX", NULL);
    g_assert_nonnull(subset_dir);
    g_test_add_func("/visibility/functions", test_functions);
    g_test_add_func("/visibility/inline-only", test_inline_only);
    g_test_add_func("/visibility/lines", test_lines);
    g_test_add_func("/visibility/fentry-relocs", test_fentry_relocs);
    g_test_add_func("/visibility/sites", test_sites);
    g_test_add_func("/visibility/buckets", test_buckets);
    g_test_add_func("/visibility/json", test_json);
    g_test_add_func("/visibility/errors", test_errors);
    rc = g_test_run();
    g_clear_pointer(&vis, hapvm_visibility_free);
    rm_links(subset_dir);
    g_free(subset_dir);
    lab_debuginfo_free();
    return rc;
}

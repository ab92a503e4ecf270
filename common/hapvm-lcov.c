/* hapvm report --format lcov: an lcov tracefile of the functions a result
 * reached, so that genhtml renders the host kernel's exposed code.
 *
 * The line index keeps each function's line *count*, not the line numbers,
 * so the numbers are read here from the kernel's DWARF (the debuginfo `hapvm
 * index` reads) with the counting rule of docs/methodology.md: the statement
 * rows of the function's own file within its symbol (and its .cold part).
 * Each such line gets the function's record count: HAP-L counts every line of
 * a reached function as exposed, and the function tracer cannot tell which
 * lines ran.  Without debuginfo (--no-lines) the file lists functions only. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-lineindex.h"
#include "hapvm-report.h"

#define DEFAULT_DEBUGINFO "/usr/lib/debug"

typedef struct {
    guint64 start, size;
} Range;

/* One object (vmlinux or a module) read through libdwfl, which also
 * relocates a module's ET_REL DWARF. */
typedef struct {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    GHashTable *syms; /* name -> Range (first by address), owned */
    GHashTable *canon; /* Dwarf_Files* file name -> normalised path */
} Object;

static void
object_free(Object *o)
{
    if (!o)
        return;
    if (o->dwfl)
        dwfl_end(o->dwfl);
    if (o->syms)
        g_hash_table_unref(o->syms);
    if (o->canon)
        g_hash_table_unref(o->canon);
    g_free(o);
}

static char *debuginfo_path_unused = NULL;
static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path_unused,
};

static Object *
object_open(const char *name, const char *path, GError **error)
{
    Object *o = g_new0(Object, 1);
    int n;

    o->dwfl = dwfl_begin(&offline_callbacks);
    dwfl_report_begin(o->dwfl);
    o->mod = dwfl_report_offline(o->dwfl, name, path, -1);
    dwfl_report_end(o->dwfl, NULL, NULL);
    if (!o->mod || (n = dwfl_module_getsymtab(o->mod)) < 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "cannot read %s: %s", path, dwfl_errmsg(-1));
        object_free(o);
        return NULL;
    }
    o->syms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    o->canon = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *s = dwfl_module_getsym_info(o->mod, i, &sym, &addr, NULL, NULL, NULL);
        if (!s || GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0)
            continue;
        Range *r = g_hash_table_lookup(o->syms, s);
        /* Static functions of one name: the first by address, as the line
         * index's lookup by name does. */
        if (r && r->start <= addr)
            continue;
        if (!r) {
            r = g_new(Range, 1);
            g_hash_table_insert(o->syms, g_strdup(s), r);
        }
        r->start = addr;
        r->size = sym.st_size;
    }
    return o;
}

static const char *
canon_path(Object *o, const char *dwarf_path)
{
    const char *c = g_hash_table_lookup(o->canon, dwarf_path);

    if (!c) {
        char *p = hapvm_kernel_source_path(dwarf_path);
        g_hash_table_insert(o->canon, g_strdup(dwarf_path), p);
        c = p;
    }
    return c;
}

/* Append to lines the own-file statement lines of [start, end); *own is
 * set from the first statement row when NULL. */
static void
collect(Object *o, guint64 start, guint64 end, const char **own, GArray *lines)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(o->mod, start, &bias);
    Dwarf_Lines *dl;
    size_t n;

    if (!cu || dwarf_getsrclines(cu, &dl, &n) != 0)
        return;
    /* Rows are sorted by address: binary search the first at or after start. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        Dwarf_Addr a = 0;
        dwarf_lineaddr(dwarf_onesrcline(dl, mid), &a);
        if (a + bias < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n; i++) {
        Dwarf_Line *l = dwarf_onesrcline(dl, i);
        Dwarf_Addr a = 0;
        bool stmt = false, endseq = false;
        int line = 0;
        dwarf_lineaddr(l, &a);
        if (a + bias >= end)
            break;
        dwarf_linebeginstatement(l, &stmt);
        dwarf_lineendsequence(l, &endseq);
        dwarf_lineno(l, &line);
        const char *src = dwarf_linesrc(l, NULL, NULL);
        if (!stmt || endseq || line == 0 || !src)
            continue;
        const char *path = canon_path(o, src);
        if (!*own)
            *own = path;
        if (g_str_equal(path, *own)) {
            guint32 v = line;
            g_array_append_val(lines, v);
        }
    }
}

static int
cmp_strp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

static int
cmp_u32(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

    return x < y ? -1 : x > y;
}

/* The function's own file and its distinct own lines, sorted; FALSE when the
 * object has no such symbol or no statement rows for it. */
static gboolean
function_lines(Object *o, const char *name, const char **file, GArray *lines)
{
    Range *r = g_hash_table_lookup(o->syms, name);
    g_autofree char *cold = g_strdup_printf("%s.cold", name);
    Range *c = g_hash_table_lookup(o->syms, cold);
    const char *own = NULL;

    g_array_set_size(lines, 0);
    if (!r)
        return FALSE;
    collect(o, r->start, r->start + r->size, &own, lines);
    if (c && own)
        collect(o, c->start, c->start + c->size, &own, lines);
    if (!own || !lines->len)
        return FALSE;
    g_array_sort(lines, cmp_u32);
    guint k = 0;
    for (guint i = 0; i < lines->len; i++)
        if (!k || g_array_index(lines, guint32, i) != g_array_index(lines, guint32, k - 1))
            g_array_index(lines, guint32, k++) = g_array_index(lines, guint32, i);
    g_array_set_size(lines, k);
    *file = own;
    return TRUE;
}

/* Debuginfo: a /usr/lib/debug-like tree (boot/vmlinux-R, lib/modules/R),
 * a directory holding vmlinux and .ko files, or a vmlinux file. */
typedef struct {
    char *vmlinux;
    char *modules_dir;
    char *searched;
    GHashTable *kos; /* module name ('_') -> path */
} Debuginfo;

static void
walk_kos(const char *dir, GHashTable *kos, int depth)
{
    g_autoptr(GDir) d = depth < 8 ? g_dir_open(dir, 0, NULL) : NULL;
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        if (g_str_has_suffix(e, ".ko")) {
            char *name = g_strndup(e, strlen(e) - 3);
            g_strdelimit(name, "-", '_');
            g_hash_table_insert(kos, name, g_steal_pointer(&p));
        } else if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
            walk_kos(p, kos, depth + 1);
        }
    }
}

static void
debuginfo_find(Debuginfo *d, const char *root, const char *release)
{
    root = root ? root : DEFAULT_DEBUGINFO;
    d->kos = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (g_file_test(root, G_FILE_TEST_IS_REGULAR)) {
        d->vmlinux = g_strdup(root);
        d->searched = g_strdup(root);
        return;
    }
    g_autofree char *boot = g_strdup_printf("%s/boot/vmlinux-%s", root, release);
    g_autofree char *in_dir = g_build_filename(root, "vmlinux", NULL);
    if (g_file_test(boot, G_FILE_TEST_IS_REGULAR)) {
        d->vmlinux = g_steal_pointer(&boot);
        d->modules_dir = g_strdup_printf("%s/lib/modules/%s", root, release);
    } else if (g_file_test(in_dir, G_FILE_TEST_IS_REGULAR)) {
        d->vmlinux = g_steal_pointer(&in_dir);
        d->modules_dir = g_strdup(root);
    }
    d->searched = g_strdup_printf("%s/boot/vmlinux-%s, %s/vmlinux", root, release, root);
    if (d->modules_dir)
        walk_kos(d->modules_dir, d->kos, 0);
}

static void
debuginfo_clear(Debuginfo *d)
{
    g_free(d->vmlinux);
    g_free(d->modules_dir);
    g_free(d->searched);
    if (d->kos)
        g_hash_table_unref(d->kos);
}

static char *
build_id_of(Object *o)
{
    const unsigned char *id;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(o->mod, &id, &vaddr);
    GString *s;

    if (n <= 0)
        return NULL;
    s = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%02x", id[i]);
    return g_string_free(s, FALSE);
}

static JsonObject *
obj_member(JsonObject *o, const char *name)
{
    JsonNode *n = o && json_object_has_member(o, name) ? json_object_get_member(o, name) : NULL;

    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static const char *
str_member(JsonObject *o, const char *name)
{
    JsonNode *n = o && json_object_has_member(o, name) ? json_object_get_member(o, name) : NULL;

    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n) : NULL;
}

typedef struct {
    char *name;
    guint64 count;
    GArray *lines; /* guint32, sorted; empty = no line numbers */
} LcovFunc;

static void
lcov_func_free(LcovFunc *f)
{
    g_free(f->name);
    g_array_unref(f->lines);
    g_free(f);
}

static int
cmp_func(gconstpointer a, gconstpointer b)
{
    const LcovFunc *x = *(LcovFunc *const *)a, *y = *(LcovFunc *const *)b;
    guint32 lx = x->lines->len ? g_array_index(x->lines, guint32, 0) : 0;
    guint32 ly = y->lines->len ? g_array_index(y->lines, guint32, 0) : 0;

    return lx != ly ? (lx < ly ? -1 : 1) : g_strcmp0(x->name, y->name);
}

struct HapvmSrcLines {
    Debuginfo d;
    GHashTable *objects; /* module name ("" = vmlinux) -> Object (NULL: no debuginfo for it) */
};

void
hapvm_src_lines_free(HapvmSrcLines *sl)
{
    if (!sl)
        return;
    debuginfo_clear(&sl->d);
    if (sl->objects)
        g_hash_table_unref(sl->objects);
    g_free(sl);
}

HapvmSrcLines *
hapvm_src_lines_open(const char *debuginfo, const char *release, const char *build_id, GError **error)
{
    g_autoptr(HapvmSrcLines) sl = g_new0(HapvmSrcLines, 1);

    sl->objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)object_free);
    debuginfo_find(&sl->d, debuginfo, release ? release : "unknown");
    if (!sl->d.vmlinux) {
        g_autofree char *pkg = hapvm_debuginfo_package(release ? release : "unknown");
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_NO_DEBUGINFO,
                    "lcov line numbers need the kernel's debuginfo (%s), not found at %s: install %s or "
                    "give --debuginfo PATH, or --no-lines for a functions-only tracefile",
                    release ? release : "unknown release", sl->d.searched, pkg);
        return NULL;
    }
    Object *vm = object_open("vmlinux", sl->d.vmlinux, error);
    if (!vm)
        return NULL;
    g_hash_table_insert(sl->objects, g_strdup(""), vm);
    g_autofree char *id = build_id_of(vm);
    if (build_id && g_strcmp0(id, build_id) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_BUILD_ID_MISMATCH,
                    "%s has build-id %s but the result's kernel is %s: give the debuginfo of that build "
                    "(--debuginfo), or --no-lines", sl->d.vmlinux, id ? id : "(none)", build_id);
        return NULL;
    }
    return g_steal_pointer(&sl);
}

gboolean
hapvm_src_lines_lookup(HapvmSrcLines *sl, const char *module, const char *name, const char **file, GArray *lines)
{
    const char *key = module ? module : "";
    Object *o = NULL;

    g_array_set_size(lines, 0);
    if (!g_hash_table_lookup_extended(sl->objects, key, NULL, (gpointer *)&o)) {
        const char *ko = g_hash_table_lookup(sl->d.kos, module);
        o = ko ? object_open(module, ko, NULL) : NULL; /* a module without debuginfo: no lines */
        g_hash_table_insert(sl->objects, g_strdup(key), o);
    }
    return o && function_lines(o, name, file, lines);
}

/* lcov has no place for a module: a function of a module keeps its name and
 * its file; the functions without lines go to a record named after their
 * object ("[vmlinux]", "[kvm]"). */
gboolean
hapvm_report_lcov(JsonObject *r, const HapvmReportArgs *args, FILE *out, GError **error)
{
    JsonObject *kernel = obj_member(r, "kernel");
    const char *release = str_member(kernel, "release");
    const char *build_id = str_member(kernel, "build_id");
    JsonNode *fn = json_object_has_member(r, "functions") ? json_object_get_member(r, "functions") : NULL;
    JsonArray *fa = fn && JSON_NODE_HOLDS_ARRAY(fn) ? json_node_get_array(fn) : NULL;
    g_autoptr(HapvmSrcLines) sl = NULL;
    /* file -> GPtrArray of LcovFunc */
    g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify)g_ptr_array_unref);

    if (!args->no_lines && !(sl = hapvm_src_lines_open(args->debuginfo, release, build_id, error)))
        return FALSE;
    for (guint i = 0; fa && i < json_array_get_length(fa); i++) {
        JsonObject *f = json_array_get_object_element(fa, i);
        const char *name = str_member(f, "name");
        const char *module = str_member(f, "module");
        JsonNode *hf = json_object_has_member(f, "hap_f") ? json_object_get_member(f, "hap_f") : NULL;
        gboolean hap_f = hf && JSON_NODE_HOLDS_VALUE(hf) && json_node_get_boolean(hf);
        gboolean task = FALSE;
        JsonNode *cn = json_object_has_member(f, "contexts") ? json_object_get_member(f, "contexts") : NULL;
        for (guint k = 0; cn && JSON_NODE_HOLDS_ARRAY(cn) && k < json_array_get_length(json_node_get_array(cn)); k++)
            task |= g_strcmp0(json_array_get_string_element(json_node_get_array(cn), k), "task") == 0;
        if (!name || (args->set == HAPVM_FSET_HAP_F && !hap_f) || (args->set == HAPVM_FSET_INTERRUPT && task))
            continue;
        LcovFunc *lf = g_new0(LcovFunc, 1);
        lf->name = g_strdup(name);
        lf->lines = g_array_new(FALSE, FALSE, sizeof(guint32));
        JsonNode *cnt = json_object_get_member(f, "count");
        lf->count = cnt && JSON_NODE_HOLDS_VALUE(cnt) ? (guint64)json_node_get_double(cnt) : 0;
        const char *file = NULL;
        if (sl)
            hapvm_src_lines_lookup(sl, module, name, &file, lf->lines);
        g_autofree char *record = file ? g_strdup(file) : g_strdup_printf("[%s]", module ? module : "vmlinux");
        GPtrArray *list = g_hash_table_lookup(files, record);
        if (!list) {
            list = g_ptr_array_new_with_free_func((GDestroyNotify)lcov_func_free);
            g_hash_table_insert(files, g_strdup(record), list);
        }
        g_ptr_array_add(list, lf);
    }

    g_autoptr(GPtrArray) names = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, files);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(names, k);
    g_ptr_array_sort(names, cmp_strp);
    /* TN: letters, digits and '_' only (lcov's rule for test names). */
    g_autofree char *tn = g_strdup(str_member(obj_member(r, "target"), "name") ?: "hapvm");
    for (char *p = tn; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_')
            *p = '_';
    for (guint i = 0; i < names->len; i++) {
        GPtrArray *list = g_hash_table_lookup(files, names->pdata[i]);
        g_autoptr(GHashTable) da = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_autoptr(GArray) da_lines = g_array_new(FALSE, FALSE, sizeof(guint32));
        g_ptr_array_sort(list, cmp_func);
        fprintf(out, "TN:%s\nSF:%s\n", tn, (char *)names->pdata[i]);
        for (guint j = 0; j < list->len; j++) {
            LcovFunc *f = list->pdata[j];
            fprintf(out, "FN:%u,%s\n", f->lines->len ? g_array_index(f->lines, guint32, 0) : 0, f->name);
        }
        for (guint j = 0; j < list->len; j++) {
            LcovFunc *f = list->pdata[j];
            fprintf(out, "FNDA:%" G_GUINT64_FORMAT ",%s\n", f->count, f->name);
            /* A line shared by two clones gets the sum of their counts. */
            for (guint l = 0; l < f->lines->len; l++) {
                gpointer key = GUINT_TO_POINTER(g_array_index(f->lines, guint32, l));
                gpointer old;
                if (!g_hash_table_lookup_extended(da, key, NULL, &old)) {
                    old = NULL;
                    g_array_append_val(da_lines, g_array_index(f->lines, guint32, l));
                }
                guint64 *sum = old ? old : g_new0(guint64, 1);
                *sum += f->count;
                g_hash_table_insert(da, key, sum);
            }
        }
        fprintf(out, "FNF:%u\nFNH:%u\n", list->len, list->len);
        g_array_sort(da_lines, cmp_u32);
        guint hit = 0;
        for (guint l = 0; l < da_lines->len; l++) {
            guint64 *sum = g_hash_table_lookup(da, GUINT_TO_POINTER(g_array_index(da_lines, guint32, l)));
            fprintf(out, "DA:%u,%" G_GUINT64_FORMAT "\n", g_array_index(da_lines, guint32, l), *sum);
            hit += *sum > 0;
            g_free(sum);
        }
        fprintf(out, "LF:%u\nLH:%u\n", da_lines->len, hit);
        fprintf(out, "end_of_record\n");
    }
    return TRUE;
}

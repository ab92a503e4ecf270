#include "hapvm-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "hapvm-error.h"
#include "hapvm-json.h"
#include "hapvm-result.h"

gboolean
hapvm_uuid_is_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return FALSE;
    for (int i = 0; i < 36; i++) {
        gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !g_ascii_isxdigit(s[i]))
            return FALSE;
    }
    return TRUE;
}

static gboolean
fsync_dir(const char *dir, GError **error)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot sync directory %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    close(fd);
    return TRUE;
}

gboolean
hapvm_store_save(const char *dir, const char *uuid, JsonNode *result, GDateTime *when, char **path_out,
                 GError **error)
{
    if (!hapvm_uuid_is_valid(uuid)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "'%s' is not a domain uuid", uuid ? uuid : "(null)");
        return FALSE;
    }
    g_autofree char *lower = g_ascii_strdown(uuid, -1);
    g_autofree char *sub = g_build_filename(dir, lower, NULL);
    if (g_mkdir_with_parents(sub, 0750) != 0) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot create %s: %s", sub, g_strerror(errno));
        return FALSE;
    }
    g_autoptr(GDateTime) utc = g_date_time_to_utc(when);
    g_autofree char *stamp = g_date_time_format(utc, "%Y%m%dT%H%M%SZ");
    g_autofree char *path = NULL;
    /* Two results in the same second (a restart loop): never overwrite. */
    for (int i = 0; i < 1000; i++) {
        g_free(path);
        path = i ? g_strdup_printf("%s/%s-%d.json", sub, stamp, i) : g_strdup_printf("%s/%s.json", sub, stamp);
        if (!g_file_test(path, G_FILE_TEST_EXISTS))
            break;
    }
    if (!hapvm_result_write(result, path, error) || !fsync_dir(sub, error))
        return FALSE;
    if (path_out)
        *path_out = g_steal_pointer(&path);
    return TRUE;
}

void
hapvm_store_entry_free(HapvmStoreEntry *e)
{
    if (!e)
        return;
    g_free(e->path);
    g_free(e->uuid);
    g_free(e->domain);
    g_free(e->stamp);
    g_free(e->end_reason);
    g_free(e);
}

static HapvmStoreEntry *
entry_read(const char *path, const char *uuid, const char *stamp)
{
    g_autoptr(JsonNode) root = hapvm_result_load(path, NULL);
    if (!root)
        return NULL;
    JsonObject *r = json_node_get_object(root);
    JsonObject *col = hapvm_json_object(r, "collector"), *sc = hapvm_json_object(r, "scores");
    HapvmStoreEntry *e = g_new0(HapvmStoreEntry, 1);
    e->path = g_strdup(path);
    e->uuid = g_strdup(uuid);
    e->stamp = g_strdup(stamp);
    e->domain = g_strdup(hapvm_json_string(col, "domain") ? hapvm_json_string(col, "domain") : hapvm_json_string(hapvm_json_object(r, "target"), "name"));
    e->hap_f = hapvm_json_is_number(sc, "hap_f") ? hapvm_json_int(sc, "hap_f") : -1;
    e->hap_l = hapvm_json_is_number(sc, "hap_l") ? hapvm_json_int(sc, "hap_l") : -1;
    e->hap = hapvm_json_is_number(sc, "hap") ? hapvm_json_double(sc, "hap") : -1;
    JsonObject *loss = hapvm_json_object(r, "loss");
    e->complete = loss && json_object_get_boolean_member_with_default(loss, "complete", FALSE);
    e->partial = col && json_object_get_boolean_member_with_default(col, "partial", FALSE);
    e->end_reason = g_strdup(hapvm_json_string(hapvm_json_object(r, "timing"), "end_reason"));
    return e;
}

static int
entry_cmp(gconstpointer a, gconstpointer b)
{
    const HapvmStoreEntry *x = *(HapvmStoreEntry *const *)a, *y = *(HapvmStoreEntry *const *)b;
    int c = strcmp(x->stamp, y->stamp);
    return c ? c : strcmp(x->uuid, y->uuid);
}

GPtrArray *
hapvm_store_list(const char *dir, const char *filter, guint *skipped, GError **error)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)hapvm_store_entry_free);
    const char *u;

    if (skipped)
        *skipped = 0;
    if (!d) {
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_FAILED;
        return NULL;
    }
    while ((u = g_dir_read_name(d))) {
        if (!hapvm_uuid_is_valid(u))
            continue;
        g_autofree char *sub = g_build_filename(dir, u, NULL);
        g_autoptr(GDir) sd = g_dir_open(sub, 0, NULL);
        const char *f;
        while (sd && (f = g_dir_read_name(sd))) {
            if (!g_str_has_suffix(f, ".json") || strstr(f, ".tmp."))
                continue;
            g_autofree char *path = g_build_filename(sub, f, NULL);
            g_autofree char *stamp = g_strndup(f, strlen(f) - 5);
            HapvmStoreEntry *e = entry_read(path, u, stamp);
            if (!e) {
                if (skipped)
                    (*skipped)++;
                continue;
            }
            if (filter && g_ascii_strcasecmp(filter, e->uuid) != 0 && g_strcmp0(filter, e->domain) != 0) {
                hapvm_store_entry_free(e);
                continue;
            }
            g_ptr_array_add(out, e);
        }
    }
    g_ptr_array_sort(out, entry_cmp);
    return g_steal_pointer(&out);
}

/* hapvm report --format html: the format table's row for the HTML report
 * (common/hapvm-html.c). */
#include "hapvm-html.h"
#include "hapvm-report.h"

gboolean
hapvm_report_html(GPtrArray *inputs, const HapvmReportArgs *args, FILE *out, GError **error)
{
    g_autofree JsonObject **results = g_new0(JsonObject *, inputs->len);
    g_autofree const char **files = g_new0(const char *, inputs->len);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < inputs->len; i++) {
        HapvmReportInput *in = inputs->pdata[i];
        results[i] = in->result;
        /* Pages name results by file name: the same page from any directory. */
        g_ptr_array_add(names, g_path_get_basename(in->file));
        files[i] = names->pdata[i];
    }
    return hapvm_html_write(results, files, inputs->len, out, error);
}

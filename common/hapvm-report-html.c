/* hapvm report --format html: not built yet (a placeholder that keeps the
 * format table complete; the html report replaces this file). */
#include "hapvm-error.h"
#include "hapvm-report.h"

gboolean
hapvm_report_html(GPtrArray *inputs, const HapvmReportArgs *args, FILE *out, GError **error)
{
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE,
                "--format html is not built yet; use --format text, json, csv or lcov");
    return FALSE;
}

/* The Xen system interface in a build without the meson feature `xen`:
 * every use says so.  Also compiled into tests/xenstubtest, so the message
 * is checked in builds that have Xen support too. */
#include "hapvm-error.h"
#include "hapvm-xen-domain.h"

gboolean
hapvm_xen_sys_available(void)
{
    return FALSE;
}

HapvmXenSys *
hapvm_xen_sys_open(GError **error)
{
    g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED,
                "this hapvm was built without Xen support: install the Xen development files "
                "(Debian: libxen-dev) and rebuild with 'meson setup -Dxen=enabled'");
    return NULL;
}

#include "hapvm-error.h"

G_DEFINE_QUARK(hapvm-error-quark, hapvm_error)

int
hapvm_error_exit_code(const GError *error)
{
    if (!error)
        return 0;
    if (error->domain != HAPVM_ERROR)
        return 1;
    switch ((HapvmError)error->code) {
    case HAPVM_ERROR_USAGE:
        return 2;
    case HAPVM_ERROR_NOT_ROOT:
        return 3;
    case HAPVM_ERROR_NO_TRACEFS:
        return 4;
    case HAPVM_ERROR_TRACER_DENIED:
        return 5;
    case HAPVM_ERROR_TARGET_GONE:
        return 6;
    case HAPVM_ERROR_LOST_EVENTS:
        return 7;
    case HAPVM_ERROR_NO_DEBUGINFO:
        return 8;
    case HAPVM_ERROR_BUILD_ID_MISMATCH:
        return 9;
    case HAPVM_ERROR_PARSE:
        return 10;
    case HAPVM_ERROR_NO_DOMAIN:
        return 11;
    case HAPVM_ERROR_NOT_RUNNING:
        return 12;
    case HAPVM_ERROR_LIBVIRT:
        return 13;
    case HAPVM_ERROR_NOT_QEMU:
        return 14;
    case HAPVM_ERROR_FAILED:
        break;
    }
    return 1;
}

/* Error domain shared by the engine and its front ends. */
#pragma once

#include <glib.h>

#define HAPVM_ERROR (hapvm_error_quark())
GQuark hapvm_error_quark(void);

/* Each code maps to one process exit status (hapvm_error_exit_code), so
 * scripts can tell causes apart without parsing messages. */
typedef enum {
    HAPVM_ERROR_FAILED = 1,        /* anything not listed below */
    HAPVM_ERROR_USAGE,             /* bad command line */
    HAPVM_ERROR_NOT_ROOT,          /* tracing needs CAP_SYS_ADMIN */
    HAPVM_ERROR_NO_TRACEFS,        /* tracefs missing or not mountable */
    HAPVM_ERROR_TRACER_DENIED,     /* function tracer refused (EPERM, lockdown) */
    HAPVM_ERROR_TARGET_GONE,       /* target task or domain vanished */
    HAPVM_ERROR_LOST_EVENTS,       /* ring-buffer loss, not accepted */
    HAPVM_ERROR_NO_DEBUGINFO,      /* DWARF for the running kernel not found */
    HAPVM_ERROR_BUILD_ID_MISMATCH, /* debuginfo is for another build */
    HAPVM_ERROR_PARSE,             /* malformed input file */
    HAPVM_ERROR_NO_DOMAIN,         /* libvirt knows no such domain */
    HAPVM_ERROR_NOT_RUNNING,       /* the domain exists but is not running */
    HAPVM_ERROR_LIBVIRT,           /* libvirt unreachable */
    HAPVM_ERROR_NOT_QEMU,          /* not a QEMU/KVM domain or process */
} HapvmError;

int hapvm_error_exit_code(const GError *error);

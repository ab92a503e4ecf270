/* x86-64 system-call names, for reports (results store numbers). */
#pragma once

#include <glib.h>

/* The name of x86-64 system call nr ("read" for 0), or NULL if unknown. */
const char *hapvm_syscall_name(gint64 nr);

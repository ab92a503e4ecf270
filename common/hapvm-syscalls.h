/* x86-64 system-call names, for reports (results store numbers). */
#pragma once

#include <glib.h>

/* The name of x86-64 system call nr ("read" for 0), or NULL if unknown. */
const char *hapvm_syscall_name(gint64 nr);
/* The number of the x86-64 system call called name ("read" gives 0), or -1. */
gint64 hapvm_syscall_nr(const char *name);

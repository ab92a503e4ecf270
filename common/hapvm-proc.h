/* Reading task directories of a /proc tree (the live /proc, or a fixture
 * tree in the tests): the front ends' discovery shares these. */
#pragma once

#include <glib.h>

/* The comm of a task directory ("<dir>/comm") without its newline, at most
 * len - 1 bytes.  FALSE if unreadable (the task is gone). */
gboolean hapvm_proc_read_comm(const char *dir, char *comm, gsize len);

/* A kernel thread: ppid 2 (kthreadd) and PF_KTHREAD in the flags of
 * "<dir>/stat".  Unreadable or malformed: FALSE. */
gboolean hapvm_proc_is_kthread(const char *dir);

/* An id as a user or /proc writes it (pid, domid): decimal digits only,
 * not empty. */
gboolean hapvm_proc_is_id(const char *s);

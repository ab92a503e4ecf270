#include "hapvm-proc.h"

#include <stdio.h>
#include <string.h>

#define KTHREADD_PID 2
#define PF_KTHREAD 0x00200000u /* include/linux/sched.h, unchanged since 2.6.x */

gboolean
hapvm_proc_read_comm(const char *dir, char *comm, gsize len)
{
    g_autofree char *path = g_build_filename(dir, "comm", NULL);
    g_autofree char *buf = NULL;

    if (!g_file_get_contents(path, &buf, NULL, NULL))
        return FALSE;
    buf[strcspn(buf, "\n")] = '\0';
    g_strlcpy(comm, buf, len);
    return TRUE;
}

/* "<pid> (<comm>) <state> <ppid> <pgrp> <session> <tty> <tpgid> <flags> ..."
 * (proc(5)).  The comm may hold spaces and ')', so fields start after the
 * last ')'. */
gboolean
hapvm_proc_is_kthread(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "stat", NULL);
    g_autofree char *buf = NULL;
    char state;
    int ppid;
    unsigned int flags;

    if (!g_file_get_contents(path, &buf, NULL, NULL))
        return FALSE;
    const char *p = strrchr(buf, ')');
    if (!p)
        return FALSE;
    if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %u", &state, &ppid, &flags) != 3)
        return FALSE;
    return ppid == KTHREADD_PID && (flags & PF_KTHREAD);
}

gboolean
hapvm_proc_is_id(const char *s)
{
    if (!s || !*s)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isdigit(*s))
            return FALSE;
    return TRUE;
}

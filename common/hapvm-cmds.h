/* hapvm subcommands: one function per command, dispatched from hapvm.c.
 * Each returns 0 on success, or -1 with *error set. */
#pragma once

#include <glib.h>

/* hapvm index [--debuginfo PATH] [--cache DIR] [--release R [--build-id HEX]] [--rebuild] */
int hapvm_cmd_index(int argc, char **argv, GError **error);

/* hapvm measure [--pid PID]... [--cgroup PATH] [options] [-- COMMAND ARGS...] */
int hapvm_cmd_measure(int argc, char **argv, GError **error);
/* hapvm report RESULT.json */
int hapvm_cmd_report(int argc, char **argv, GError **error);
int hapvm_cmd_list(int argc, char **argv, GError **error);

/* hapvm import TRACE.DAT (--pid PID | --tid TID | --comm REGEX | --all) [options] */
int hapvm_cmd_import(int argc, char **argv, GError **error);

/* hapvm subcommands: one function per command, dispatched from hapvm.c.
 * Each returns 0 on success, or -1 with *error set. */
#pragma once

#include <glib.h>

/* hapvm index [--debuginfo PATH] [--cache DIR] [--release R [--build-id HEX]] [--rebuild]
 * hapvm index --visibility [--subsystem S]... [--list] [--json FILE] (what ftrace cannot see) */
int hapvm_cmd_index(int argc, char **argv, GError **error);

/* hapvm measure [--pid PID]... [--cgroup PATH] [options] [-- COMMAND ARGS...] */
int hapvm_cmd_measure(int argc, char **argv, GError **error);
int hapvm_cmd_list(int argc, char **argv, GError **error);
/* hapvm status [--socket PATH] [--json]: what hapvmd measures now */
int hapvm_cmd_status(int argc, char **argv, GError **error);
/* hapvm results [--dir DIR] [DOMAIN|UUID]: results hapvmd stored */
int hapvm_cmd_results(int argc, char **argv, GError **error);
/* hapvm report [--format text|json|csv|lcov|html] RESULT.json [MORE.json...] (cmd-report.c) */
int hapvm_cmd_report(int argc, char **argv, GError **error);
/* hapvm compare A.json B.json [MORE.json...] */
int hapvm_cmd_compare(int argc, char **argv, GError **error);
/* hapvm aggregate RUN.json... [--json OUT] */
int hapvm_cmd_aggregate(int argc, char **argv, GError **error);

/* hapvm fleet [--group-by KEYS] [--latest] [--include-incomplete] [--format text|csv|json] DIR|FILE... */
int hapvm_cmd_fleet(int argc, char **argv, GError **error);

/* hapvm import TRACE.DAT (--pid PID | --tid TID | --comm REGEX | --all) [options] */
int hapvm_cmd_import(int argc, char **argv, GError **error);
/* hapvm baseline [measure's targets and options]: record an idle target */
int hapvm_cmd_baseline(int argc, char **argv, GError **error);

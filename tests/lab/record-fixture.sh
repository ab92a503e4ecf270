#!/bin/bash
# Record the raw-trace fixture of tests/data/trace/<name> inside the lab host:
#   tests/lab/run tests/lab/record-fixture.sh tests/data/trace/sysloop-fork
# Function tracer + raw_syscalls + sched fork/exit events of `sysloop fork 50`
# in a private instance; saves the event formats, the per-CPU raw sub-buffers
# (trace_pipe_raw), the kernel's own text rendering (trace) and the stats.
set -eu
out=$1
T=/sys/kernel/tracing
I=$T/instances/hapvm-fixture-$$
mkdir -p "$out"
mkdir "$I"
trap 'echo 0 > "$I/tracing_on"; echo nop > "$I/current_tracer"; rmdir "$I"' EXIT
echo 0 > "$I/tracing_on"
echo 4096 > "$I/buffer_size_kb"
echo 1 > "$I/options/function-fork"
echo 1 > "$I/options/event-fork"
echo 1 > "$I/events/raw_syscalls/sys_enter/enable"
echo 1 > "$I/events/sched/sched_process_fork/enable"
echo 1 > "$I/events/sched/sched_process_exit/enable"
echo function > "$I/current_tracer"
sh -c 'echo $$ > "$1/set_ftrace_pid"; echo $$ > "$1/set_event_pid"; echo 1 > "$1/tracing_on"; exec "$2" fork 50' \
    sh "$I" "$HAPVM_LAB_BIN/sysloop" > "$out/stdout"
echo 0 > "$I/tracing_on"
cp $T/events/header_page "$out/header_page"
for e in ftrace/function raw_syscalls/sys_enter sched/sched_process_fork sched/sched_process_exit; do
    mkdir -p "$out/events/$e"
    cp "$T/events/$e/format" "$out/events/$e/format"
done
cat "$I/trace" | gzip -9 > "$out/trace.txt.gz"
cat "$I"/per_cpu/cpu*/stats > "$out/stats"
for c in "$I"/per_cpu/cpu*; do
    n=${c##*/cpu}
    "$(dirname "$0")/dump-raw" "$c/trace_pipe_raw" "$out/cpu$n.raw"
done

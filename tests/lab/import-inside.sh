#!/bin/bash
# In-lab part of the import test (tests/lab/importtest judges, and runs
# `hapvm import`, on the build machine).  One workload, held on a fifo,
# traced at once by trace-cmd (its own instance, -B) and by hapvm measure
# (its own instance), both with pid filter + fork following on the
# workload's shell.  trace-cmd also records sched_process_fork (so that
# import can follow the forks) and raw_syscalls:sys_enter.
#
# usage: import-inside.sh HAPVM OUTDIR
set -u
hapvm=$1 out=$2
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
mkdir -p "$out"
step() { echo "import-inside: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

cat "$T/current_tracer" > "$out/global_tracer.before"
mkfifo /tmp/go
cat > /tmp/workload.sh <<EOF2
read x < /tmp/go
$B/sysloop getppid 500
$B/sysloop fork 20
$B/sysloop pipe 100
$B/sysloop files 50 /tmp
EOF2
bash /tmp/workload.sh > "$out/workload.out" 2>&1 &
W=$!
echo $W > "$out/workload.pid"

# trace-cmd record -P stops recording once it sees the pid exit, which cut
# the workload's own exit path (do_notify_parent onwards) from the file in
# 1 run in 5.  So trace-cmd is pointed at a sleeper that outlives the
# workload, and the workload is added to its instance's pid filters below.
sleep 3600 &
S=$!
step "trace-cmd and hapvm on pid $W (trace-cmd's own pid: sleeper $S)"
# -B: trace-cmd's own instance; everything after it applies there.
trace-cmd record -B hapvm-import-tc -p function -e sched:sched_process_fork -e raw_syscalls:sys_enter \
    -b 32768 -P $S -o "$out/trace.dat" > "$out/tc.out" 2> "$out/tc.err" &
TC=$!
"$hapvm" measure --pid $W --warmup 0 --quiet 1000 --no-lines --json "$out/live.json" \
    > "$out/live.out" 2> "$out/live.err" &
HM=$!
for _ in $(seq 900); do
    a=$(cat $T/instances/hapvm-import-tc/tracing_on 2>/dev/null)
    b=$(cat $T/instances/hapvm-$HM-*/tracing_on 2>/dev/null)
    [ "$a" = 1 ] && [ "$b" = 1 ] && break
    sleep 0.2
done
# The workload waits on the fifo: nothing of it is missed before this.
echo $W >> $T/instances/hapvm-import-tc/set_ftrace_pid
echo $W >> $T/instances/hapvm-import-tc/set_event_pid
echo 1 > $T/instances/hapvm-import-tc/options/function-fork
echo 1 > $T/instances/hapvm-import-tc/options/event-fork
echo "trace-cmd on: $a, hapvm on: $b" > "$out/start.log"
cat $T/instances/hapvm-import-tc/current_tracer $T/instances/hapvm-import-tc/set_ftrace_pid \
    $T/instances/hapvm-import-tc/set_event_pid \
    $T/instances/hapvm-import-tc/options/function-fork $T/instances/hapvm-import-tc/options/event-fork \
    >> "$out/start.log" 2>&1
# trace-cmd's reader threads start after tracing_on: give them a moment.
sleep 2
step "go ($(tr '\n' ' ' < "$out/start.log"))"
echo go > /tmp/go
wait $W
step "workload done"
wait $HM; echo $? > "$out/live.rc"
step "hapvm done"
# Markers on every CPU after the workload: importtest checks that each
# reached the file, i.e. trace-cmd's window covers the whole workload.
pad=$(printf 'hapvm-import-pad %0100d' 0)
for c in $(seq 0 $(($(nproc) - 1))); do
    taskset -c "$c" bash -c 'for i in $(seq 80); do echo "$1 $i" > "$2"; done' _ \
        "$pad" "$T/instances/hapvm-import-tc/trace_marker"
done
nproc > "$out/ncpus"
kill -INT $TC
kill $S
wait $TC; echo $? > "$out/tc.rc"
step "trace-cmd done"
cat "$T/current_tracer" > "$out/global_tracer.after"
cat "$T/set_ftrace_pid" > "$out/global_pid.after"
ls "$T/instances" > "$out/instances.after"
exit 0

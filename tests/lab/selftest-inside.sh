#!/bin/bash
# The lab self-test's in-lab part: record, do not judge.  It writes raw
# artifacts to OUTDIR; tests/lab/selftest checks them on the build machine
# (parsing traces under TCG is slow).
set -u
out=$1
T=/sys/kernel/tracing
mkdir -p "$out"
cd "$(dirname "$0")" || exit 1

cat $T/available_tracers > "$out/available_tracers"
cat $T/current_tracer > "$out/global_tracer.before"

# 1. Function tracer in a private instance, following a forking process.
I=$T/instances/hapvm-selftest-$$
mkdir "$I" || exit 1
echo 0 > "$I/tracing_on"
echo 32768 > "$I/buffer_size_kb"
echo 1 > "$I/options/function-fork"
echo function > "$I/current_tracer"
echo $? > "$out/function.rc"
cat "$I/current_tracer" > "$out/function.current"
# The pid filter is set by the traced shell itself before it execs, so fork
# following covers the whole tree from its first instruction.
sh -c 'echo $$ > "$1/set_ftrace_pid" && echo 1 > "$1/tracing_on" && exec "$2" fork 1000' \
    sh "$I" "$HAPVM_LAB_BIN/sysloop" > "$out/fork.stdout"
echo $? > "$out/fork.rc"
echo 0 > "$I/tracing_on"
cat "$I/set_ftrace_pid" > "$out/fork.pids.after"
cat "$I/per_cpu"/cpu*/stats > "$out/fork.stats"
cp "$I/trace" "$out/fork.trace"
echo nop > "$I/current_tracer"
rmdir "$I"

# 2. An L2 guest under nested KVM with vhost-net and virtio-blk, kvm_exit on.
I=$T/instances/hapvm-selftest-kvm-$$
mkdir "$I" || exit 1
echo 16384 > "$I/buffer_size_kb"
echo 1 > "$I/events/kvm/kvm_exit/enable"
echo 1 > "$I/tracing_on"
./l2 --smp 2 --net --blk 16 --name selftest --pidfile /tmp/l2.pid \
    --file "$HAPVM_LAB_BIN/sysloop:sysloop" ./l2-selftest.sh > "$out/l2.log" 2>&1 &
l2=$!
# vhost-net's worker: a kernel thread "vhost-<qemu pid>" on 6.1.
: > "$out/l2.threads"
while kill -0 $l2 2>/dev/null; do
    if [ -s /tmp/l2.pid ]; then
        qp=$(cat /tmp/l2.pid)
        for t in /proc/[0-9]*; do
            c=$(cat "$t/comm" 2>/dev/null) || continue
            case "$c" in vhost-*) echo "kthread ${t#/proc/} $c ppid $(awk '{print $4}' "$t/stat")" ;; esac
        done > "$out/l2.vhost.tmp"
        for t in /proc/"$qp"/task/*; do
            echo "thread ${t##*/} $(cat "$t/comm")"
        done > "$out/l2.threads.tmp" 2>/dev/null
        [ -s "$out/l2.vhost.tmp" ] && { echo "qemu $qp"; cat "$out/l2.vhost.tmp" "$out/l2.threads.tmp"; } > "$out/l2.threads"
        grep -q CPU "$out/l2.threads" && grep -q kthread "$out/l2.threads" && break
    fi
    sleep 0.5
done
wait $l2
echo $? > "$out/l2.rc"
echo 0 > "$I/tracing_on"
cat "$I/per_cpu"/cpu*/stats > "$out/l2.stats"
cp "$I/trace" "$out/l2.trace"
echo 0 > "$I/events/kvm/kvm_exit/enable"
rmdir "$I"
rm -f "$out"/*.tmp

cat $T/current_tracer > "$out/global_tracer.after"
ls $T/instances > "$out/instances.after"
exit 0

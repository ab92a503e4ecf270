#!/bin/bash
# P2-VM, in-lab part: the same L2 guest run (tests/bench/p2-vm-guest.sh)
# untraced, under a plain function tracer on all the VM's host tasks (shell:
# instance, pid filter, function-fork), and under hapvm --qemu-pid
# --low-overhead.  One L2 boot each.
# usage: p2-vm-inside.sh HAPVM CPUID_N DISK_N SETTLE_S OUTFILE
set -u
hapvm=$1 C=$2 D=$3 S=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../lab
T=/sys/kernel/tracing
: > "$out"
log=$(dirname "$out")

boot() { # name; then waits for alive and prints the QEMU pid
    "$lab/l2" --smp 2 --net --blk 4 --name "p2-$1" --pidfile /tmp/p2.pid --file "$HAPVM_LAB_BIN/sysloop:sysloop" \
        --timeout 900 "$here/p2-vm-guest.sh" "$C" "$D" "$S" > "$log/p2-$1.out" 2>&1 &
    L=$!
    for _ in $(seq 900); do
        grep -q "hapvm-l2: alive" "$log/p2-$1.out" 2>/dev/null && break
        sleep 0.2
    done
    Q=$(cat /tmp/p2.pid)
}
result() { # name
    wait $L
    echo "$1 $(sed -n 's/^p2vm: //p' "$log/p2-$1.out" | tr -d '\r')" | tee -a "$out"
}

boot untraced
result untraced

boot plain
I=$T/instances/p2vm-plain-$$
mkdir "$I"
echo 65536 > "$I/buffer_size_kb"
echo 1 > "$I/options/function-fork"
echo function > "$I/current_tracer"
tids=$(ls /proc/$Q/task)
for k in /proc/[0-9]*; do
    c=$(cat $k/comm 2>/dev/null)
    case "$c" in vhost-$Q|kvm-pit/$Q|kvm-nx-lpage-recovery-$Q) tids="$tids ${k#/proc/}" ;; esac
done
echo $tids > "$I/set_ftrace_pid"
result plain
echo "plain_overrun $(awk '/^overrun:/ { s += $2 } END { print s + 0 }' "$I"/per_cpu/cpu*/stats)" | tee -a "$out"
echo nop > "$I/current_tracer"
rmdir "$I"

boot low
"$hapvm" measure --qemu-pid "$Q" --low-overhead --no-lines --max-duration 900 --quiet 900 --json /tmp/p2-low.json \
    --quiet-summary > /tmp/p2-low.log 2>&1 &
H=$!
result low
wait $H
echo "low_rc $? $(grep -o '"notrace_written" *: *[0-9]*' /tmp/p2-low.json)" | tee -a "$out"

#!/bin/bash
# P2, in-lab part: sysloop mix N (sched_yield + getppid + pipe round trip per
# round) untraced, under a plain function tracer (shell: instance, pid
# filter, function-fork), under hapvm in plain mode, and under hapvm's
# low-overhead mode once it has settled (run time of the workload itself,
# median of seven passes), with system-call counting paused (the default)
# and kept (--keep-syscalls); untraced: median of 13 passes over the boot.
# usage: p2-overhead-inside.sh HAPVM N OUTFILE
set -u
hapvm=$1 N=$2 out=$3
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
el() { sed -n 's/^sysloop: elapsed \([0-9.]*\) s/\1/p' | tail -n1; }

"$B/sysloop" mix "$N" > /dev/null # warm the page cache
# Untraced: five passes here, more after each hapvm run (TCG's spread is
# wide: 0.62-1.04 s seen for one boot's passes); the median of all is used.
unt() { for i in $(seq "$1"); do "$B/sysloop" mix "$N" | el; done | tr '\n' ' '; }
u1=$(unt 5)

I=$T/instances/p2-plain-$$
mkdir "$I"
echo 65536 > "$I/buffer_size_kb"
echo 1 > "$I/options/function-fork"
echo 0 > "$I/tracing_on"
echo function > "$I/current_tracer"
p=$(sh -c 'echo $$ > "$1/set_ftrace_pid"; echo 1 > "$1/tracing_on"; exec "$2" mix "$3"' sh "$I" "$B/sysloop" "$N" | el)
echo 0 > "$I/tracing_on"
plain_over=$(awk '/^overrun:/ { s += $2 } END { print s + 0 }' "$I"/per_cpu/cpu*/stats)
echo nop > "$I/current_tracer"
rmdir "$I"

h=$("$hapvm" measure --warmup 0 --quiet 1000 --no-lines --accept-loss --quiet-summary -- "$B/sysloop" mix "$N" | el)

# Low-overhead: a first pass so every function is seen, then wait until
# hapvm's notrace list stops growing, then the measured pass.
cat > /tmp/p2-low.sh <<EOF2
$B/sysloop mix $N > /dev/null
last=-1 same=0
while [ \$same -lt 3 ]; do
    sleep 5
    n=\$(cat $T/instances/hapvm-*/set_ftrace_notrace 2>/dev/null | wc -l)
    if [ "\$n" = "\$last" ]; then same=\$((same + 1)); else same=0; last=\$n; fi
done
echo "notrace entries: \$last" >&2
echo "sys_enter on: \$(cat $T/instances/hapvm-*/events/raw_syscalls/sys_enter/enable)" >&2
for i in 1 2 3 4 5 6 7; do $B/sysloop mix $N; done
EOF2
# Median of seven timed passes.
med() { sed -n 's/^sysloop: elapsed \([0-9.]*\) s/\1/p' | sort -n | sed -n 4p; }
low=$("$hapvm" measure --low-overhead --warmup 0 --quiet 1000 --no-lines --json /tmp/p2-low.json \
      --quiet-summary -- bash /tmp/p2-low.sh 2> /tmp/p2-low.err | med)
u3=$(unt 4)
keep=$("$hapvm" measure --low-overhead --keep-syscalls --warmup 0 --quiet 1000 --no-lines \
       --json /tmp/p2-keep.json --quiet-summary -- bash /tmp/p2-low.sh 2> /tmp/p2-keep.err | med)
u4=$(unt 4)
{
    echo "n $N"
    echo "untraced $u1 $u3 $u4"
    echo "plain_ftrace $p overrun $plain_over"
    echo "hapvm_plain $h"
    echo "hapvm_low $low"
    echo "hapvm_low_keep $keep"
    grep -E 'notrace entries|sys_enter on' /tmp/p2-low.err | sed 's/^/low: /'
    grep -E 'notrace entries|sys_enter on' /tmp/p2-keep.err | sed 's/^/keep: /'
    for f in /tmp/p2-low.json /tmp/p2-keep.json; do
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d["method"]; print(sys.argv[1], "notrace_written", m.get("notrace_written"), "syscall_pauses", m.get("syscall_pauses"), "paused_s", m.get("syscalls_paused_s"), "complete", d["loss"]["complete"], "syscalls", len(d["syscalls"]))' "$f"
    done
} > "$out"
cat "$out"

#!/bin/bash
# P2, in-lab part: sysloop mix N (sched_yield + getppid + pipe round trip per
# round) untraced, under a plain function tracer (shell: instance, pid
# filter, function-fork), under hapvm in plain mode, and under hapvm's
# low-overhead mode once it has settled (run time of the workload itself).
# usage: p2-overhead-inside.sh HAPVM N OUTFILE
set -u
hapvm=$1 N=$2 out=$3
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
el() { sed -n 's/^sysloop: elapsed \([0-9.]*\) s/\1/p' | tail -n1; }

"$B/sysloop" mix "$N" > /dev/null # warm the page cache
u1=$("$B/sysloop" mix "$N" | el)
u2=$("$B/sysloop" mix "$N" | el)

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
$B/sysloop mix $N
EOF2
low=$("$hapvm" measure --low-overhead --warmup 0 --quiet 1000 --no-lines --json /tmp/p2-low.json \
      --quiet-summary -- bash /tmp/p2-low.sh 2> /tmp/p2-low.err | el)
{
    echo "n $N"
    echo "untraced $u1 $u2"
    echo "plain_ftrace $p overrun $plain_over"
    echo "hapvm_plain $h"
    echo "hapvm_low $low"
    grep 'notrace entries' /tmp/p2-low.err
    grep -E '"notrace_written"|"notrace_update_s"|"complete"' /tmp/p2-low.json
} > "$out"
cat "$out"

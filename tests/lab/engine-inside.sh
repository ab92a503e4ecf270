#!/bin/bash
# In-lab part of the engine test (tests/lab/enginetest judges on the build
# machine).  One workload, held on a fifo, traced at once by hapvm in plain
# mode, by hapvm in low-overhead mode and by a plain shell ftrace peer, with
# a busy non-target beside it.  Then loss, stale-instance and error paths.
#
# Sizes are kept small: the peer's text trace is formatted and copied under
# TCG (2000 pipe round trips made 2M lines and took minutes).
#
# usage: engine-inside.sh HAPVM OUTDIR
set -u
hapvm=$1 out=$2
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
mkdir -p "$out"
step() { echo "engine-inside: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

# --- 1. same workload, three tracers -------------------------------------
step "workload and peer"
mkfifo /tmp/go
cat > /tmp/workload.sh <<EOF2
read x < /tmp/go
$B/sysloop getppid 2000
$B/sysloop pipe 300
$B/sysloop files 100 /tmp
EOF2
bash /tmp/workload.sh > "$out/workload.out" 2>&1 &
W=$!
# Bursts, not a tight loop: a sched_yield spin beside three function tracers
# under TCG soft-locked the lab's CPU.
(while :; do "$B/sysloop" yield 2000 > /dev/null; sleep 0.05; done) &
NT=$!

C=$T/instances/peer-$$
mkdir "$C"
echo 65536 > "$C/buffer_size_kb"
echo 1 > "$C/options/function-fork"
echo $W > "$C/set_ftrace_pid"
echo function > "$C/current_tracer"
echo 1 > "$C/tracing_on"

"$hapvm" measure --pid $W --warmup 0 --quiet 1000 --no-lines --json "$out/plain.json" \
    > "$out/plain.out" 2> "$out/plain.err" &
HA=$!
"$hapvm" measure --pid $W --warmup 0 --quiet 1000 --no-lines --low-overhead --json "$out/low.json" \
    > "$out/low.out" 2> "$out/low.err" &
HB=$!
step "hapvm plain and low-overhead started"
for _ in $(seq 600); do
    n=$(cat $T/instances/hapvm-*/tracing_on 2>/dev/null | grep -c 1)
    [ "$n" -ge 2 ] && break
    sleep 0.2
done
echo "tracing instances on: $n" > "$out/start.log"
step "go ($n instances tracing)"
echo go > /tmp/go
wait $W
step "workload done"
wait $HA; echo $? > "$out/plain.rc"
wait $HB; echo $? > "$out/low.rc"
step "measurements done"
echo 0 > "$C/tracing_on"
cat "$C"/per_cpu/cpu*/stats > "$out/peer.stats"
cat "$C/trace" > "$out/peer.trace"
echo nop > "$C/current_tracer"
rmdir "$C"
kill $NT
wait $NT 2>/dev/null

step "peer trace saved"
# --- 2. loss is detected with a tiny buffer -------------------------------
"$hapvm" measure --buffer-kb 8 --warmup 0 --no-lines --json "$out/loss.json" \
    -- "$B/sysloop" pipe 5000 > "$out/loss.out" 2> "$out/loss.err"
echo $? > "$out/loss.rc"
"$hapvm" measure --buffer-kb 8 --warmup 0 --no-lines --accept-loss \
    -- "$B/sysloop" pipe 5000 > "$out/loss-accepted.out" 2> "$out/loss-accepted.err"
echo $? > "$out/loss-accepted.rc"

step "loss runs done"
# --- 3. a SIGKILLed hapvm leaves an instance; the next run removes it -----
"$hapvm" measure --no-lines -- sleep 600 > /dev/null 2>&1 &
K=$!
for _ in $(seq 300); do
    ls $T/instances | grep -q "^hapvm-$K-" && grep -q 1 $T/instances/hapvm-$K-*/tracing_on 2>/dev/null && break
    sleep 0.2
done
kill -KILL $K
wait $K 2>/dev/null
ls $T/instances > "$out/stale.before"
"$hapvm" measure --no-lines --warmup 0 --duration 1 -- true > "$out/stale.out" 2> "$out/stale.err"
echo $? > "$out/stale.rc"
ls $T/instances > "$out/stale.after"
pkill -KILL -x sleep

step "stale instance done"

# --- 3b. SIGINT ends a measurement cleanly, with a result ----------------
"$hapvm" measure --no-lines --warmup 0 --json "$out/sigint.json" -- sleep 600 > "$out/sigint.out" 2>&1 &
S=$!
for _ in $(seq 300); do
    grep -q 1 $T/instances/hapvm-$S-*/tracing_on 2>/dev/null && break
    sleep 0.2
done
sleep 2
kill -INT $S
wait $S
echo $? > "$out/sigint.rc"
ls $T/instances > "$out/sigint.after"
pkill -KILL -x sleep

# --- 3c. a cgroup v2 target ----------------------------------------------
mkdir -p /tmp/cg
mount -t cgroup2 none /tmp/cg 2>/dev/null || mountpoint -q /sys/fs/cgroup
CG=/tmp/cg/hapvm-test
mkdir -p "$CG"
mkfifo /tmp/go2
sh -c 'echo $$ > /tmp/cg/hapvm-test/cgroup.procs; read x < /tmp/go2; exec "$1" getppid 777' sh "$B/sysloop" &
CGW=$!
sleep 1
"$hapvm" measure --cgroup "$CG" --no-lines --warmup 0 --json "$out/cgroup.json" > "$out/cgroup.out" 2>&1 &
CGH=$!
for _ in $(seq 300); do
    grep -q 1 $T/instances/hapvm-$CGH-*/tracing_on 2>/dev/null && break
    sleep 0.2
done
echo go > /tmp/go2
wait $CGW
wait $CGH
echo $? > "$out/cgroup.rc"
rmdir "$CG"
step "sigint and cgroup done"
# --- 3d. low-overhead mode pauses system-call counting in steady state ---
# mix rounds until hapvm has switched sys_enter off in its instance, then a
# system call not made before (sysinfo): plain and low-overhead measure it.
mkfifo /tmp/go3
cat > /tmp/pause.sh <<EOF2
read x < /tmp/go3
for i in \$(seq 3000); do
    $B/sysloop mix 2000 > /dev/null
    [ -e /tmp/paused ] && break
done
$B/sysloop sysinfo 6 > /dev/null
EOF2
rm -f /tmp/paused
bash /tmp/pause.sh &
PW=$!
"$hapvm" measure --pid $PW --warmup 0 --quiet 1000 --no-lines --json "$out/pause-plain.json" \
    > "$out/pause-plain.out" 2>&1 &
PA=$!
"$hapvm" measure --pid $PW --warmup 0 --quiet 1000 --no-lines --low-overhead --json "$out/pause-low.json" \
    > "$out/pause-low.out" 2>&1 &
PB=$!
for _ in $(seq 600); do
    a=$(cat $T/instances/hapvm-$PA-*/tracing_on 2>/dev/null)
    b=$(cat $T/instances/hapvm-$PB-*/tracing_on 2>/dev/null)
    [ "$a" = 1 ] && [ "$b" = 1 ] && break
    sleep 0.2
done
echo go > /tmp/go3
for _ in $(seq 900); do
    [ "$(cat $T/instances/hapvm-$PB-*/events/raw_syscalls/sys_enter/enable 2>/dev/null)" = 0 ] && break
    sleep 0.2
done
{
    echo "low sys_enter: $(cat $T/instances/hapvm-$PB-*/events/raw_syscalls/sys_enter/enable)"
    echo "plain sys_enter: $(cat $T/instances/hapvm-$PA-*/events/raw_syscalls/sys_enter/enable)"
    echo "low notrace: $(wc -l < $T/instances/hapvm-$PB-*/set_ftrace_notrace)"
} > "$out/pause.state"
touch /tmp/paused
wait $PW
wait $PA; echo $? > "$out/pause-plain.rc"
wait $PB; echo $? > "$out/pause-low.rc"
step "low-overhead syscall pause done"

# --- 4. error paths ------------------------------------------------------
"$hapvm" measure --pid 999999 > /dev/null 2> "$out/err.gone"; echo $? >> "$out/err.gone"
setpriv --reuid=65534 --clear-groups "$hapvm" measure -- true > /dev/null 2> "$out/err.root"; echo $? >> "$out/err.root"
HAPVM_TRACEFS=/tmp "$hapvm" measure -- true > /dev/null 2> "$out/err.tracefs"; echo $? >> "$out/err.tracefs"
cat $T/current_tracer > "$out/global_tracer"
ls $T/instances > "$out/instances.end"
exit 0

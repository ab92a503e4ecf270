#!/bin/bash
# In-lab part of the Xen test (tests/lab/xentest judges on the build
# machine), in the Xen lab's dom0 (tests/lab/run --xen): two PV domUs, each
# with a disk on blkback and a vif on netback, run disk + network load at
# the same time; both are measured at once (one by name, one by domid), the
# first with xentrace (its raw stream saved for xenalyze) and threaded NAPI
# on its vif; then a measurement that sees its domain destroyed; then the
# error paths.
#
# usage: xen-inside.sh HAPVM OUTDIR DEBUGINFO
#   HAPVM_XEN_WINDOW: measurement seconds (default 40)
set -u
hapvm=$1 out=$2 dbg=$3
win=${HAPVM_XEN_WINDOW:-40}
here=$(cd "$(dirname "$0")" && pwd)
domu=$here/xen-domu
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
lines=(--debuginfo "$dbg" --index-cache /var/cache/hapvm-lab/index)
mkdir -p "$out"
step() { echo "xen-inside: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
# Before the lab hid XSAVE/AVX from its CPU, programs in this PV dom0 died
# at start of a fault no real machine gives (docs/lab.md).  A run of hapvm
# killed by a signal (exit >= 126; hapvm's own codes are below 16) is still
# run again, up to 3 runs, so the other checks go on; the retries go into
# NAME.retries and tests/lab/xentest fails on them.
hapvm_retry() {  # NAME ARGS...: hapvm measure ARGS > NAME.out 2> NAME.err; NAME.rc
    local name=$1 rc try; shift
    for try in 0 1 2; do
        "$hapvm" measure "$@" > "$out/$name.out" 2> "$out/$name.err"
        rc=$?
        [ $rc -lt 126 ] && break
        echo "$try: exit $rc: $(tail -c 300 "$out/$name.err")" >> "$out/$name.retries"
    done
    echo $rc > "$out/$name.rc"
}

# The domUs' load outlives everything measured while they run.
load_s=$((win + 400))
"$B/blknet" echo 7777 $((load_s + 200)) > "$out/echo.txt" 2>&1 &
step "domU start"
for d in hapvm-xa hapvm-xb; do
    "$domu" start "$d" --mem 200 --disk 64 --net --timeout $((load_s + 200)) -- \
        "$B/blknet" run "$load_s" /dev/xvda 10.0.3.1 7777 >> "$out/domu-start.txt" 2>&1
    echo $? >> "$out/domu-start.rc"
done
for d in hapvm-xa hapvm-xb; do
    "$domu" alive "$d" --timeout 300 >> "$out/domu-start.txt" 2>&1
    echo $? >> "$out/domu-alive.rc"
done
ida=$(xl domid hapvm-xa 2>/dev/null) idb=$(xl domid hapvm-xb 2>/dev/null)
echo "$ida $idb" > "$out/domids.txt"
step "domUs alive: hapvm-xa=$ida hapvm-xb=$idb"
# Threaded NAPI on xa's vif only: its netback polling becomes a kthread.
echo 1 > "/sys/class/net/vif$ida.0/threaded"
echo $? > "$out/napi.rc"
sleep 3
ps -eo pid,ppid,stat,comm > "$out/ps.txt"
xenstore-ls -f /local/domain/0/backend > "$out/xenstore.txt" 2>&1

# --- both at once ----------------------------------------------------------
step "measuring both"
hapvm_retry xa hapvm-xa --duration "$win" --warmup 10 "${lines[@]}" --xentrace-save "$out/xa.xentrace" \
    --json "$out/xa.json" &
pa=$!
# Xen's trace buffers are xa's (one reader at a time: xentargettest checks
# the lock); xb is measured without hypercall counts.
hapvm_retry xb --xen "$idb" --duration "$win" --warmup 10 "${lines[@]}" --no-xentrace --json "$out/xb.json" &
pb=$!
wait $pa $pb
step "both measured"
pgrep -x xentrace > "$out/xentrace-left.txt"

# --- a domain destroyed while measured --------------------------------------
hapvm_retry gone hapvm-xb --duration 600 --warmup 2 --no-lines --no-xentrace --json "$out/gone.json" &
pg=$!
for _ in $(seq 200); do
    grep -qs 1 $T/instances/hapvm-*/tracing_on && break
    sleep 0.3
done
sleep 5
t0=$EPOCHREALTIME
xl destroy hapvm-xb
wait $pg
awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$out/gone.secs"
step "destroyed domain: measurement ended"

# --- error paths -------------------------------------------------------------
hapvm_retry err-nodomain no-such-domain --duration 5
hapvm_retry err-dom0 0 --duration 5

"$domu" destroy hapvm-xa
"$domu" destroy hapvm-xb 2>/dev/null
ls $T/instances > "$out/instances-after.txt"
step "done"

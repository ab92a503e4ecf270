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
"$hapvm" measure hapvm-xa --duration "$win" --warmup 10 "${lines[@]}" --xentrace-save "$out/xa.xentrace" \
    --json "$out/xa.json" > "$out/xa.out" 2> "$out/xa.err" &
pa=$!
# xa's measurement holds Xen's trace buffers first.
for _ in $(seq 100); do pgrep -x xentrace > /dev/null && break; sleep 0.3; done
"$hapvm" measure --xen "$idb" --duration "$win" --warmup 10 "${lines[@]}" \
    --json "$out/xb.json" > "$out/xb.out" 2> "$out/xb.err" &
pb=$!
wait $pa
echo $? > "$out/xa.rc"
wait $pb
echo $? > "$out/xb.rc"
step "both measured"
pgrep -x xentrace > "$out/xentrace-left.txt"

# --- a domain destroyed while measured --------------------------------------
"$hapvm" measure hapvm-xb --duration 600 --warmup 2 --no-lines --no-xentrace --json "$out/gone.json" \
    > "$out/gone.out" 2> "$out/gone.err" &
pg=$!
for _ in $(seq 200); do
    grep -qs 1 $T/instances/hapvm-*/tracing_on && break
    sleep 0.3
done
sleep 5
t0=$EPOCHREALTIME
xl destroy hapvm-xb
wait $pg
echo $? > "$out/gone.rc"
awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$out/gone.secs"
step "destroyed domain: measurement ended"

# --- error paths -------------------------------------------------------------
"$hapvm" measure no-such-domain --duration 5 > /dev/null 2> "$out/err-nodomain.err"
echo $? > "$out/err-nodomain.rc"
"$hapvm" measure 0 --duration 5 > /dev/null 2> "$out/err-dom0.err"
echo $? > "$out/err-dom0.rc"

"$domu" destroy hapvm-xa
"$domu" destroy hapvm-xb 2>/dev/null
ls $T/instances > "$out/instances-after.txt"
step "done"

#!/bin/bash
# tests/lab/xen-smoke-inside.sh OUTDIR   (inside the Xen lab: tests/lab/run --xen)
#
# Two PV domUs (hapvm-xa, hapvm-xb), each with a blkback disk and a netback
# vif, run tests/lab/workloads/blknet (O_DIRECT disk I/O + UDP to an echo
# server in dom0), both starting when dom0 starts the echo server, once both
# guests are up and their backends connected, and stopping when dom0 stops
# it (after its checks; at most $HAPVM_XEN_SMOKE_S s, default 300).  While
# they run, records into OUTDIR (a writable share): xl list, ps, the backend
# kthreads' /proc comm, xenstore's backend tree and the domains' names,
# threaded NAPI's kthreads on one vif, a 5 s xentrace (x.bin, parsed on the
# build machine).  Then checks the function tracer in a private tracefs
# instance.  Exits non-zero when a step fails (the summary says which).
set -u
out=${1:?usage: xen-smoke-inside.sh OUTDIR}
mkdir -p "$out" || exit 1
secs=${HAPVM_XEN_SMOKE_S:-300}
domu=${HAPVM_LAB_XEN_DOMU:-$(dirname "$0")/xen-domu}
bin=${HAPVM_LAB_BIN:?run this inside the lab}
fails=()
note() { echo "xen-smoke: $*"; echo "$*" >> "$out/summary.txt"; }
bad() { note "FAIL: $*"; fails+=("$*"); }
up() { cut -d' ' -f1 /proc/uptime; }
: > "$out/summary.txt"
note "start at dom0 uptime $(up)"

# What a process spawn costs in this PV dom0 (page-table updates are
# hypercalls, emulated by TCG): it explains the slow hotplug scripts.
s0=$EPOCHREALTIME
for _ in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done
note "dom0: 10 spawns of /bin/true took $(awk -v a="$s0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"

t0=$EPOCHREALTIME
for d in hapvm-xa hapvm-xb; do
    "$domu" start "$d" --mem 200 --disk 64 --net --timeout 600 -- \
        "$bin/blknet" run "$secs" /dev/xvda 10.0.3.1 7777 >> "$out/domu-start.txt" 2>&1 ||
        bad "xen-domu start $d (exit $?)"
done
cat "$out/domu-start.txt"
if [ ${#fails[@]} -gt 0 ]; then
    for d in hapvm-xa hapvm-xb; do "$domu" destroy "$d"; done
    tail -n 30 /var/log/xen/xen-hotplug.log /var/log/xen/xl-hapvm-x*.log 2>/dev/null
    note "${#fails[@]} failure(s)"
    exit 1
fi
for d in hapvm-xa hapvm-xb; do
    "$domu" alive "$d" --timeout 200 | tee -a "$out/domu-start.txt" || bad "$d did not come alive"
done
ida=$(xl domid hapvm-xa 2>/dev/null) idb=$(xl domid hapvm-xb 2>/dev/null)
note "domids: hapvm-xa=$ida hapvm-xb=$idb; both alive $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the first xl create"
[ ${#fails[@]} = 0 ] || { note "${#fails[@]} failure(s)"; for d in hapvm-xa hapvm-xb; do "$domu" destroy "$d"; done; exit 1; }
# The guests' workloads wait for this server: their load starts now, together.
"$bin/blknet" echo 7777 $((secs + 200)) > "$out/echo.txt" 2>&1 &
echo_pid=$!
tgo=$EPOCHREALTIME
sleep 3


{
    echo "== xl list"; xl list
    echo "== ps -eo pid,ppid,stat,comm"; ps -eo pid,ppid,stat,comm
} > "$out/ps.txt" 2>&1
# The backends' kthreads: blkback <domid>.<dev>-<ring>, netback vif<domid>.<h>-q<k>-*.
# Shell builtins only: a process spawn costs about 0.4 s in this dom0.
scan() {
    local re=$1 p c st rest
    for p in /proc/[0-9]*; do
        read -r c < "$p/comm" 2>/dev/null || continue
        [[ "$c" =~ $re ]] || continue
        read -r st < "$p/stat" 2>/dev/null || continue
        rest=${st##*) }; set -- $rest
        echo "${p#/proc/} ppid=$2 comm=$c"
    done
}
# has FILE LINE-RE: a line of FILE matches (builtins; a grep spawn once
# failed on a line that was there, in a dom0 starved by a loaded host).
has() {
    local l
    while IFS= read -r l; do [[ "$l" =~ $2 ]] && return 0; done < "$1"
    return 1
}
scan '^([0-9]+\.xvd|vif|napi/|xenbus|xenwatch$|xenstored$|xenconsoled$)' > "$out/comm.txt"
cat "$out/comm.txt"
for id in $ida $idb; do
    has "$out/comm.txt" "ppid=2 comm=$id\.xvda-[0-9]+\$" || bad "no blkback kthread $id.xvda-<ring>"
    has "$out/comm.txt" "ppid=2 comm=vif$id\.0-q0-guest-rx\$" || bad "no netback kthread vif$id.0-q0-guest-rx"
    has "$out/comm.txt" "ppid=2 comm=vif$id\.0-q0-dealloc\$" || bad "no netback kthread vif$id.0-q0-dealloc"
done
{
    echo "== xenstore-ls -f /local/domain/0/backend"; xenstore-ls -f /local/domain/0/backend
} > "$out/xenstore.txt" 2>&1
# Up to three tries: in this dom0 a process has crashed now and then
# (xenstore-read once died of SIGSEGV; see docs/lab.md), retries are counted.
for d in hapvm-xa:$ida hapvm-xb:$idb; do
    for try in 1 2 3; do
        n=$(xenstore-read "/local/domain/${d#*:}/name" 2>>"$out/xenstore.txt") && break
        note "retry: xenstore-read /local/domain/${d#*:}/name failed (exit $?), try $try"
    done
    echo "== xenstore-read /local/domain/${d#*:}/name: $n" >> "$out/xenstore.txt"
    [ "$n" = "${d%%:*}" ] || bad "xenstore-read /local/domain/${d#*:}/name gave '$n', not ${d%%:*}"
done
for id in $ida $idb; do
    has "$out/xenstore.txt" "^/local/domain/0/backend/vbd/$id/51712/state = \"4\"\$" || bad "vbd of domain $id not connected (state 4)"
    has "$out/xenstore.txt" "^/local/domain/0/backend/vif/$id/0/state = \"4\"\$" || bad "vif of domain $id not connected (state 4)"
done

# Threaded NAPI on the first domain's vif.
if [ -n "$ida" ] && echo 1 > "/sys/class/net/vif$ida.0/threaded"; then
    sleep 1
    scan '^napi/' > "$out/napi.txt"
    cat "$out/napi.txt"
    has "$out/napi.txt" "comm=napi/vif$ida\.0-[0-9]+\$" || bad "no napi/vif$ida.0-* kthread after threaded=1"
else
    bad "cannot enable threaded NAPI on vif$ida.0"
fi
# 5 s of xentrace, classes SCHED 0x2f000 | HVM 0x8f000 | MEM 0x10f000 | PV 0x20f000.
if xentrace -D -e 0x003af000 -S 256 -T 5 /tmp/x.bin > "$out/xentrace.txt" 2>&1; then
    cp /tmp/x.bin "$out/x.bin" || bad "cannot copy x.bin"
    note "xentrace: $(stat -c %s /tmp/x.bin) bytes, done $(awk -v a="$tgo" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the load started"
else
    bad "xentrace exit $? ($(tail -n 2 "$out/xentrace.txt" | tr '\n' ' '))"
fi
note "snapshots done $(awk -v a="$tgo" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the load started; stopping it"

# Ends the load: the guests' blknet stops when its echoes stop.
kill "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null
for d in hapvm-xa hapvm-xb; do
    "$domu" wait "$d" > "$out/$d.console.txt" 2>&1
    rc=$?
    cat "$out/$d.console.txt"
    [ "$rc" = 0 ] || bad "$d workload exit $rc"
done
note "both domains done $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the first xl create"
cat "$out/echo.txt"

# The function tracer in dom0, in a private instance.
I=/sys/kernel/tracing/instances/hapvm-xen-smoke
if mkdir "$I"; then
    if echo function > "$I/current_tracer"; then
        echo 1 > "$I/tracing_on"; sleep 1; echo 0 > "$I/tracing_on"
        n=$(head -c 2000000 "$I/trace" | grep -vc '^#')
        note "function tracer in dom0: ok ($n records in 1 s)"
        echo nop > "$I/current_tracer"
    else
        bad "echo function > current_tracer failed"
    fi
    rmdir "$I" || bad "rmdir $I"
else
    bad "cannot create a tracefs instance"
fi

note "end at dom0 uptime $(up)"
if [ ${#fails[@]} -gt 0 ]; then
    note "${#fails[@]} failure(s)"
    exit 1
fi
note "ok"

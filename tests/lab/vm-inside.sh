#!/bin/bash
# In-lab part of the VM test (tests/lab/vmtest judges on the build machine):
# a 2-vCPU L2 guest under KVM with virtio-net on vhost-net and a virtio-blk
# disk runs the network + disk workload and is measured by --qemu-pid; the
# same workload then runs as a plain process in its own cgroup and is
# measured the same way; then a libvirt domain by name; then error paths.
#
# usage: vm-inside.sh HAPVM OUTDIR DEBUGINFO   (HAPVM_VM_WINDOW: seconds)
set -u
hapvm=$1 out=$2 dbg=$3
win=${HAPVM_VM_WINDOW:-40}
here=$(cd "$(dirname "$0")" && pwd)
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
lines=(--debuginfo "$dbg" --index-cache /var/cache/hapvm-lab/index)
mkdir -p "$out"
step() { echo "vm-inside: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

# --- 1. the VM, by QEMU pid ----------------------------------------------
step "L2 boot"
"$here/l2" --smp 2 --mem 256 --net --blk 16 --name hapvm-vm --pidfile /tmp/vm.pid \
    --file "$B/sysloop:sysloop" --timeout 600 "$here/l2-vmwork.sh" $((win + 25)) > "$out/l2.out" 2>&1 &
L=$!
for _ in $(seq 600); do
    grep -q "hapvm-l2: alive" "$out/l2.out" 2>/dev/null && break
    kill -0 $L 2>/dev/null || break
    sleep 0.5
done
Q=$(cat /tmp/vm.pid 2>/dev/null)
step "L2 alive, QEMU pid ${Q:-none}"
ps -eLo pid,tid,ppid,comm > "$out/ps.txt"
for t in /proc/$Q/task/*; do echo "${t##*/} $(cat "$t/comm")"; done > "$out/qemu-threads.txt" 2>/dev/null
"$hapvm" measure --qemu-pid "$Q" --duration "$win" --warmup 5 "${lines[@]}" --json "$out/vm.json" \
    > "$out/vm.out" 2> "$out/vm.err"
echo $? > "$out/vm.rc"
step "VM measured"
wait $L
echo $? > "$out/l2.rc"
step "L2 done"

# --- 2. the same workload as a process in its own cgroup ------------------
ip link set lo up
mkdir -p /tmp/cg
mount -t cgroup2 none /tmp/cg 2>/dev/null
mkdir -p /tmp/cg/hapvm-proc
truncate -s 16M /tmp/disk.img
DISK=$(losetup -f --show /tmp/disk.img)
mkfifo /tmp/go
sh -c 'echo $$ > /tmp/cg/hapvm-proc/cgroup.procs; read x < /tmp/go; exec "$@"' sh \
    "$here/l2-vmwork.sh" $((win + 15)) 127.0.0.1 "$DISK" "$B/sysloop" > "$out/proc-work.out" 2>&1 &
W=$!
"$hapvm" measure --cgroup /tmp/cg/hapvm-proc --duration "$win" --warmup 5 "${lines[@]}" \
    --json "$out/proc.json" > "$out/proc.out" 2> "$out/proc.err" &
H=$!
for _ in $(seq 300); do
    [ -n "$(ls -d $T/instances/hapvm-* 2>/dev/null)" ] && grep -q 1 $T/instances/hapvm-*/tracing_on 2>/dev/null && break
    sleep 0.2
done
echo go > /tmp/go
wait $H
echo $? > "$out/proc.rc"
wait $W
losetup -d "$DISK"
step "process measured"
"$hapvm" report "$out/vm.json" "$out/proc.json" > "$out/table.txt" 2>&1
echo $? > "$out/table.rc"

# --- 3. a libvirt KVM domain, measured by name ------------------------------
LV=$here/libvirt-domain
if "$LV" up > "$out/lv-up.log" 2>&1; then
    "$LV" start hapvm-demo --smp 2 --net --blk 16 --file "$B/sysloop:sysloop" -- \
        "$here/l2-vmwork.sh" 45 > "$out/lv-start.out" 2> "$out/lv-start.err"
    echo $? > "$out/lv-start.rc"
    "$hapvm" list > "$out/list.out" 2>&1
    echo $? > "$out/list.rc"
    "$hapvm" measure hapvm-demo --duration 20 --warmup 3 --no-lines --json "$out/lv.json" \
        > "$out/lv.out" 2> "$out/lv.err"
    echo $? > "$out/lv.rc"
    "$hapvm" measure no-such-domain > /dev/null 2> "$out/err-nodomain.err"
    echo $? > "$out/err-nodomain.rc"
    "$LV" wait hapvm-demo 300 > "$out/lv-wait.log" 2>&1
    # Defined but shut off now.
    "$hapvm" measure hapvm-demo > /dev/null 2> "$out/err-notrunning.err"
    echo $? > "$out/err-notrunning.rc"
    "$LV" down > "$out/lv-down.log" 2>&1
fi
step "libvirt done"

# --- 4. error paths: clear message, distinct status, nothing left in tracefs
sleep 30 &
S=$!
"$hapvm" measure --qemu-pid $S --duration 1 > /dev/null 2> "$out/err-notqemu.err"
echo $? > "$out/err-notqemu.rc"
kill $S
"$hapvm" measure --qemu-pid 999999999 --duration 1 > /dev/null 2> "$out/err-gone.err"
echo $? > "$out/err-gone.rc"
"$hapvm" measure -c "qemu:///system?socket=/nonexistent/sock" somedomain > /dev/null 2> "$out/err-libvirt.err"
echo $? > "$out/err-libvirt.rc"
ls $T/instances/ > "$out/instances-after.txt"
step "done"

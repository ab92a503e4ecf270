#!/bin/sh
# The VM-vs-process workload: network (ping PEER), disk (DISK, page cache
# dropped so reads reach the device), CPUID instructions (in a KVM guest each
# one is an exit) and system calls, in rounds for about SECS seconds.
#   l2-vmwork.sh SECS [PEER] [DISK] [SYSLOOP]
# Defaults fit the L2 guest: 10.0.2.1 (the L1 side of the tap), /dev/vda,
# /sysloop.  Prints the rounds done and the CPUID instructions executed.
secs=${1:-30} peer=${2:-10.0.2.1} disk=${3:-/dev/vda} sysloop=${4:-/sysloop}
# The lab host's root has no ping of its own; busybox has one.
command -v ping > /dev/null || ping() { busybox ping "$@"; }
end=$(( $(cut -d. -f1 /proc/uptime) + secs ))
rounds=0
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
    ping -c 3 -i 0.2 -W 2 "$peer" > /dev/null 2>&1 || echo "vmwork: ping $peer failed"
    dd if=/dev/urandom of="$disk" bs=64k count=16 conv=notrunc 2> /dev/null && sync
    echo 3 > /proc/sys/vm/drop_caches
    dd if="$disk" of=/dev/null bs=64k count=16 2> /dev/null || echo "vmwork: disk read failed"
    "$sysloop" cpuid 2000 > /dev/null
    "$sysloop" getppid 1000 > /dev/null
    rounds=$((rounds + 1))
    # In the guest this reaches the serial port: port I/O exits to QEMU.
    echo "vmwork: round $rounds"
done
echo "vmwork: rounds $rounds cpuid $((rounds * 2000))"

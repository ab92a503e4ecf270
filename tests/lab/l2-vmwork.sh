#!/bin/sh
# L2 workload for VM measurements: network (to the L1 side of the tap), disk
# (virtio-blk, caches dropped so reads reach the device) and system calls,
# in rounds for about $1 seconds (default 30).
secs=${1:-30}
end=$(( $(cut -d. -f1 /proc/uptime) + secs ))
rounds=0
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
    ping -c 3 -i 0.2 -W 2 10.0.2.1 > /dev/null 2>&1 || echo "l2-vmwork: ping failed"
    dd if=/dev/urandom of=/dev/vda bs=64k count=16 2> /dev/null && sync
    echo 3 > /proc/sys/vm/drop_caches
    dd if=/dev/vda of=/dev/null bs=64k count=16 2> /dev/null || echo "l2-vmwork: disk read failed"
    [ -x /sysloop ] && /sysloop getppid 1000 > /dev/null
    rounds=$((rounds + 1))
done
echo "l2-vmwork: $rounds rounds in $secs s"

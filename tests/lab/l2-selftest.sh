#!/bin/sh
# L2 workload of the lab self-test: check the virtio devices, use the vhost-net
# path and the disk, then make some system calls.
ok=0
if [ -d /sys/class/net/eth0 ]; then
    echo "l2-selftest: eth0 present"
    if ping -c 3 -W 2 10.0.2.1 > /tmp/ping.out 2>&1; then
        echo "l2-selftest: ping ok"
    else
        echo "l2-selftest: ping FAILED"; cat /tmp/ping.out; ok=1
    fi
else
    echo "l2-selftest: eth0 MISSING"; ok=1
fi
if [ -b /dev/vda ]; then
    if dd if=/dev/zero of=/dev/vda bs=64k count=64 2>/dev/null && sync &&
       dd if=/dev/vda of=/dev/null bs=64k count=64 2>/dev/null; then
        echo "l2-selftest: vda ok"
    else
        echo "l2-selftest: vda I/O FAILED"; ok=1
    fi
else
    echo "l2-selftest: vda MISSING"; ok=1
fi
[ -x /sysloop ] && /sysloop getppid 1000
exit $ok

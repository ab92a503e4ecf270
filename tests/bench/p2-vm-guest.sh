#!/bin/sh
# P2-VM, guest side: a warm pass, a pause while the host's tracer settles
# (low-overhead mode moves the functions seen to notrace), then the timed
# pass: CPUID exits and O_DIRECT virtio-blk I/O, timed by the guest.
#   p2-vm-guest.sh CPUID_N DISK_N SETTLE_S
/sysloop cpuid "$1" > /dev/null
/sysloop disk "$2" /dev/vda > /dev/null
sleep "$3"
c=$(/sysloop cpuid "$1" | sed -n 's/^sysloop: elapsed //p')
d=$(/sysloop disk "$2" /dev/vda | sed -n 's/^sysloop: elapsed //p')
echo "p2vm: cpuid $c disk $d"

#!/bin/bash
# Record the KVM entry-point fixture (tests/data/kvm/trace-<name>) inside the
# lab host:  tests/lab/run --smp 1 tests/lab/record-kvm-fixture.sh tests/data/kvm/trace-l2
# The kvm tracepoints hapvm counts (kvm_exit, kvm_hypercall, kvm_pio,
# kvm_mmio, kvm_msr, kvm_userspace_exit) during a 2-vCPU L2 guest's boot and
# a short network + disk + CPUID workload; saves the event formats, the
# per-CPU raw sub-buffers, the kernel's own text rendering and the stats.
set -eu
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
T=/sys/kernel/tracing
I=$T/instances/hapvm-kvmfix-$$
events="ftrace/function kvm/kvm_exit kvm/kvm_hypercall kvm/kvm_pio kvm/kvm_mmio kvm/kvm_msr kvm/kvm_userspace_exit"
mkdir -p "$out"
mkdir "$I"
trap 'echo 0 > "$I/tracing_on"; rmdir "$I"' EXIT
echo 0 > "$I/tracing_on"
echo 8192 > "$I/buffer_size_kb"
for e in $events; do
    [ "$e" = ftrace/function ] || echo 1 > "$I/events/$e/enable"
done
echo 1 > "$I/tracing_on"
"$here/l2" --smp 2 --net --blk 4 --name kvmfix --file "$HAPVM_LAB_BIN/sysloop:sysloop" \
    "$here/l2-vmwork.sh" 3 > "$out/l2.out" 2>&1
echo 0 > "$I/tracing_on"
for e in $events; do
    mkdir -p "$out/events/$e"
    cp "$T/events/$e/format" "$out/events/$e/format"
done
cp $T/events/header_page "$out/header_page"
gzip -9 < "$I/trace" > "$out/trace.txt.gz"
cat "$I"/per_cpu/cpu*/stats > "$out/stats"
for c in "$I"/per_cpu/cpu*; do
    n=${c##*/cpu}
    "$here/dump-raw" "$c/trace_pipe_raw" "$out/cpu$n.raw"
done
gzip -9 "$out"/cpu*.raw
ls -la "$out"

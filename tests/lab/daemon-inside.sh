#!/bin/bash
# In-lab part of the daemon test (tests/lab/daemontest judges on the build
# machine): the libvirt hook installed in qemu.d before libvirtd starts,
# hapvmd running with the real hapvm, two KVM domains started by libvirt at
# once (one with vhost-net + disk and labels, one CPU-only), measured over
# their lifecycle, stored, exported; then domain starts with hapvmd down and
# with a hung hapvmd.
#
# usage: daemon-inside.sh HAPVM HAPVMD HOOK OUTDIR
set -u
hapvm=$1 hapvmd=$2 hook=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
B=$HAPVM_LAB_BIN
T=/sys/kernel/tracing
LV=$here/libvirt-domain
R=/var/lib/hapvm-lab
mkdir -p "$out"
step() { echo "daemon-inside: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
[ "${HAPVM_LAB:-}" = 1 ] || { echo "daemon-inside: run inside the lab (tests/lab/run)" >&2; exit 2; }

# The lab has no syslog: catch what the hook logs (it writes to /dev/log).
cat > /tmp/syslog.py <<'PY'
import os, socket, sys
try:
    os.unlink("/dev/log")
except OSError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "a") as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace").rstrip("\n") + "\n")
        f.flush()
PY
python3 /tmp/syslog.py "$out/syslog.txt" &
SL=$!
# The hook must be in place before libvirtd starts (libvirt reads qemu.d once).
# 00-record: which hook calls libvirt makes, for the judge.
mkdir -p /etc/libvirt/hooks/qemu.d /etc/hapvm
cp "$hook" /etc/libvirt/hooks/qemu.d/hapvm && chmod 755 /etc/libvirt/hooks/qemu.d/hapvm
printf '#!/bin/sh\necho "$*" >> %s/hook-calls.txt\ncat > /dev/null\n' "$out" > /etc/libvirt/hooks/qemu.d/00-record
chmod 755 /etc/libvirt/hooks/qemu.d/00-record
cat > /etc/hapvm/hapvmd.conf <<EOF
[daemon]
results=$R
hapvm=$hapvm
# Only the hook starts measurements here (the pick-up is covered by tests/hapvmdtest.py).
rescan=0
[measure]
# The window must cover the workload, not end in a quiet stretch of the
# boot (about 2 minutes for a traced domain in this one-vCPU lab).
warmup=150
quiet=30
max_duration=420
lines=false
[metrics]
textfile=$out/metrics/hapvm.prom
http=127.0.0.1:9477
host=lab
EOF
"$hapvmd" > "$out/hapvmd.log" 2>&1 &
D=$!
for _ in $(seq 100); do [ -S /run/hapvm/hapvmd.sock ] && break; sleep 0.1; done
step "hapvmd up (pid $D)"

"$LV" up > "$out/lv-up.log" 2>&1 || { step "libvirtd failed"; cat "$out/lv-up.log"; kill $D; exit 1; }
step "libvirtd up"
cat > /tmp/meta-net.xml <<'EOF'
<hapvm:hapvm xmlns:hapvm="http://hapvm.org/xmlns/libvirt/1"><hapvm:label name="image" value="l2-initrd"/><hapvm:label name="workload" value="net-disk"/></hapvm:hapvm>
EOF
cat > /tmp/cpu-work.sh <<'EOF'
#!/bin/sh
# CPU only: CPUID exits and system calls, no devices.
end=$(( $(cut -d. -f1 /proc/uptime) + $1 ))
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
    /sysloop cpuid 2000 > /dev/null; /sysloop getppid 1000 > /dev/null
done
echo "cpuwork: done"
EOF
# Both at once: their windows overlap.  virsh start is slow while the lab
# traces a domain.
export HAPVM_VIRSH_TIMEOUT=300
"$LV" start hapvm-net --net --blk 16 --metadata /tmp/meta-net.xml --file "$B/sysloop:sysloop" \
    --timeout 400 -- "$here/l2-vmwork.sh" 200 > "$out/net-start.out" 2> "$out/net-start.err" &
NS=$!
sleep 2
"$LV" start hapvm-cpu --file "$B/sysloop:sysloop" --timeout 400 -- /tmp/cpu-work.sh 150 \
    > "$out/cpu-start.out" 2> "$out/cpu-start.err"
echo $? > "$out/cpu-start.rc"
wait $NS
echo $? > "$out/net-start.rc"
step "domains started"
sleep 10
"$hapvm" status > "$out/status.out" 2>&1
echo $? > "$out/status.rc"
"$hapvm" status --json > "$out/status.json" 2>&1
for n in net cpu; do
    q=$(cat /run/libvirt/qemu/hapvm-$n.pid)
    echo "$q" > "$out/$n-qemu.pid"
    for t in /proc/$q/task/[0-9]*; do
        [ -e "$t" ] && echo "${t##*/} $(cat "$t/comm")"
    done > "$out/$n-threads.txt"
done
# vhost kernel threads (6.1) belong to their QEMU by name.
ps -eo pid,comm | awk '$2 ~ /^vhost-/' > "$out/vhost-threads.txt"
"$LV" wait hapvm-net 600 > "$out/net-wait.log" 2>&1
"$LV" wait hapvm-cpu 600 > "$out/cpu-wait.log" 2>&1
step "domains ended"
# The measurements end by steady state or with their domain; then stored.
for _ in $(seq 240); do
    [ "$(find $R -name '*.json' -not -path '*/.work/*' | wc -l)" -ge 2 ] &&
        ! "$hapvm" status | grep -q "hapvm-" && break
    sleep 0.5
done
"$hapvm" results --dir $R > "$out/results.out" 2>&1
for f in $(find $R -name '*.json' -not -path '*/.work/*'); do
    n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["collector"]["domain"])' "$f")
    cp "$f" "$out/result-$n.json"
done
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9477/metrics").read().decode(), end="")' \
    > "$out/metrics-http.txt" 2>&1
step "results collected"

# --- hapvmd down, then hung: domains still start, promptly ---------------
kill -TERM $D; wait $D; echo $? > "$out/hapvmd.rc"
start_timed() {  # NAME TAG
    local t0=$EPOCHREALTIME
    "$LV" start "$1" --file "$B/sysloop:sysloop" -- /tmp/cpu-work.sh 1 > "$out/$2-start.out" 2> "$out/$2-start.err"
    echo $? > "$out/$2-start.rc"
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$out/$2-start.s"
    "$LV" wait "$1" 120 > /dev/null 2>&1
}
start_timed hapvm-down down
cat > /tmp/hung.py <<'EOF'
# A hung daemon: accepts, never reads or replies.
import os, socket, sys
try:
    os.unlink(sys.argv[1])
except OSError:
    pass
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])
EOF
python3 /tmp/hung.py /run/hapvm/hapvmd.sock > /dev/null 2>&1 &
H=$!
sleep 1
start_timed hapvm-hung hung
kill $H
"$LV" down > "$out/lv-down.log" 2>&1
kill $SL
ls $T/instances/ > "$out/instances-after.txt"
step "done"

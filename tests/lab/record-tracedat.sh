#!/bin/bash
# Record the trace.dat fixtures of tests/data/tracedat/ with trace-cmd in the lab
# host, and their expected values with `trace-cmd report` on this machine:
#
#   tests/lab/record-tracedat.sh [OUTDIR]        (as root; default tests/data/tracedat)
#   tests/lab/record-tracedat.sh --expect [OUTDIR]   (expected.txt again, no recording)
#
# Fixtures (trace-cmd 3.1.6, the Debian 6.1 lab kernel, function tracer):
#   fork-v7zstd      default format: v7, zstd;  -p function -c -F sysloop fork 50
#   fork-v6          --file-version 6, -e raw_syscalls:sys_enter; sysloop fork 50
#   getppid-v7none   --compression none (v7, no compression); sysloop getppid 200
# Each dir gets trace.dat (gzipped when that is smaller: trace.dat.gz), the
# program's stdout, and expected.txt made from `trace-cmd report -O offset`;
# OUTDIR/kallsyms is what trace-cmd saved in all three.
#
# /proc/kallsyms (4.4 MB) would dominate the fixtures, so it is replaced, for the
# recording only, by a bind-mounted subset: every 32nd text symbol, names
# unique.  trace-cmd then prints each function as SYMBOL+0xOFF with that
# subset, which gives the exact ip back (address of SYMBOL + OFF).
set -eu

if [ "${1:-}" = --inside ]; then
    # In the lab: record into $2.
    tmp=$2
    bin=$HAPVM_LAB_BIN/sysloop
    awk 'NF >= 3 && ($2 == "t" || $2 == "T") && !seen[$3]++ { if (n++ % 32 == 0) print }' \
        /proc/kallsyms > "$tmp/kallsyms"
    mount --bind "$tmp/kallsyms" /proc/kallsyms
    trap 'umount /proc/kallsyms' EXIT
    cd "$tmp"
    mkdir -p fork-v7zstd fork-v6 getppid-v7none
    trace-cmd record -q -o fork-v7zstd/trace.dat -p function -c \
        -F "$bin" fork 50 > fork-v7zstd/stdout
    trace-cmd record -q -o fork-v6/trace.dat --file-version 6 -p function -c \
        -e raw_syscalls:sys_enter -F "$bin" fork 50 > fork-v6/stdout
    trace-cmd record -q -o getppid-v7none/trace.dat --compression none -p function -c \
        -F "$bin" getppid 200 > getppid-v7none/stdout
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fixtures="fork-v7zstd fork-v6 getppid-v7none"

# expected.txt of $1/$2 from its trace.dat ($3) and $1/kallsyms.
expect() {
    local out=$1 d=$2 dat=$3
    trace-cmd report -O offset -i "$dat" > "$dat.report"
    clock=$(trace-cmd dump --clock -i "$dat" | sed -n 's/.*\[\(.*\)\].*/\1/p' | head -1)
    python3 - "$out/kallsyms" "$dat.report" "$dat" "$clock" > "$out/$d/expected.txt" <<'PY'
# expected.txt: what trace-cmd report says, reduced to counts.
#   file VERSION COMPRESSION          (from the file's own header)
#   cpus N
#   clock NAME                        (trace-cmd dump --clock)
#   function PID IP SYMBOL+OFF COUNT  (one line per task and function)
#   sys_enter PID NR COUNT
#   events NAME COUNT                 (records of each event, in all)
import collections, re, sys

syms = {}
for line in open(sys.argv[1]):
    f = line.split()
    syms[f[2]] = int(f[0], 16)
with open(sys.argv[3], "rb") as f:
    head = f.read(64)
ver = head[10:head.index(b"\0", 10)].decode()
comp = "none"
if ver == "7":
    p = head.index(b"\0", 10) + 1 + 2 + 4
    comp = head[p:head.index(b"\0", p)].decode()
print("file", ver, comp)

line_re = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s+(\S+):\s+(.*?)\s*$")
funcs = collections.Counter()
sysent = collections.Counter()
events = collections.Counter()
cpus = None
for line in open(sys.argv[2]):
    if line.startswith("cpus="):
        cpus = int(line[5:])
        continue
    m = line_re.match(line)
    if not m:
        sys.exit("unparsed report line: " + line)
    pid, ev, rest = int(m.group(2)), m.group(5), m.group(6)
    events[ev] += 1
    if ev == "function":
        sym = rest.split()[0]
        if sym.startswith("0x"):
            ip = int(sym, 16)
        else:
            name, off = sym.rsplit("+", 1)
            ip = syms[name] + int(off, 16)
        funcs[(pid, ip, sym)] += 1
    elif ev == "sys_enter":
        sysent[(pid, int(re.match(r"NR (-?\d+)", rest).group(1)))] += 1
print("cpus", cpus)
if sys.argv[4]:
    print("clock", sys.argv[4])
for (pid, ip, sym), n in sorted(funcs.items()):
    print("function %d 0x%x %s %d" % (pid, ip, sym, n))
for (pid, nr), n in sorted(sysent.items()):
    print("sys_enter %d %d %d" % (pid, nr, n))
for ev, n in sorted(events.items()):
    print("events %s %d" % (ev, n))
PY
    rm -f "$dat.report"
}

if [ "${1:-}" = --expect ]; then
    out=$(realpath "${2:-$top/tests/data/tracedat}")
    tmp=$(mktemp -d /tmp/hapvm-tracedat.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    for d in $fixtures; do
        if [ -f "$out/$d/trace.dat.gz" ]; then
            gzip -dc "$out/$d/trace.dat.gz" > "$tmp/$d.dat"
        else
            cp "$out/$d/trace.dat" "$tmp/$d.dat"
        fi
        expect "$out" "$d" "$tmp/$d.dat"
    done
    exit 0
fi

out=$(realpath -m "${1:-$top/tests/data/tracedat}")
tmp=$(mktemp -d /tmp/hapvm-tracedat.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$here/run" --rw "$tmp" --timeout 900 "$here/record-tracedat.sh" --inside "$tmp"

mkdir -p "$out"
cp "$tmp/kallsyms" "$out/kallsyms"
for d in $fixtures; do
    mkdir -p "$out/$d"
    rm -f "$out/$d/trace.dat" "$out/$d/trace.dat.gz"
    cp "$tmp/$d/stdout" "$out/$d/stdout"
    expect "$out" "$d" "$tmp/$d/trace.dat"
    gzip -9 -n -c "$tmp/$d/trace.dat" > "$tmp/$d/trace.dat.gz"
    if [ "$(stat -c %s "$tmp/$d/trace.dat.gz")" -lt "$(stat -c %s "$tmp/$d/trace.dat")" ]; then
        cp "$tmp/$d/trace.dat.gz" "$out/$d/trace.dat.gz"
    else
        cp "$tmp/$d/trace.dat" "$out/$d/trace.dat"
    fi
    echo "record-tracedat: $out/$d: $(grep -c '^function' "$out/$d/expected.txt") task/function pairs," \
         "$(ls -s --block-size=K "$out/$d"/trace.dat* | cut -d' ' -f1)"
done

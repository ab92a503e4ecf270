#!/bin/bash
# hapvm import on the command line: exit codes and messages (the scoring
# itself is tests/importtest.c).  Needs python3 to patch a fixture.
hapvm=$1
src=${G_TEST_SRCDIR:-$(dirname "$0")}
n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); sed 's/^/# /' "$tmp/err" 2>/dev/null; fi; }
gzip -dc "$src/data/tracedat/getppid-v7none/trace.dat.gz" > "$tmp/ok.dat"
pid=$(sed -n 's/^sysloop: pid \([0-9]*\).*/\1/p' "$src/data/tracedat/getppid-v7none/stdout")
echo "1..9"
t "import --pid: exit 0, summary names the recording" \
  '"$hapvm" import "$tmp/ok.dat" --pid $pid --json "$tmp/r.json" >$tmp/out 2>$tmp/err && grep -q "^hapvm: recording .* (pid $pid) (1 tasks)" $tmp/out && grep -q "ended: end-of-recording" $tmp/out'
t "hapvm report prints the summary import printed" \
  '"$hapvm" report "$tmp/r.json" > $tmp/rep && cmp -s $tmp/rep $tmp/out'
t "no selection: usage error 2" \
  '"$hapvm" import "$tmp/ok.dat" 2>$tmp/err; [ $? = 2 ] && grep -q "give --pid, --tid, --comm or --all" $tmp/err'
t "no file: usage error 2" \
  '"$hapvm" import --all 2>$tmp/err; [ $? = 2 ] && grep -q "give the trace.dat file" $tmp/err'
t "a pid without records: exit 6, the recorded tasks listed" \
  '"$hapvm" import "$tmp/ok.dat" --pid 99999 2>$tmp/err; [ $? = 6 ] && grep -q "tasks with records: $pid sysloop" $tmp/err'
head -c 100000 "$tmp/ok.dat" > "$tmp/cut.dat"
t "truncated file: exit 10, file and offset named" \
  '"$hapvm" import "$tmp/cut.dat" --all 2>$tmp/err; [ $? = 10 ] && grep -q "cut.dat: offset [0-9]*" $tmp/err'
t "not a trace.dat: exit 10" \
  '"$hapvm" import "$tmp/r.json" --all 2>$tmp/err; [ $? = 10 ]'
python3 - "$tmp/ok.dat" "$tmp/lossy.dat" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"\noverrun: 0\n")
open(sys.argv[2], "wb").write(d[:i] + b"\noverrun: 5\n" + d[i + 12:])
PY
t "overrun in the recording: exit 7, result written and marked incomplete" \
  '"$hapvm" import "$tmp/lossy.dat" --all --json "$tmp/l.json" >$tmp/out 2>$tmp/err; [ $? = 7 ] && grep -q "5 trace events were lost" $tmp/err && grep -q "\"complete\" : false" $tmp/l.json && grep -q "INCOMPLETE: 5 events lost" $tmp/out'
t "--accept-loss: exit 0, still incomplete" \
  '"$hapvm" import "$tmp/lossy.dat" --all --accept-loss --json "$tmp/l2.json" >/dev/null 2>$tmp/err && grep -q "\"accepted\" : true" $tmp/l2.json && grep -q "\"complete\" : false" $tmp/l2.json'
[ $failed = 0 ]

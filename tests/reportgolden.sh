#!/bin/bash
# hapvm report / compare / aggregate on the real results in tests/data/results:
# every format against its golden file in tests/data/report (regenerate on
# purpose with HAPVM_TEST_REGENERATE=1), the refusal and --force, and genhtml
# on the lcov output.  Usage: reportgolden.sh HAPVM
hapvm=$(realpath "$1")
src=${G_TEST_SRCDIR:-$(dirname "$0")}
res=$src/data/results
gold=$src/data/report
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); sed 's/^/# /' "$tmp/err" 2>/dev/null | head -20; fi; }

# golden NAME CMD...: run from the results dir (file names in outputs stay short).
golden() { golden_in "$res" "$@"; }
golden_in() {
    local dir=$1 name=$2; shift 2
    (cd "$dir" && "$@") >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc != 0 ]; then
        bad "$name: exit status $rc"; sed 's/^/# /' "$tmp/err"; return
    fi
    if [ -n "${HAPVM_TEST_REGENERATE:-}" ]; then
        mkdir -p "$gold" && cp "$tmp/out" "$gold/$name" && ok "$name: regenerated"
    elif diff -u "$gold/$name" "$tmp/out" >"$tmp/diff"; then
        ok "$name matches its golden file"
    else
        bad "$name differs from $gold/$name (HAPVM_TEST_REGENERATE=1 rewrites it)"; head -40 "$tmp/diff" | sed 's/^/# /'
    fi
}

for r in kvm-libvirt cgroup-vmwork cgroup process-loss; do
    golden "$r.txt" "$hapvm" report "$r.json"
    golden "$r.csv" "$hapvm" report --format csv "$r.json"
    golden "$r.info" "$hapvm" report --format lcov --no-lines "$r.json"
done
for table in scores roles contexts subsystems syscalls; do
    golden "cgroup-vmwork-$table.csv" "$hapvm" report --format csv --csv-table "$table" cgroup-vmwork.json
done
golden "table-kvm-cgroup.txt" "$hapvm" report kvm-libvirt.json cgroup-vmwork.json
golden "compare-kvm-cgroup-vmwork.txt" "$hapvm" compare kvm-libvirt.json cgroup-vmwork.json
golden "compare-kvm-cgroup-vmwork.json" "$hapvm" compare --format json kvm-libvirt.json cgroup-vmwork.json
golden "compare-kvm-cgroup-vmwork.csv" "$hapvm" compare --format csv kvm-libvirt.json cgroup-vmwork.json
golden "compare-three.txt" "$hapvm" compare kvm-libvirt.json cgroup.json process-loss.json
golden "compare-list-interrupt.txt" "$hapvm" compare --list --set interrupt cgroup.json process-loss.json
golden "aggregate-cgroup-process.txt" "$hapvm" aggregate cgroup.json process-loss.json
(cd "$res" && "$hapvm" aggregate --json "$tmp/agg.json" cgroup.json process-loss.json >/dev/null 2>"$tmp/err")
t "aggregate --json writes a result that report reads" \
  '"$hapvm" report "$tmp/agg.json" >$tmp/agg.txt 2>$tmp/err && grep -q "^aggregate of 2 runs" $tmp/agg.txt'
cp "$res/kvm-libvirt.json" "$tmp/"
golden_in "$tmp" "compare-aggregate-kvm.txt" "$hapvm" compare agg.json kvm-libvirt.json
golden_in "$tmp" "agg.csv" "$hapvm" report --format csv --csv-table scores agg.json

# Refusal and --force, on a copy of a fixture with another build-id.
sed 's/"build_id" : "eb4fbcd037e7253717950bf2b93bd5566f47c56f"/"build_id" : "00000000000000000000000000000000deadbeef"/' \
    "$res/cgroup.json" >"$tmp/other.json"
t "the copy has another build-id" 'grep -q deadbeef $tmp/other.json'
t "compare refuses another kernel build: exit 9, names the member and --force" \
  '"$hapvm" compare "$res/cgroup.json" "$tmp/other.json" >$tmp/out 2>$tmp/err; [ $? = 9 ] && grep -q "kernel.build_id differs" $tmp/err && grep -q "deadbeef" $tmp/err && grep -q -- "--force" $tmp/err && [ ! -s $tmp/out ]'
t "aggregate refuses it too" \
  '"$hapvm" aggregate "$res/cgroup.json" "$tmp/other.json" >$tmp/out 2>$tmp/err; [ $? = 9 ]'
t "--force: prominent warning first and last" \
  '"$hapvm" compare --force "$res/cgroup.json" "$tmp/other.json" >$tmp/out 2>$tmp/err && head -1 $tmp/out | grep -q "^\*\*\* WARNING: FORCED COMPARISON: kernel.build_id" && tail -1 $tmp/out | grep -q "^\*\*\* WARNING: FORCED"'
t "--force --format json: forced list" \
  '"$hapvm" compare --force --format json "$res/cgroup.json" "$tmp/other.json" >$tmp/out 2>$tmp/err && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d[\"forced\"])==1 and \"kernel.build_id\" in d[\"forced\"][0]" $tmp/out'
t "report --format json is the result as is" \
  '"$hapvm" report --format json "$res/cgroup.json" >$tmp/out 2>$tmp/err && python3 -c "import json,sys; assert json.load(open(sys.argv[1]))==json.load(open(sys.argv[2]))" $tmp/out "$res/cgroup.json"'
t "report --format html: one page (the HTML report's own tests: htmltest)" \
  '"$hapvm" report --format html "$res/cgroup.json" >$tmp/out 2>$tmp/err && head -c 15 $tmp/out | grep -q "^<!DOCTYPE html>"'
t "report --format nope: usage error naming the formats" \
  '"$hapvm" report --format nope "$res/cgroup.json" 2>$tmp/err; [ $? = 2 ] && grep -q "text, json, csv, lcov, html" $tmp/err'
t "report --format csv with two results: usage error pointing to compare" \
  '"$hapvm" report --format csv "$res/cgroup.json" "$res/kvm-libvirt.json" 2>$tmp/err; [ $? = 2 ] && grep -q "hapvm compare" $tmp/err'
t "report -o writes the file" \
  '"$hapvm" report --format csv --csv-table scores -o $tmp/s.csv "$res/cgroup.json" 2>$tmp/err && head -1 $tmp/s.csv | grep -qx "metric,value,sd,n"'
t "lcov without debuginfo: exit 8, names the package and --no-lines" \
  '"$hapvm" report --format lcov --debuginfo $tmp/none "$res/cgroup.json" >$tmp/out 2>$tmp/err; [ $? = 8 ] && grep -q "linux-image-6.1.0-56-amd64-dbg" $tmp/err && grep -q -- "--no-lines" $tmp/err'

# lcov with line numbers (the lab kernel's debuginfo) and genhtml.
dbg=${HAPVM_TEST_DEBUGINFO:-}
if [ -z "$dbg" ] && [ -x "$src/lab/debuginfo" ]; then
    dbg=$("$src/lab/debuginfo" 2>"$tmp/dbg.err") || dbg=
fi
if [ -z "$dbg" ]; then
    for i in 1 2; do n=$((n + 1)); echo "ok $n # SKIP the lab kernel's debuginfo is not available ($(tail -1 "$tmp/dbg.err" 2>/dev/null))"; done
else
    golden "kvm-libvirt-lines.info" "$hapvm" report --format lcov --debuginfo "$dbg" kvm-libvirt.json
    if ! command -v genhtml >/dev/null; then
        n=$((n + 1)); echo "ok $n # SKIP genhtml is not installed (package lcov)"
    else
        t "genhtml renders the lcov tracefile: 760 functions (HAP-F), arch/x86/kvm/x86.c among the files" \
          '(cd "$res" && "$hapvm" report --format lcov --debuginfo "$dbg" kvm-libvirt.json) >$tmp/k.info 2>$tmp/err && genhtml --no-source -q -o $tmp/html $tmp/k.info >$tmp/err 2>&1 && grep -q "headerCovTableEntry\">760<" $tmp/html/index.html && grep -q "x86\.c" $tmp/html/arch/x86/kvm/index.html'
    fi
fi
echo "1..$n"
[ $failed = 0 ]

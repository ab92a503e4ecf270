#!/bin/bash
# The hapvm CLI on the build machine: dispatch, usage errors, exit codes and
# the measure error paths that need no lab (each names cause and fix).
hapvm=$1
n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); sed 's/^/# /' "$tmp/err" 2>/dev/null; fi; }
instances() { ls /sys/kernel/tracing/instances 2>/dev/null | grep -c '^hapvm-'; }
echo "1..17"
t "no arguments: usage on stderr, exit 2" \
  '"$hapvm" >$tmp/err 2>&1; [ $? = 2 ] && grep -q "usage: hapvm COMMAND" $tmp/err'
t "unknown command: named in the error, exit 2" \
  '"$hapvm" frobnicate >$tmp/err 2>&1; [ $? = 2 ] && grep -q "unknown command .frobnicate." $tmp/err'
t "--help lists the commands on stdout, exit 0" \
  '"$hapvm" --help 2>/dev/null | grep -q "^  measure "'
t "version" '[ "$("$hapvm" version)" = "hapvm $(sed -n "s/^  version: .\(.*\).,/\1/p" "$G_TEST_SRCDIR/../meson.build")" ]'
t "info prints the running kernel release" \
  '"$hapvm" info | grep -qx "kernel release:  $(cat /proc/sys/kernel/osrelease)"'
t "measure without a target: usage error 2" \
  '"$hapvm" measure 2>$tmp/err; [ $? = 2 ] && grep -q "give a libvirt DOMAIN, --qemu-pid, --pid, --cgroup or -- COMMAND" $tmp/err'
t "measure --pid of a missing process: exit 6, named" \
  '"$hapvm" measure --pid 999999999 2>$tmp/err; [ $? = 6 ] && grep -q "process 999999999 does not exist" $tmp/err'
t "measure --xen outside a Xen dom0: the cause, no tracefs touched" \
  'b=$(instances); "$hapvm" measure --xen web 2>$tmp/err; rc=$?; [ -e /dev/xen/privcmd ] || { [ $rc = 1 ] && grep -Eq "must run in a Xen dom0|built without Xen support" $tmp/err && [ "$(instances)" = "$b" ]; }'
t "measure --xentrace without a DOMAIN: usage error 2" \
  '"$hapvm" measure --xentrace /bin/true --pid 1 2>$tmp/err; [ $? = 2 ] && grep -q "apply to a Xen DOMAIN" $tmp/err'
t "measure --xen with a QEMU URI: usage error 2" \
  '"$hapvm" measure -c qemu:///system --xen web 2>$tmp/err; [ $? = 2 ] && grep -q "give a xen:// URI" $tmp/err'
t "measure --pid garbage: usage error 2" \
  '"$hapvm" measure --pid 12x 2>$tmp/err; [ $? = 2 ] && grep -q "not a process id" $tmp/err'
t "measure as non-root: exit 3 with the fix" \
  'setpriv --reuid=65534 --regid=65534 --clear-groups "$hapvm" measure -- true 2>$tmp/err; [ $? = 3 ] && grep -q "needs root" $tmp/err'
t "measure with no tracefs: exit 4 with the fix" \
  'HAPVM_TRACEFS=$tmp "$hapvm" measure -- true 2>$tmp/err; [ $? = 4 ] && grep -q "not a tracefs mount" $tmp/err'
# Whether this kernel denies the function tracer, found out by a plain shell
# write in a scratch instance (our build machines do: EPERM).
probe=/sys/kernel/tracing/instances/hapvm-clitest-probe-$$
denied=unknown
if mkdir "$probe" 2>/dev/null; then
    if echo function 2>/dev/null > "$probe/current_tracer"; then denied=no; else denied=yes; fi
    echo nop > "$probe/current_tracer" 2>/dev/null
    rmdir "$probe"
fi
before=$(instances)
if [ "$denied" = yes ]; then
    t "function tracer denied by the kernel: exit 5, cause and fix named, nothing left in tracefs" \
      '"$hapvm" measure -- true 2>$tmp/err; [ $? = 5 ] && grep -q "forbidden here" $tmp/err && grep -q "lab host" $tmp/err && [ "$(instances)" = "$before" ]'
else
    n=$((n + 1)); echo "ok $n # SKIP this kernel allows the function tracer ($denied); the denied path needs one that refuses it"
fi
t "report rejects a file that is not a result: exit 10" \
  'echo "{}" > $tmp/x.json; "$hapvm" report $tmp/x.json 2>$tmp/err; [ $? = 10 ] && grep -q "not a hapvm result" $tmp/err'
t "index --json without --visibility: usage error 2" \
  '"$hapvm" index --json $tmp/v.json 2>$tmp/err; [ $? = 2 ] && grep -q "go with --visibility" $tmp/err'
t "index --visibility with --dump: usage error 2" \
  '"$hapvm" index --visibility --dump 2>$tmp/err; [ $? = 2 ] && grep -q "do not apply" $tmp/err'
[ $failed = 0 ]

#!/bin/bash
# The hapvm CLI: dispatch, usage errors and exit codes.
hapvm=$1
n=0 failed=0
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); fi; }
echo "1..5"
t "no arguments: usage on stderr, exit 2" \
  '"$hapvm" >/tmp/cli.$$ 2>&1; [ $? = 2 ] && grep -q "usage: hapvm COMMAND" /tmp/cli.$$'
t "unknown command: named in the error, exit 2" \
  '"$hapvm" frobnicate >/tmp/cli.$$ 2>&1; [ $? = 2 ] && grep -q "unknown command .frobnicate." /tmp/cli.$$'
t "--help lists the commands on stdout, exit 0" \
  '"$hapvm" --help 2>/dev/null | grep -q "^  info "'
t "version" '[ "$("$hapvm" version)" = "hapvm $(sed -n "s/^  version: .\(.*\).,/\1/p" "$G_TEST_SRCDIR/../meson.build")" ]'
t "info prints the running kernel release" \
  '"$hapvm" info | grep -qx "kernel release:  $(cat /proc/sys/kernel/osrelease)"'
rm -f /tmp/cli.$$
[ $failed = 0 ]

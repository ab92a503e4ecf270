#!/bin/bash
# The bash completion (completion/hapvm), TAP: sourced into this shell and
# called as bash calls it (COMP_WORDS split at COMP_WORDBREAKS, COMP_CWORD,
# COMP_LINE, COMP_POINT).  Its static lists are checked against the program's
# own --help, so they cannot drift.
# usage: completiontest.sh COMPLETION-SCRIPT HAPVM
# shellcheck disable=SC2086 # candidate lists are split on purpose
set -u
script=$1
hapvm=$2
n=0
failed=0

ok() { # ok COND-STATUS DESCRIPTION [DIAG]
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
    fi
}

# shellcheck disable=SC1090,SC1091
. "$script"
ok $? "the completion script can be sourced"
complete -p hapvm >/dev/null 2>&1
ok $? "it registers a completion for hapvm"

# run_line LINE: call the completion for the end of LINE; COMPREPLY holds the
# candidates, $tmp/stderr what it printed there.  LINE is split as bash does:
# at blanks, then at "=" and ":" (COMP_WORDBREAKS).  No subshell: the test
# runs a hundred of these.
run_line() {
    local line=$1 w
    local -a cw=() blanks=()
    read -ra blanks <<<"$line"
    for w in "${blanks[@]}"; do
        while [[ $w =~ ^([=:]+)(.*)$ || $w =~ ^([^=:]+)(.*)$ ]]; do
            cw+=("${BASH_REMATCH[1]}")
            w=${BASH_REMATCH[2]}
        done
    done
    [[ $line == *" " ]] && cw+=("")
    COMP_WORDS=("${cw[@]}")
    COMP_CWORD=$((${#cw[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _hapvm 2>"$tmp/stderr"
}

# complete_line LINE: the candidates, one a line.
complete_line() {
    run_line "$1"
    [ ${#COMPREPLY[@]} -gt 0 ] && printf '%s\n' "${COMPREPLY[@]}"
}

expect() { # expect LINE "CANDIDATES..." [DESCRIPTION]: the same set, nothing on stderr
    local x same=0
    local -A have=() need=()
    run_line "$1"
    for x in "${COMPREPLY[@]}"; do have[$x]=1; done
    for x in $2; do need[$x]=1; done
    [ ${#have[@]} = ${#need[@]} ] || same=1
    for x in "${!need[@]}"; do [ -n "${have[$x]:-}" ] || same=1; done
    [ -s "$tmp/stderr" ] && same=1
    ok $same "${3:-"'$1' completes to: $2"}" "got:  ${COMPREPLY[*]}
want: $2
stderr: $(cat "$tmp/stderr")"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -- the lists against the program ------------------------------------------
cmds=$("$hapvm" --help | sed -n '/^commands:/,$p' | sed -n 's/^  \([a-z]*\) .*/\1/p' | LC_ALL=C sort)
[ "$(echo "$cmds" | wc -l)" -ge 12 ]
ok $? "hapvm --help lists the commands"
expect "hapvm " "$cmds --help -h" "'hapvm ' completes to every command of the dispatch table"
expect "hapvm me" "measure"
expect "hapvm re" "report results"

# Each command's --help, once.
mkdir "$tmp/help"
for c in $cmds; do "$hapvm" "$c" --help >"$tmp/help/$c" 2>/dev/null; done
# Options of CMD as --help prints them, "=" after those that take a value.
help_opts() {
    sed -n '/Options:/,$p' "$tmp/help/$1" |
        sed -n 's/^  \(-\([a-zA-Z]\), \)\{0,1\}--\([a-z-]*\)\(=\)\{0,1\}.*/\2\4 \3\4/p' |
        tr ' ' '\n' | sed -n 's/^\([a-zA-Z]=\{0,1\}\)$/-\1/p; s/^\([a-z][a-z-]\{1,\}=\{0,1\}\)$/--\1/p' |
        LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
}
for c in $cmds; do
    if ! grep -q '^Help Options:' "$tmp/help/$c"; then
        # info, version: no options, nothing offered.
        _hapvm_options "$c"
        [ -z "$_hapvm_o" ]
        ok $? "$c: no options in --help, none in the completion"
        expect "hapvm $c -" "" "'hapvm $c -' offers nothing"
        continue
    fi
    want=$(help_opts "$c")
    _hapvm_options "$c"
    got=$(printf '%s\n' $_hapvm_o | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//')
    [ -n "$want" ] && [ "$got" = "$want" ]
    ok $? "$c: the completion's options (and which take a value) are those of --help" "got:  $got
want: $want"
    names=$(printf '%s\n' $want | sed 's/=$//')
    [ "$c" = measure ] && names="$names --"
    expect "hapvm $c -" "$names" "'hapvm $c -' offers every option of --help"
done
expect "hapvm measure --wa" "--warmup"
expect "hapvm measure --no-" "--no-lines --no-syscalls --no-xentrace"
expect "hapvm fleet --re" "--reader"

# -- values -------------------------------------------------------------------
# --format: the values named on the option's help line ("text (default), json or csv").
for c in report compare fleet; do
    want=$(sed -n 's/^  -f, --format=[A-Z]* *//p' "$tmp/help/$c" |
        sed 's/ (default)//; s/, / /g; s/ or / /')
    [ -n "$want" ]
    ok $? "$c --help names its formats ($want)"
    expect "hapvm $c --format " "$want" "'hapvm $c --format ' completes to $want"
    expect "hapvm $c -f " "$want" "'hapvm $c -f ' completes to $want"
    expect "hapvm $c --format=" "$want" "'hapvm $c --format=' completes to $want"
done
expect "hapvm report --format=c" "csv"
expect "hapvm report --format j" "json"
expect "hapvm report --csv-table " "functions scores roles contexts subsystems syscalls"
expect "hapvm compare --set " "hap-f all interrupt"
expect "hapvm fleet --rank-by " "auto hap hap-f"
expect "hapvm fleet --group-by kernel.b" "kernel.build_id"
expect "hapvm fleet -g image,target.k" "image,target.kind"
expect "hapvm list -c " "qemu:///system qemu:///session"
# bash replaces only what follows the last ":" of the word: candidates are cut there.
expect "hapvm measure --connect qemu:///se" "///session" "'-c qemu:///se' completes past the colon"
expect "hapvm measure --connect=qemu:///sy" "///system" "'--connect=qemu:///sy' completes past the colon"
expect "hapvm measure --warmup " "" "a numeric value gets nothing"
expect "hapvm measure -w 5 --qu" "--quiet --quiet-summary" "options after an option's value"

# -- files ----------------------------------------------------------------------
mkdir -p "$tmp/files/sub"
touch "$tmp/files/a.json" "$tmp/files/b.txt" "$tmp/files/trace.dat" "$tmp/files/old.dat"
cd "$tmp/files" || exit 1
expect "hapvm report " "a.json sub" "report: *.json files and directories"
expect "hapvm compare a.json " "a.json sub" "compare: *.json for a second input"
expect "hapvm fleet " "a.json sub" "fleet: *.json files and directories"
expect "hapvm import " "old.dat sub trace.dat" "import: trace.dat and other *.dat"
expect "hapvm import t" "trace.dat"
expect "hapvm measure -o " "a.json b.txt old.dat sub trace.dat" "measure -o: any file"
expect "hapvm aggregate --json=a" "a.json" "aggregate --json=: a file after ="
expect "hapvm results --dir " "sub" "results --dir: directories"
expect "hapvm measure -- /bin/true " "a.json b.txt old.dat sub trace.dat" "measure -- COMMAND ARGS: files"
complete_line "hapvm measure -- bas" | grep -qx bash
ok $? "measure -- COMMAND: command names (bash)"
if [ -d /sys/fs/cgroup ]; then
    bad=0
    for d in $(complete_line "hapvm measure --cgroup "); do
        [ -d "/sys/fs/cgroup/$d" ] || bad=1
    done
    ok $bad "measure --cgroup: directories relative to /sys/fs/cgroup"
fi
cd / || exit 1

# -- domains --------------------------------------------------------------------
mkdir "$tmp/bin"
cat >"$tmp/bin/virsh" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/virsh.log"
printf 'web1\nweb2\ndb1\n'
EOF
chmod +x "$tmp/bin/virsh"
PATH="$tmp/bin:$PATH" expect "hapvm measure " "web1 web2 db1" "measure: domain names from virsh"
PATH="$tmp/bin:$PATH" expect "hapvm measure w" "web1 web2"
PATH="$tmp/bin:$PATH" expect "hapvm results d" "db1" "results: domain names from virsh"
grep -qx -- "-q list --name" "$tmp/virsh.log"
ok $? "virsh is asked 'virsh -q list --name'" "$(cat "$tmp/virsh.log")"
: >"$tmp/virsh.log"
PATH="$tmp/bin:$PATH" expect "hapvm measure -c qemu:///session w" "web1 web2"
grep -qx -- "-q -c qemu:///session list --name" "$tmp/virsh.log"
ok $? "with -c URI, virsh gets -c URI" "$(cat "$tmp/virsh.log")"
cat >"$tmp/bin/virsh" <<'EOF'
#!/bin/sh
echo "error: failed to connect to the hypervisor" >&2
exit 1
EOF
out=$(PATH="$tmp/bin:$PATH" complete_line "hapvm measure ")
[ -z "$out" ]
ok $? "a failing virsh: nothing, silently" "$out"
mkdir "$tmp/nobin"
COMP_WORDS=(hapvm measure "") COMP_CWORD=2 COMP_LINE="hapvm measure " COMP_POINT=14
PATH="$tmp/nobin" _hapvm 2>"$tmp/stderr"
[ ${#COMPREPLY[@]} = 0 ] && [ ! -s "$tmp/stderr" ]
ok $? "no virsh: nothing, silently" "${COMPREPLY[*]} $(cat "$tmp/stderr")"
expect "hapvm version " "" "version: nothing"
expect "hapvm nosuch " "" "an unknown command: nothing"

echo "1..$n"
[ $failed = 0 ]

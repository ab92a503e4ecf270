#!/usr/bin/python3
# Idle baselines (hapvm baseline / --baseline): the subtracted scores equal
# set arithmetic done here on the fixtures' function lists; mismatched or
# non-baseline files are refused before anything is traced.
# usage: baselinetest.py HAPVM
import json, os, subprocess, sys, tempfile

HAPVM = sys.argv[1]
SRC = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(SRC, "data", "results")
W = tempfile.mkdtemp(prefix="baselinetest.")
n = failed = 0


def ok(cond, desc):
    global n, failed
    n += 1
    failed += not cond
    print(("ok" if cond else "not ok") + f" {n} - {desc}", flush=True)


def run(*args):
    return subprocess.run([HAPVM, *args], capture_output=True, text=True)


def key(f):
    return f"{f['name']} [{f['module']}]" if f.get("module") else f["name"]


print("1..7")
result = json.load(open(os.path.join(RES, "cgroup-vmwork.json")))
base = json.load(open(os.path.join(RES, "cgroup.json")))
base["method"]["baseline"] = True
bpath = os.path.join(W, "idle.json")
json.dump(base, open(bpath, "w"))

r = run("report", "--format", "json", "--baseline", bpath, os.path.join(RES, "cgroup-vmwork.json"))
got = json.loads(r.stdout).get("baseline", {}) if r.returncode == 0 else {}
idle = {key(f) for f in base["functions"] if f["hap_f"]}
left = [f for f in result["functions"] if f["hap_f"] and key(f) not in idle]
ok(r.returncode == 0 and got.get("hap_f") == len(left) and got.get("removed") == result["scores"]["hap_f"] - len(left)
   and got.get("hap_f_raw") == result["scores"]["hap_f"] and got.get("baseline_hap_f") == len(idle),
   f"HAP-F without the idle set: {got.get('hap_f')} of {got.get('hap_f_raw')} (expected {len(left)})")
ok(got.get("hap_l") == sum(f["lines"] or 0 for f in left) and got.get("hap_l_raw") == result["scores"]["hap_l"]
   and abs(got.get("hap", 0) - got.get("hap_l", 0) * result["method"]["density_per_line"]) < 1e-9,
   f"HAP-L and HAP without the idle set: {got.get('hap_l')} of {got.get('hap_l_raw')}")
roles = {}
for f in left:
    for role in f["roles"]:
        roles[role] = roles.get(role, 0) + 1
ok({k: v["hap_f"] for k, v in got.get("roles", {}).items()} == roles, f"per role: {roles}")
t = run("report", "--baseline", bpath, os.path.join(RES, "cgroup-vmwork.json"))
ok(t.returncode == 0 and f"HAP-F {len(left)} of {result['scores']['hap_f']} raw" in t.stdout,
   "the text summary shows raw and baseline-subtracted scores")

r = run("report", "--baseline", os.path.join(RES, "cgroup.json"), os.path.join(RES, "cgroup-vmwork.json"))
ok(r.returncode == 10 and "not a baseline recording" in r.stderr and "--any-baseline" in r.stderr,
   "a result that is not a baseline is refused (exit 10, names the fix)")
other = dict(base)
other["kernel"] = dict(base["kernel"], build_id="00" * 20)
opath = os.path.join(W, "other.json")
json.dump(other, open(opath, "w"))
r = run("report", "--baseline", opath, os.path.join(RES, "cgroup-vmwork.json"))
ok(r.returncode == 9 and "another kernel build" in r.stderr, "a baseline of another kernel build is refused (exit 9)")
r = run("measure", "--baseline", os.path.join(RES, "cgroup.json"), "--pid", str(os.getpid()), "--duration", "1")
ok(r.returncode == 10 and "not a baseline recording" in r.stderr, "measure checks the baseline before tracing")
sys.exit(1 if failed else 0)

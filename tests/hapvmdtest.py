#!/usr/bin/python3
# hapvmd against a stand-in measurer (tests/data/hapvmd/fake-hapvm): policy,
# sessions, partial results, the store, metrics, the socket's defences, and
# hapvm status/results.  The real measurement path: tests/lab/daemontest.
# usage: hapvmdtest.py HAPVMD HAPVM
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

HAPVMD, HAPVM = sys.argv[1], sys.argv[2]
SRC = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
tests = []


def test(f):
    tests.append(f)
    return f


def wait_for(cond, timeout=15, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


UUIDS = {"pre": "cf398955-197a-4189-b247-c55e42134604", "A": "11111111-2222-3333-4444-555555555555",
         "B": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "C": "0000000c-0000-0000-0000-00000000000c",
         "bad": "0000000f-0000-0000-0000-00000000000f", "evil": "0000000e-0000-0000-0000-00000000000e",
         "xen": "0000000a-0000-0000-0000-00000000000a"}

W = tempfile.mkdtemp(prefix="hapvmdtest.")
RUN, RES, FAKE = W + "/run", W + "/results", W + "/fake"
SOCK, PROM = W + "/hapvmd.sock", W + "/prom/hapvm.prom"
for d in (RUN, RES, FAKE):
    os.makedirs(d)
s = socket.socket()
s.bind(("127.0.0.1", 0))
PORT = s.getsockname()[1]
s.close()


def conf(extra=""):
    return (f"[daemon]\nsocket={SOCK}\nresults={RES}\nhapvm={SRC}/data/hapvmd/fake-hapvm\nlibvirt_run_dir={RUN}\n"
            f"rescan=1\n[measure]\nwarmup=2\nquiet=3\nmax_duration=50\nexclude=skip-*\nlines=false\n"
            f"[metrics]\ntextfile={PROM}\nhttp=127.0.0.1:{PORT}\nhost=testhost\n{extra}")


def mode(uuid, m):
    open(f"{FAKE}/{uuid}.mode", "w").write(m + "\n")


def request(obj, raw=None, path=SOCK):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(path)
    c.sendall(raw if raw is not None else (json.dumps(obj) + "\n").encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    return json.loads(data)


def hook(name, uuid, op, measure=None, labels=None, driver="qemu"):
    return request({"v": 1, "op": "hook", "driver": driver, "domain": name, "uuid": uuid, "id": "1",
                    "operation": op, "sub": "begin", "extra": "-", "measure": measure, "labels": labels or {}})


def stored(uuid):
    d = f"{RES}/{uuid}"
    return sorted(f for f in os.listdir(d) if f.endswith(".json")) if os.path.isdir(d) else []


def load(uuid, i=-1):
    return json.load(open(f"{RES}/{uuid}/{stored(uuid)[i]}"))


daemon = None


@test
def config_errors():
    for text, want in (("[measure]\nwarmpu=3\n", "unknown setting 'warmpu' in [measure]"),
                       ("[measure]\nquiet=-1\n", "[measure] quiet must be a number"),
                       ("[measure]\ndomains=some\n", "domains must be 'all' or 'opt-in'"),
                       ("[metrics]\nhttp=0.0.0.0:9000\n", "must be a localhost address")):
        p = W + "/bad.conf"
        open(p, "w").write(text)
        r = subprocess.run([HAPVMD, "--check-config", "-f", p], capture_output=True, text=True)
        assert r.returncode == 2 and want in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run([HAPVMD, "--check-config", "-f", W + "/missing.conf"], capture_output=True, text=True)
    assert r.returncode == 2 and "missing.conf" in r.stderr


@test
def picks_up_running_domain():
    global daemon
    # A running domain before the daemon starts: its real status file.
    xml = open(f"{SRC}/data/kvm/status-lab-kvm.xml").read()
    open(f"{RUN}/demo.xml", "w").write(xml)
    mode(UUIDS["pre"], "steady 0.6 321")
    open(W + "/hapvmd.conf", "w").write(conf())
    env = dict(os.environ, HAPVM_FAKE_DIR=FAKE)
    daemon = subprocess.Popen([HAPVMD, "-f", W + "/hapvmd.conf"], env=env, stderr=open(W + "/hapvmd.log", "w"))
    wait_for(lambda: os.path.exists(SOCK), what="socket")
    assert oct(os.stat(SOCK).st_mode & 0o777) == "0o600"
    assert request({"v": 1, "op": "ping"}) == {"ok": True}
    wait_for(lambda: stored(UUIDS["pre"]), what="result of the running domain")
    r = load(UUIDS["pre"])
    c = r["collector"]
    assert (c["domain"], c["uuid"], c["trigger"], c["partial"], c["host"]) == \
        ("demo", UUIDS["pre"], "daemon-start", False, "testhost"), c
    assert r["scores"]["hap_f"] == 321
    argv = open(f"{FAKE}/{UUIDS['pre']}.argv").read().split("\n")
    for a in ("--warmup=2", "--quiet=3", "--max-duration=50", "--no-lines", "--accept-loss", "--until-steady"):
        assert a in argv, (a, argv)
    # Its QEMU (pid 251 in the status file) is not measured again by the rescans.
    time.sleep(1.5)
    assert len(stored(UUIDS["pre"])) == 1


@test
def two_domains_partial_results():
    mode(UUIDS["A"], "term 111")
    mode(UUIDS["B"], "vanish 1.0 222")
    assert hook("A", UUIDS["A"], "started", labels={"image": "deb12", "flavour": "small"})["action"] == "measuring"
    assert hook("B", UUIDS["B"], "started")["action"] == "measuring"
    assert hook("A", UUIDS["A"], "started")["action"] == "measuring"  # no second session
    st = wait_for(lambda: (lambda r: r if len(r["sessions"]) == 2 and all(s["functions"] for s in r["sessions"])
                           else None)(request({"v": 1, "op": "status"})), what="two sessions with progress")
    assert sorted(s["domain"] for s in st["sessions"]) == ["A", "B"]
    # B's QEMU goes away by itself: partial, labelled.
    wait_for(lambda: stored(UUIDS["B"]), what="B's result")
    b = load(UUIDS["B"])
    assert b["collector"]["partial"] and "domain stopped after" in b["collector"]["partial_reason"]
    assert b["scores"]["hap_f"] == 222 and b["collector"]["domain"] == "B"
    # A is stopped by its hook: SIGTERM after the grace, partial, labelled.
    assert hook("A", UUIDS["A"], "stopped")["action"] == "stopping"
    wait_for(lambda: stored(UUIDS["A"]), timeout=20, what="A's result")
    a = load(UUIDS["A"])
    assert a["collector"]["partial"] and "domain stopped" in a["collector"]["partial_reason"], a["collector"]
    assert a["scores"]["hap_f"] == 111 and a["collector"]["labels"] == {"image": "deb12", "flavour": "small"}
    assert not os.listdir(RES + "/.work")


@test
def policy():
    mode(UUIDS["C"], "term 5")
    assert hook("C", UUIDS["C"], "started", measure="no")["action"] == "excluded"
    assert hook("skip-me", UUIDS["C"], "started")["action"] == "excluded"
    assert hook("C", UUIDS["C"], "prepare")["action"] == "ignored"
    assert request({"v": 1, "op": "status"})["sessions"] == []
    # Opt-in metadata wins over the exclude pattern.
    assert hook("skip-me", UUIDS["C"], "started", measure="yes")["action"] == "measuring"
    # The child is spawned after the reply; once it runs, release stops it.
    wait_for(lambda: request({"v": 1, "op": "status"})["sessions"], what="C's measurement")
    assert hook("skip-me", UUIDS["C"], "release")["action"] == "stopping"
    wait_for(lambda: stored(UUIDS["C"]), timeout=20, what="C's result")


@test
def hostile_requests():
    mode(UUIDS["evil"], "steady 0.2 9")
    r = hook("../../etc/evil\nname\"", UUIDS["evil"], "started")
    assert r["action"] == "measuring"
    wait_for(lambda: stored(UUIDS["evil"]), what="evil's result")
    assert load(UUIDS["evil"])["collector"]["domain"] == "../../etc/evil\nname\""
    assert sorted(os.listdir(W)) == sorted(["run", "results", "fake", "hapvmd.sock", "prom", "hapvmd.conf",
                                            "hapvmd.log", "bad.conf"]), os.listdir(W)
    assert "not a uuid" in hook("x", "../../../tmp/x", "started")["error"]
    assert "malformed request" in request(None, raw=b"{not json\n")["error"]
    assert "version" in request({"v": 2, "op": "ping"})["error"]
    assert "unknown op" in request({"v": 1, "op": "rm -rf"})["error"]
    assert "longer than" in request(None, raw=b"x" * 70000)["error"]
    # A client that says nothing does not hold the daemon up.
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(SOCK)
    t0 = time.time()
    assert request({"v": 1, "op": "ping"})["ok"] and time.time() - t0 < 1
    idle.close()
    # A non-root peer (the socket opened up to reach the credential check).
    os.chmod(SOCK, 0o666)
    os.chmod(W, 0o755)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            c.connect(SOCK)
            r = json.loads(c.makefile().readline())  # refused before any request is read
            os._exit(0 if "permission denied" in r["error"] and "uid 65534" in r["error"] else 1)
        except Exception as e:
            print("# child: " + repr(e), flush=True)
            os._exit(2)
    status = os.waitpid(pid, 0)[1]
    os.chmod(SOCK, 0o600)
    os.chmod(W, 0o700)
    assert status == 0
    assert request({"v": 1, "op": "ping"})["ok"]


@test
def xen_domain():
    # A libxl domain is measured in dom0 through Xen (--xen), not libvirt;
    # other drivers are not measured.
    mode(UUIDS["xen"], "term 77")
    assert hook("xen-a", UUIDS["xen"], "started", driver="libxl")["action"] == "measuring"
    wait_for(lambda: os.path.exists(f"{FAKE}/{UUIDS['xen']}.argv"), what="the Xen measurement")
    argv = open(f"{FAKE}/{UUIDS['xen']}.argv").read().split("\n")
    assert argv[1] == UUIDS["xen"] and "--xen" in argv, argv
    assert not [a for a in argv if a.startswith("--connect")], argv
    assert hook("xen-a", UUIDS["xen"], "stopped", driver="libxl")["ok"]
    wait_for(lambda: stored(UUIDS["xen"]), what="the Xen result")
    assert load(UUIDS["xen"])["collector"]["driver"] == "libxl"
    assert hook("ct", "0000000b-0000-0000-0000-00000000000b", "started", driver="lxc")["action"] == "ignored"


@test
def failed_measurement():
    mode(UUIDS["bad"], "fail")
    assert hook("bad", UUIDS["bad"], "started")["action"] == "measuring"
    wait_for(lambda: request({"v": 1, "op": "status"})["failed"] == 1, what="a failed measurement")
    assert stored(UUIDS["bad"]) == []
    log = open(W + "/hapvmd.log").read()
    assert "no domain with uuid" in log and "exited with status 11" in log, log[-2000:]


def prom_samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = re.match(r'^(\w+)(\{.*\})? (\S+)$', line)
            assert m, line
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


@test
def metrics():
    text = wait_for(lambda: os.path.exists(PROM) and open(PROM).read(), what="textfile")
    s = prom_samples(text)

    def val(name, uuid, extra=""):
        for (n, labels), v in s.items():
            if n == name and f'uuid="{uuid}"' in labels and extra in labels:
                return v
        return None
    assert val("hapvm_hap_f", UUIDS["A"]) == 111 and val("hapvm_hap_f", UUIDS["B"]) == 222
    assert val("hapvm_result_partial", UUIDS["B"]) == 1 and val("hapvm_result_partial", UUIDS["pre"]) == 0
    assert val("hapvm_hap_f", UUIDS["A"], 'host="testhost"') == 111
    src = json.load(open(f"{SRC}/data/results/kvm-libvirt.json"))
    for role, v in src["roles"].items():
        assert val("hapvm_role_hap_f", UUIDS["A"], f'role="{role}"') == v["hap_f"], role
    assert 'domain="../../etc/evil\\nname\\""' in text
    assert s[("hapvmd_measurements_total", '{outcome="failed"}')] == 1
    body = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    assert prom_samples(body)[("hapvm_hap_f", [k for k in s if k[0] == "hapvm_hap_f" and UUIDS["A"] in k[1]][0][1])] \
        == 111
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}/other", timeout=5)
        assert False, "expected 404"
    except urllib.error.HTTPError as e:
        assert e.code == 404


@test
def cli_status_and_results():
    mode(UUIDS["C"], "term 5")
    hook("C", UUIDS["C"], "started", measure="yes")
    wait_for(lambda: request({"v": 1, "op": "status"})["sessions"], what="C measuring")
    out = subprocess.run([HAPVM, "status", "--socket", SOCK], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\nC +" + UUIDS["C"] + " +(measuring|warmup|starting)", out), out
    r = subprocess.run([HAPVM, "status", "--socket", W + "/none.sock"], capture_output=True, text=True)
    assert r.returncode != 0 and "cannot reach hapvmd" in r.stderr
    out = subprocess.run([HAPVM, "results", "--dir", RES, "A"], capture_output=True, text=True, check=True).stdout
    assert re.search(r" A +" + UUIDS["A"] + r" +111 .*interrupted, partial", out), out
    assert "1 result(s)" in out
    out = subprocess.run([HAPVM, "results", "--dir", RES], capture_output=True, text=True, check=True).stdout
    assert "6 result(s)" in out, out  # C's second window is still open
    assert "../../etc/evil\\nname\\\"" in out, out   # shown escaped
    r = subprocess.run([HAPVM, "results", "--dir", RES, "nosuch"], capture_output=True, text=True)
    assert r.returncode == 11 and "no results for 'nosuch'" in r.stderr


@test
def shutdown_keeps_partial_results():
    n = len(stored(UUIDS["C"]))
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) == 0
    assert len(stored(UUIDS["C"])) == n + 1
    c = load(UUIDS["C"])["collector"]
    assert c["partial"] and "hapvmd stopped" in c["partial_reason"], c
    assert not os.path.exists(SOCK)


print(f"1..{len(tests)}")
failed = 0
for i, t in enumerate(tests, 1):
    try:
        t()
        print(f"ok {i} {t.__name__}")
    except Exception as e:
        import traceback
        failed += 1
        print(f"not ok {i} {t.__name__}")
        for line in traceback.format_exc().splitlines():
            print("# " + line)
        if os.path.exists(W + "/hapvmd.log"):
            for line in open(W + "/hapvmd.log").read().splitlines()[-15:]:
                print("#   hapvmd: " + line)
if daemon and daemon.poll() is None:
    daemon.kill()
if not failed:
    shutil.rmtree(W)
sys.exit(1 if failed else 0)

#!/bin/bash
# The HTML report in a real browser: headless Chromium renders the page of one
# result (the KVM domain) and of a comparison (all four lab results), takes a
# screenshot and dumps the DOM.  The screenshot must show the charts (their
# colours in the pixels), the DOM must carry the result's numbers (read here
# from the JSON independently of hapvm), and the page must log nothing to the
# console (no script errors).  Screenshots stay in OUTDIR.
#   htmltest.sh HAPVM OUTDIR
hapvm=$1
out=${2:-$(mktemp -d)}
src=${G_TEST_SRCDIR:-$(dirname "$0")}
data=$src/data/results
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }

t() { if eval "$2" 2>"$out/err"; then ok "$1"; else notok "$1"; sed 's/^/# /' "$out/err"; fi; }
browser=""
for b in chromium chromium-headless-shell chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
echo "1..14"
mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.dom "$out"/*.log "$out"/*.html

# The command line (no browser needed).
one=$data/process-loss.json
t "report --format html prints the page on stdout" \
  '"$hapvm" report --format html "$one" >"$out/stdout.html" && head -c 16 "$out/stdout.html" | grep -q "^<!DOCTYPE html>" && tail -n 1 "$out/stdout.html" | grep -qx "</html>"'
t "--format=html and -o FILE write the same page as stdout" \
  '"$hapvm" report --format=html -o "$out/o.html" "$one" && cmp -s "$out/o.html" "$out/stdout.html"'
t "unknown format: usage error 2 naming the formats" \
  '"$hapvm" report --format pdf "$one" 2>"$out/e" >/dev/null; [ $? = 2 ] && grep -q "html" "$out/e"'
t "--output with the text format writes the summary, not a page" \
  '"$hapvm" report --output "$out/x.txt" "$one" 2>/dev/null >/dev/null && [ -s "$out/x.txt" ] && ! grep -q "<html" "$out/x.txt"'
t "--format html without a result: usage error 2" '"$hapvm" report --format html >/dev/null 2>&1; [ $? = 2 ]'
t "unwritable --output: exit 1, the path named, nothing left" \
  '"$hapvm" report --format html --output "$out/no/such/dir.html" "$one" 2>"$out/e"; [ $? = 1 ] && grep -q "$out/no/such/dir.html" "$out/e" && [ ! -e "$out/no" ]'

if [ -z "$browser" ]; then
    for i in $(seq 7 14); do
        echo "ok $i # SKIP no Chromium (Debian package chromium, installed by build-aux/install-deps)"
    done
    exit $((failed > 0))
fi

# Render: HTML from hapvm.
if "$hapvm" report --format html --output "$out/one.html" "$data/kvm-libvirt.json" 2>"$out/report.log" &&
   "$hapvm" report --format html --output "$out/compare.html" "$data/cgroup-vmwork.json" "$data/cgroup.json" \
       "$data/kvm-libvirt.json" "$data/process-loss.json" 2>>"$out/report.log"; then
    ok "hapvm report --format html --output writes the pages"
else
    notok "hapvm report --format html --output writes the pages"
    sed 's/^/# /' "$out/report.log"
fi

# Browse: both pages at once (two cores), each with its own profile, root
# needs --no-sandbox; no network is used (file:// only).
shoot() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$out/profile-$1" --enable-logging=stderr --v=0 \
        --screenshot="$out/$1.png" --window-size=1280,2000 --dump-dom "file://$out/$1.html" \
        >"$out/$1.dom" 2>"$out/$1.log"
    echo $? >"$out/$1.rc"
}
shoot one & shoot compare & wait
rm -rf "$out/profile-one" "$out/profile-compare"
for p in one compare; do
    if [ "$(cat "$out/$p.rc")" = 0 ] && [ -s "$out/$p.png" ] && [ -s "$out/$p.dom" ]; then
        ok "chromium renders $p.html (screenshot $out/$p.png)"
    else
        notok "chromium renders $p.html (exit $(cat "$out/$p.rc"))"
        grep -v -i dbus "$out/$p.log" | tail -5 | sed 's/^/# /'
    fi
done

# The checks, in Python: a PNG decoder (zlib + unfiltering) and an HTML parser.
python3 - "$out" "$data" <<'EOF'
import html.parser, json, os, struct, sys, zlib

out, data = sys.argv[1], sys.argv[2]
n = 9
failed = 0

def check(name, cond, why=""):
    global n, failed
    n += 1
    if cond:
        print(f"ok {n} - {name}")
    else:
        failed += 1
        print(f"not ok {n} - {name}")
        for line in str(why).splitlines()[:20]:
            print(f"# {line}")

def png_pixels(path):
    """(width, height, set of RGB colours) of an 8-bit RGB/RGBA PNG."""
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(b):
        ln, typ = struct.unpack(">I4s", b[pos:pos + 8])
        body = b[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"PNG type {ctype}/{depth}"
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    m7 = int.from_bytes(b"\x7f" * stride, "little")
    m8 = int.from_bytes(b"\x80" * stride, "little")
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 2:
            # Up, the common filter: bytewise addition without carries (SWAR).
            a, b = int.from_bytes(line, "little"), int.from_bytes(prev, "little")
            line = bytearray((((a & m7) + (b & m7)) ^ ((a ^ b) & m8)).to_bytes(stride, "little"))
        elif f:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                c = prev[i - bpp] if i >= bpp else 0
                up = prev[i]
                if f == 1: line[i] = (line[i] + a) & 255
                elif f == 3: line[i] = (line[i] + ((a + up) >> 1)) & 255
                elif f == 4:
                    p = a + up - c
                    pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        if y % 4 == 0:  # a sample of rows is plenty
            colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp))
        prev = line
    return w, h, colours

class Dom(html.parser.HTMLParser):
    """Elements by id and the data-* of every element, with their text."""
    def __init__(self):
        super().__init__()
        self.elems, self.stack = [], []
    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elems.append(e)
        if tag not in ("br", "meta", "rect", "line", "polyline", "circle", "hr", "img", "input", "path"):
            self.stack.append(e)
    def handle_startendtag(self, tag, attrs):
        self.elems.append({"tag": tag, "attrs": dict(attrs), "text": ""})
    def handle_endtag(self, tag):
        while self.stack:
            e = self.stack.pop()
            if e["tag"] == tag:
                break
    def handle_data(self, d):
        for e in self.stack:
            e["text"] += d
    def cells(self, row):
        """Texts of the td cells of a tr element."""
        i = self.elems.index(row) + 1
        out = []
        while i < len(self.elems) and self.elems[i]["tag"] != "tr":
            if self.elems[i]["tag"] == "td":
                out.append(self.elems[i]["text"].strip())
            i += 1
        return out
    def find(self, **kw):
        return [e for e in self.elems if all(e["attrs"].get(k.replace("_", "-")) == v for k, v in kw.items())]

def dom(name):
    d = Dom()
    d.feed(open(os.path.join(out, name + ".dom"), encoding="utf-8").read())
    return d

def load(name):
    return json.load(open(os.path.join(data, name)))

def lost(r):
    l = r["loss"]
    return sum(l[k] for k in ("overrun", "dropped", "commit_overrun", "missed_in_pages",
                              "pages_with_unknown_loss", "bad_pages"))

def rgb(h):
    return bytes.fromhex(h[1:])

# 4, 5: pixels.  The charts' colours must be on the screenshots.
try:
    w, h, c = png_pixels(os.path.join(out, "one.png"))
    want = {"vcpu #D55E00": "#D55E00", "emulator #E69F00": "#E69F00", "vhost #009E73": "#009E73",
            "subsystem bars #0072B2": "#0072B2"}
    missing = [k for k, v in want.items() if rgb(v) not in c]
    check("one.png is 1280x2000, not blank, and shows the role and subsystem bars' colours",
          (w, h) == (1280, 2000) and len(c) >= 16 and not missing,
          f"{w}x{h}, {len(c)} colours, missing {missing}")
except Exception as e:
    check("one.png decodes", False, repr(e))
try:
    w, h, c = png_pixels(os.path.join(out, "compare.png"))
    missing = [v for v in ("#0072B2", "#E69F00", "#009E73", "#CC79A7") if rgb(v) not in c]
    check("compare.png is 1280x2000, not blank, and shows the four bars' colours",
          (w, h) == (1280, 2000) and len(c) >= 16 and not missing, f"{w}x{h}, {len(c)} colours, missing {missing}")
except Exception as e:
    check("compare.png decodes", False, repr(e))

# 6: the numbers of the rendered single-result page against the JSON.
try:
    r = load("kvm-libvirt.json")
    d = dom("one")
    errs = []
    body = [e for e in d.elems if e["tag"] == "body"][0]
    if body["attrs"].get("data-script") != "ran":
        errs.append("the page's script did not run to its end")
    for k in ("hap_f", "hap_l", "hap", "nabla_f"):
        e = d.find(data_score=k)
        v = r["scores"][k]
        got = e[0]["attrs"]["data-value"] if e else "absent"
        if got != ("" if v is None else str(v)):
            errs.append(f"score {k}: page {got!r}, JSON {v!r}")
    for chart in ("roles", "subsystems"):
        bars = {e["attrs"]["data-key"]: (int(e["attrs"]["data-hap-f"]), e["attrs"]["data-hap-l"])
                for e in d.find(data_chart=chart)}
        want = {k: (v["hap_f"], "" if v["hap_l"] is None else str(v["hap_l"])) for k, v in r[chart].items()}
        if bars != want:
            errs.append(f"{chart}: page {bars}, JSON {want}")
    curve = d.find(id="curve")[0]["attrs"]
    last = r["curve"][-1]
    if (int(curve["data-points"]), int(curve["data-final-total"]), int(curve["data-final-steady"])) != \
            (len(r["curve"]), last[1], last[2]):
        errs.append(f"curve: page {curve}, JSON {len(r['curve'])} points, last {last}")
    if float(curve["data-steady-start"]) != r["timing"]["steady_start_s"]:
        errs.append("curve: steady start")
    ep = r["vm"]["entry_points"]
    for kind in ("exits", "hypercalls", "pio", "mmio", "msr", "userspace_exits"):
        t = d.find(id="ep-" + kind)
        if not t or int(t[0]["attrs"]["data-total"]) != ep[kind + "_total"]:
            errs.append(f"entry points {kind}: total")
        elif str(ep[kind][0]["count"]) not in t[0]["text"]:
            errs.append(f"entry points {kind}: top count {ep[kind][0]['count']} not shown")
    sc = {int(e["attrs"]["data-nr"]): int(e["attrs"]["data-count"]) for e in d.elems if "data-nr" in e["attrs"]}
    if sc != {s["nr"]: s["count"] for s in r["syscalls"]}:
        errs.append(f"syscalls: {sc}")
    f = d.find(id="functions")[0]
    if int(f["attrs"]["data-count"]) != len(r["functions"]) or any(fn["name"] not in f["text"] for fn in r["functions"]):
        errs.append("function list: not every function is listed")
    if int(d.find(id="loss")[0]["attrs"]["data-lost"]) != lost(r):
        errs.append("loss banner")
    check("one.html's DOM carries the JSON's scores, roles, subsystems, curve, entry points, syscalls, functions",
          not errs, "\n".join(errs))
except Exception as e:
    check("one.html's DOM can be read", False, repr(e))

# 7: the comparison: one bar per file, in file order, with its scores.
try:
    files = ["cgroup-vmwork.json", "cgroup.json", "kvm-libvirt.json", "process-loss.json"]
    rs = [load(f) for f in files]
    d = dom("compare")
    errs = []
    for chart, key in (("grouped-hap_f", "hap_f"), ("grouped-hap", "hap")):
        bars = [(e["attrs"]["data-file"], e["attrs"]["data-value"]) for e in d.find(data_chart=chart)]
        want = [(f, "" if r["scores"][key] is None else str(r["scores"][key])) for f, r in zip(files, rs)]
        if bars != want:
            errs.append(f"{chart}: page {bars}, JSON {want}")
    for key in ("hap_f", "nabla_f"):
        row = d.find(data_row=key)
        cells = d.cells(row[0]) if row else []
        if cells != [str(r["scores"][key]) for r in rs]:
            errs.append(f"table row {key}: {cells}")
    lostrow = d.cells(d.find(data_row="lost")[0])
    if [int(x.split()[0]) for x in lostrow] != [lost(r) for r in rs] or \
            ["INCOMPLETE" in x for x in lostrow] != [lost(r) > 0 for r in rs]:
        errs.append(f"table row lost: {lostrow!r}")
    if int(d.find(id="loss")[0]["attrs"]["data-incomplete"]) != sum(1 for r in rs if lost(r)):
        errs.append("incomplete banner")
    body = [e for e in d.elems if e["tag"] == "body"][0]
    if body["attrs"].get("data-script") != "ran":
        errs.append("the page's script did not run to its end")
    check("compare.html's DOM carries every file's HAP-F and HAP in file order, and the loss flags",
          not errs, "\n".join(errs))
except Exception as e:
    check("compare.html's DOM can be read", False, repr(e))

# 8: the console: nothing logged, no uncaught error.
msgs = []
for p in ("one", "compare"):
    for line in open(os.path.join(out, p + ".log"), errors="replace"):
        if ":CONSOLE" in line or "Uncaught" in line:
            msgs.append(f"{p}: {line.strip()}")
check("no console messages or script errors", not msgs, "\n".join(msgs))
sys.exit(1 if failed else 0)
EOF
py=$?
[ $failed = 0 ] && [ $py = 0 ]

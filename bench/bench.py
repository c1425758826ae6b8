#!/usr/bin/env python3
"""lpa-run benchmarks (`make bench` -> bench/run.sh -> this file).

Every comparison is interleaved (A B A B ..., order shuffled inside each round)
so that drift on a shared, noisy machine hits all variants alike, and every
figure is a median with its p10-p90 spread. Ratios come first. Nothing here is
a test: slow machines only produce slow numbers.

Network traffic goes only to 127.0.0.1 listeners that this script starts.
Processes are stopped by the pid this script got when it started them.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVNULL = subprocess.DEVNULL
MARKER = "<!-- end of generated results: text below this line is kept by bench/run.sh -->"

# ---------------------------------------------------------------- statistics

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summ(xs):
    return {"median": statistics.median(xs), "p10": pct(xs, 10), "p90": pct(xs, 90), "n": len(xs)}


def fmt(v, digits=2):
    if v is None or v != v:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def spread(s):
    return f"{fmt(s['p10'])}–{fmt(s['p90'])}"


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- results

class Report:
    def __init__(self):
        self.ratios = []     # (figure, value, spread, goal, verdict)
        self.sections = []   # (title, header, rows, notes)

    def ratio(self, figure, value, spr, goal, ok):
        verdict = "n/a" if ok is None else ("met" if ok else "not met")
        self.ratios.append((figure, value, spr, goal, verdict))

    def section(self, title, header, rows, notes=()):
        self.sections.append((title, header, rows, list(notes)))
        print(render_table(title, header, rows, notes), flush=True)


def render_table(title, header, rows, notes=()):
    out = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if notes:
        out.append("")
        out += [f"- {n}" for n in notes]
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- processes

STARTED = []  # Popen objects this script started; stopped by pid at exit


def start(cmd, **kw):
    p = subprocess.Popen(cmd, stdin=DEVNULL, **kw)
    STARTED.append(p)
    return p


def stop(p, sig=signal.SIGTERM, grace=5.0):
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def stop_all():
    for p in STARTED:
        stop(p)


def run_timed(cmd, fds=None, env=None):
    """Wall time in ns of one run (fork+exec+wait from Python, same for every variant)."""
    fds = fds or {}
    opened = [os.open(path, os.O_RDONLY) for path in fds.values()]
    cmd = [str(c).format(**{k: str(fd) for k, fd in zip(fds, opened)}) for c in cmd]
    try:
        t0 = time.perf_counter_ns()
        p = subprocess.run(cmd, stdout=DEVNULL, stderr=subprocess.PIPE, pass_fds=opened, env=env)
        dt = time.perf_counter_ns() - t0
    finally:
        for fd in opened:
            os.close(fd)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace').strip()[:400]}")
    return dt


def interleave(variants, rounds, warmup, fn):
    """variants: name -> arg. Returns name -> list of fn(arg), collected in shuffled rounds."""
    res = {k: [] for k in variants}
    names = list(variants)
    for r in range(warmup + rounds):
        random.shuffle(names)
        for k in names:
            v = fn(variants[k])
            if r >= warmup:
                res[k].append(v)
    return res


def paired(a, b, op):
    return [op(x, y) for x, y in zip(a, b)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------- context

class Ctx:
    def __init__(self, args):
        self.args = args
        self.lpa = os.path.abspath(args.lpa_run)
        self.tmp = tempfile.mkdtemp(prefix="lpa-bench-")
        os.chmod(self.tmp, 0o755)
        self.bin = args.helpers
        self.plan = json.loads(subprocess.run([self.lpa, "--dry-run", "--format", "json", "/bin/true"],
                                              check=True, capture_output=True).stdout)
        self.nonet = os.path.join(self.tmp, "strict-hostnet.yaml")
        with open(self.nonet, "w") as f:
            f.write("# strict without the network namespace: isolates the netns cost\n"
                    "extends: strict\nnamespaces: [user, mount, pid, ipc, uts, cgroup]\nnetwork: {mode: host}\n")
        chk = subprocess.run([self.lpa, "check", self.nonet], capture_output=True, text=True)
        self.nonet_ok = chk.returncode == 0
        if not self.nonet_ok:
            log("lpa-run check rejected the no-netns profile:", chk.stdout + chk.stderr)
        self.bpf = os.path.join(self.tmp, "strict.bpf")
        self.bpf_rules = self.make_bpf()
        # An allow-all filter: the floor cost of having any seccomp filter at all.
        self.bpf_empty = os.path.join(self.tmp, "allow-all.bpf")
        subprocess.run([os.path.join(self.bin, "mkbpf"), self.bpf_empty], input="", text=True, check=True,
                       stderr=DEVNULL)

    def make_bpf(self):
        """Compile the strict plan's seccomp rules with libseccomp for bwrap --seccomp."""
        errnos = {"EPERM": 1, "EAFNOSUPPORT": 97, "ENOSYS": 38}
        lines = []
        for r in self.plan["seccomp"]["rules"]:
            act = r["action"]
            if not act.startswith("errno("):
                continue
            e = errnos[act[6:-1]]
            if not r["args"]:
                lines.append(f"{r['number']} {e}")
            else:
                a = r["args"][0]
                lines.append(f"{r['number']} {e} {a['index']} {a['op']} {a['value']} {a.get('mask', 0)}")
        subprocess.run([os.path.join(self.bin, "mkbpf"), self.bpf], input="\n".join(lines) + "\n",
                       text=True, check=True, stderr=DEVNULL)
        return len(lines)

    def bwrap(self, net=True, extra_ro=()):
        """bwrap with the same mounts as lpa-run's strict plan, derived from its --dry-run JSON."""
        a = ["bwrap", "--unshare-all"] + ([] if net else ["--share-net"])
        a += ["--die-with-parent", "--hostname", "lpa-sandbox", "--cap-drop", "ALL", "--tmpfs", "/"]
        for m in self.plan["mounts"]:
            k, t = m["kind"], m["target"]
            if k == "bind":
                a += ["--ro-bind-try" if m["optional"] else "--ro-bind", m["source"], t]
            elif k == "proc":
                a += ["--proc", t]
            elif k == "dev":
                a += ["--dev", t]
            elif k == "tmpfs":
                opts = dict(o.split("=", 1) for o in m["options"] if "=" in o)
                a += ["--size", opts.get("size", "1073741824"), "--perms", opts.get("mode", "1777"), "--tmpfs", t]
            elif k == "hide":
                if os.path.isdir(t):
                    a += ["--perms", "0755", "--tmpfs", t, "--remount-ro", t]
                elif os.path.exists(t):
                    a += ["--ro-bind", "/dev/null", t]
        for d in extra_ro:
            a += ["--ro-bind", d, d]
        a += ["--seccomp", "{bpf}"]
        return a


# ---------------------------------------------------------------- 1. start-up

def bench_startup(ctx, rep):
    rounds = ctx.args.startup_rounds
    v = {
        "bare /bin/true": (["/bin/true"], {}),
        "lpa-run --profile strict": ([ctx.lpa, "--profile", "strict", "/bin/true"], {}),
        "bwrap --unshare-all + seccomp": (ctx.bwrap(True) + ["/bin/true"], {"bpf": ctx.bpf}),
        "bwrap --unshare-all --share-net + seccomp": (ctx.bwrap(False) + ["/bin/true"], {"bpf": ctx.bpf}),
    }
    if ctx.nonet_ok:
        v["lpa-run strict without netns"] = ([ctx.lpa, "--profile", ctx.nonet, "/bin/true"], {})
    if shutil.which("firejail"):
        v["firejail --noprofile --net=none --private --seccomp"] = (
            ["firejail", "--quiet", "--noprofile", "--net=none", "--private", "--seccomp", "/bin/true"], {})
    log(f"start-up: {len(v)} variants x {rounds} rounds")
    res = interleave(v, rounds, 3, lambda x: run_timed(x[0], x[1]) / 1e6)
    base = statistics.median(res["bwrap --unshare-all + seccomp"])
    rows = []
    for k, xs in res.items():
        s = summ(xs)
        rows.append([k, fmt(s["median"]), spread(s), fmt(s["median"] / base)])
    r = paired(res["lpa-run --profile strict"], res["bwrap --unshare-all + seccomp"], lambda a, b: a / b)
    sr = summ(r)
    rep.ratio("start-up lpa-run strict / bwrap (all namespaces)", fmt(sr["median"]), spread(sr), "≤ 0.8",
              sr["median"] <= 0.8)
    notes = [f"{rounds} interleaved rounds (3 warm-up rounds dropped), wall time of fork+exec+wait from Python; "
             "the bare row is that harness floor.",
             f"bwrap gets the same mounts as lpa-run's strict plan (derived from `--dry-run --format json`) and "
             f"a libseccomp filter with the same {ctx.bpf_rules} deny rules (bench/mkbpf.c).",
             "Paired ratio = per-round lpa-run/bwrap, median and p10–p90."]
    if ctx.nonet_ok:
        r2 = summ(paired(res["lpa-run strict without netns"], res["bwrap --unshare-all --share-net + seccomp"],
                         lambda a, b: a / b))
        rep.ratio("start-up without netns: lpa-run / bwrap --share-net", fmt(r2["median"]), spread(r2), "—", None)
        nn = summ(paired(res["lpa-run --profile strict"], res["lpa-run strict without netns"], lambda a, b: a - b))
        nb = summ(paired(res["bwrap --unshare-all + seccomp"], res["bwrap --unshare-all --share-net + seccomp"],
                         lambda a, b: a - b))
        rows.append(["netns cost in lpa-run (paired difference)", fmt(nn["median"]), spread(nn), ""])
        rows.append(["netns cost in bwrap (paired difference)", fmt(nb["median"]), spread(nb), ""])
    else:
        notes.append("lpa-run check rejected the no-netns profile; that row is missing.")
    rows.insert(0, rows.pop(1))
    rep.section("1. Start-up (ms, wall)", ["variant", "median ms", "p10–p90", "× bwrap"], rows, notes)


# ---------------------------------------------------------------- 2. memory

def proc_status(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except OSError:
        pass
    return d


def children(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def kb(s, key):
    v = s.get(key, "")
    return int(v.split()[0]) if v else float("nan")


def bench_memory(ctx, rep):
    reps = 5
    cmds = {
        "lpa-run": [ctx.lpa, "--profile", "strict", "/bin/sleep", "1"],
        "bwrap": ctx.bwrap(True) + ["/bin/sleep", "1"],
    }
    got = {"lpa-run": {"launcher": [], "init": []}, "bwrap": {"launcher": [], "init": []}}
    hwm = {"lpa-run": {"launcher": [], "init": []}, "bwrap": {"launcher": [], "init": []}}
    for _ in range(reps):
        for name, cmd in cmds.items():
            fd = os.open(ctx.bpf, os.O_RDONLY)
            c = [x.replace("{bpf}", str(fd)) for x in cmd]
            p = start(c, stdout=DEVNULL, pass_fds=[fd])
            os.close(fd)
            time.sleep(0.5)
            ch = children(p.pid)
            s0 = proc_status(p.pid)
            s1 = proc_status(ch[0]) if ch else {}
            got[name]["launcher"].append(kb(s0, "VmRSS"))
            hwm[name]["launcher"].append(kb(s0, "VmHWM"))
            got[name]["init"].append(kb(s1, "VmRSS"))
            hwm[name]["init"].append(kb(s1, "VmHWM"))
            p.wait()
    rows = []
    for name in cmds:
        for role in ("launcher", "init"):
            label = {("lpa-run", "launcher"): "lpa-run (parent)", ("lpa-run", "init"): "lpa-run's init (pid 1)",
                     ("bwrap", "launcher"): "bwrap (parent)", ("bwrap", "init"): "bwrap's pid 1"}[(name, role)]
            rows.append([label, fmt(statistics.median(hwm[name][role]) / 1024),
                         fmt(statistics.median(got[name][role]) / 1024)])
    rep.section("2. Memory while the workload runs (MiB)", ["process", "peak RSS (VmHWM)", "RSS (VmRSS)"], rows,
                [f"`... /bin/sleep 1`, /proc/PID/status read 0.5 s in; median of {reps} runs, interleaved."])


# ---------------------------------------------------------------- 3. seccomp

def bench_seccomp(ctx, rep):
    loop = os.path.join(ctx.bin, "sysloop")
    n = {"getppid": ctx.args.syscalls, "ioctl": ctx.args.syscalls // 2}
    rows = []
    for mode in ("getppid", "ioctl"):
        v = {
            "bare": ([loop, mode, n[mode]], ctx.bpf),
            "lpa-run strict": ([ctx.lpa, "--profile", "strict", loop, mode, n[mode]], ctx.bpf),
            "bwrap + same filter": (ctx.bwrap(True, extra_ro=[ctx.bin]) + [loop, mode, n[mode]], ctx.bpf),
            "bwrap + allow-all filter": (ctx.bwrap(True, extra_ro=[ctx.bin]) + [loop, mode, n[mode]], ctx.bpf_empty),
        }

        def one(arg):
            cmd, bpf = arg
            fd = os.open(bpf, os.O_RDONLY)
            c = [str(x).replace("{bpf}", str(fd)) for x in cmd]
            out = subprocess.run(c, capture_output=True, text=True, pass_fds=[fd])
            os.close(fd)
            if out.returncode:
                raise RuntimeError(out.stderr)
            return float(out.stdout.strip())
        log(f"seccomp: {mode} x {n[mode]}, {ctx.args.syscall_rounds} rounds")
        res = interleave(v, ctx.args.syscall_rounds, 1, one)
        r = summ(paired(res["lpa-run strict"], res["bare"], lambda a, b: a / b))
        for k, xs in res.items():
            s = summ(xs)
            rows.append([f"{mode}: {k}", fmt(s["median"]), spread(s),
                         fmt(s["median"] / statistics.median(res["bare"]), 3)])
        goal = "≤ 1.05" if mode == "getppid" else "—"
        rep.ratio(f"seccomp: {mode} in lpa-run strict / bare", fmt(r["median"], 3), f"{fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}",
                  goal, (r["median"] <= 1.05) if mode == "getppid" else None)
    rep.section("3. Seccomp filter cost on allowed syscalls (ns per call)", ["loop", "median ns", "p10–p90", "× bare"],
                rows, ["getppid has no argument rule, so the kernel's per-syscall action cache (5.11+) can answer "
                       "without running the BPF program; ioctl has TIOCSTI/TIOCLINUX argument rules, so every "
                       "call runs the filter. The allow-all row (a one-instruction-per-arch filter) is the floor of having "
                       "any filter: seccomp puts every syscall on the slow entry path. Interleaved rounds, one process per run, ns/call from "
                       "CLOCK_MONOTONIC inside the loop program (bench/sysloop.c)."])


# ---------------------------------------------------------------- 4. relay

def bench_relay(ctx, rep):
    nb = os.path.join(ctx.bin, "netbench")
    pa, pb = free_port(), free_port()
    bare = start([nb, "server", str(pa)], stdout=DEVNULL)
    inner = start([ctx.lpa, "--profile", "strict", "-p", f"127.0.0.1:{pb}:8080", nb, "server", "8080"],
                  stdout=DEVNULL, stderr=open(os.path.join(ctx.tmp, "relay.err"), "w"))
    try:
        for port, p in ((pa, bare), (pb, inner)):
            if subprocess.run([nb, "wait", str(port), "10000"]).returncode != 0:
                err = open(os.path.join(ctx.tmp, "relay.err")).read()
                raise RuntimeError(f"server on {port} did not answer (exit {p.poll()}): {err[-800:]}")
        rows = []
        total, block = ctx.args.requests, 100
        for ka in (0, 1):
            lat = {"direct": [], "published port": []}
            log(f"relay: {total} sequential requests each, keep-alive {'on' if ka else 'off'}")
            for _ in range(total // block):
                order = [("direct", pa), ("published port", pb)]
                random.shuffle(order)
                for name, port in order:
                    out = subprocess.run([nb, "lat", str(port), str(block), str(ka)], capture_output=True, text=True,
                                         check=True).stdout
                    lat[name] += [int(x) / 1000 for x in out.split()]
            kal = "keep-alive on" if ka else "new connection each"
            for name in lat:
                rows.append([f"latency, {kal}: {name}", f"p50 {fmt(pct(lat[name], 50))} µs",
                             f"p99 {fmt(pct(lat[name], 99))} µs", f"p10–p90 {fmt(pct(lat[name], 10))}–{fmt(pct(lat[name], 90))} µs"])
            add50 = pct(lat["published port"], 50) - pct(lat["direct"], 50)
            add99 = pct(lat["published port"], 99) - pct(lat["direct"], 99)
            rows.append([f"latency, {kal}: added by the relay", f"p50 +{fmt(add50)} µs", f"p99 +{fmt(add99)} µs", ""])
            rep.ratio(f"relay added p50 latency, {kal} (µs)", fmt(add50), f"p99 +{fmt(add99)}", "< 50 µs", add50 < 50)
        size = ctx.args.bulk_mb << 20
        log(f"relay: bulk {ctx.args.bulk_mb} MiB x {ctx.args.bulk_rounds} each")
        res = interleave({"direct": pa, "published port": pb}, ctx.args.bulk_rounds, 1,
                         lambda port: size / (int(subprocess.run([nb, "bulk", str(port), str(size)], capture_output=True,
                                                                 text=True, check=True).stdout) / 1e9) / 1e6)
        for name, xs in res.items():
            s = summ(xs)
            rows.append([f"bulk {ctx.args.bulk_mb} MiB: {name}", f"{fmt(s['median'])} MB/s", f"p10–p90 {spread(s)}", ""])
        r = summ(paired(res["published port"], res["direct"], lambda a, b: a / b))
        rows.append(["bulk: published / direct", fmt(r["median"], 3), f"p10–p90 {fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", ""])
        rep.ratio("relay bulk throughput, published / direct", fmt(r["median"], 3),
                  f"{fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", "≥ 0.8", r["median"] >= 0.8)
        rep.section("4. Published-port relay vs direct (bench/netbench.c server, same binary both sides)",
                    ["figure", "a", "b", "c"], rows,
                    [f"The same server runs bare on 127.0.0.1:{pa} and inside `lpa-run --profile strict "
                     f"-p 127.0.0.1:{pb}:8080`; the client (C, TCP_NODELAY) alternates blocks of {block} sequential "
                     "GET requests between them; bulk is one GET of the whole size, 1 MiB writes."])
    finally:
        stop(inner)
        stop(bare)
        if inner.returncode not in (0, 143, -15):
            log(f"note: lpa-run with -p exited {inner.returncode} after SIGTERM")


# ---------------------------------------------------------------- 5. hashing

def ensure_file(path, mb):
    if os.path.exists(path) and os.path.getsize(path) == mb << 20:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log(f"hash: writing {mb} MiB of random data to {path} (kept for later runs)")
    tmp = path + f".tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        for _ in range(mb // 16):
            f.write(os.urandom(16 << 20))
    os.replace(tmp, path)


def bench_hash(ctx, rep):
    path = ctx.args.hash_file
    mb = ctx.args.hash_mb
    ensure_file(path, mb)
    subprocess.run(["cat", path], stdout=DEVNULL, check=True)  # page cache
    small = os.path.join(ctx.tmp, "small.bin")
    with open(small, "wb") as f:
        f.write(os.urandom(1 << 20))
    small_digest = hashlib.sha256(open(small, "rb").read()).hexdigest()
    h = subprocess.run([ctx.lpa, "hash", small], capture_output=True, text=True)
    hash_ok = h.returncode == 0 and small_digest in h.stdout
    hash_why = "" if hash_ok else (h.stderr.strip().splitlines() or ["?"])[-1]
    v = {"openssl dgst -sha256": ["openssl", "dgst", "-sha256", path], "sha256sum": ["sha256sum", path]}
    if hash_ok:
        v["lpa-run hash"] = [ctx.lpa, "hash", path]
    log(f"hash: {mb} MiB x {ctx.args.hash_rounds} rounds, {len(v)} tools")
    res = interleave(v, ctx.args.hash_rounds, 0, lambda c: (mb << 20) / (run_timed(c) / 1e9) / 1e6)
    rows = []
    for k, xs in res.items():
        s = summ(xs)
        rows.append([k, fmt(s["median"]), spread(s)])
    if hash_ok:
        r = summ(paired(res["lpa-run hash"], res["openssl dgst -sha256"], lambda a, b: a / b))
        rep.ratio("hash throughput, lpa-run hash / openssl", fmt(r["median"], 3), f"{fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}",
                  "≥ 1.0", r["median"] >= 1.0)
    else:
        rows.append(["lpa-run hash", "n/a", f"not in this build: {hash_why}"])
        rep.ratio("hash throughput, lpa-run hash / openssl", "n/a", "", "≥ 1.0", None)
    notes = [f"{mb} MiB file of random data in the page cache ({path}); MB/s = 10^6 bytes per second of wall time."]

    # Cached re-check: does this build verify pins at all? A wrong pin must stop the run with 125.
    xdg = os.path.join(ctx.tmp, "xdg-cache")
    os.makedirs(xdg)
    env = dict(os.environ, XDG_CACHE_HOME=xdg)

    def profile(name, file, digest):
        p = os.path.join(ctx.tmp, name)
        with open(p, "w") as f:
            f.write(f"extends: strict\nmodels:\n  - {{path: {file}, sha256: {digest}}}\n")
        return p
    bad = subprocess.run([ctx.lpa, "--profile", profile("badpin.yaml", small, "0" * 64), "/bin/true"],
                         capture_output=True, text=True, env=env)
    if bad.returncode == 125:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(8 << 20):
                digest.update(chunk)
        pinned = profile("pinned.yaml", path, digest.hexdigest())
        first = run_timed([ctx.lpa, "--profile", pinned, "/bin/true"], env=env) / 1e6
        res = interleave({"pinned": [ctx.lpa, "--profile", pinned, "/bin/true"],
                          "unpinned": [ctx.lpa, "--profile", "strict", "--model", path, "/bin/true"]},
                         ctx.args.startup_rounds // 2, 2, lambda c: run_timed(c, env=env) / 1e6)
        d = summ(paired(res["pinned"], res["unpinned"], lambda a, b: a - b))
        rows.append([f"first pinned run (hashes {mb} MiB), ms", fmt(first), "1 run"])
        rows.append(["pinned run, cached (ms)", fmt(statistics.median(res["pinned"])), spread(summ(res["pinned"]))])
        rows.append(["same run unpinned, --model FILE (ms)", fmt(statistics.median(res["unpinned"])),
                     spread(summ(res["unpinned"]))])
        rows.append(["cached re-check cost (paired difference, ms)", fmt(d["median"], 3), spread(d)])
        rep.ratio(f"cached pin re-check of a {mb} MiB file (ms, added to start-up)", fmt(d["median"], 3), spread(d),
                  "< 2 ms (10 GiB)", d["median"] < 2)
    else:
        rows.append(["cached pin re-check", "n/a",
                     f"pins not verified by this build (a wrong pin ran with exit {bad.returncode})"])
        rep.ratio("cached pin re-check (ms)", "n/a", "", "< 2 ms (10 GiB)", None)
    rep.section("5. Hashing (MB/s) and pin re-check", ["tool", "median", "p10–p90 / note"], rows, notes)


# ---------------------------------------------------------------- 6. llama-server

def bench_llama(ctx, rep):
    server, model = ctx.args.llama_server, ctx.args.llama_model
    if not (os.access(server, os.X_OK) and os.path.exists(model)):
        rep.section("6. llama-server tokens per second", ["figure", "value"],
                    [["llama-server", f"n/a: {server} or {model} missing (scripts/build-llama-server.sh, "
                                      "scripts/ensure-test-model.sh)"]])
        rep.ratio("llama-server generation tok/s, wrapped / bare", "n/a", "", "—", None)
        return
    pa, pb = free_port(), free_port()
    common = ["-m", model, "--host", "127.0.0.1", "-t", "1", "-tb", "1", "-c", "1024", "--no-warmup"]
    logf = open(os.path.join(ctx.tmp, "llama.log"), "w")
    bare = start([server] + common + ["--port", str(pa)], stdout=logf, stderr=subprocess.STDOUT)
    inner = start([ctx.lpa, "--profile", "strict", "-p", f"127.0.0.1:{pb}:8080", "--model", model, server] + common +
                  ["--port", "8080"], stdout=logf, stderr=subprocess.STDOUT)
    try:
        for port in (pa, pb):
            if not wait_http(f"http://127.0.0.1:{port}/health", 60):
                raise RuntimeError(f"llama-server on {port} not healthy; log: {ctx.tmp}/llama.log")
        prompt = ("The quick brown fox jumps over the lazy dog while the sandbox keeps the model private. " * 3)[:256]
        body = json.dumps({"prompt": prompt, "n_predict": 128, "cache_prompt": False, "ignore_eos": True,
                           "temperature": 0}).encode()

        def one(port):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/completion", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=120) as r:
                t = json.load(r)["timings"]
            return (t["prompt_per_second"], t["predicted_per_second"], t["prompt_n"], t["predicted_n"])
        log(f"llama-server: {ctx.args.llama_rounds} interleaved completions each")
        res = interleave({"bare": pa, "lpa-run strict, via -p": pb}, ctx.args.llama_rounds, 2, one)
        rows = []
        for name, xs in res.items():
            pp, tg = summ([x[0] for x in xs]), summ([x[1] for x in xs])
            rows.append([name, fmt(pp["median"]), spread(pp), fmt(tg["median"]), spread(tg)])
        rp = summ(paired([x[0] for x in res["lpa-run strict, via -p"]], [x[0] for x in res["bare"]], lambda a, b: a / b))
        rg = summ(paired([x[1] for x in res["lpa-run strict, via -p"]], [x[1] for x in res["bare"]], lambda a, b: a / b))
        rows.append(["wrapped / bare", fmt(rp["median"], 3), f"{fmt(rp['p10'], 3)}–{fmt(rp['p90'], 3)}",
                     fmt(rg["median"], 3), f"{fmt(rg['p10'], 3)}–{fmt(rg['p90'], 3)}"])
        rep.ratio("llama-server prompt tok/s, wrapped / bare", fmt(rp["median"], 3), f"{fmt(rp['p10'], 3)}–{fmt(rp['p90'], 3)}", "—", None)
        rep.ratio("llama-server generation tok/s, wrapped / bare", fmt(rg["median"], 3), f"{fmt(rg['p10'], 3)}–{fmt(rg['p90'], 3)}", "—", None)
        n = res["bare"][0]
        rep.section("6. llama-server on the tiny model (tokens/s, from /completion `timings`)",
                    ["server", "prompt tok/s", "p10–p90", "generation tok/s", "p10–p90"], rows,
                    [f"{os.path.basename(model)}, -t 1 (2 shared cores: more threads spin against each other), "
                     f"prompt {n[2]} tokens, {n[3]} generated, cache_prompt off; both servers up at once, requests "
                     "alternate, so only one computes at a time."])
    finally:
        stop(inner)
        stop(bare)


# ---------------------------------------------------------------- main

def machine(lpa):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except Exception:
            return "n/a"
    git = ver(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "kernel": platform.release(),
        "os": ver(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
        "lpa-run": f"{ver([lpa, '--version'])} (git {git}, {lpa})",
        "bwrap": ver(["bwrap", "--version"]),
        "firejail": ver(["firejail", "--version"]),
        "user": f"uid {os.getuid()}",
    }


def write_doc(path, m, rep, elapsed):
    out = ["# Benchmarks", "",
           "Generated by `make bench` (bench/run.sh). Medians with p10–p90 over interleaved runs; "
           "ratios first. These machines are shared: compare ratios, not absolute times.", "",
           "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in m.items()]
    out += [f"| bench wall time | {elapsed:.0f} s |", "", "## Ratios and goals", "",
            "| figure | median | spread (p10–p90) | goal | |", "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rep.ratios]
    out += ["", "## Figures", ""]
    for title, header, rows, notes in rep.sections:
        out.append(render_table(title, header, rows, notes))
    kept = ""
    if os.path.exists(path):
        text = open(path).read()
        if MARKER in text:
            kept = text.split(MARKER, 1)[1]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n" + MARKER + kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lpa-run-dev")
    ap.add_argument("--lpa-run", default=os.path.join(ROOT, ".build/release/lpa-run"))
    ap.add_argument("--helpers", required=True, help="directory with netbench, sysloop, mkbpf")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/BENCHMARKS.md"), help="'-' for stdout only")
    ap.add_argument("--only", default="startup,memory,seccomp,relay,hash,llama")
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, not for the docs)")
    ap.add_argument("--startup-rounds", type=int, default=40)
    ap.add_argument("--syscalls", type=int, default=10_000_000)
    ap.add_argument("--syscall-rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--bulk-mb", type=int, default=1024)
    ap.add_argument("--bulk-rounds", type=int, default=5)
    ap.add_argument("--hash-file", default=os.path.join(cache, "bench", "hash-2g.bin"))
    ap.add_argument("--hash-mb", type=int, default=2048)
    ap.add_argument("--hash-rounds", type=int, default=3)
    ap.add_argument("--llama-server", default=os.path.join(cache, "llama/bin/llama-server"))
    ap.add_argument("--llama-model", default=os.path.join(cache, "llama/tiny.gguf"))
    ap.add_argument("--llama-rounds", type=int, default=10)
    args = ap.parse_args()
    if args.quick:
        args.startup_rounds, args.syscalls, args.syscall_rounds = 8, 1_000_000, 2
        args.requests, args.bulk_mb, args.bulk_rounds = 200, 256, 2
        args.hash_mb, args.hash_rounds, args.llama_rounds = 256, 1, 2
        if args.hash_file.endswith("hash-2g.bin"):
            args.hash_file = args.hash_file.replace("hash-2g.bin", "hash-256m.bin")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.time()
    ctx = Ctx(args)
    rep = Report()
    m = machine(ctx.lpa)
    print("\n".join(f"{k}: {v}" for k, v in m.items()) + "\n", flush=True)
    steps = {"startup": bench_startup, "memory": bench_memory, "seccomp": bench_seccomp, "relay": bench_relay,
             "hash": bench_hash, "llama": bench_llama}
    try:
        for name in args.only.split(","):
            try:
                steps[name](ctx, rep)
            except Exception as e:  # one broken figure must not hide the others
                log(f"{name}: FAILED: {e}")
                rep.section(f"{name}: failed", ["error"], [[str(e).replace("\n", " ")[:600]]])
    finally:
        stop_all()
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    elapsed = time.time() - t0
    print("## Ratios and goals\n")
    print(render_table("summary", ["figure", "median", "spread (p10–p90)", "goal", ""], rep.ratios))
    print(f"bench wall time: {elapsed:.0f} s")
    if args.out != "-":
        write_doc(args.out, m, rep, elapsed)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()

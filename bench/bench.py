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
import math
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


def median_ci(xs):
    """95% confidence interval of the median, distribution-free: the order statistics j and
    n+1-j (1-based) with j the largest rank where P(Binomial(n, 1/2) < j) <= 2.5%, so that a
    goal is judged on where the median is, not on one run's luck. nan under 6 samples."""
    xs = sorted(xs)
    n = len(xs)
    if n < 6:
        return float("nan"), float("nan")
    below, j = 0.0, 0
    while True:
        below += math.comb(n, j) / 2 ** n    # P(Binomial(n, 1/2) <= j), i.e. < j+1
        if below > 0.025:
            break
        j += 1
    j = max(j, 1)
    return xs[j - 1], xs[n - j]


def summ(xs):
    lo, hi = median_ci(xs)
    return {"median": statistics.median(xs), "p10": pct(xs, 10), "p90": pct(xs, 90), "n": len(xs),
            "ci_lo": lo, "ci_hi": hi}


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


def ci(s, digits=2):
    return f"{fmt(s['ci_lo'], digits)}–{fmt(s['ci_hi'], digits)}"


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- results

class Report:
    def __init__(self):
        self.ratios = []     # (figure, value, spread, 95% interval or "—", goal, verdict)
        self.sections = []   # (title, header, rows, notes)

    def ratio(self, figure, value, spr, goal, ok, interval=""):
        """`interval`: the 95% confidence interval of the median (median_ci), where the
        figure is a median of paired rounds; goals between two noisy things are judged on it."""
        verdict = "n/a" if ok is None else ("met" if ok else "not met")
        self.ratios.append((figure, value, spr, interval or "—", goal, verdict))

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
        self.chart = {}  # figures for the SVG charts
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
    # lpa-run keeps no launch record of a run whose files changed in the 2 s before it
    # (the profile written above): let it settle, so that every variant is measured
    # in its steady state.
    settle = 2.2 - (time.time() - os.stat(ctx.nonet).st_mtime)
    if settle > 0:
        time.sleep(settle)
    compiled = dict(os.environ, LPA_START_CACHE="off")
    v = {
        "bare /bin/true": (["/bin/true"], {}),
        "lpa-run --profile strict": ([ctx.lpa, "--profile", "strict", "/bin/true"], {}),
        "lpa-run --profile strict, compiled (LPA_START_CACHE=off)":
            ([ctx.lpa, "--profile", "strict", "/bin/true"], {}, compiled),
        "bwrap --unshare-all + seccomp": (ctx.bwrap(True) + ["/bin/true"], {"bpf": ctx.bpf}),
        "bwrap --unshare-all --share-net + seccomp": (ctx.bwrap(False) + ["/bin/true"], {"bpf": ctx.bpf}),
    }
    if ctx.nonet_ok:
        v["lpa-run strict without netns"] = ([ctx.lpa, "--profile", ctx.nonet, "/bin/true"], {})
    if shutil.which("firejail"):
        v["firejail --noprofile --net=none --private --seccomp"] = (
            ["firejail", "--quiet", "--noprofile", "--net=none", "--private", "--seccomp", "/bin/true"], {})
    log(f"start-up: {len(v)} variants x {rounds} rounds")
    res = interleave(v, rounds, 3, lambda x: run_timed(x[0], x[1], x[2] if len(x) > 2 else None) / 1e6)
    ctx.chart["startup"] = {k: res[k] for k in ("lpa-run --profile strict", "bwrap --unshare-all + seccomp",
                                                 "firejail --noprofile --net=none --private --seccomp", "bare /bin/true")
                            if k in res}
    base = statistics.median(res["bwrap --unshare-all + seccomp"])
    rows = []
    for k, xs in res.items():
        s = summ(xs)
        rows.append([k, fmt(s["median"]), spread(s), fmt(s["median"] / base)])
    r = paired(res["lpa-run --profile strict"], res["bwrap --unshare-all + seccomp"], lambda a, b: a / b)
    sr = summ(r)
    rep.ratio("start-up lpa-run strict / bwrap (all namespaces)", fmt(sr["median"]), spread(sr), "≤ 0.8",
              sr["median"] <= 0.8, ci(sr))
    notes = [f"{rounds} interleaved rounds (3 warm-up rounds dropped), wall time of fork+exec+wait from Python; "
             "the bare row is that harness floor.",
             f"bwrap gets the same mounts as lpa-run's strict plan (derived from `--dry-run --format json`) and "
             f"a libseccomp filter with the same {ctx.bpf_rules} deny rules (bench/mkbpf.c).",
             "Paired ratio = per-round lpa-run/bwrap, median and p10–p90.",
             "From its second round a repeated lpa-run command line starts from its launch record (no compile; "
             "see docs/profiles.md, \"launch records\"); the compiled row is every run with the records off "
             "(`LPA_START_CACHE=off`, which also turns off the socket-walk and seccomp-program caches): a first run."]
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


def rollup(pid):
    """Pss and friends (kB) from /proc/PID/smaps_rollup: shared pages counted by their share."""
    d = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    d[k] = int(v.split()[0])
    except OSError:
        pass
    return d


def bench_memory(ctx, rep):
    reps = 5
    nb = os.path.join(ctx.bin, "netbench")
    roles = ("launcher", "init")
    keys = ("VmHWM", "VmRSS", "Pss", "Pss_Anon")
    got = {n: {r: {k: [] for k in keys} for r in roles} for n in ("lpa-run", "bwrap")}
    for _ in range(reps):
        for name in random.sample(list(got), 2):
            port = free_port()
            if name == "lpa-run":
                # Supervising as it does in use: relaying a published port (after some requests through
                # it) and auditing (strict sends its denials to the audit supervisor).
                cmd = [ctx.lpa, "--profile", "strict", "-p", f"127.0.0.1:{port}:8080", nb, "server", "8080"]
            else:
                cmd = ctx.bwrap(True, extra_ro=[ctx.bin]) + [nb, "server", "8080"]
            fd = os.open(ctx.bpf, os.O_RDONLY)
            c = [x.replace("{bpf}", str(fd)) for x in cmd]
            t0 = time.time()
            p = start(c, stdout=DEVNULL, pass_fds=[fd])
            os.close(fd)
            try:
                if name == "lpa-run":
                    if subprocess.run([nb, "wait", str(port), "10000"]).returncode != 0:
                        raise RuntimeError(f"lpa-run -p on {port} did not answer")
                    for ka in ("0", "1"):
                        subprocess.run([nb, "lat", str(port), "100", ka], stdout=DEVNULL, check=True)
                # Read 2 s in: lpa-run sheds its start-up pages 1 s after the workload started.
                time.sleep(max(0.0, 2.0 - (time.time() - t0)))
                if name == "lpa-run":
                    subprocess.run([nb, "lat", str(port), "100", "1"], stdout=DEVNULL, check=True)
                ch = children(p.pid)
                for role, pid in (("launcher", p.pid), ("init", ch[0] if ch else None)):
                    st = proc_status(pid) if pid else {}
                    ro = rollup(pid) if pid else {}
                    got[name][role]["VmHWM"].append(kb(st, "VmHWM"))
                    got[name][role]["VmRSS"].append(kb(st, "VmRSS"))
                    got[name][role]["Pss"].append(ro.get("Pss", float("nan")))
                    got[name][role]["Pss_Anon"].append(ro.get("Pss_Anon", float("nan")))
            finally:
                stop(p)
    labels = {("lpa-run", "launcher"): "lpa-run (parent: relaying, auditing)", ("lpa-run", "init"): "lpa-run's init (pid 1)",
              ("bwrap", "launcher"): "bwrap (parent)", ("bwrap", "init"): "bwrap's pid 1"}
    rows = []
    med = lambda xs: statistics.median(xs) / 1024
    for name in got:
        for role in roles:
            g = got[name][role]
            rows.append([labels[(name, role)], fmt(med(g["VmHWM"])), fmt(med(g["VmRSS"])), fmt(med(g["Pss"])),
                         fmt(med(g["Pss_Anon"]))])
    pss = summ([x / 1024 for x in got["lpa-run"]["launcher"]["Pss"]])
    rep.ratio("supervisor PSS, lpa-run parent relaying and auditing (MiB)", fmt(pss["median"]), spread(pss), "≤ 4 MiB",
              pss["median"] <= 4)
    rep.section("2. Memory while the workload runs (MiB)",
                ["process", "peak RSS (VmHWM)", "RSS (VmRSS)", "PSS", "PSS anonymous"], rows,
                [f"The workload is the relay benchmark's server (bench/netbench.c): lpa-run publishes its port with -p and "
                 "is read 2 s in, after 300 requests through it (100 of them after the start-up pages were shed, 1 s in); "
                 "bwrap runs it with the same mounts and filter, read 2 s in. /proc/PID/status "
                 f"and /proc/PID/smaps_rollup, median of {reps} runs, interleaved. PSS counts a page shared by N processes "
                 "as 1/N: the supervisor's own cost."])


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

def descendants(pid):
    out, queue = [], [pid]
    while queue:
        ch = children(queue.pop())
        out += ch
        queue += ch
    return out


def host_congestion():
    try:
        return open("/proc/sys/net/ipv4/tcp_congestion_control").read().strip()
    except OSError:
        return "unknown"


def relay_variants(ctx, nb, pa):
    """The relays compared with lpa-run -p: name -> (port, Popen or None, extra pids to stop)."""
    v = {}
    err = open(os.path.join(ctx.tmp, "relay.err"), "a")
    pb = free_port()
    v["lpa-run -p"] = (pb, start([ctx.lpa, "--profile", "strict", "-p", f"127.0.0.1:{pb}:8080", nb, "server", "8080"],
                                 stdout=DEVNULL, stderr=err))
    if shutil.which("pasta"):
        # pasta (passt): the same server in a network namespace of its own, port 8080 published on 127.0.0.1
        # (its spliced loopback path); as root it would switch to nobody, so it keeps the caller's uid.
        pc = free_port()
        runas = ["--runas", str(os.getuid())] if os.getuid() == 0 else []
        v["pasta -t"] = (pc, start(["pasta", "--quiet", "-f", "--config-net"] + runas +
                                   ["-t", f"127.0.0.1/{pc}:8080", "-u", "none", "-T", "none", "-U", "none",
                                    "--", nb, "server", "8080"], stdout=DEVNULL, stderr=err))
    if shutil.which("socat"):
        # socat: a user-space relay in front of the direct server (one forked process per connection).
        pd = free_port()
        v["socat"] = (pd, start(["socat", f"TCP-LISTEN:{pd},bind=127.0.0.1,reuseaddr,fork,nodelay",
                                 f"TCP:127.0.0.1:{pa},nodelay"], stdout=DEVNULL, stderr=err))
    return v


def bench_relay(ctx, rep):
    nb = os.path.join(ctx.bin, "netbench")
    pa = free_port()
    bare = start([nb, "server", str(pa)], stdout=DEVNULL)
    relays = relay_variants(ctx, nb, pa)
    extra = []
    try:
        servers = {"direct": (pa, bare)}
        servers.update(relays)
        for name, (port, p) in servers.items():
            if subprocess.run([nb, "wait", str(port), "10000"]).returncode != 0:
                err = open(os.path.join(ctx.tmp, "relay.err")).read()
                raise RuntimeError(f"{name} on {port} did not answer (exit {p.poll()}): {err[-800:]}")
        if "pasta -t" in relays:
            extra = descendants(relays["pasta -t"][1].pid)  # the server pasta started: stopped by pid at the end
        ports = {name: port for name, (port, _) in servers.items()}
        rows = []
        chart = {}
        total, block = ctx.args.requests, 100
        for ka in (0, 1):
            lat = {name: [] for name in ports}
            per_block = {name: [] for name in ports}  # median of each block, for paired differences
            log(f"relay: {total} sequential requests each through {len(ports)} paths, keep-alive {'on' if ka else 'off'}")
            for _ in range(total // block):
                order = list(ports.items())
                random.shuffle(order)
                for name, port in order:
                    out = subprocess.run([nb, "lat", str(port), str(block), str(ka)], capture_output=True, text=True,
                                         check=True).stdout
                    xs = [int(x) / 1000 for x in out.split()]
                    lat[name] += xs
                    per_block[name].append(statistics.median(xs))
            kal = "keep-alive on" if ka else "new connection each"
            for name in lat:
                rows.append([f"latency, {kal}: {name}", f"p50 {fmt(pct(lat[name], 50))} µs",
                             f"p99 {fmt(pct(lat[name], 99))} µs", f"p10–p90 {fmt(pct(lat[name], 10))}–{fmt(pct(lat[name], 90))} µs"])
            chart[kal] = {}
            for name in relays:
                add50 = pct(lat[name], 50) - pct(lat["direct"], 50)
                add99 = pct(lat[name], 99) - pct(lat["direct"], 99)
                chart[kal][name] = add50
                rows.append([f"latency, {kal}: added by {name}", f"p50 +{fmt(add50)} µs", f"p99 +{fmt(add99)} µs", ""])
            add50 = chart[kal]["lpa-run -p"]
            add99 = pct(lat["lpa-run -p"], 99) - pct(lat["direct"], 99)
            rep.ratio(f"relay added p50 latency, {kal} (µs)", fmt(add50), f"p99 +{fmt(add99)}", "< 50 µs", add50 < 50)
            if "pasta -t" in relays:
                d = summ(paired(per_block["lpa-run -p"], per_block["pasta -t"], lambda a, b: a - b))
                rows.append([f"latency, {kal}: lpa-run − pasta (paired block medians)", f"{fmt(d['median'])} µs",
                             f"p10–p90 {spread(d)} µs", ""])
                rep.ratio(f"relay latency, {kal}: lpa-run − pasta (µs, paired block medians)", fmt(d["median"]),
                          spread(d), "< 0 (whole interval)", d["ci_hi"] < 0, ci(d))
        size = ctx.args.bulk_mb << 20
        log(f"relay: bulk {ctx.args.bulk_mb} MiB x {ctx.args.bulk_rounds} each")
        res = interleave(ports, ctx.args.bulk_rounds, 1,
                         lambda port: size / (int(subprocess.run([nb, "bulk", str(port), str(size)], capture_output=True,
                                                                 text=True, check=True).stdout) / 1e9) / 1e6)
        for name, xs in res.items():
            s = summ(xs)
            rows.append([f"bulk {ctx.args.bulk_mb} MiB: {name}", f"{fmt(s['median'])} MB/s", f"p10–p90 {spread(s)}", ""])
        chart["bulk"] = {}
        for name in relays:
            r = summ(paired(res[name], res["direct"], lambda a, b: a / b))
            chart["bulk"][name] = r["median"]
            rows.append([f"bulk: {name} / direct", fmt(r["median"], 3), f"p10–p90 {fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", ""])
            if name == "lpa-run -p":
                rep.ratio("relay bulk throughput, published / direct", fmt(r["median"], 3),
                          f"{fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", "≥ 0.8", r["median"] >= 0.8)
        if "pasta -t" in relays:
            r = summ(paired(res["lpa-run -p"], res["pasta -t"], lambda a, b: a / b))
            rows.append(["bulk: lpa-run / pasta", fmt(r["median"], 3), f"p10–p90 {fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", ""])
            rep.ratio("relay bulk throughput, lpa-run / pasta", fmt(r["median"], 3),
                      f"{fmt(r['p10'], 3)}–{fmt(r['p90'], 3)}", "≥ 1.0 (whole interval)", r["ci_lo"] >= 1.0, ci(r, 3))
        ctx.chart["relay"] = chart
        missing = [n for n in ("pasta", "socat") if not shutil.which(n)]
        notes = [f"The same server (bench/netbench.c) runs bare on 127.0.0.1:{pa} (direct), inside `lpa-run --profile strict "
                 f"-p 127.0.0.1:PORT:8080`, inside `pasta --config-net -t 127.0.0.1/PORT:8080` (passt's own network "
                 f"namespace, its spliced loopback path) and behind `socat TCP-LISTEN:PORT,fork,nodelay TCP:127.0.0.1:{pa},nodelay`; "
                 f"the client (C, TCP_NODELAY) runs blocks of {block} sequential GET requests through each path, the "
                 "order shuffled in every round; bulk is one GET of the whole size, 1 MiB writes, interleaved rounds.",
                 "lpa-run − pasta: per round, the difference of the two block medians; negative means lpa-run adds less.",
                 "Congestion control: lpa-run's relay gives its own loopback sockets reno (relay.c loopback_congestion); "
                 f"every other socket here uses the host's default, {host_congestion()}."]
        if missing:
            notes.append(f"not installed, rows missing: {', '.join(missing)} (bench/run.sh installs passt and socat as root).")
        rep.section("4. Published-port relay vs direct, pasta and socat (same server, same client)",
                    ["figure", "a", "b", "c"], rows, notes)
    finally:
        for name, (port, p) in relays.items():
            stop(p)
            if name == "lpa-run -p" and p.returncode not in (0, 143, -15):
                log(f"note: lpa-run with -p exited {p.returncode} after SIGTERM")
        for pid in extra:  # pid 1 of pasta's pid namespace: ignores SIGTERM, and outlives pasta
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop(bare)


# ---------------------------------------------------------------- 5. hashing

def reachable(ctx, path, copy=True):
    """A path to the same file that the sandbox user can reach: for a root caller that is uid 65534,
    and the caches under root's 0700 home are out of its reach. A hard link in the world-readable temp
    dir (no copy), else a copy when `copy`, else the path as it is."""
    dst = os.path.join(ctx.tmp, os.path.basename(path))
    if os.path.exists(dst):
        return dst
    try:
        os.link(path, dst)
        return dst
    except OSError as e:
        if copy:
            shutil.copy2(path, dst)
            return dst
        log(f"cannot link {path} into {ctx.tmp} ({e}): used where it is")
        return path


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
        # The sandbox user (uid 65534 for a root caller) cannot reach the cache under a 0700 home:
        # bind a hard link of the file from the world-readable temp dir instead (same bytes, no copy).
        path = reachable(ctx, path, copy=False)
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
    server, model = reachable(ctx, server), reachable(ctx, model)  # the same files for both servers
    pa, pb = free_port(), free_port()
    # Both servers pinned to the same single CPU with one thread each (taskset is inherited by
    # lpa-run's sandbox): the scheduler cannot give one side a less contended core, and with
    # requests alternating only one of them computes at a time.
    cpus = os.sched_getaffinity(0)
    cpu = str(max(cpus))
    pin = ["taskset", "-c", cpu] if shutil.which("taskset") else []
    # The client (this script) stays off the servers' CPU, so its JSON parsing and the
    # next request's set-up never preempt a server mid-computation.
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus - {max(cpus)})
    common = ["-m", model, "--host", "127.0.0.1", "-t", "1", "-tb", "1", "-c", "2048", "--no-warmup"]
    logf = open(os.path.join(ctx.tmp, "llama.log"), "w")
    bare = start(pin + [server] + common + ["--port", str(pa)], stdout=logf, stderr=subprocess.STDOUT)
    inner = start(pin + [ctx.lpa, "--profile", "strict", "-p", f"127.0.0.1:{pb}:8080", "--model", model, server] +
                  common + ["--port", "8080"], stdout=logf, stderr=subprocess.STDOUT)
    try:
        for port in (pa, pb):
            if not wait_http(f"http://127.0.0.1:{port}/health", 60):
                raise RuntimeError(f"llama-server on {port} not healthy; log: {ctx.tmp}/llama.log")
        # A long prompt (hundreds of tokens) and a long generation: each figure is an average over
        # enough work that a scheduler tick or a page fault does not move it.
        prompt = " ".join(f"The quick brown fox {i} jumps over the lazy dog while the sandbox keeps the model private."
                          for i in range(ctx.args.llama_prompt_sentences))  # ~125 tokens each
        body = json.dumps({"prompt": prompt, "n_predict": ctx.args.llama_tokens, "cache_prompt": False,
                           "ignore_eos": True, "temperature": 0}).encode()

        # Prompt processing of ~1000 tokens takes tens of milliseconds here, where one timer
        # tick or a stolen slice moves the figure by 10%: each round also sends the prompt
        # alone (one token generated) a few times, and prompt tok/s is taken over all of them.
        prompt_only = json.dumps({"prompt": prompt, "n_predict": 1, "cache_prompt": False,
                                  "temperature": 0}).encode()

        def timings(port, data):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/completion", data=data,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=300) as r:
                return json.load(r)["timings"]

        def one(port):
            # The two servers share one CPU and its caches: the first request after a switch
            # finds them cold, so one untimed prompt-only request goes first.
            timings(port, prompt_only)
            t = timings(port, body)
            prompt_n, prompt_ms = t["prompt_n"], t["prompt_ms"]
            for _ in range(ctx.args.llama_prompt_repeats):
                p = timings(port, prompt_only)
                prompt_n, prompt_ms = prompt_n + p["prompt_n"], prompt_ms + p["prompt_ms"]
            return (prompt_n / (prompt_ms / 1000), t["predicted_per_second"], t["prompt_n"], t["predicted_n"])
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
        rep.ratio("llama-server prompt tok/s, wrapped / bare", fmt(rp["median"], 3), f"{fmt(rp['p10'], 3)}–{fmt(rp['p90'], 3)}",
                  "≥ 0.98 (whole interval)", rp["ci_lo"] >= 0.98, ci(rp, 3))
        rep.ratio("llama-server generation tok/s, wrapped / bare", fmt(rg["median"], 3), f"{fmt(rg['p10'], 3)}–{fmt(rg['p90'], 3)}",
                  "≥ 0.98 (whole interval)", rg["ci_lo"] >= 0.98, ci(rg, 3))
        n = res["bare"][0]
        rep.section("6. llama-server on the tiny model (tokens/s, from /completion `timings`)",
                    ["server", "prompt tok/s", "p10–p90", "generation tok/s", "p10–p90"], rows,
                    [f"{os.path.basename(model)}, -t 1 -tb 1, both servers pinned to CPU {cpu} (`taskset -c {cpu}`, "
                     "inherited by lpa-run's sandbox), "
                     f"prompt {n[2]} tokens, {n[3]} generated, cache_prompt off; prompt tok/s over the full request and "
                     f"{ctx.args.llama_prompt_repeats} prompt-only ones per round, after an untimed one (caches warm after the switch); the client pinned to the other CPU; both servers up at once, requests "
                     f"alternate in shuffled rounds ({ctx.args.llama_rounds} each, 2 warm-up rounds dropped), so only one "
                     "computes at a time. wrapped / bare is the per-round paired ratio, median and p10–p90."])
    finally:
        os.sched_setaffinity(0, cpus)
        stop(inner)
        stop(bare)


# ---------------------------------------------------------------- charts

def gnuplot_quote(t):
    return '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_charts(ctx, outdir):
    """SVG charts of this run with gnuplot (bench/run.sh installs gnuplot-nox): the start-up
    distributions and the relay rows. Returns {name: path} of the charts written."""
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no charts (bench/run.sh installs gnuplot-nox as root)")
        return {}
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="lpa-bench-chart-", dir=ctx.tmp)
    written = {}
    head = 'set terminal svg size 860,440 dynamic font "sans,12" background "#ffffff"\nset grid\nset key outside right top\n'
    st = ctx.chart.get("startup")
    if st:
        plots = []
        for i, (name, xs) in enumerate(st.items()):
            data = os.path.join(work, f"startup{i}.dat")
            with open(data, "w") as f:
                xs = sorted(xs)
                for j, x in enumerate(xs):
                    f.write(f"{x:.4f} {100.0 * (j + 0.5) / len(xs):.2f}\n")
            label = {"lpa-run --profile strict": "lpa-run strict", "bwrap --unshare-all + seccomp": "bwrap",
                     "bare /bin/true": "bare"}.get(name, name.split(" --")[0])
            plots.append(f"{gnuplot_quote(data)} using 1:2 with linespoints pt 7 ps 0.4 lw 2 title "
                         f"{gnuplot_quote(label + ' (median ' + fmt(statistics.median(xs)) + ' ms)')}")
        path = os.path.join(outdir, "startup.svg")
        script = head + (f"set output {gnuplot_quote(path)}\n"
                         "set title \"Start-up of /bin/true (wall time, interleaved rounds)\"\n"
                         "set key inside right bottom\n"
                         "set xlabel \"ms\"\nset ylabel \"percent of runs at or below\"\nset yrange [0:100]\n"
                         "set logscale x\n"
                         "plot " + ", \\\n     ".join(plots) + "\n")
        if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
            written["startup"] = path
    rl = ctx.chart.get("relay")
    if rl:
        names = list(rl.get("bulk") or next(iter(rl.values())))
        data = os.path.join(work, "relay.dat")
        with open(data, "w") as f:
            for n in names:
                f.write(f"{gnuplot_quote(n)} {rl.get('new connection each', {}).get(n, 0):.2f} "
                        f"{rl.get('keep-alive on', {}).get(n, 0):.2f} {rl.get('bulk', {}).get(n, 0):.4f}\n")
        path = os.path.join(outdir, "relay.svg")
        script = (head.replace("size 860,440", "size 960,420") +
                  f"set output {gnuplot_quote(path)}\n"
                  "set multiplot layout 1,2 title \"Published-port relays against the direct path (same server, same client)\"\n"
                  "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
                  "set boxwidth 0.9\nset key top left inside\n"
                  "set title \"added p50 latency per request (µs, log scale)\"\nset logscale y\nset yrange [1:*]\n"
                  f"plot {gnuplot_quote(data)} using 2:xtic(1) title \"new connection\", '' using 3 title \"keep-alive\"\n"
                  "unset logscale y\nset yrange [0:*]\nset title \"bulk throughput, × direct (higher is better)\"\n"
                  f"plot {gnuplot_quote(data)} using 4:xtic(1) title \"bulk\" lc rgb \"#4a7\"\n"
                  "unset multiplot\n")
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode == 0:
            written["relay"] = path
        else:
            log("gnuplot relay chart:", r.stderr[-400:])
    return written


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
        "load at start (1, 5, 15 min)": " ".join(open("/proc/loadavg").read().split()[:3]),
        "lpa-run": f"{ver([lpa, '--version'])} (git {git}, {lpa})",
        "bwrap": ver(["bwrap", "--version"]),
        "firejail": ver(["firejail", "--version"]),
        "user": f"uid {os.getuid()}",
    }


def write_doc(path, m, rep, elapsed, charts=None):
    out = ["# Benchmarks", "",
           "Generated by `make bench` (bench/run.sh). Medians with p10–p90 over interleaved runs; "
           "ratios first. These machines are shared: compare ratios, not absolute times.", "",
           "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in m.items()]
    out += [f"| bench wall time | {elapsed:.0f} s |", "", "## Ratios and goals", "",
            "| figure | median | spread (p10–p90) | 95% CI of the median | goal | |", "|---|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} | {f} |" for a, b, c, d, e, f in rep.ratios]
    if charts:
        out += ["", "## Charts", ""]
        for name, chart in charts.items():
            out += [f"![{name}]({os.path.relpath(chart, os.path.dirname(os.path.abspath(path)))})", ""]
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
    ap.add_argument("--startup-rounds", type=int, default=60)
    ap.add_argument("--syscalls", type=int, default=10_000_000)
    ap.add_argument("--syscall-rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=4000)
    # 20 rounds of 512 MiB rather than 8 of 1 GiB (the same time): with 8 paired rounds the
    # 95% interval of the median is the smallest to the largest ratio, so one disturbed
    # round decides the verdict; with 20 it is the 6th to the 15th.
    ap.add_argument("--bulk-mb", type=int, default=512)
    ap.add_argument("--bulk-rounds", type=int, default=20)
    ap.add_argument("--hash-file", default=os.path.join(cache, "bench", "hash-2g.bin"))
    ap.add_argument("--hash-mb", type=int, default=2048)
    ap.add_argument("--hash-rounds", type=int, default=3)
    ap.add_argument("--llama-server", default=os.path.join(cache, "llama/bin/llama-server"))
    ap.add_argument("--llama-model", default=os.path.join(cache, "llama/tiny.gguf"))
    ap.add_argument("--llama-rounds", type=int, default=48)
    ap.add_argument("--llama-tokens", type=int, default=512)
    ap.add_argument("--llama-prompt-repeats", type=int, default=4,
                    help="prompt-only requests per round besides the full one (prompt tok/s is taken over all)")
    ap.add_argument("--llama-prompt-sentences", type=int, default=8,
                    help="prompt length: ~125 tokens each (with --llama-tokens, within the tiny model's 2048)")
    args = ap.parse_args()
    if args.quick:
        args.startup_rounds, args.syscalls, args.syscall_rounds = 8, 1_000_000, 2
        args.requests, args.bulk_mb, args.bulk_rounds = 200, 256, 2
        args.hash_mb, args.hash_rounds, args.llama_rounds = 256, 1, 2
        if args.hash_file.endswith("hash-2g.bin"):
            args.hash_file = args.hash_file.replace("hash-2g.bin", "hash-256m.bin")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.time()
    charts = {}
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
        m["load at end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        if args.out != "-":
            charts = write_charts(ctx, os.path.join(os.path.dirname(os.path.abspath(args.out)), "bench"))
    finally:
        stop_all()
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    elapsed = time.time() - t0
    print("## Ratios and goals\n")
    print(render_table("summary", ["figure", "median", "spread (p10–p90)", "95% CI of the median", "goal", ""], rep.ratios))
    print(f"bench wall time: {elapsed:.0f} s")
    if args.out != "-":
        write_doc(args.out, m, rep, elapsed, charts)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()

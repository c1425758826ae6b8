#!/usr/bin/env python3
"""Killed launches (docs/RELIABILITY.md): starts `lpa-run --profile strict` with a
published port, a host endpoint and an audit log, kills lpa-run, its init or the
workload at a random point between exec and the workload's first output, and checks
that nothing is left behind: no process (this driver is a child subreaper, so every
orphan comes back to it), no bound listener, no mount in the host's namespace, no file
outside the audit log, and that the next run works. SIGTERM and SIGINT to lpa-run must
end the run with 128+N, never hang. Prints one JSON object of figures; exit 1 on any
leftover or hang.

usage: chaos.py LPA_RUN ITERATIONS SEED WORKDIR
"""
import ctypes, json, os, random, re, select, signal, socket, subprocess, sys, time

lpa_run, iterations, seed, workdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the run come back here

endpoint = socket.socket()
endpoint.bind(("127.0.0.1", 0))
endpoint.listen(64)
endpoint_port = endpoint.getsockname()[1]
audit_log = os.path.join(workdir, "audit.jsonl")
home = os.environ["HOME"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mounts():
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f)


def files(root):
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(os.path.join(dirpath, name))
    return found


def children():
    """Every process still parented to this driver (orphans included), reaping zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    alive = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            alive += [int(p) for p in f.read().split()]
    return alive


def descendants(pid):
    found, queue = [], [pid]
    while queue:
        p = queue.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                    found += kids
                    queue += kids
        except OSError:
            pass
    return found


def start(port, marker):
    argv = [lpa_run, "--profile", "strict", "-q", "-p", f"127.0.0.1:{port}:8080",
            "--connect", f"127.0.0.1:{endpoint_port}", "--audit-log", audit_log,
            "/bin/sh", "-c", f"echo ready; exec sleep {marker}"]
    return subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def wait_ready(proc, seconds):
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return bool(ready) and proc.stdout.readline().strip() == b"ready"


def settle(seconds=5.0):
    """Waits until no child is left; returns those still there after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not children():
            return []
        time.sleep(0.01)
    return children()


# How long a run takes to print its first line: kill points are spread over it.
starts = []
for _ in range(5):
    t0 = time.monotonic()
    p = start(free_port(), "30")
    ok = wait_ready(p, 30)
    starts.append(time.monotonic() - t0)
    p.send_signal(signal.SIGKILL)
    p.wait()
    settle()
    if not ok:
        print(json.dumps({"error": "lpa-run never printed ready"}))
        sys.exit(1)
ready_time = sorted(starts)[2]

figures = {"iterations": iterations, "seed": seed, "ready_ms": round(ready_time * 1000, 1),
           "killed": {"lpa-run": 0, "init": 0, "workload": 0}, "signalled": {"SIGTERM": 0, "SIGINT": 0},
           "leftover_processes": 0, "hangs": 0, "bound_listeners": 0, "leaked_mounts": 0,
           "stray_files": 0, "bad_status": 0, "next_run_failures": 0, "problems": []}
mounts_before = mounts()
files_before = files(workdir) | {audit_log}
home_before = files(home)

for i in range(iterations):
    port = free_port()
    marker = f"{30 + i % 7}.{i}"
    # Two iterations in three SIGKILL (lpa-run twice as often as the init or the
    # workload), the third sends SIGTERM or SIGINT: 300 iterations are 200 kills.
    action = rng.choice(["lpa-run", "init", "workload", "lpa-run"]) if i % 3 != 2 else rng.choice(["SIGTERM", "SIGINT"])
    delay = rng.uniform(0, ready_time * 1.2)
    proc = start(port, marker)
    time.sleep(delay)
    victim = proc.pid
    if action in ("init", "workload"):
        tree = descendants(proc.pid)
        # The init is lpa-run's child, the workload the init's; earlier, lpa-run itself.
        if action == "init" and tree:
            victim = tree[0]
        elif action == "workload" and len(tree) >= 2:
            victim = tree[-1]
        else:
            action = "lpa-run"
    if action in ("SIGTERM", "SIGINT"):
        figures["signalled"][action] += 1
        number = signal.SIGTERM if action == "SIGTERM" else signal.SIGINT
        proc.send_signal(number)
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            figures["hangs"] += 1
            figures["problems"].append(f"{i}: {action} after {delay*1000:.0f} ms: lpa-run did not end")
            proc.kill()
            status = proc.wait()
        if status not in (128 + number, -number):
            figures["bad_status"] += 1
            figures["problems"].append(f"{i}: {action} after {delay*1000:.0f} ms: status {status}")
    else:
        figures["killed"][action] += 1
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            figures["hangs"] += 1
            figures["problems"].append(f"{i}: killed {action} after {delay*1000:.0f} ms: lpa-run did not end")
            proc.kill()
            proc.wait()
    proc.stdout.close()
    left = settle()
    if left:
        figures["leftover_processes"] += len(left)
        figures["problems"].append(f"{i}: {action} after {delay*1000:.0f} ms left pids {left}")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        settle()
    try:
        s = socket.socket()
        s.bind(("127.0.0.1", port))
        s.close()
    except OSError:
        figures["bound_listeners"] += 1
        figures["problems"].append(f"{i}: {action}: port {port} still bound")
    if mounts() != mounts_before:
        figures["leaked_mounts"] += 1
        figures["problems"].append(f"{i}: {action}: host mounts changed")
    # lpa-run's own caches of socket walks, seccomp programs and launch records (kept by a
    # run) are not litter; anything else new in the home or the working directory is.
    remembered = {os.path.join(home, p) for p in (".cache", ".cache/lpa-run", ".cache/lpa-run/socket-walks.v1",
                                                  ".cache/lpa-run/seccomp-filters.v1")}
    records = {p for p in files(home) if re.fullmatch(re.escape(home) + r"/\.cache/lpa-run/launch-[0-9a-f]{16}\.v1", p)}
    stray = ((files(workdir) - files_before) | (files(home) - home_before - remembered)) - records
    if stray:
        figures["stray_files"] += len(stray)
        figures["problems"].append(f"{i}: {action}: files left: {sorted(stray)[:5]}")
    if i % 50 == 49 or i == iterations - 1:
        check = subprocess.run([lpa_run, "--profile", "strict", "-q", "/bin/echo", "next"], cwd=workdir,
                               capture_output=True, timeout=60)
        if check.returncode != 0 or check.stdout != b"next\n":
            figures["next_run_failures"] += 1
            figures["problems"].append(f"{i}: the next run failed: {check.returncode} {check.stderr[:300]!r}")

figures["problems"] = figures["problems"][:20]
print(json.dumps(figures))
bad = sum(figures[k] for k in ("leftover_processes", "hangs", "bound_listeners", "leaked_mounts", "stray_files",
                                "bad_status", "next_run_failures"))
sys.exit(1 if bad else 0)

#!/usr/bin/env python3
"""Abuse of lpa-run's relay (relay.c): published ports and --connect endpoints under
floods of connections, slow clients, resets, silent (half-open) connections and more
connections than lpa-run has descriptors, on loopback only, against listeners this
script or its caller started. It measures what docs/RELIABILITY.md reports: connections
served, the worst delay of an audited syscall's answer while the relay is abused,
lpa-run's descriptors and RSS before and after, and whether a well-behaved client is
served during and after each abuse.

Subcommands (Tests/LPASandboxTests/RelayAbuseTests.swift runs the first three; `make
soak` runs `soak`, which starts everything itself at a larger scale):

  echo-server  a threaded echo server on the host's loopback (the --connect target);
               prints "listening PORT".
  workload     inside the sandbox: an echo server on 127.0.0.1:PORT, a forked child that
               times blocked connects (each one a seccomp notification lpa-run's audit
               thread answers) and prints {"audit": ...} lines, and with --connect-port
               the abuse of a --connect endpoint from inside, printed as {"connect": ...}.
  abuse        on the host: abuses a published port; prints one JSON object.
  soak         starts an echo server and lpa-run (under prlimit), runs `abuse` and the
               workload's endpoint abuse at scale; prints one JSON object.

Only 127.0.0.1 is contacted, except by the audit timer inside the sandbox, whose
connects to 203.0.113.7 (TEST-NET-3, never routed) are answered ENETUNREACH by lpa-run's
supervisor in an empty network namespace: no packet leaves.
"""
import argparse
import errno
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

AUDIT_TARGET = ("203.0.113.7", 443)


def now():
    return time.monotonic()


# ---------------------------------------------------------------- echo server

TRIGGER = b"start-connect-abuse\n"
triggered = threading.Event()


def serve_echo(listener):
    """Echoes each connection until EOF, then closes it; one thread each. A connection
    that sends TRIGGER first starts the workload's endpoint abuse (and is echoed too)."""
    def handle(conn):
        try:
            first = True
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if first and data.startswith(TRIGGER):
                    triggered.set()
                first = False
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            time.sleep(0.01)
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    return s


def cmd_echo_server(args):
    s = listen(args.port)
    print("listening %d" % s.getsockname()[1], flush=True)
    serve_echo(s)


# ---------------------------------------------------------------- clients

def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def rst_close(s):
    """Closes with a reset (SO_LINGER 0), as a client that gives up does."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def echo_once(port, label, timeout=10.0):
    """A well-behaved client: sends, half-closes, reads the echo to EOF. Returns the
    seconds it took, or raises."""
    start = now()
    payload = (label + " ").encode() + b"z" * 1000
    s = connect(port, timeout)
    try:
        s.settimeout(timeout)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    if got != payload:
        raise RuntimeError("%s: %d bytes came back of %d" % (label, len(got), len(payload)))
    return now() - start


class Good:
    """Well-behaved clients during and after the abuse: each must get its answer."""

    def __init__(self, port):
        self.port = port
        self.served = 0
        self.failed = []
        self.worst = 0.0
        self.most_tries = 0

    def check(self, label, timeout=10.0):
        """Like an HTTP client: a connection refused or closed at once (the relay is at
        its cap) is tried again after a pause, within `timeout` in all."""
        start = now()
        pause = 0.05
        tries = 0
        while True:
            tries += 1
            try:
                echo_once(self.port, label, max(0.5, timeout - (now() - start)))
                self.served += 1
                self.worst = max(self.worst, now() - start)
                self.most_tries = max(self.most_tries, tries)
                return True
            except Exception as e:  # noqa: BLE001 - retried, then recorded
                if now() - start + pause >= timeout:
                    self.failed.append("%s: %s (after %d tries)" % (label, e, tries))
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def report(self):
        return {"served": self.served, "failed": len(self.failed), "first_failure": self.failed[:1],
                "worst_seconds": round(self.worst, 3), "most_tries": self.most_tries}


def drain(s):
    """What is readable now, b"" at EOF, None when nothing yet; raises on a reset."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return None
    return s.recv(65536)


def phase_sequential(port, count, good):
    """`count` connections one after another: closed with a FIN, reset with nothing
    sent, or reset after a request (an RST flood); every 100th a well-behaved echo,
    which also keeps the loop from overrunning the listener's backlog."""
    start = now()
    made = 0
    resets = 0
    request = b"A" * 65536
    for i in range(count):
        try:
            s = connect(port)
        except OSError as e:
            good.failed.append("sequential connect %d: %s" % (i, e))
            continue
        made += 1
        kind = i % 3
        try:
            if kind == 0:
                s.close()
            elif kind == 1:
                rst_close(s)
                resets += 1
            else:
                s.sendall(request)
                rst_close(s)
                resets += 1
        except OSError:
            s.close()
        if i % 100 == 99:
            good.check("sequential %d" % i)
    return {"connections": made, "resets": resets, "seconds": round(now() - start, 2)}


def phase_slowloris(port, count, seconds, good):
    """`count` clients sending one byte a second for `seconds`: slow but never silent,
    so the idle timeout must not cut them; each must get all its bytes back."""
    socks = []
    for _ in range(count):
        socks.append(connect(port))
    sent = [0] * count
    got = [0] * count
    cut = 0
    end = now() + seconds
    tick = 0
    while now() < end:
        for i, s in enumerate(socks):
            if s is None:
                continue
            try:
                s.sendall(b"s")
                sent[i] += 1
            except OSError:
                socks[i] = None
                cut += 1
        good.check("during slowloris %d" % tick)
        tick += 1
        time.sleep(1.0)
        for i, s in enumerate(socks):
            if s is None:
                continue
            try:
                while True:
                    data = drain(s)
                    if data is None:
                        break
                    if data == b"":
                        socks[i] = None
                        cut += 1
                        break
                    got[i] += len(data)
            except OSError:
                socks[i] = None
                cut += 1
    # The last byte's echo.
    deadline = now() + 5
    for i, s in enumerate(socks):
        if s is None:
            continue
        s.settimeout(max(0.1, deadline - now()))
        try:
            while got[i] < sent[i]:
                data = s.recv(65536)
                if not data:
                    cut += 1
                    break
                got[i] += len(data)
        except OSError:
            pass
        s.close()
    short = sum(1 for i in range(count) if got[i] < sent[i])
    return {"clients": count, "seconds": seconds, "bytes_sent": sum(sent), "bytes_echoed": sum(got),
            "cut": cut, "short": short}


def phase_silent(port, count, idle_ms, good):
    """`count` connections opened and then silent (half-open: the client is there but
    says nothing, like one that vanished without a FIN): more than the per-port cap and
    than lpa-run's descriptors. The relay must close those it accepted once they were
    idle for idle_ms; the rest wait in the listener's backlog. Then they all go, and a
    well-behaved client must be served."""
    socks = []
    refused_at_connect = 0
    for _ in range(count):
        try:
            socks.append(connect(port, timeout=3))
        except OSError:
            refused_at_connect += 1
    def closed():
        count = 0
        for s in socks:
            try:
                if drain(s) == b"":
                    count += 1
            except OSError:
                count += 1
        return count
    # Those over the cap were closed at once; the relayed ones only by the idle timeout.
    time.sleep(0.3)
    at_once = closed()
    # A client now is refused at once (over the cap: the connection ends without an
    # answer) or waits in the backlog (out of descriptors) until silent ones time out.
    # Recorded, not required: the cap exists so that this is all a flood can do.
    try:
        echo_once(port, "during silent", timeout=2.0)
        during = "served"
    except socket.timeout:
        during = "waiting"
    except Exception:  # noqa: BLE001 - closed or reset: refused at once
        during = "refused"
    time.sleep(idle_ms / 1000.0 + 1.5)
    total = closed()
    for s in socks:
        s.close()
    return {"connections": len(socks), "refused_at_connect": refused_at_connect, "closed_at_once": at_once,
            "closed_by_idle_timeout": total - at_once, "still_open": len(socks) - total,
            "good_client_during": during}


def phase_vanish(port, count, good):
    """A process with `count` connections, each with a request whose echo it never
    reads, is SIGKILLed: the kernel resets them (unread data) behind its back."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        socks = []
        try:
            for i in range(count):
                s = connect(port)
                s.sendall(b"V" * 4096)
                socks.append(s)
        except OSError:
            pass
        os.write(w, b"%d\n" % len(socks))
        while True:
            time.sleep(60)
    os.close(w)
    opened = int(os.read(r, 64).strip() or b"0")
    os.close(r)
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    good.check("after vanish")
    return {"connections": opened}


# ---------------------------------------------------------------- lpa-run's resources

def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nofile_limit(pid):
    """lpa-run's soft descriptor limit, from /proc (prlimit(2) on another user's
    process needs CAP_SYS_RESOURCE even to read)."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                value = line.split()[3]
                return int(value) if value.isdigit() else value
    return None


def settle(pid, baseline_fds, slack, seconds):
    """Waits until lpa-run's descriptors are back within `slack` of the baseline."""
    end = now() + seconds
    while True:
        count = fds(pid)
        if count <= baseline_fds + slack or now() > end:
            return count
        time.sleep(0.2)


def cmd_abuse(args):
    pid = args.pid
    if args.nofile:
        # Needs CAP_SYS_RESOURCE for another user's process: prefer starting lpa-run
        # under prlimit(1), as `soak` and the tests do.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (args.nofile, args.nofile))
    good = Good(args.port)
    good.check("warm-up")
    before = {"fds": fds(pid), "rss_kib": rss_kib(pid)}
    if args.trigger:
        s = connect(args.port)
        s.sendall(TRIGGER)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()
    peak_fds = before["fds"]
    result = {"pid": pid, "nofile": nofile_limit(pid)}
    phases = {}
    phases["sequential"] = phase_sequential(args.port, args.connections, good)
    peak_fds = max(peak_fds, fds(pid))
    phases["slowloris"] = phase_slowloris(args.port, args.slow_clients, args.slow_seconds, good)
    phases["silent"] = phase_silent(args.port, args.silent, args.idle_ms, good)
    peak_fds = max(peak_fds, fds(pid))
    phases["vanish"] = phase_vanish(args.port, args.vanish, good)
    good.check("after all")
    after_fds = settle(pid, before["fds"], args.fd_slack, 10)
    after = {"fds": after_fds, "rss_kib": rss_kib(pid)}
    result.update({"phases": phases, "good": good.report(), "before": before, "after": after,
                   "peak_fds": peak_fds, "alive": os.path.exists("/proc/%d" % pid)})
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- inside the sandbox

def audit_timer(interval):
    """Connects to an address the supervisor refuses, in a loop, timing each answer;
    prints the count and the worst delay every half second."""
    count = 0
    worst = 0.0
    total = 0.0
    unexpected = 0
    last_print = now()
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        start = now()
        try:
            s.connect(AUDIT_TARGET)
            unexpected += 1
        except OSError as e:
            if e.errno != errno.ENETUNREACH:
                unexpected += 1
        took = now() - start
        s.close()
        count += 1
        total += took
        worst = max(worst, took)
        if now() - last_print >= 0.5:
            print(json.dumps({"audit": {"count": count, "worst_ms": round(worst * 1000, 2),
                                        "mean_ms": round(total / count * 1000, 3), "unexpected": unexpected}}),
                  flush=True)
            last_print = now()
        time.sleep(interval)


def connect_abuse(args):
    """Abuse of a --connect endpoint from inside: the relay's listener at
    127.0.0.1:connect_port, which lpa-run connects to the host's echo server."""
    good = Good(args.connect_port)
    out = {}
    try:
        good.check("connect warm-up", timeout=20)
        out["sequential"] = phase_sequential(args.connect_port, args.connect_connections, good)
        out["silent"] = phase_silent(args.connect_port, args.connect_silent, args.idle_ms, good)
        good.check("connect after all")
    except Exception as e:  # noqa: BLE001 - reported, the test fails on it
        out["error"] = str(e)
    out["good"] = good.report()
    print(json.dumps({"connect": out}), flush=True)


def cmd_workload(args):
    # The timer first, before any thread exists (fork copies only the caller).
    if os.fork() == 0:
        audit_timer(args.audit_interval)
        os._exit(0)
    s = listen(args.port)
    threading.Thread(target=serve_echo, args=(s,), daemon=True).start()
    print("listening", flush=True)
    if args.connect_port:
        triggered.wait()
        connect_abuse(args)
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------- soak: all of it

def cmd_soak(args):
    here = os.path.abspath(__file__)
    lpa_run = os.path.abspath(args.lpa_run)
    work = tempfile.mkdtemp(prefix="lpa-soak-")
    os.chmod(work, 0o755)
    script = os.path.join(work, "soak.py")
    with open(here) as src, open(script, "w") as dst:
        dst.write(src.read())
    os.chmod(script, 0o644)
    profile = os.path.join(work, "soak.yaml")
    with open(profile, "w") as f:
        f.write("extends: strict\nnetwork:\n  max-connections: %d\n  idle-timeout: %dms\n"
                "filesystem:\n  read-only: [%s]\n" % (args.max_connections, args.idle_ms, work))
    os.chmod(profile, 0o644)
    echo = subprocess.Popen([sys.executable, here, "echo-server", "--port", "0"], stdout=subprocess.PIPE, text=True)
    host_port = int(echo.stdout.readline().split()[1])
    probe = listen(0)
    port = probe.getsockname()[1]
    probe.close()
    report_path = os.path.join(work, "report.json")
    argv = ["prlimit", "--nofile=%d:%d" % (args.nofile, args.nofile), lpa_run, "--profile", profile,
            "--report-json", report_path,
            "-p", "127.0.0.1:%d:9000" % port, "--connect", "127.0.0.1:%d:9100" % host_port,
            "/usr/bin/python3", script, "workload", "--port", "9000", "--connect-port", "9100",
            "--connect-connections", str(args.connections // 4), "--connect-silent", str(args.silent),
            "--idle-ms", str(args.idle_ms)]
    out_path = os.path.join(work, "lpa-run.out")
    out = open(out_path, "w")
    lpa = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    summary = {"scale": {"connections": args.connections, "silent": args.silent, "slow_clients": args.slow_clients,
                         "max_connections": args.max_connections, "idle_ms": args.idle_ms, "nofile": args.nofile}}
    try:
        deadline = now() + 60
        while "listening" not in open(out_path).read():
            if lpa.poll() is not None or now() > deadline:
                raise RuntimeError("lpa-run did not start: " + open(out_path).read()[-2000:])
            time.sleep(0.2)
        time.sleep(1.0)  # a few audit lines before the abuse: the quiet baseline
        quiet = last_json(out_path, "audit")
        # The workload's endpoint abuse (inside) runs at the same time as this one.
        abuse = subprocess.run([sys.executable, here, "abuse", "--port", str(port), "--pid", str(lpa.pid),
                                "--connections", str(args.connections), "--slow-clients", str(args.slow_clients),
                                "--slow-seconds", str(args.slow_seconds), "--silent", str(args.silent),
                                "--vanish", str(args.vanish), "--idle-ms", str(args.idle_ms), "--trigger"],
                               capture_output=True, text=True, timeout=args.timeout)
        summary["published"] = json.loads(abuse.stdout.strip().splitlines()[-1]) if abuse.stdout.strip() else {
            "error": abuse.stderr[-2000:]}
        deadline = now() + args.timeout
        while last_json(out_path, "connect") is None and now() < deadline and lpa.poll() is None:
            time.sleep(0.5)
        summary["connect"] = last_json(out_path, "connect")
        time.sleep(1.0)
        summary["audit_quiet"] = quiet
        summary["audit"] = last_json(out_path, "audit")
        summary["lpa_run_alive"] = lpa.poll() is None
        summary["after_all"] = {"fds": fds(lpa.pid), "rss_kib": rss_kib(lpa.pid)} if lpa.poll() is None else None
    finally:
        if lpa.poll() is None:
            lpa.send_signal(signal.SIGTERM)
            try:
                lpa.wait(20)
            except subprocess.TimeoutExpired:
                lpa.kill()
                lpa.wait()
        echo.kill()
        echo.wait()
        summary["lpa_run_exit"] = lpa.returncode
        try:
            # lpa-run's own count: connections relayed and refused (over the cap, out of
            # descriptors, nothing listening), and the audited calls it answered.
            with open(report_path) as f:
                report = json.load(f)
            summary["lpa_run_report"] = {"connections": report.get("connections"),
                                         "blocked": report.get("blocked", {}).get("total")}
        except (OSError, ValueError) as e:
            summary["lpa_run_report"] = {"error": str(e)}
        out.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    ok = (summary.get("lpa_run_alive") and summary.get("published", {}).get("good", {}).get("failed") == 0
          and summary.get("connect") and summary["connect"].get("good", {}).get("failed") == 0)
    return 0 if ok else 1


def last_json(path, key):
    found = None
    for line in open(path).read().splitlines():
        if line.startswith("{") and '"%s"' % key in line:
            try:
                found = json.loads(line)[key]
            except ValueError:
                pass
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("echo-server")
    e.add_argument("--port", type=int, default=0)
    w = sub.add_parser("workload")
    w.add_argument("--port", type=int, default=9000)
    w.add_argument("--audit-interval", type=float, default=0.01)
    w.add_argument("--connect-port", type=int, default=0)
    w.add_argument("--connect-connections", type=int, default=2000)
    w.add_argument("--connect-silent", type=int, default=100)
    w.add_argument("--idle-ms", type=int, default=2000)

    a = sub.add_parser("abuse")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--pid", type=int, required=True)
    a.add_argument("--nofile", type=int, default=0, help="set lpa-run's descriptor limit first (prlimit)")
    a.add_argument("--connections", type=int, default=10000)
    a.add_argument("--slow-clients", type=int, default=20)
    a.add_argument("--slow-seconds", type=int, default=4)
    a.add_argument("--silent", type=int, default=300)
    a.add_argument("--vanish", type=int, default=50)
    a.add_argument("--idle-ms", type=int, default=2000)
    a.add_argument("--fd-slack", type=int, default=16)
    a.add_argument("--trigger", action="store_true", help="start the workload's endpoint abuse after the baseline")
    s = sub.add_parser("soak")
    s.add_argument("--lpa-run", default=".build/release/lpa-run")
    s.add_argument("--connections", type=int, default=50000)
    s.add_argument("--slow-clients", type=int, default=100)
    s.add_argument("--slow-seconds", type=int, default=10)
    s.add_argument("--silent", type=int, default=1000)
    s.add_argument("--vanish", type=int, default=200)
    s.add_argument("--max-connections", type=int, default=512)
    s.add_argument("--idle-ms", type=int, default=3000)
    s.add_argument("--nofile", type=int, default=1024)
    s.add_argument("--timeout", type=int, default=900)
    args = p.parse_args()
    if args.command == "echo-server":
        cmd_echo_server(args)
    elif args.command == "workload":
        cmd_workload(args)
    elif args.command == "abuse":
        cmd_abuse(args)
    else:
        sys.exit(cmd_soak(args))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tests/run_ws.py — runs the WebSocket client's tests against real peers on loopback.

Starts the peers (tests/ws/peers/py_server.py and raw_server.py with /usr/bin/python3, which has
Debian's python3-websockets; tests/ws/node/server.js with node), checks them with an independent
client (tests/ws/peers/check_peers.py), then runs every tests/ws/*_test.lua through `wisp exec`
and the examples end to end — once per I/O backend: WISP_IO_BACKEND unset (io_uring where the
kernel allows it) and WISP_IO_BACKEND=epoll. The peers are stopped on every way out.

    WISP_BIN=build/wisp python3 tests/run_ws.py [--backend default|epoll] [FILE_OR_EXAMPLE...]

Test files use tests/run_lua.py's header comments (expect-exit, expect-stderr, expect-stdout,
args, workers, timeout) plus:
    -- args: {py} {node} {raw} {refused}   replaced by the peers' 127.0.0.1:PORT addresses
                                           ({refused}: a bound port that does not listen)
    -- measure: fd=2 rss_kb=8192          the script prints "@@measure <label>" lines and then
                                           sleeps; the driver reads /proc/<pid>/fd and VmRSS at
                                           each, and fails the test when the last reading exceeds
                                           the first by more than these amounts
Prints one line per test and ends with "ws: N passed, N failed"; exits 1 on any failure.
"""
import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PY = "/usr/bin/python3"  # the pyenv python3 on PATH lacks python3-websockets
BACKENDS = [("default", None), ("epoll", "epoll")]
HEADER = re.compile(r"--\s*(expect-exit|expect-stderr|expect-stdout|args|workers|timeout|measure):\s*(.*)$")


class Peer:
    """A server process that prints one line matching `ready` (with the port) on stdout."""

    def __init__(self, name, cmd, ready, logdir, cwd=ROOT):
        self.name, self.cmd, self.ready = name, cmd, re.compile(ready)
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.cwd = cwd
        self.proc = None
        self.port = None

    def start(self, timeout=20):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = self.ready.search(buf.decode(errors="replace"))
                if m:
                    self.port = int(m.group(1))
                    # keep draining stdout so the peer never blocks on a full pipe
                    threading.Thread(target=self._drain, daemon=True).start()
                    return True
            elif self.proc.poll() is not None:
                break
        return False

    def _drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 65536):
                pass
        except OSError:
            pass

    def addr(self):
        return f"127.0.0.1:{self.port}"

    def log_tail(self, n=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                pass


def parse_header(path):
    exp = {"exit": 0, "stderr": [], "stdout": [], "args": [], "workers": None, "timeout": 120,
           "measure": None}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = HEADER.match(line.rstrip("\n"))
            if not m:
                if line.startswith("--") or not line.strip():
                    continue
                break
            key, val = m.groups()
            if key == "expect-exit": exp["exit"] = int(val)
            elif key == "expect-stderr": exp["stderr"].append(val)
            elif key == "expect-stdout": exp["stdout"].append(val)
            elif key == "args": exp["args"] = val.split()
            elif key == "workers": exp["workers"] = val.strip()
            elif key == "timeout": exp["timeout"] = int(val)
            elif key == "measure":
                exp["measure"] = {k: int(v) for k, v in (kv.split("=") for kv in val.split())}
    return exp


def proc_stats(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


def run_wisp(cmd, env, timeout, on_line=None):
    """Runs wisp; returns (exit code or "timeout", stdout, stderr). on_line(proc, line) is called
    for each stdout line as it arrives."""
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errf,
                             stdin=subprocess.DEVNULL)
        out_lines = []

        def reader():
            for raw in p.stdout:
                line = raw.decode(errors="replace")
                out_lines.append(line)
                if on_line:
                    try:
                        on_line(p, line.rstrip("\n"))
                    except OSError as e:
                        out_lines.append(f"[driver] measuring failed: {e}\n")

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            code = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            code = "timeout"
        t.join(timeout=5)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    return code, "".join(out_lines), err


class Runner:
    def __init__(self, wisp, subst):
        self.wisp, self.subst = wisp, subst
        self.passed = self.failed = 0

    def report(self, label, ok, dt, problems=(), output=""):
        if ok:
            self.passed += 1
            print(f"ok   {label} ({dt:.2f}s)", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {label} ({dt:.2f}s): " + "; ".join(problems), flush=True)
            for line in output.splitlines()[-40:]:
                print("     | " + line)
            sys.stdout.flush()

    def env(self, backend, extra_asan=""):
        env = dict(os.environ)
        env.pop("WISP_IO_BACKEND", None)
        if backend:
            env["WISP_IO_BACKEND"] = backend
        if extra_asan:
            env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), extra_asan) if x)
        return env

    def lua_test(self, path, bname, backend):
        exp = parse_header(path)
        args = [a.format(**self.subst) for a in exp["args"]]
        cmd = [self.wisp] + (["--workers", exp["workers"]] if exp["workers"] else []) + ["exec", path] + args
        marks = []

        def on_line(p, line):
            if line.startswith("@@measure"):
                fds, rss = proc_stats(p.pid)
                marks.append((line[len("@@measure"):].strip(), fds, rss))

        # ASan's quarantine holds freed memory back on purpose; a small one keeps RSS honest.
        extra = "quarantine_size_mb=1:thread_local_quarantine_size_kb=64" if exp["measure"] else ""
        t0 = time.monotonic()
        code, out, err = run_wisp(cmd, self.env(backend, extra), exp["timeout"], on_line if exp["measure"] else None)
        dt = time.monotonic() - t0
        problems = []
        if code != exp["exit"]:
            problems.append(f"exit code {code}, expected {exp['exit']}")
        for s in exp["stderr"]:
            if s not in err: problems.append(f"stderr lacks {s!r}")
        for s in exp["stdout"]:
            if s not in out: problems.append(f"stdout lacks {s!r}")
        if exp["exit"] == 0 and ("AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err):
            problems.append("sanitizer report on stderr")
        label = f"[{bname}] {os.path.relpath(path, ROOT)}"
        if exp["measure"]:
            if len(marks) < 2:
                problems.append(f"expected at least two @@measure lines, saw {len(marks)}")
            else:
                (l0, fd0, rss0), (l1, fd1, rss1) = marks[0], marks[-1]
                label += f" [fds {fd0}->{fd1}, rss {rss0}->{rss1} KiB]"
                lim = exp["measure"]
                if "fd" in lim and fd1 - fd0 > lim["fd"]:
                    problems.append(f"open fds grew from {fd0} ({l0}) to {fd1} ({l1}), more than {lim['fd']}")
                if "rss_kb" in lim and rss1 - rss0 > lim["rss_kb"]:
                    problems.append(f"VmRSS grew from {rss0} KiB ({l0}) to {rss1} KiB ({l1}), more than {lim['rss_kb']} KiB")
        self.report(label, not problems, dt, problems, out + err)

    def example(self, name, fn, bname, backend, logdir):
        t0 = time.monotonic()
        problems, output = fn(self, backend, logdir)
        self.report(f"[{bname}] examples/{name}", not problems, time.monotonic() - t0, problems, output)


# ---- examples -----------------------------------------------------------------------------------

def example_server(name, script, logdir):
    peer = Peer(f"{name}-server", [PEER_PY, script, "--port", "0"], r"listening on ws://127\.0\.0\.1:(\d+)", logdir)
    if not peer.start():
        return None, [f"{script} did not start"] + peer.log_tail()
    return peer, None


def example_chat(runner, backend, logdir):
    peer, err = example_server("chat", "examples/chat/server.py", logdir)
    if err:
        return [err[0]], "\n".join(err[1:])
    try:
        url = f"ws://{peer.addr()}/ws"
        code, out, errout = run_wisp([runner.wisp, "exec", "examples/chat/chat.lua", url, "demo-token", "lobby"],
                                     runner.env(backend), 60)
        problems = []
        if code != 0:
            problems.append(f"exit code {code}, expected 0")
        for who in ("alice", "bob"):
            for line in ("alice: Hi Bob, are you there?", "bob: Hi Alice! Loud and clear.",
                         "alice: Great, the WebSocket link works.", "bob: Bye for now."):
                if f"[{who}] {line}" not in out:
                    problems.append(f"stdout lacks {'[' + who + '] ' + line!r}")
        if "[alice] bob joined lobby" not in out and "[bob] alice joined lobby" not in out:
            problems.append("nobody saw the other join")
        # a wrong token is refused at the handshake: the program reports the 401 and fails
        code2, out2, err2 = run_wisp([runner.wisp, "exec", "examples/chat/chat.lua", url, "wrong-token", "lobby"],
                                     runner.env(backend), 30)
        if code2 != 1:
            problems.append(f"wrong token: exit code {code2}, expected 1")
        if "401" not in err2:
            problems.append("wrong token: stderr lacks the 401 status")
        return problems, out + errout + out2 + err2 + "\n".join(peer.log_tail())
    finally:
        peer.stop()


def example_prices(runner, backend, logdir):
    peer, err = example_server("prices", "examples/price-stream/server.py", logdir)
    if err:
        return [err[0]], "\n".join(err[1:])
    try:
        url = f"ws://{peer.addr()}/prices"
        code, out, errout = run_wisp([runner.wisp, "exec", "examples/price-stream/prices.lua", url, "200ms", "60"],
                                     runner.env(backend), 60)
        problems = []
        if code != 0:
            problems.append(f"exit code {code}, expected 0")
        for sym in ("BTC-USD", "ETH-USD"):
            if not re.search(rf"^{sym}\s+\d+\.\d\d$", out, re.M):
                problems.append(f"no price line for {sym}")
        beats = len(re.findall(r"^heartbeat: ping sent$", out, re.M))
        if beats < 3:
            problems.append(f"{beats} heartbeats, expected at least 3")
        m = re.search(r"^received (\d+) updates; the server has seen (\d+) of our pings$", out, re.M)
        if not m:
            problems.append("no summary line")
        elif int(m.group(1)) != 60 or int(m.group(2)) < 1:
            problems.append(f"summary: {m.group(0)!r}, expected 60 updates and at least one ping seen")
        return problems, out + errout + "\n".join(peer.log_tail())
    finally:
        peer.stop()


EXAMPLES = {"chat": example_chat, "price-stream": example_prices}


# ---- main ---------------------------------------------------------------------------------------

def main():
    argv = sys.argv[1:]
    only_backend = None
    if argv[:1] == ["--backend"]:
        only_backend, argv = argv[1], argv[2:]
    wisp = os.environ.get("WISP_BIN", "build/wisp")
    if not os.path.isabs(wisp):
        wisp = os.path.join(ROOT, wisp)
    tests = [os.path.relpath(os.path.abspath(a), ROOT) for a in argv if a.endswith(".lua")] or \
        ([] if argv else sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "tests/ws/*_test.lua"))))
    examples = [a.split("/")[-1] for a in argv if a.split("/")[-1] in EXAMPLES] or ([] if argv else list(EXAMPLES))
    backends = [b for b in BACKENDS if only_backend in (None, b[0])]

    logdir = tempfile.mkdtemp(prefix="wisp-ws-")
    peers = [Peer("py", [PEER_PY, "tests/ws/peers/py_server.py"], r"READY py (\d+)", logdir),
             Peer("raw", [PEER_PY, "tests/ws/peers/raw_server.py"], r"READY raw (\d+)", logdir),
             Peer("node", ["node", "tests/ws/node/server.js"], r"READY node (\d+)", logdir)]
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    runner = Runner(wisp, {})
    try:
        missing = []
        if not os.path.exists(PEER_PY):
            missing.append(PEER_PY)
        if not shutil.which("node"):
            missing.append("node")
        if not os.path.isdir(os.path.join(ROOT, "tests/ws/node/node_modules/ws")):
            missing.append("tests/ws/node/node_modules/ws (npm ci --prefix tests/ws/node)")
        if missing:
            runner.report("peers", False, 0, ["missing: " + ", ".join(missing) + " — run scripts/setup.sh"])
            return finish(runner)
        for p in peers:
            if not p.start():
                runner.report(f"peer {p.name}", False, 0, [f"did not print READY: {' '.join(p.cmd)}"], "\n".join(p.log_tail()))
                return finish(runner)
        refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        subst = {p.name: p.addr() for p in peers}
        subst["refused"] = f"127.0.0.1:{refused.getsockname()[1]}"
        runner.subst = subst

        t0 = time.monotonic()
        chk = subprocess.run([PEER_PY, "tests/ws/peers/check_peers.py", subst["py"], subst["node"], subst["raw"]],
                             cwd=ROOT, capture_output=True, timeout=300)
        out = chk.stdout.decode(errors="replace") + chk.stderr.decode(errors="replace")
        runner.report("peers (independent client: tests/ws/peers/check_peers.py)", chk.returncode == 0,
                      time.monotonic() - t0, [l for l in out.splitlines() if l.startswith("FAIL")][:5] or ["failed"], out)

        for bname, backend in backends:
            for path in tests:
                runner.lua_test(path, bname, backend)
            for name in examples:
                runner.example(name, EXAMPLES[name], bname, backend, logdir)
        for p in peers:
            if p.proc.poll() is not None:
                runner.report(f"peer {p.name} still running at the end", False, 0,
                              [f"exited with {p.proc.returncode}"], "\n".join(p.log_tail()))
    finally:
        for p in peers:
            p.stop()
        refused.close()
    return finish(runner, logdir)


def finish(runner, logdir=None):
    if logdir and runner.failed == 0:
        shutil.rmtree(logdir, ignore_errors=True)
    elif logdir:
        print(f"peer logs kept in {logdir}")
    print(f"ws: {runner.passed} passed, {runner.failed} failed", flush=True)
    return 0 if runner.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

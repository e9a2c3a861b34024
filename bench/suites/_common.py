"""bench/suites/_common.py — what every suite shares: paths, the load server, running a client
and reading its RESULT line, RSS readings, and the rows a suite hands to bench/run.sh.

A suite is `/usr/bin/python3 bench/suites/<name>.py --runs R [--smoke] --out FILE`. It appends
one JSON object per measured row to FILE:
    {"suite", "metric", "case", "impl", "unit", "better": "higher"|"lower",
     "status": "ok"|"unavailable"|"failed", "values": [one per run], "note"}
and exits 1 when any row failed. A row is "unavailable" only when the client said so (a
feature of Wisp that is not built yet); anything else that goes wrong is a failure.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
WISP = os.path.join(BUILD, "wisp")
PEERS = os.path.join(BUILD, "peers")
LUA = os.path.join(BENCH, "lua")
NODE_CLIENT = os.path.join(BENCH, "peers", "node_client.js")
PY_CLIENT = os.path.join(BENCH, "peers", "py_client.py")
SYS_PY = "/usr/bin/python3"  # Debian's python3, which has python3-websockets

# Every client's command line for one connection mode; the same arguments follow.
def wisp_cmd(*args):
    return [WISP, "--log-format", "text", "exec", os.path.join(LUA, "ws_client.lua"), *map(str, args)]


def node_cmd(*args):
    return ["node", NODE_CLIENT, *map(str, args)]


def py_cmd(*args):
    return [SYS_PY, PY_CLIENT, *map(str, args)]


def peer_bin(name):
    return os.path.join(PEERS, name)


class Unavailable(Exception):
    pass


class Failed(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    raise Failed(f"process {pid} is gone: no RSS to read")


def parse_result(line):
    """'RESULT a=1 b=2.5' -> {'a': 1.0, 'b': 2.5}"""
    out = {}
    for tok in line.split()[1:]:
        k, _, v = tok.partition("=")
        out[k] = float(v)
    return out


def text_line(raw):
    """A line of client output; wisp's structured print lines are unwrapped."""
    s = raw.strip()
    if s.startswith("{") and '"msg"' in s:
        try:
            return json.loads(s).get("msg", s)
        except ValueError:
            pass
    return s


def run_client(cmd, timeout, markers=None, env=None):
    """Runs a client to its RESULT line. markers maps an output line ("BASE", "HOLD") to a
    callback(pid) run when that line appears; a callback returning "stop" ends the client
    (SIGKILL) and the RESULT seen so far is returned. Raises Unavailable or Failed."""
    markers = markers or {}
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL,
                         env=env, start_new_session=True)
    result, buf, stop = None, b"", False
    deadline = time.monotonic() + timeout
    try:
        while not stop:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"timed out after {timeout} s: {' '.join(cmd)}")
            r, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
            if not r:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = text_line(raw.decode(errors="replace"))
                if line.startswith("RESULT"):
                    result = parse_result(line)
                elif line.startswith("UNAVAILABLE"):
                    raise Unavailable(line[len("UNAVAILABLE"):].strip())
                elif line in markers:
                    if markers[line](p.pid) == "stop":
                        stop = True
                        break
        if stop:
            os.killpg(p.pid, signal.SIGKILL)
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        if not stop and rc != 0:
            raise Failed(f"exit {rc}: {' '.join(cmd)}\n{tail(errf)}")
        if result is None:
            raise Failed(f"no RESULT line: {' '.join(cmd)}\n{tail(errf)}")
        return result
    finally:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        errf.close()


def tail(f, n=2000):
    f.seek(0)
    data = f.read().decode(errors="replace")
    return data[-n:]


class Server:
    """bench/peers/wsload on loopback for the length of a with-block."""

    def __init__(self, tls=None):
        self.cmd = [peer_bin("wsload")]
        if tls:
            self.cmd += ["--tls", tls[0], tls[1]]
        self.proc = None
        self.port = None

    def __enter__(self):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if r else ""
        m = re.match(r"READY (\d+)", line)
        if not m:
            self.__exit__(None, None, None)
            raise Failed(f"wsload did not start: {line!r} {tail(self.err)}")
        self.port = int(m.group(1))
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return False

    def url(self, path, scheme="ws"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def self_signed_cert(directory):
    """A throw-away self-signed certificate for 127.0.0.1 and localhost, made with the openssl
    tool: (cert, key). CA:TRUE so that every client can take it as its trust anchor."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Suite:
    """Collects the rows of one suite: suite.measure(key, fn) per run, then suite.finish()."""

    def __init__(self, name, description):
        ap = argparse.ArgumentParser(description=description)
        ap.add_argument("--runs", type=int, default=5)
        ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the suite works")
        ap.add_argument("--out", required=True, help="JSON lines file the rows are appended to")
        self.args = ap.parse_args()
        self.name = name
        self.smoke = self.args.smoke
        self.runs = 1 if self.smoke else max(1, self.args.runs)
        self.rows = {}  # (metric, case, impl) -> row
        self.order = []
        self.tmp = tempfile.mkdtemp(prefix=f"wisp-bench-{name}-")

    def row(self, metric, case, impl, unit, better):
        key = (metric, case, impl)
        if key not in self.rows:
            self.rows[key] = {"suite": self.name, "metric": metric, "case": case, "impl": impl,
                              "unit": unit, "better": better, "status": "ok", "values": [], "note": ""}
            self.order.append(key)
        return self.rows[key]

    def measure(self, specs, fn):
        """specs: [(metric, case, impl, unit, better, result_key_or_callable)]; fn() returns a
        RESULT dict. Each spec's value is taken from it. Rows already unavailable or failed
        are not run again."""
        rows = [self.row(*s[:5]) for s in specs]
        if any(r["status"] != "ok" for r in rows):
            return
        label = f"{self.name}: {rows[0]['case']} {rows[0]['impl']}"
        try:
            res = fn()
        except Unavailable as e:
            log(f"{label}: unavailable ({e})")
            for r in rows:
                r["status"], r["note"] = "unavailable", str(e)
            return
        except (Failed, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
            log(f"{label}: FAILED: {e}")
            for r in rows:
                r["status"], r["note"] = "failed", str(e).splitlines()[0][:200]
            return
        for s, r in zip(specs, rows):
            get = s[5]
            r["values"].append(get(res) if callable(get) else res[get])
        log(f"{label}: " + ", ".join(f"{s[0]}={r['values'][-1]:.6g}" for s, r in zip(specs, rows)))

    def finish(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        with open(self.args.out, "a") as f:
            for k in self.order:
                f.write(json.dumps(self.rows[k]) + "\n")
        failed = [k for k in self.order if self.rows[k]["status"] == "failed"]
        sys.exit(1 if failed else 0)


def conns_markers(state, settle=1.0):
    """Markers for a conns-mode client: RSS at BASE, RSS after HOLD (settle s later), then stop."""
    def base(pid):
        state["base_kb"] = rss_kb(pid)

    def hold(pid):
        time.sleep(settle)
        state["hold_kb"] = rss_kb(pid)
        return "stop"
    return {"BASE": base, "HOLD": hold}

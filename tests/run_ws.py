#!/usr/bin/env python3
"""tests/run_ws.py — runs the WebSocket client's tests against real peers on loopback.

Starts the peers (tests/ws/peers/py_server.py and raw_server.py with /usr/bin/python3, which has
Debian's python3-websockets; tests/ws/node/server.js with node; their wss listeners with the
certificates of tests/certs/gen.sh, made in a temporary directory; nginx terminating TLS in
front of the Python peer), checks them with an independent
client (tests/ws/peers/check_peers.py), then runs every tests/ws/*_test.lua through `wisp exec`
and the examples end to end — once per I/O backend: WISP_IO_BACKEND unset (io_uring where the
kernel allows it) and WISP_IO_BACKEND=epoll. The peers are stopped on every way out.

    WISP_BIN=build/wisp python3 tests/run_ws.py [--backend default|epoll] [FILE_OR_EXAMPLE...]

Test files use tests/run_lua.py's header comments (expect-exit, expect-stderr, expect-stdout,
args, workers, timeout) plus:
    -- args: {py} {node} {raw} {refused}   replaced by the peers' 127.0.0.1:PORT addresses
                                           ({refused}: a bound port that does not listen;
                                           {silent}: a port that listens and never accepts;
                                           wss: {pytls}, {pymtls} (client certificate
                                           required), {pyexpired}, {pyfuture}, {pyother},
                                           {pyuntrusted}, {pyselfsigned} (certificates named
                                           so), {rawtls} (the raw peer behind a TLS relay that
                                           records close_notify), {ngx}, {ngxmtls} (nginx
                                           terminating TLS in front of {py}); {certs}: the
                                           directory of tests/certs/gen.sh's files)
                                           proxies (tinyproxy): {proxy} (open), {proxyauth}
                                           (BasicAuth alice / s3cret), {proxydeny} (CONNECT
                                           allowed to port 443 only: 403 for the peers)
    -- env: NAME=VALUE ...                 environment of the wisp process (same substitutions;
                                           the driver's own proxy variables are removed)
    -- measure: fd=2 rss_kb=8192          the script prints "@@measure <label>" lines and then
                                           sleeps; the driver reads /proc/<pid>/fd and VmRSS at
                                           each, and fails the test when the last reading exceeds
                                           the first by more than these amounts
Apps under tests/ws/apps/<name>/ run as `wisp run <dir> -x <entry> <args>`; their _index.yaml
opens with "# entry: ns:name" and "# args: ..." (same substitutions) and they must exit 0.
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
HEADER = re.compile(r"--\s*(expect-exit|expect-stderr|expect-stdout|args|workers|timeout|measure|env):\s*(.*)$")
# Proxy variables of the driver's own environment never reach a test (a developer's proxy
# would reroute every connection); a test sets its own with "-- env:".
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
              "all_proxy", "ALL_PROXY")


class Peer:
    """A server process that prints "READY <name> <port>" on stdout for each of its listeners
    (`names`, the first one being the peer's own name), or one line matching `ready` whose
    group 1 is the port. With `ports` (name -> port) instead, the process prints nothing and is
    ready once every port accepts connections (nginx)."""

    def __init__(self, name, cmd, logdir, names=None, ports=None, ready=None, cwd=ROOT):
        self.name, self.cmd = name, cmd
        self.names = names or [name]
        self.ready = re.compile(ready or r"$^")
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.cwd = cwd
        self.proc = None
        self.ports = dict(ports or {})
        self.fixed_ports = ports is not None

    @property
    def port(self):
        return self.ports.get(self.name)

    def start(self, timeout=20):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        if self.fixed_ports:
            threading.Thread(target=self._drain, daemon=True).start()
            while time.monotonic() < deadline and self.proc.poll() is None:
                if all(port_open(p) for p in self.ports.values()):
                    return True
                time.sleep(0.1)
            return False
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                text = buf.decode(errors="replace")
                for m in re.finditer(r"READY (\S+) (\d+)", text):
                    self.ports[m.group(1)] = int(m.group(2))
                m = self.ready.search(text)
                if m:
                    self.ports[self.name] = int(m.group(1))
                if all(n in self.ports for n in self.names):
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

    def addr(self, name=None):
        return f"127.0.0.1:{self.ports[name or self.name]}"

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


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    ssl_certificate {certs}/server.pem;
    ssl_certificate_key {certs}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
    proxy_read_timeout 600s;
    proxy_send_timeout 600s;
    proxy_buffering off;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        location / {{ proxy_pass http://127.0.0.1:{py_port}; }}
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        ssl_client_certificate {certs}/ca.pem;
        ssl_verify_client on;
        location / {{ proxy_pass http://127.0.0.1:{py_port}; }}
    }}
}}
"""


def nginx_peer(logdir, certs, py_port):
    """nginx (nginx-light) terminating TLS in front of the plain Python peer: "ngx", and
    "ngxmtls" which requires a client certificate from the test CA."""
    d = os.path.join(logdir, "nginx")
    os.makedirs(d, exist_ok=True)
    ports = {"ngx": free_port(), "ngxmtls": free_port()}
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, certs=certs, tls_port=ports["ngx"], mtls_port=ports["ngxmtls"],
                                  py_port=py_port))
    return Peer("ngx", ["nginx", "-p", d, "-e", os.path.join(d, "nginx-error.log"), "-c", conf], logdir,
                ports=ports)


TINYPROXY_CONF = """Port {port}
Listen 127.0.0.1
Timeout 30
MaxClients 200
Allow 127.0.0.1
LogLevel Info
{extra}
"""


def tinyproxy_peer(logdir, name, extra=""):
    """tinyproxy (Debian's package) in the foreground on a free loopback port, configured by
    `extra` lines (BasicAuth, ConnectPort)."""
    port = free_port()
    conf = os.path.join(logdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(TINYPROXY_CONF.format(port=port, extra=extra))
    return Peer(name, ["tinyproxy", "-d", "-c", conf], logdir, ports={name: port})


def parse_header(path):
    exp = {"exit": 0, "stderr": [], "stdout": [], "args": [], "workers": None, "timeout": 120,
           "measure": None, "env": []}
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
            elif key == "env": exp["env"] += val.split()
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

    def env(self, backend, extra_asan="", extra_env=()):
        env = dict(os.environ)
        env.pop("WISP_IO_BACKEND", None)
        for v in PROXY_VARS:
            env.pop(v, None)
        for kv in extra_env:
            k, _, v = kv.partition("=")
            env[k] = v
        if backend:
            env["WISP_IO_BACKEND"] = backend
        if extra_asan:
            env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), extra_asan) if x)
        return env

    def lua_test(self, path, bname, backend):
        exp = parse_header(path)
        args = [a.format(**self.subst) for a in exp["args"]]
        # text log format: print stays plain lines (the @@measure markers, expect-stdout)
        cmd = [self.wisp, "--log-format", "text"] + (["--workers", exp["workers"]] if exp["workers"] else []) + \
            ["exec", path] + args
        marks = []

        def on_line(p, line):
            if line.startswith("@@measure"):
                fds, rss = proc_stats(p.pid)
                marks.append((line[len("@@measure"):].strip(), fds, rss))

        # ASan's quarantine holds freed memory back on purpose; a small one keeps RSS honest.
        extra = "quarantine_size_mb=1:thread_local_quarantine_size_kb=64" if exp["measure"] else ""
        t0 = time.monotonic()
        env = self.env(backend, extra, [kv.format(**self.subst) for kv in exp["env"]])
        code, out, err = run_wisp(cmd, env, exp["timeout"], on_line if exp["measure"] else None)
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

    def app_test(self, app_dir, bname, backend):
        entry, args = None, []
        with open(os.path.join(ROOT, app_dir, "_index.yaml"), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"#\s*(entry|args):\s*(.*)$", line.rstrip("\n"))
                if m and m.group(1) == "entry": entry = m.group(2).strip()
                elif m: args = [a.format(**self.subst) for a in m.group(2).split()]
                elif not line.startswith("#"): break
        label = f"[{bname}] {app_dir} (wisp run -x {entry})"
        if not entry:
            self.report(label, False, 0, ["_index.yaml has no '# entry:' line"])
            return
        t0 = time.monotonic()
        code, out, err = run_wisp([self.wisp, "--log-format", "json", "run", app_dir, "-x", entry] + args,
                                  self.env(backend), 120)
        problems = [] if code == 0 else [f"exit code {code}, expected 0"]
        if "AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err:
            problems.append("sanitizer report on stderr")
        self.report(label, not problems, time.monotonic() - t0, problems, out + err)

    def example(self, name, fn, bname, backend, logdir):
        t0 = time.monotonic()
        problems, output = fn(self, backend, logdir)
        self.report(f"[{bname}] examples/{name}", not problems, time.monotonic() - t0, problems, output)


# ---- examples -----------------------------------------------------------------------------------

def example_server(name, script, logdir):
    peer = Peer(f"{name}-server", [PEER_PY, script, "--port", "0"], logdir,
                ready=r"listening on ws://127\.0\.0\.1:(\d+)")
    if not peer.start():
        return None, [f"{script} did not start"] + peer.log_tail()
    return peer, None


def example_chat(runner, backend, logdir):
    peer, err = example_server("chat", "examples/chat/server.py", logdir)
    if err:
        return [err[0]], "\n".join(err[1:])
    try:
        url = f"ws://{peer.addr()}/ws"
        code, out, errout = run_wisp([runner.wisp, "--log-format", "text", "exec", "examples/chat/chat.lua", url, "demo-token", "lobby"],
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
        code2, out2, err2 = run_wisp([runner.wisp, "--log-format", "text", "exec", "examples/chat/chat.lua", url, "wrong-token", "lobby"],
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
        code, out, errout = run_wisp([runner.wisp, "--log-format", "text", "exec", "examples/price-stream/prices.lua", url, "200ms", "60"],
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
    apps = [os.path.relpath(os.path.abspath(a), ROOT) for a in argv if os.path.isfile(os.path.join(a, "_index.yaml"))] or \
        ([] if argv else sorted(os.path.relpath(os.path.dirname(p), ROOT)
                                for p in glob.glob(os.path.join(ROOT, "tests/ws/apps/*/_index.yaml"))))
    backends = [b for b in BACKENDS if only_backend in (None, b[0])]

    logdir = tempfile.mkdtemp(prefix="wisp-ws-")
    certs = os.path.join(logdir, "certs")
    # every wss listener of the Python peer: name -> (certificate, client CA or None)
    tls_listeners = {"pytls": ("server", None), "pymtls": ("server", "ca"), "pyexpired": ("expired", None),
                     "pyfuture": ("future", None), "pyother": ("other", None),
                     "pyuntrusted": ("untrusted", None), "pyselfsigned": ("selfsigned", None)}
    tls_args = []
    for name, (cert, ca) in tls_listeners.items():
        tls_args += ["--tls", f"{name}:{certs}/{cert}.pem:{certs}/{cert}.key" + (f":{certs}/{ca}.pem" if ca else "")]
    peers = [Peer("py", [PEER_PY, "tests/ws/peers/py_server.py"], logdir),
             Peer("raw", [PEER_PY, "tests/ws/peers/raw_server.py", "--tls-cert", f"{certs}/server.pem",
                          "--tls-key", f"{certs}/server.key"], logdir, names=["raw", "rawtls"]),
             Peer("node", ["node", "tests/ws/node/server.js"], logdir),
             Peer("pytls", [PEER_PY, "tests/ws/peers/py_server.py", "--name", "pyplain2"] + tls_args, logdir,
                  names=list(tls_listeners))]
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    runner = Runner(wisp, {})
    try:
        missing = []
        if not os.path.exists(PEER_PY):
            missing.append(PEER_PY)
        if not shutil.which("node"):
            missing.append("node")
        if not os.path.isdir(os.path.join(ROOT, "tests/ws/node/node_modules/ws")):
            missing.append("tests/ws/node/node_modules/ws (npm ci --prefix tests/ws/node)")
        if not shutil.which("openssl"):
            missing.append("openssl")
        if not shutil.which("nginx"):
            missing.append("nginx (nginx-light)")
        if not shutil.which("tinyproxy"):
            missing.append("tinyproxy")
        if missing:
            runner.report("peers", False, 0, ["missing: " + ", ".join(missing) + " — run scripts/setup.sh"])
            return finish(runner)
        mk = subprocess.run(["bash", "tests/certs/gen.sh", certs], cwd=ROOT, capture_output=True)
        if mk.returncode != 0:
            runner.report("test certificates (tests/certs/gen.sh)", False, 0, ["failed"],
                          mk.stdout.decode(errors="replace") + mk.stderr.decode(errors="replace"))
            return finish(runner)
        for p in peers:
            if not p.start():
                runner.report(f"peer {p.name}", False, 0, [f"did not print READY: {' '.join(p.cmd)}"], "\n".join(p.log_tail()))
                return finish(runner)
        ngx = nginx_peer(logdir, certs, peers[0].port)
        proxies = [tinyproxy_peer(logdir, "proxy"),
                   tinyproxy_peer(logdir, "proxyauth", "BasicAuth alice s3cret"),
                   tinyproxy_peer(logdir, "proxydeny", "ConnectPort 443")]
        for p in [ngx] + proxies:
            peers.append(p)
            if not p.start():
                runner.report(f"peer {p.name}", False, 0, [f"did not listen: {' '.join(p.cmd)}"],
                              "\n".join(p.log_tail()))
                return finish(runner)
        refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        silent.bind(("127.0.0.1", 0))   # listening, never accepting: the kernel completes the TCP
        silent.listen(64)               # handshake and nothing is ever said (a stalled TLS peer)
        subst = {}
        for p in peers:
            for name in p.ports:
                subst[name] = p.addr(name)
        subst["refused"] = f"127.0.0.1:{refused.getsockname()[1]}"
        subst["silent"] = f"127.0.0.1:{silent.getsockname()[1]}"
        subst["certs"] = certs
        runner.subst = subst

        t0 = time.monotonic()
        chk = subprocess.run([PEER_PY, "tests/ws/peers/check_peers.py", subst["py"], subst["node"], subst["raw"],
                              subst["pytls"], subst["pymtls"], certs, subst["rawtls"], subst["ngx"]],
                             cwd=ROOT, capture_output=True, timeout=300)
        out = chk.stdout.decode(errors="replace") + chk.stderr.decode(errors="replace")
        runner.report("peers (independent client: tests/ws/peers/check_peers.py)", chk.returncode == 0,
                      time.monotonic() - t0, [l for l in out.splitlines() if l.startswith("FAIL")][:5] or ["failed"], out)

        for bname, backend in backends:
            for path in tests:
                runner.lua_test(path, bname, backend)
            for app in apps:
                runner.app_test(app, bname, backend)
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
        silent.close()
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

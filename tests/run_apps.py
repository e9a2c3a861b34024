#!/usr/bin/env python3
"""tests/run_apps.py — end-to-end tests of `wisp run`, `wisp check` and `wisp test` on the apps
under tests/apps/: supervision, hosts, shutdown, -x. Each scenario runs the real binary and
reads its JSON log lines. Prints one line per scenario and "apps: N passed, N failed"."""
import json, os, select, signal, subprocess, sys, time

WISP = os.environ.get("WISP_BIN", "build/wisp")
APPS = "tests/apps"

def logs_of(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out

def run_until(app, pred, timeout=20, args=()):
    """Runs `wisp run app`, feeding log lines to pred until it returns True; then SIGTERM."""
    p = subprocess.Popen([WISP, "--log-format", "json", "run", app, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    lines, deadline, ok = [], time.monotonic() + timeout, False
    fd = p.stdout.fileno()
    buf = ""
    while time.monotonic() < deadline and p.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        chunk = os.read(fd, 65536).decode(errors="replace")
        if not chunk:
            break
        buf += chunk
        *complete, buf = buf.split("\n")
        for l in complete:
            try:
                lines.append(json.loads(l))
            except ValueError:
                pass
        if pred(lines):
            ok = True
            break
    t0 = time.monotonic()
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        rest, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rest, err = p.communicate()
    lines += logs_of(buf + (rest or b"").decode(errors="replace"))
    return ok, lines, p.returncode, time.monotonic() - t0, (err or b"").decode(errors="replace")

def check(cond, msg):
    if not cond:
        raise AssertionError(msg)

def t_restart():
    ok, lines, code, _, err = run_until(f"{APPS}/restart", lambda ls: any(l.get("msg") == "flaky stable" for l in ls))
    check(ok, "flaky never became stable: " + err[-500:])
    starts = [l for l in lines if l.get("msg") == "service started" and l.get("service") == "app:flaky"]
    check(len(starts) == 3, f"flaky started {len(starts)} times, expected 3")
    delays = [l["delay_ms"] for l in lines if l.get("msg") == "service failed, restarting" and l.get("service") == "app:flaky"]
    check(len(delays) == 2 and delays[1] > delays[0], f"delays not growing: {delays}")
    check(abs(delays[0] - 100) < 1 and abs(delays[1] - 300) < 1, f"back-off 100ms x3 expected: {delays}")
    check(code == 0, f"exit code {code} after SIGTERM")

def t_hostmem():
    def pred(ls):
        died = any(l.get("service") == "app:hog" and "memory limit" in str(l.get("error", "")) for l in ls)
        ticks = [l for l in ls if l.get("msg") == "steady tick"]
        return died and len(ticks) >= 10
    ok, lines, code, _, err = run_until(f"{APPS}/hostmem", pred)
    check(ok, "hog did not die of its memory limit while steady kept running: " + err[-300:])
    check(not any(l.get("service") == "app:steady" and l.get("msg", "").startswith("service failed") for l in lines),
          "steady failed")
    check(code == 0, f"exit code {code}")

def t_shutdown():
    ready = lambda ls: sum(1 for l in ls if l.get("msg") == "ready") >= 3
    ok, lines, code, took, err = run_until(f"{APPS}/shutdown", ready)
    check(ok, "services did not get ready")
    check(code == 0, f"exit code {code} after SIGTERM, expected 0; stderr: {err[-300:]}")
    check(took < 3 + 1.5, f"shutdown took {took:.1f}s with shutdown_timeout 3s")
    cancelled = [l.get("name") for l in lines if l.get("msg") == "cancelled"]
    check(cancelled == ["second", "first"], f"reverse start order expected, got {cancelled}")
    check(any(l.get("msg") == "service did not stop in time, terminating" and l.get("service") == "app:stubborn" for l in lines),
          "stubborn was not terminated after the timeout")

def t_second_signal():
    p = subprocess.Popen([WISP, "--log-format", "json", "run", f"{APPS}/shutdown"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    time.sleep(0.4)  # a duplicate within 200 ms is the same request
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=10)
    check(p.returncode == 1, f"second signal: exit code {p.returncode}, expected 1")

def t_xrun():
    r = subprocess.run([WISP, "run", f"{APPS}/xrun", "-x", "app:add", "2", "3"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "sum 5" in r.stdout, f"-x add: {r.returncode} {r.stdout} {r.stderr}")
    r = subprocess.run([WISP, "run", f"{APPS}/xrun", "-x", "app:fail"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 1 and "xrun failure" in r.stderr, f"-x fail: {r.returncode} {r.stderr}")
    r = subprocess.run([WISP, "run", f"{APPS}/xrun", "-x", "app:spawner"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "spawner ok" in r.stdout, f"-x spawner: {r.returncode} {r.stdout} {r.stderr}")
    r = subprocess.run([WISP, "run", f"{APPS}/xrun", "-x", "app:missing"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 1 and "app:missing" in r.stderr, f"-x missing: {r.returncode} {r.stderr}")

def t_check():
    r = subprocess.run([WISP, "check", f"{APPS}/good"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, f"check good: {r.returncode} {r.stdout} {r.stderr}")
    r = subprocess.run([WISP, "check", f"{APPS}/broken"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 1 and "problems found" in r.stdout, f"check broken: {r.returncode}")
    check(r.stdout.count("\n") > 10, "check broken should list many problems at once")
    r = subprocess.run([WISP, "run", f"{APPS}/broken"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 1 and "nothing was started" in r.stderr, f"run broken: {r.returncode} {r.stderr[-200:]}")

def t_test_cmd():
    r = subprocess.run([WISP, "test", f"{APPS}/xrun"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "1 passed, 0 failed" in r.stdout, f"wisp test: {r.returncode} {r.stdout} {r.stderr}")

def t_usage():
    for args, want in ((["exec", "--bogus", "x.lua"], 2), (["--admin", "127.0.0.1:1", "exec", "x.lua"], 2),
                       (["check", ""], 2), (["run", f"{APPS}/xrun", "--workers", "2"], 2),
                       (["run", f"{APPS}/xrun", "-x", "app:typo"], 1), (["test", "/tmp"], 1)):
        r = subprocess.run([WISP, *args], capture_output=True, text=True, timeout=20)
        check(r.returncode == want and r.stderr.strip(), f"{args}: exit {r.returncode} (want {want}) {r.stderr[-200:]}")
    r = subprocess.run([WISP, "run", f"{APPS}/xrun", "-x", "app:typo"], capture_output=True, text=True, timeout=20)
    check("no such entry" in r.stderr and "failed" not in r.stderr, f"-x typo: {r.stderr}")
    r = subprocess.run([WISP, "frobnicate"], capture_output=True, text=True)
    check(r.returncode == 2 and "usage" in r.stderr, "unknown command must print usage and exit 2")
    r = subprocess.run([WISP, "--workers", "0", "exec", "x.lua"], capture_output=True, text=True)
    check(r.returncode == 2, "bad --workers must exit 2")
    r = subprocess.run([WISP, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("wisp "), "--version")

def t_pingpong_example():
    r = subprocess.run([WISP, "--log-format", "json", "run", "examples/pingpong", "-x", "app:demo"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"pingpong: exit {r.returncode} {r.stderr[-300:]}")
    lines = logs_of(r.stdout)
    pongs = [l["n"] for l in lines if l.get("msg") == "pong"]
    check(pongs == [1, 2, 3, 4, 5], f"pongs {pongs}")
    denied = [l for l in lines if l.get("msg") == "spawn denied as expected"]
    check(denied and "PermissionDenied" in denied[0]["error"], "the policy must deny process.spawn")
    check(all(l.get("pid") and l.get("entry") for l in lines if l.get("msg") in ("ping", "pong")),
          "Lua log lines carry pid and entry")

def t_security():
    def pred(ls):
        return sum(1 for l in ls if l.get("msg") == "probe") >= 2 and any(l.get("msg") == "child context" for l in ls)
    ok, lines, code, _, err = run_until(f"{APPS}/security", pred)
    check(ok, "probes did not report: " + err[-300:])
    probes = {l["name"]: l for l in lines if l.get("msg") == "probe"}
    s, u = probes["scoped"], probes["unscoped"]
    check(s["actor"] == "service:scoped" and s["role"] == "admin", f"scoped identity: {s}")
    check(s["sent"] and s["can_send"] and s["spawned"], f"scoped allowed actions: {s}")
    check("app:no_admin_panel" in s["panel_error"], f"deny must win: {s['panel_error']}")
    check(not u["sent"] and u["send_error"] == "PermissionDenied" and not u["can_send"], f"strict without scope: {u}")
    check(u["spawn_error"] == "PermissionDenied" and "strict" in u["panel_error"], f"strict without scope: {u}")
    child = [l for l in lines if l.get("msg") == "child context"]
    check(child and child[0]["actor"] == "service:scoped", "children inherit the parent's identity")

def t_init():
    import tempfile
    d = tempfile.mkdtemp() + "/myapp"
    r = subprocess.run([WISP, "init", d], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"init: {r.returncode} {r.stderr}")
    r = subprocess.run([WISP, "check", d], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"check of a new app: {r.stdout} {r.stderr}")
    r = subprocess.run([WISP, "test", d], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "1 passed, 0 failed" in r.stdout, f"test of a new app: {r.stdout} {r.stderr}")
    ok, lines, code, _, err = run_until(d, lambda ls: any(l.get("msg") == "hello, world" for l in ls))
    check(ok and code == 0, f"run of a new app: {code} {err[-300:]}")
    check(any(l.get("msg") == "goodbye" for l in lines), "the service handles CANCEL on SIGTERM")
    r = subprocess.run([WISP, "init", d], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1 and "not empty" in r.stderr, "init refuses a non-empty directory")

def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def http_get(port, path):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.read().decode()

PROM_PARSE = """
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
for name in sys.argv[1:]:
    assert name in fams, "missing family " + name
print(len(fams))
"""

def t_admin():
    port = free_port()
    p = subprocess.Popen([WISP, "--log-format", "json", "--admin", f"127.0.0.1:{port}", "run", "examples/pingpong"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status = None
        for _ in range(100):
            try:
                status, body = http_get(port, "/healthz")
                break
            except OSError:
                time.sleep(0.05)
        check(status == 200, f"/healthz: {status}")
        for _ in range(100):
            status, body = http_get(port, "/readyz")
            if status == 200:
                break
            time.sleep(0.05)
        check(status == 200, f"/readyz: {status} {body}")
        status, metrics = http_get(port, "/metrics")
        check(status == 200, f"/metrics: {status}")
        # a real Prometheus text-format parser (Debian's python3-prometheus-client)
        r = subprocess.run(["/usr/bin/python3", "-c", PROM_PARSE, "wisp_actors", "wisp_actors_spawned",
                            "wisp_scheduler_run_queue_length", "wisp_actor_memory_bytes",
                            "wisp_websocket_connections", "wisp_websocket_opened"],
                           input=metrics, capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, f"prometheus parser refused /metrics: {r.stderr[-500:]}")
        status, _ = http_get(port, "/nope")
        check(status == 404, f"unknown path: {status}")
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=20)
    check(p.returncode == 0, f"exit {p.returncode}")
    import socket
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r = subprocess.run([WISP, "--admin", f"127.0.0.1:{busy.getsockname()[1]}", "run", "examples/pingpong"],
                           capture_output=True, text=True, timeout=10)
    finally:
        busy.close()
    check(r.returncode == 1 and "--admin" in r.stderr, f"a port in use fails at start: {r.stderr}")

def t_sighup():
    import tempfile
    lvl = tempfile.NamedTemporaryFile("w", delete=False, suffix=".level")
    lvl.write("warn\n")
    lvl.close()
    p = subprocess.Popen([WISP, "--log-format", "json", "--log-level-file", lvl.name, "run", f"{APPS}/hostmem"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.6)
    with open(lvl.name, "w") as f:
        f.write("info\n")
    p.send_signal(signal.SIGHUP)
    time.sleep(0.6)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    lines = logs_of(out.decode())
    i = next((k for k, l in enumerate(lines) if l.get("msg") == "SIGHUP: log level set"), None)
    check(i is not None and lines[i]["level"] == "warn", "SIGHUP must log the new level")
    check(not any(l.get("msg") == "steady tick" for l in lines[:i]), "info lines before SIGHUP at level warn")
    check(any(l.get("msg") == "steady tick" for l in lines[i:]), "info lines after SIGHUP set info")
    check(p.returncode == 0, f"exit {p.returncode}")
    r = subprocess.run([WISP, "--log-level-file", "/nonexistent", "run", f"{APPS}/hostmem"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1 and "log-level-file" in r.stderr, f"unreadable level file: {r.returncode} {r.stderr}")

def t_ws_metrics():
    port = free_port()
    p = subprocess.Popen([WISP, "--log-format", "json", "--admin", f"127.0.0.1:{port}", "run", f"{APPS}/wsmetrics"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = ""
        for _ in range(100):
            try:
                status, body = http_get(port, "/metrics")
                if 'wisp_websocket_connect_failures_total{stage="tcp"} 3' in body:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        check('wisp_websocket_connect_failures_total{stage="tcp"} 3' in body, "3 refused dials counted at stage tcp")
        check('wisp_websocket_connections{state="open"} 0' in body, "no connection open")
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=20)

class example_server:
    """Starts an example's Python websockets server (Debian's, /usr/bin/python3) on a free port."""
    def __init__(self, script, *args):
        self.port = free_port()
        self.p = subprocess.Popen(["/usr/bin/python3", script, "--port", str(self.port), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        import socket
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{script} did not start")
    def __enter__(self):
        return self
    def __exit__(self, *a):
        self.p.kill()
        self.p.wait()

def run_x(app, entry, *args):
    return subprocess.run([WISP, "--log-format", "text", "run", app, "-x", entry, *args],
                          capture_output=True, text=True, timeout=60)

def t_example_graphql():
    with example_server("examples/graphql-subscription/server.py") as srv:
        r = run_x("examples/graphql-subscription", "app:subscribe", f"ws://127.0.0.1:{srv.port}/graphql", "5")
    check(r.returncode == 0 and "subscription complete: 5 ticks" in r.stdout, f"graphql: {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")

def t_example_fanout():
    with example_server("examples/feed-fanout/server.py") as srv:
        r = run_x("examples/feed-fanout", "app:feed", f"ws://127.0.0.1:{srv.port}/feed", "30")
    check(r.returncode == 0 and "30 ticks forwarded, 30 received by 3 subscribers" in r.stdout,
          f"fan-out: {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")

def t_examples_as_apps():
    with example_server("examples/chat/server.py", "--token", "demo-token") as srv:
        r = run_x("examples/chat", "app:chat", f"ws://127.0.0.1:{srv.port}/ws", "demo-token", "lobby")
    check(r.returncode == 0 and "disconnected" in r.stdout, f"chat app: {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")
    with example_server("examples/price-stream/server.py") as srv:
        r = run_x("examples/price-stream", "app:prices", f"ws://127.0.0.1:{srv.port}/prices", "200ms", "20")
    check(r.returncode == 0, f"price-stream app: {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")

TESTS = [t_example_graphql, t_example_fanout, t_examples_as_apps, t_ws_metrics, t_sighup, t_admin, t_init, t_security, t_pingpong_example, t_restart, t_hostmem, t_shutdown, t_second_signal, t_xrun, t_check, t_test_cmd, t_usage]

def main():
    passed = failed = 0
    for t in TESTS:
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print(f"ok   {t.__name__} ({time.monotonic() - t0:.2f}s)")
        except Exception as e:
            failed += 1
            print(f"FAIL {t.__name__} ({time.monotonic() - t0:.2f}s): {e}")
    print(f"apps: {passed} passed, {failed} failed")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())

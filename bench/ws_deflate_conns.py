#!/usr/bin/python3
"""bench/ws_deflate_conns.py — memory per WebSocket client connection with permessage-deflate:
Wisp next to Node's ws and Python's websockets, in the same run against the same server.

Each client process opens COUNT connections (default 10,000) to a local Node ws server
(tests/ws/node/server.js, permessage-deflate on), sends one 1 KiB JSON message on each and
waits for its compressed echo — so every connection has compressed and inflated once — and
then holds them. The driver reads VmRSS of the client process before the first connection
("@@base") and once all are open ("@@hold"); the figure is (hold - base) / COUNT. A fresh server
is started for every row, so TIME_WAIT sockets and server state never carry over.

    /usr/bin/python3 bench/ws_deflate_conns.py [--wisp build-rel/wisp] [--count 10000]
        [--parallel 100] [--clients wisp,node,python]
        [--modes disabled,context_takeover,no_context]

The open-file limit is raised to the hard limit (the clients inherit it); COUNT must stay
below it. Wisp is run as `wisp exec bench/ws_deflate/conns.lua`; the peers' scripts are
bench/ws_deflate/node_client.js (npm ws from tests/ws/node/node_modules) and
bench/ws_deflate/py_client.py (Debian's python3-websockets). Configurations: Wisp's modes are
its `compression` option (context_takeover offers 12-bit windows both ways); node's
context_takeover is `perMessageDeflate: true` (its defaults: 15-bit windows, memLevel 8),
python's is `compression="deflate"` (client window offered without a value, memLevel 5); their
no_context rows ask for client_ and server_no_context_takeover.
"""
import argparse
import os
import re
import resource
import select
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(cmd, **kw):
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, **kw)


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def lines(p, timeout):
    """Yields stdout lines of p until timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if not r:
            if p.poll() is not None:
                return
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace")


def server():
    p = start(["node", "tests/ws/node/server.js"])
    for line in lines(p, 20):
        m = re.search(r"READY node (\d+)", line)
        if m:
            return p, int(m.group(1))
    stop(p)
    raise RuntimeError("the node server did not start: " + p.stderr.read().decode(errors="replace"))


def client_cmd(client, wisp, url, count, parallel, mode):
    if client == "wisp":
        return [wisp, "--log-format", "text", "exec", "bench/ws_deflate/conns.lua", url, str(count),
                str(parallel), mode]
    if client == "node":
        return ["node", "--expose-gc", "bench/ws_deflate/node_client.js", url, str(count), str(parallel), mode]
    return ["/usr/bin/python3", "bench/ws_deflate/py_client.py", url, str(count), str(parallel), mode]


def measure(client, wisp, count, parallel, mode):
    srv, port = server()
    try:
        url = f"ws://127.0.0.1:{port}/echo"
        p = start(client_cmd(client, wisp, url, count, parallel, mode))
        base = hold = None
        t0 = time.monotonic()
        try:
            for line in lines(p, 600):
                if "@@base" in line:
                    time.sleep(0.8)
                    base = rss_kb(p.pid)
                    t0 = time.monotonic()
                elif "@@hold" in line:
                    secs = time.monotonic() - t0
                    time.sleep(2)
                    hold = rss_kb(p.pid)
                    break
            if base is None or hold is None:
                err = p.stderr.read1(8192).decode(errors="replace") if p.poll() is not None else "timeout"
                raise RuntimeError(f"{client} {mode}: no measurement ({err.strip()[-500:]})")
        finally:
            stop(p)
        return base, hold, secs
    finally:
        stop(srv)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wisp", default=os.path.join(ROOT, "build-rel", "wisp"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--clients", default="wisp,node,python")
    ap.add_argument("--modes", default="disabled,context_takeover,no_context")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.count + 100 > hard:
        sys.exit(f"--count {a.count} needs more open files than the hard limit {hard}")
    print(f"{a.count} connections per row, {a.parallel} dialing at once; open-file limit {hard}")
    print(f"{'client':8} {'mode':17} {'RSS before':>11} {'RSS holding':>12} {'per connection':>15} {'open time':>10}")
    for client in a.clients.split(","):
        for mode in a.modes.split(","):
            base, hold, secs = measure(client, a.wisp, a.count, a.parallel, mode)
            per = (hold - base) * 1024 / a.count
            print(f"{client:8} {mode:17} {base / 1024:9.1f} MB {hold / 1024:10.1f} MB {per:12,.0f} B {secs:9.1f} s",
                  flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/actors.py — actor figures for the foundation: RSS per idle actor, spawn cost,
create+destroy, channel pairs/s. Usage: bench/actors.py [WISP_BIN]"""
import os, subprocess, sys, time

wisp = sys.argv[1] if len(sys.argv) > 1 else "build/wisp"
here = os.path.dirname(os.path.abspath(__file__))

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def idle_rss(n):
    p = subprocess.Popen([wisp, "exec", f"{here}/lua/spawn_idle.lua", str(n)], stdout=subprocess.PIPE, text=True)
    out = []
    for line in p.stdout:
        out.append(line.strip())
        if line.strip() == "ready":
            time.sleep(0.3)
            r = rss_kb(p.pid)
            break
    p.wait()
    return r, out[0]

base, _ = idle_rss(1)
for n in (10000, 100000):
    r, line = idle_rss(n)
    print(line)
    print(f"RSS with {n} idle actors: {r/1024:.1f} MiB; per actor: {(r - base) * 1024 / n:.0f} bytes")
subprocess.run([wisp, "exec", f"{here}/lua/spawn_exit.lua", "20000"])
subprocess.run([wisp, "exec", f"{here}/lua/channel_pingpong.lua", "1000000"])
subprocess.run([wisp, "exec", f"{here}/lua/pingpong_actors.lua", "200000"])
subprocess.run([wisp, "--workers", "1", "exec", f"{here}/lua/pingpong_actors.lua", "200000"])
# Erlang (erlang-base from Debian) in the same run, for the ratio
for n in (10000, 100000):
    subprocess.run(["escript", f"{here}/erlang/bench.erl", str(n), "200000"])

#!/usr/bin/python3
"""bench/suites/actors.py — actor figures against Erlang/OTP (Debian's erlang-base, escript,
default schedulers = cores, as Wisp's default workers = cores), same workloads on both sides
(bench/lua/*.lua, bench/erlang/bench.erl):
  spawn    100,000 idle actors / processes: microseconds per spawn, and RSS per actor (the
           process's VmRSS 1 s after the last spawn less its VmRSS just before the first)
  pingpong round trips/s between two actors
  ring     a ring of 10,000 actors passing one token 1,000,000 times: hops/s
  exec     create + run + exit + result back, one at a time: microseconds each"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, BENCH, LUA, WISP, run_client, conns_markers  # noqa: E402


def wisp(script, *args):
    return [WISP, "--log-format", "text", "exec", os.path.join(LUA, script), *map(str, args)]


def erl(*args):
    return ["escript", os.path.join(BENCH, "erlang", "bench.erl"), *map(str, args)]


def main():
    s = Suite("actors", __doc__)
    n_spawn = 1_000 if s.smoke else 100_000
    rounds = 2_000 if s.smoke else 200_000
    ring_n, hops = (100, 10_000) if s.smoke else (10_000, 1_000_000)
    n_exec = 500 if s.smoke else 20_000
    impls = [("wisp", wisp), ("erlang", erl)]
    for _ in range(s.runs):
        for impl, cmd in impls:
            def spawn(cmd=cmd):
                st = {}
                script = ("spawn_idle.lua", n_spawn) if impl == "wisp" else ("spawn", n_spawn)
                r = run_client(cmd(*script), timeout=300, markers=conns_markers(st))
                r["per_actor"] = (st["hold_kb"] - st["base_kb"]) * 1024 / n_spawn
                return r
            case = f"{n_spawn} idle"
            s.measure([("spawn", case, impl, "us", "lower", "us_per_spawn"),
                       ("RSS per actor", case, impl, "bytes", "lower", "per_actor")], spawn)
        for impl, cmd in impls:
            args = ("pingpong_actors.lua", rounds) if impl == "wisp" else ("pingpong", rounds)
            s.measure([("ping-pong", "2 actors", impl, "rt/s", "higher", lambda r: r["rtts"] / r["seconds"])],
                      lambda cmd=cmd, args=args: run_client(cmd(*args), timeout=300))
        for impl, cmd in impls:
            args = ("ring.lua", ring_n, hops) if impl == "wisp" else ("ring", ring_n, hops)
            s.measure([("ring", f"{ring_n} actors", impl, "hops/s", "higher", lambda r: r["hops"] / r["seconds"])],
                      lambda cmd=cmd, args=args: run_client(cmd(*args), timeout=300))
        for impl, cmd in impls:
            args = ("spawn_exit.lua", n_exec) if impl == "wisp" else ("exec", n_exec)
            s.measure([("spawn+exit+result", "one at a time", impl, "us", "lower", "exec_us")],
                      lambda cmd=cmd, args=args: run_client(cmd(*args), timeout=300))
    s.finish()


if __name__ == "__main__":
    main()

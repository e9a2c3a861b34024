#!/usr/bin/env python3
"""tests/run_lua.py — runs every tests/lua/*.lua through `wisp exec` and checks its outcome.

A test file states what it expects in header comments (default: exit code 0):
    -- expect-exit: 1
    -- expect-stderr: deadlock          (substring; may repeat)
    -- args: a b c                      (arguments after the script)
    -- workers: 1
Prints one line per file and ends with "N passed, N failed".
"""
import os, subprocess, sys, time, glob, re

def parse_header(path):
    exp = {"exit": 0, "stderr": [], "stdout": [], "args": [], "workers": None, "timeout": 60}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"--\s*(expect-exit|expect-stderr|expect-stdout|args|workers|timeout):\s*(.*)$", line.rstrip("\n"))
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
    return exp

def main():
    wisp = os.environ.get("WISP_BIN", "build/wisp")
    files = sys.argv[1:] or sorted(glob.glob("tests/lua/*_test.lua"))
    passed = failed = 0
    for path in files:
        exp = parse_header(path)
        cmd = [wisp]
        if exp["workers"]: cmd += ["--workers", exp["workers"]]
        cmd += ["exec", path] + exp["args"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=exp["timeout"])
            code, out, err = p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            code, out, err = "timeout", (e.stdout or b"").decode(errors="replace"), (e.stderr or b"").decode(errors="replace")
        dt = time.monotonic() - t0
        problems = []
        if code != exp["exit"]:
            problems.append(f"exit code {code}, expected {exp['exit']}")
        for s in exp["stderr"]:
            if s not in err: problems.append(f"stderr lacks {s!r}")
        for s in exp["stdout"]:
            if s not in out: problems.append(f"stdout lacks {s!r}")
        if exp["exit"] == 0 and ("AddressSanitizer" in err or "runtime error:" in err):
            problems.append("sanitizer report on stderr")
        if problems:
            failed += 1
            print(f"FAIL {path} ({dt:.2f}s): " + "; ".join(problems))
            for line in (out + err).splitlines()[-40:]:
                print("     | " + line)
        else:
            passed += 1
            print(f"ok   {path} ({dt:.2f}s)")
    print(f"lua: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())

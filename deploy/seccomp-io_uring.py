#!/usr/bin/env python3
"""deploy/seccomp-io_uring.py — derives seccomp-io_uring.json from a container runtime's default
seccomp profile (containers/common format, Debian 12: /usr/share/containers/seccomp.json from
golang-github-containers-common) by allowing io_uring_setup, io_uring_enter and io_uring_register
in its unconditional SCMP_ACT_ALLOW rule. Nothing else changes: same key order, same tab
indentation, so `diff BASE seccomp-io_uring.json` shows exactly the three added names.

  seccomp-io_uring.py [--base FILE] [--out FILE]   write the profile
  seccomp-io_uring.py --check [--base FILE]        exit 0 when deploy/seccomp-io_uring.json is
                                                   BASE plus io_uring (or, without BASE, when it
                                                   at least has the shape this file relies on)
"""
import argparse
import bisect
import hashlib
import json
import os
import sys

IO_URING = ["io_uring_enter", "io_uring_register", "io_uring_setup"]
DEFAULT_BASE = "/usr/share/containers/seccomp.json"
# The base seccomp-io_uring.json was made from: golang-github-containers-common 0.50.1+ds1-4
# (Debian 12), /usr/share/containers/seccomp.json.
PROVENANCE_SHA256 = "cc374cf23846ce1f62f4dc807a8e2b8673c783c6f56cb475467621035d281e6c"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "seccomp-io_uring.json")


def unconditional_allow(profile):
    """The rule that allows plain syscalls: action ALLOW, no args, no includes/excludes."""
    for rule in profile.get("syscalls", []):
        if (rule.get("action") == "SCMP_ACT_ALLOW" and not rule.get("args")
                and not rule.get("includes") and not rule.get("excludes")
                and len(rule.get("names", [])) > 100):
            return rule
    return None


def derive(base_text):
    profile = json.loads(base_text)
    rule = unconditional_allow(profile)
    if rule is None:
        raise ValueError("no unconditional SCMP_ACT_ALLOW rule with the common syscalls")
    names = rule["names"]
    is_sorted = names == sorted(names)
    for name in IO_URING:
        if name in names:
            continue
        if is_sorted:
            bisect.insort(names, name)
        else:
            names.append(name)
    # the upstream file is tab-indented JSON without a final newline; keep it byte-compatible
    return json.dumps(profile, indent="\t")


def shape_problems(profile):
    problems = []
    if profile.get("defaultAction") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"):
        problems.append("defaultAction should refuse unlisted syscalls, is %r" % profile.get("defaultAction"))
    rule = unconditional_allow(profile)
    if rule is None:
        problems.append("no unconditional SCMP_ACT_ALLOW rule")
    else:
        for name in IO_URING:
            if name not in rule["names"]:
                problems.append("%s is not allowed" % name)
    for rule in profile.get("syscalls", []):
        if rule.get("action") != "SCMP_ACT_ALLOW" and set(rule.get("names", [])) & set(IO_URING):
            problems.append("a %s rule names io_uring syscalls" % rule.get("action"))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default=DEFAULT_BASE)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()

    if a.check:
        try:
            with open(a.out) as f:
                ours = f.read()
            profile = json.loads(ours)
        except (OSError, ValueError) as e:
            print("seccomp: cannot read %s: %s" % (a.out, e))
            return 1
        problems = shape_problems(profile)
        for p in problems:
            print("seccomp: %s: %s" % (a.out, p))
        if problems:
            return 1
        if not os.path.exists(a.base):
            print("seccomp: shape ok; %s not present, so not compared with a base profile" % a.base)
            return 0
        with open(a.base) as f:
            base = f.read()
        sha = hashlib.sha256(base.encode()).hexdigest()
        if sha != PROVENANCE_SHA256:
            print("seccomp: shape ok; %s (sha256 %s) is not the base this profile was made from "
                  "(sha256 %s), so not compared; regenerate to follow it" % (a.base, sha, PROVENANCE_SHA256))
            return 0
        if derive(base) != ours:
            print("seccomp: %s is not %s (sha256 %s) plus io_uring; regenerate with %s --base %s"
                  % (a.out, a.base, sha, sys.argv[0], a.base))
            return 1
        print("seccomp: %s = %s (sha256 %s) + %s" % (os.path.basename(a.out), a.base, sha, ", ".join(IO_URING)))
        return 0

    try:
        with open(a.base) as f:
            base = f.read()
        out = derive(base)
    except (OSError, ValueError) as e:
        print("seccomp: %s: %s" % (a.base, e), file=sys.stderr)
        return 1
    with open(a.out, "w") as f:
        f.write(out)
    print("wrote %s from %s (sha256 %s)" % (a.out, a.base, hashlib.sha256(base.encode()).hexdigest()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

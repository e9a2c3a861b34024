#!/usr/bin/python3
"""bench/suites/_report.py — turns the rows the suites wrote (JSON lines, see _common.py) into
the table bench/run.sh prints, docs/bench/results.csv and docs/bench/results.png.

    _report.py ROWS.jsonl --csv FILE [--keep] [--png FILE] [--markdown FILE] [--machine FILE] [--runs N]

--keep carries over, from the existing --csv file, the rows of every suite not in ROWS.

Per row: median of the runs, min–max, and for every peer the ratio median(Wisp) / median(peer)
of the same metric and case (for "higher" metrics a ratio above 1 favours Wisp, for "lower"
metrics one below 1 does). In the flood suites (msg/s) the raw-socket client is the ceiling:
a client measured above it would mean the load server, not the client, set the pace, and is
reported as a ceiling violation (exit status 3). In ws-echo the raw client is the latency floor
of the same server; a C client may come within noise of it, so it is shown, not checked.
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys

CEILING = "raw-socket"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1048576:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, Linux {platform.release()}"


def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("us",):
        return f"{v:.1f} µs" if v < 1000 else f"{v / 1000:.2f} ms"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "bytes":
        return f"{v / 1024:.2f} KiB" if v >= 1024 else f"{v:.0f} B"
    suffix = {"msg/s": " msg/s", "rt/s": " rt/s", "hops/s": " hops/s"}.get(unit, " " + unit)
    if v >= 1e6:
        return f"{v / 1e6:.2f}M{suffix}"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k{suffix}"
    return f"{v:.0f}{suffix}"


def previous_rows(csv_path, fresh_suites):
    """The rows of an earlier results.csv for the suites not run this time, so that running
    some suites updates their rows and keeps the others'."""
    out = []
    try:
        with open(csv_path, newline="") as f:
            for c in csv.DictReader(f):
                if c["suite"] in fresh_suites:
                    continue
                out.append({"suite": c["suite"], "metric": c["metric"], "case": c["case"],
                            "impl": c["impl"], "unit": c["unit"], "better": c["better"],
                            "status": c["status"], "note": c["note"],
                            "values": [float(v) for v in c["values"].split()]})
    except (OSError, KeyError, ValueError):
        return []
    return out


def load(path, keep_from=None):
    raw = []
    with open(path) as f:
        for line in f:
            if line.strip():
                raw.append(json.loads(line))
    if keep_from:
        order = ["ws-recv", "ws-echo", "ws-conns", "ws-deflate", "wss-recv", "actors"]
        raw += previous_rows(keep_from, {r["suite"] for r in raw})
        raw.sort(key=lambda r: order.index(r["suite"]) if r["suite"] in order else len(order))
    rows = []
    for r in raw:
        v = r["values"]
        ok = r["status"] == "ok" and v
        r["median"] = statistics.median(v) if ok else None
        r["min"] = min(v) if ok else None
        r["max"] = max(v) if ok else None
        rows.append(r)
    # table order: suites, metrics, cases and clients each in the order they first appeared
    first = {}
    for r in rows:
        for k in (("s", r["suite"]), ("m", r["suite"], r["metric"]), ("c", r["suite"], r["case"]),
                  ("i", r["suite"], r["impl"])):
            first.setdefault(k, len(first))
    rows.sort(key=lambda r: (first[("s", r["suite"])], first[("m", r["suite"], r["metric"])],
                             first[("c", r["suite"], r["case"])], first[("i", r["suite"], r["impl"])]))
    by_key = {(r["suite"], r["metric"], r["case"], r["impl"]): r for r in rows}
    for r in rows:
        r["ratio"] = None
        if r["impl"].startswith("wisp") or r["median"] is None:
            continue
        w = by_key.get((r["suite"], r["metric"], r["case"], "wisp"))
        if w and w["median"] is not None and r["median"]:
            r["ratio"] = w["median"] / r["median"]
    return rows


def ceiling_violations(rows):
    out = []
    groups = {}
    for r in rows:
        if r["unit"] == "msg/s" and r["median"] is not None:
            groups.setdefault((r["suite"], r["metric"], r["case"]), []).append(r)
    for key, rs in groups.items():
        top = [r for r in rs if r["impl"] == CEILING]
        if not top:
            continue
        for r in rs:
            if r["impl"] != CEILING and r["median"] > top[0]["median"]:
                out.append(f"{key[0]} {key[2]}: {r['impl']} ({fmt(r['median'], r['unit'])}) above the "
                           f"raw-socket ceiling ({fmt(top[0]['median'], top[0]['unit'])})")
    return out


def table(rows):
    head = ["suite", "metric", "case", "client", "median", "min – max", "better", "wisp/peer"]
    body = []
    for r in rows:
        if r["status"] != "ok":
            val, rng = r["status"], (r["note"][:60] if r["note"] else "")
        else:
            val = fmt(r["median"], r["unit"])
            rng = f"{fmt(r['min'], r['unit'])} – {fmt(r['max'], r['unit'])}" if len(r["values"]) > 1 else "(1 run)"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ("" if r["impl"].startswith("wisp") else "—")
        body.append([r["suite"], r["metric"], r["case"], r["impl"], val, rng, r["better"], ratio])
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    prev = None
    for b in body:
        if prev and prev != b[0]:
            lines.append("")
        prev = b[0]
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(b, widths)).rstrip())
    return "\n".join(lines)


def write_markdown(rows, path, mach, runs):
    """The figures as a Markdown table (docs/bench/results.md), one block per suite."""
    out = [f"Machine: {mach}. Median of {runs} run{'s' if runs != 1 else ''}, min – max in brackets; "
           "wisp/peer = median(Wisp) / median(peer).", ""]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        out += [f"**{suite}**", "", "| metric | case | client | median (min – max) | better | wisp/peer |",
                "|---|---|---|---|---|---|"]
        for r in (x for x in rows if x["suite"] == suite):
            if r["status"] != "ok":
                val = f"{r['status']}: {r['note'][:80]}" if r["note"] else r["status"]
            else:
                val = f"{fmt(r['median'], r['unit'])} ({fmt(r['min'], r['unit'])} – {fmt(r['max'], r['unit'])})"
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ""
            out.append(f"| {r['metric']} | {r['case']} | {r['impl']} | {val} | {r['better']} | {ratio} |")
        out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out))


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["suite", "metric", "case", "impl", "unit", "better", "status", "runs", "median",
                    "min", "max", "wisp_over_peer", "values", "note"])
        for r in rows:
            g = lambda v: "" if v is None else f"{v:.6g}"  # noqa: E731
            w.writerow([r["suite"], r["metric"], r["case"], r["impl"], r["unit"], r["better"],
                        r["status"], len(r["values"]), g(r["median"]), g(r["min"]), g(r["max"]),
                        "" if r["ratio"] is None else f"{r['ratio']:.4f}",
                        " ".join(f"{v:.6g}" for v in r["values"]), r["note"]])


COLORS = {"wisp": "#e4572e", "wisp (actor each)": "#f3a712", "node-ws": "#29335c",
          "python-websockets": "#669bbc", "libwebsockets": "#4f7942", "raw-socket": "#9a9a9a",
          "erlang": "#a8201a"}


def plot(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for r in rows:
        key = (r["suite"], r["metric"])
        if key not in panels:
            panels.append(key)
    ncols = 3
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.9 * nrows), squeeze=False)
    for ax, (suite, metric) in zip(axes.flat, panels):
        rs = [r for r in rows if r["suite"] == suite and r["metric"] == metric]
        cases = list(dict.fromkeys(r["case"] for r in rs))
        impls = list(dict.fromkeys(r["impl"] for r in rs))
        width = 0.8 / len(impls)
        vals = [r["median"] for r in rs if r["median"]]
        log = bool(vals) and max(vals) / min(vals) > 30
        missing = []
        for i, impl in enumerate(impls):
            xs, ys, lo, hi = [], [], [], []
            for j, case in enumerate(cases):
                r = next((x for x in rs if x["impl"] == impl and x["case"] == case), None)
                if not r:
                    continue
                if r["median"] is None:
                    missing.append(f"{impl}: {r['status']}")
                    continue
                xs.append(j + (i - (len(impls) - 1) / 2) * width)
                ys.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
            if xs:
                ax.bar(xs, ys, width * 0.95, yerr=[lo, hi], capsize=2, label=impl,
                       color=COLORS.get(impl, None), edgecolor="black", linewidth=0.4)
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, fontsize=8)
        unit = rs[0]["unit"].replace("us", "µs")
        ax.set_title(f"{suite}: {metric} ({unit}, {rs[0]['better']} is better)", fontsize=9)
        if log:
            ax.set_yscale("log")
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
        if missing:
            ax.text(0.01, 0.97, "\n".join(sorted(set(missing))), transform=ax.transAxes, fontsize=7,
                    va="top", color="#a00", bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--png")
    ap.add_argument("--machine")
    ap.add_argument("--markdown")
    ap.add_argument("--keep", action="store_true",
                    help="keep the rows of suites not in ROWS from the existing --csv file")
    ap.add_argument("--runs", type=int, default=0)
    a = ap.parse_args()
    rows = load(a.rows, a.csv if a.keep else None)
    mach = machine()
    print(f"machine: {mach}")
    print(table(rows))
    write_csv(rows, a.csv)
    if a.machine:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        with open(a.machine, "w") as f:
            f.write(f"{mach}\nruns per row: {a.runs}\nwisp commit: {rev or 'unknown'} (plus the work tree)\n")
    if a.markdown:
        write_markdown(rows, a.markdown, mach, a.runs)
    if a.png:
        plot(rows, a.png, f"Wisp vs peers — median of {a.runs} runs, bars min–max — {mach}")
        print(f"plot: {a.png}")
    bad = ceiling_violations(rows)
    for b in bad:
        print(f"CEILING VIOLATED: {b}")
    sys.exit(3 if bad else 0)


if __name__ == "__main__":
    main()

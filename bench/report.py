#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turns bench/run's results.tsv into tables (OUT/tables.md) and plots
(OUT/*.png, with gnuplot); or writes BENCHMARKS.md's headline from every
run stored under bench/results/.

    report.py RESULTS.tsv OUT SECONDS_TAKEN
    report.py --headline RESULTS_DIR BENCHMARKS.md

The headline is the current one: each transfer's figures come from the
newest stored run that measured them (run directories are named by date,
YYYY-MM-DD[-rN], so their names sort in time order), each peer's ratio from
the newest run that measured both it and sluice, and the table says which
run each came from.  It replaces what lies between the two HEADLINE_MARKS
lines of BENCHMARKS.md.

Ratios are taken run by run: in run r every tool did the same transfer, so
peer_wall[r] / sluice_wall[r] compares two measurements made a few seconds
apart; the table gives the median of those ratios and their range.  Exit
status 1 when sluice failed anywhere, or a peer failed where
bench/known-failures does not say it fails (the harness is then broken).
"""
import collections
import os
import re
import statistics
import subprocess
import sys

GIB = 1024 ** 3
MIB = 1024 ** 2
COLS = "section case server tool run bytes wall user sys rss status note load".split()
HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = {"main": "sluice", "growth": "sluice", "curves": "sluice",
             "article": "xfer-write_from", "files": "sluice", "trees": "sluice",
             "python": "py-write_from", "verify": "sluice"}
LABEL = {"xfer-write_from": "write_from", "xfer-loop": "read/write loop",
         "py-write_from": "Python write_from", "py-loop": "Python read/write loop",
         "boto3": "boto3 upload_fileobj"}
# buffers sluice may hold with the settings bench/run gives it:
# chunk x (queue_depth + concurrent + readers) = 8 MiB x (4 + 4 + 1)
SLUICE_BOUND_MIB = 8 * (4 + 4 + 1)


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            v = line.rstrip("\n").split("\t")
            if len(v) != len(COLS):
                sys.exit("report: cannot parse row: %r" % line)
            r = dict(zip(COLS, v))
            for k in ("run", "bytes", "rss", "status"):
                r[k] = int(r[k])
            for k in ("wall", "user", "sys", "load"):
                r[k] = float(r[k])
            rows.append(r)
    return rows


def known_failures():
    out = []
    with open(os.path.join(HERE, "known-failures")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                tool, server, case, reason = line.rstrip("\n").split("\t")
                out.append((tool, server, re.compile(case), reason))
    return out


def why_failed(known, r):
    for tool, server, case, reason in known:
        if tool == r["tool"] and server in (r["server"], "*") and case.search(r["case"]):
            return reason
    return None


def spread(xs, fmt):
    xs = sorted(xs)
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt % m
    return (fmt + " (" + fmt + "-" + fmt + ")") % (m, xs[0], xs[-1])


def stats(rows):
    """Median figures of one tool's successful runs."""
    ok = [r for r in rows if r["status"] == 0]
    if not ok:
        return None
    return {
        "wall": spread([r["wall"] for r in ok], "%.2f"),
        "mibs": spread([r["bytes"] / MIB / r["wall"] for r in ok], "%.0f"),
        "mibs_med": statistics.median(r["bytes"] / MIB / r["wall"] for r in ok),
        "cpu": "%.2f" % statistics.median((r["user"] + r["sys"]) / (r["bytes"] / GIB) for r in ok),
        "rss": "%.0f" % statistics.median(r["rss"] / 1024 for r in ok),
        "rss_med": statistics.median(r["rss"] / 1024 for r in ok),
        "runs": len(ok),
    }


def ratio(rows, ref_rows, of=lambda r: r["wall"]):
    ref = {r["run"]: of(r) for r in ref_rows if r["status"] == 0}
    rs = [of(r) / ref[r["run"]] for r in rows if r["status"] == 0 and r["run"] in ref and ref[r["run"]] > 0]
    return spread(rs, "%.2f") if rs else "-"


def cpu(r):
    return r["user"] + r["sys"]


def grouped(rows, section):
    g = collections.OrderedDict()
    for r in rows:
        if r["section"] == section:
            g.setdefault((r["case"], r["server"]), collections.OrderedDict()).setdefault(
                r["tool"], []).append(r)
    return g


def transfer_table(rows, section, known, problems, cpu_ratio=False):
    """One row per transfer and tool; cpu_ratio adds each tool's CPU
    (user + sys) divided by the reference's, run by run."""
    ref_tool = REFERENCE[section]
    g = grouped(rows, section)
    if not g:
        return []
    ref_name = LABEL.get(ref_tool, ref_tool)
    extra = " CPU ÷ %s's |" % ref_name if cpu_ratio else ""
    out = ["| transfer | server | tool | time ÷ %s's | wall s | MiB/s | CPU s/GiB |%s peak RSS MiB | runs |"
           % (ref_name, extra),
           "|---|---|---|---|---|---|---|" + ("---|" if cpu_ratio else "") + "---|---|"]
    for (case, server), tools in g.items():
        ref = tools.get(ref_tool, [])
        for tool, trs in tools.items():
            name = LABEL.get(tool, tool)
            failed = [r for r in trs if r["status"] != 0]
            for r in failed:
                reason = why_failed(known, r)
                if reason is None:
                    problems.append("%s/%s/%s/%s run %d: exit %d: %s" % (
                        section, case, server, tool, r["run"], r["status"], r["note"]))
            s = stats(trs)
            if s is None:
                reason = why_failed(known, failed[0]) or failed[0]["note"]
                blank = 5 if cpu_ratio else 4  # wall, MiB/s, CPU[, CPU ratio], RSS
                out.append("| %s | %s | %s | fails: %s |%s 0/%d |" % (
                    case, server, name, reason, " |" * blank, len(trs)))
                continue
            rt = "1" if tool == ref_tool else ratio(trs, ref)
            rc = ""
            if cpu_ratio:
                rc = " %s |" % ("1" if tool == ref_tool else ratio(trs, ref, cpu))
            out.append("| %s | %s | %s | %s | %s | %s | %s |%s %s | %d/%d |" % (
                case, server, name, rt, s["wall"], s["mibs"], s["cpu"], rc, s["rss"],
                s["runs"], len(trs)))
    return out


def headline(rows, section):
    """One line per transfer: each peer's median time ratio to sluice."""
    g = grouped(rows, section)
    peers = [t for t in ("aws", "rclone", "rclone-defaults", "s3cmd", "curl") if any(t in ts for ts in g.values())]
    if not g or not peers:
        return []
    out = ["| transfer | server | sluice MiB/s | " + " | ".join(peers) + " |",
           "|---|---|---|" + "---|" * len(peers)]
    for (case, server), tools in g.items():
        ref = tools.get("sluice", [])
        s = stats(ref) if ref else None
        cells = []
        for t in peers:
            trs = tools.get(t, [])
            if not trs:
                cells.append("")
            elif stats(trs) is None:
                cells.append("fails")
            else:
                cells.append("**%s**" % ratio(trs, ref).split(" ")[0])
        out.append("| %s | %s | %s | %s |" % (case, server, "%.0f" % s["mibs_med"] if s else "fails",
                                             " | ".join(cells)))
    return out


HEADLINE_SECTIONS = ("main", "files", "trees")
HEADLINE_PEERS = ("aws", "rclone", "rclone-defaults", "s3cmd", "curl")
HEADLINE_MARKS = ("<!-- headline: written by bench/report.py --headline; edit the script, not this -->",
                  "<!-- end of headline -->")


def stored_runs(results_dir):
    """[(run name, rows)] of every run directory, oldest first.  Within one
    run, a transfer measured in two files counts from the first by name."""
    runs = []
    for name in sorted(os.listdir(results_dir)):
        d = os.path.join(results_dir, name)
        if not (os.path.isdir(d) and re.match(r"\d{4}-\d\d-\d\d", name)):
            continue
        rows, seen = [], set()
        for f in sorted(x for x in os.listdir(d) if x.endswith(".tsv")):
            new = [r for r in load(os.path.join(d, f))
                   if (r["section"], r["case"], r["server"]) not in seen]
            seen |= {(r["section"], r["case"], r["server"]) for r in new}
            rows += new
        if rows:
            runs.append((name, rows))
    return runs


def current_headline(runs):
    """The headline table from the newest figures of each transfer."""
    # (case, server) -> tool -> [(run name, rows)], oldest run first
    seen = collections.OrderedDict()
    for name, rows in runs:
        for section in HEADLINE_SECTIONS:
            for key, tools in grouped(rows, section).items():
                for tool, trs in tools.items():
                    seen.setdefault(key, {}).setdefault(tool, []).append((name, trs))
    peers = [t for t in HEADLINE_PEERS if any(t in tools for tools in seen.values())]
    out = ["| transfer | server | sluice MiB/s | " + " | ".join(peers) + " | measured in |",
           "|---|---|---:|" + "---:|" * len(peers) + "---|"]
    for (case, server), tools in seen.items():
        if "sluice" not in tools or not any(t in tools for t in peers):
            continue
        sl_name, sl_rows = tools["sluice"][-1]
        s = stats(sl_rows)
        cells, where = [], collections.OrderedDict()
        where.setdefault(sl_name, []).append("sluice")
        for t in peers:
            # the newest run in which both the peer and sluice ran it
            pairs = [(n, trs, dict(tools["sluice"]).get(n)) for n, trs in tools.get(t, [])]
            pairs = [p for p in pairs if p[2]]
            if not pairs:
                cells.append("")
                continue
            n, trs, ref = pairs[-1]
            where.setdefault(n, []).append(t)
            cells.append("fails" if stats(trs) is None else "**%s**" % ratio(trs, ref).split(" ")[0])
        link = "[%s](bench/results/%s/)"
        if len(where) == 1:
            runs_cell = link % (sl_name, sl_name)
        else:
            runs_cell = "; ".join((link + " (%s)") % (n, n, ", ".join(ts))
                                  for n, ts in reversed(where.items()))
        out.append("| %s | %s | %s | %s | %s |" % (
            case, server, "%.0f" % s["mibs_med"] if s else "fails", " | ".join(cells), runs_cell))
    return out


def write_headline(results_dir, markdown):
    runs = stored_runs(results_dir)
    if not runs:
        sys.exit("report: no runs under %s" % results_dir)
    table = current_headline(runs)
    with open(markdown) as f:
        text = f.read()
    begin, end = (text.find(m) for m in HEADLINE_MARKS)
    if begin < 0 or end < begin:
        sys.exit("report: %s has no headline marks:\n  %s\n  %s" % ((markdown,) + HEADLINE_MARKS))
    block = [HEADLINE_MARKS[0], "",
             "Each peer's wall time ÷ sluice's, run by run, median of the runs: **> 1: sluice "
             "faster**.  Every figure comes from the newest stored run that measured it (the last "
             "column; each run's `tables.md` has the spread, CPU and peak RSS).  Stored runs: " +
             ", ".join("[%s](bench/results/%s/)" % (n, n) for n, _ in reversed(runs)) + ".", ""]
    block += table + ["", ""]
    text = text[:begin] + "\n".join(block) + text[end:]
    with open(markdown, "w") as f:
        f.write(text)
    print("\n".join(table))


def ring_tables(rows):
    rate = collections.OrderedDict()
    idle = collections.OrderedDict()
    for r in rows:
        if r["section"] != "ring":
            continue
        if r["case"] == "idle":
            idle.setdefault(r["tool"], []).append(r)
        else:
            rate.setdefault(r["case"], collections.OrderedDict()).setdefault(r["tool"], []).append(r)
    if not rate:
        return []
    cap = next(r["server"] for r in rows if r["section"] == "ring" and r["case"] != "idle")
    out = ["Millions of items per second through one queue (%s; median of runs, range):" % cap, "",
           "| producers x consumers | sluice ring | sluice's rate ÷ ck_ring's | sluice's rate ÷ mutex's | ck_ring | mutex+condvars |",
           "|---|---|---|---|---|---|"]
    timeouts = []
    for case, qs in rate.items():
        per_run = {q: {r["run"]: r["bytes"] / r["wall"] for r in rs if r["status"] == 0}
                   for q, rs in qs.items()}
        for q, rs in qs.items():
            timeouts += ["%s %s run %d" % (q, case, r["run"]) for r in rs if r["status"] != 0]

        def rate_of(q):
            xs = [v / 1e6 for v in per_run.get(q, {}).values()]
            return spread(xs, "%.1f") if xs else "timed out"

        def rel(q):
            mine = per_run.get("sluice", {})
            rs = [mine[k] / v for k, v in per_run.get(q, {}).items() if k in mine]
            return spread(rs, "%.2f") if rs else "-"
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            case, rate_of("sluice"), rel("ck"), rel("mutex"), rate_of("ck"), rate_of("mutex")))
    if timeouts:
        limit = max(r["wall"] for r in rows if r["section"] == "ring" and r["status"] != 0)
        out += ["", "Did not finish within %g s (left out of the medians): %s." % (limit, ", ".join(timeouts))]
    out += ["", "CPU seconds a thread burns per second while it waits (idle test):", "",
            "| queue | blocked consumer | blocked producer |", "|---|---|---|"]
    for q, rs in idle.items():
        out.append("| %s | %s | %s |" % (q, spread([r["user"] / r["wall"] for r in rs], "%.4f"),
                                         spread([r["sys"] / r["wall"] for r in rs], "%.4f")))
    return out


def load_note(rows, section):
    loads = sorted(r["load"] for r in rows if r["section"] == section)
    return ("1-minute load average as the commands started: median %.2f, range %.2f-%.2f "
            "(the benchmark's own clients and servers keep it near 1-2.5 on 2 cores; more "
            "means something else was running)." % (
                statistics.median(loads), loads[0], loads[-1]))


def plots(rows, out_dir):
    """Data files and gnuplot PNGs: throughput vs concurrency, vs chunk, and
    peak RSS vs object size."""
    made = []
    curves = collections.defaultdict(dict)
    for (case, _), tools in grouped(rows, "curves").items():
        m = re.match(r"(concurrent|chunk) (\d+)", case)
        if not m:
            continue
        for tool, trs in tools.items():
            s = stats(trs)
            if s:
                curves[(m.group(1), tool)][int(m.group(2))] = s["mibs_med"]
    # 8 MiB parts, 4 in flight is the "concurrent 4" case (s3cmd: its one
    # stream, under "concurrent 1"): the chunk curve's missing point
    for (kind, tool), pts in list(curves.items()):
        at = 1 if tool == "s3cmd" else 4
        if kind == "concurrent" and at in pts and ("chunk", tool) in curves:
            curves[("chunk", tool)][8] = pts[at]
    mem = collections.defaultdict(dict)
    # the main table's big upload to the sink is the last point of the curve
    sized = list(grouped(rows, "growth").items()) + list(grouped(rows, "main").items())
    for (case, server), tools in sized:
        m = re.match(r"upload (\d+)([KMG])$", case)
        if not m or server != "sink":
            continue
        size = int(m.group(1)) * {"K": 1 / 1024, "M": 1, "G": 1024}[m.group(2)]
        for tool, trs in tools.items():
            s = stats(trs)
            if s:
                mem[tool][size] = s["rss_med"]
    for kind, xlabel, fname in (("concurrent", "parts in flight (concurrent)", "throughput-vs-concurrency"),
                                ("chunk", "part size (MiB), 4 in flight", "throughput-vs-chunk")):
        series = {t: pts for (k, t), pts in curves.items() if k == kind and len(pts) > 1}
        if series:
            made.append(gnuplot(out_dir, fname, series, xlabel, "MiB/s (median)",
                                "upload to a latency-bound S3 sink (85 MiB/s per connection, +20 ms per part)",
                                logx=True))
    per_object = collections.defaultdict(dict)
    for (case, server), tools in grouped(rows, "trees").items():
        m = re.match(r"(\d+) x 1K$", case)
        for tool, trs in tools.items() if m else ():
            s = stats(trs)
            if s:
                per_object[tool][int(m.group(1))] = s["rss_med"]
    series = {t: pts for t, pts in per_object.items() if len(pts) > 1}
    if series:
        made.append(gnuplot(out_dir, "peak-rss-vs-objects", series, "objects in the tree (1 KiB each)",
                            "peak RSS (MiB)", "tree upload to the nginx sink: peak RSS as the tree grows",
                            logx=True))
    series = {t: pts for t, pts in mem.items() if len(pts) > 1}
    if series:
        made.append(gnuplot(out_dir, "peak-rss-vs-size", series, "object size (MiB)", "peak RSS (MiB)",
                            "upload to the nginx sink: peak RSS as the object grows",
                            logx=True, bound=SLUICE_BOUND_MIB))
    return [m for m in made if m]


def gnuplot(out_dir, name, series, xlabel, ylabel, title, logx=False, bound=None):
    dat = os.path.join(out_dir, name + ".dat")
    with open(dat, "w") as f:
        for tool, pts in series.items():
            f.write("# %s\n" % tool)
            for x in sorted(pts):
                f.write("%g %g\n" % (x, pts[x]))
            f.write("\n\n")
    plot = ['"%s" index %d with linespoints title "%s"' % (dat, i, t) for i, t in enumerate(series)]
    if bound:
        plot.append('%d with lines dashtype 2 title "sluice buffer bound: 8 MiB x (4+4+1); RSS adds ~14 MiB of code and libraries"' % bound)
    script = "\n".join([
        "set terminal pngcairo size 900,560 font ',10'" if has_cairo() else "set terminal png size 900,560",
        'set output "%s"' % os.path.join(out_dir, name + ".png"),
        'set title "%s"' % title, 'set xlabel "%s"' % xlabel, 'set ylabel "%s"' % ylabel,
        "set logscale x 2" if logx else "", "set key left top", "set grid",
        "set yrange [0:*]", "plot " + ", ".join(plot), ""])
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report: gnuplot failed for %s: %s" % (name, e), file=sys.stderr)
        return None
    return name + ".png"


def has_cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in r.stdout + r.stderr


def checksum_table(rows):
    """CPU seconds per GiB of each checksum (median of the runs)."""
    by = collections.defaultdict(list)
    for r in rows:
        if r["section"] == "checksum" and r["bytes"] > 0 and r["user"] > 0:
            by[r["case"]].append(r["user"] * GIB / r["bytes"])
    if not by:
        return []
    out = ["| checksum | CPU s per GiB | GB/s on one core |", "|---|---:|---:|"]
    for alg, v in by.items():
        m = statistics.median(v)
        out.append("| %s | %.3f | %.2f |" % (alg, m, GIB / m / 1e9))
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--headline":
        write_headline(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 4:
        sys.exit("usage: report.py RESULTS.tsv OUT SECONDS_TAKEN\n"
                 "       report.py --headline RESULTS_DIR BENCHMARKS.md")
    rows, out_dir = load(sys.argv[1]), sys.argv[2]
    known, problems = known_failures(), []
    for r in rows:
        if r["status"] != 0 and r["tool"].startswith(("sluice", "xfer-", "py-")):
            problems.append("sluice failed: %s/%s/%s: %s" % (r["section"], r["case"], r["server"], r["note"]))
    md = ["# Benchmark results", "",
          "Run took %s s.  Machine and versions: see machine.txt.  Ratios: a tool's wall time "
          "divided by the reference's in the same run (> 1: the reference was faster)." % sys.argv[3]]
    t = headline(rows, "main")
    if t:
        md += ["", "## Headline: each peer's wall time ÷ sluice's (median of the runs; > 1: sluice faster)", ""] + t
    for section, title in (("main", "Transfers (item 1)"),
                           ("article", "Read-then-write loop vs write_from (item 2)"),
                           ("curves", "Latency-bound curves (item 3)"),
                           ("growth", "Cost and memory as the object grows (items 4 and 5)"),
                           ("files", "File and stream destinations, and each checksum's cost"),
                           ("trees", "Many objects"),
                           ("python", "The article's experiment in Python"),
                           ("verify", "What checking a download costs (ETag MD5; md5sum: the hash "
                            "of the same local bytes alone)")):
        t = transfer_table(rows, section, known, problems, cpu_ratio=section == "verify")
        if t:
            md += ["", "## " + title, "", load_note(rows, section), ""] + t
    t = ring_tables(rows)
    if t:
        md += ["", "## The ring alone (item 6)", "", load_note(rows, "ring"), ""] + t
    t = checksum_table(rows)
    if t:
        md += ["", "## Checksums alone (CPU per GiB, in memory)", "", load_note(rows, "checksum"), ""] + t
    pngs = plots(rows, out_dir)
    if pngs:
        md += ["", "## Plots", ""] + ["![%s](%s)" % (p[:-4], p) for p in pngs]
    if problems:
        md += ["", "## Harness problems", ""] + ["- " + p for p in problems]
    with open(os.path.join(out_dir, "tables.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    if problems:
        print("report: %d unexpected failure(s); see above" % len(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

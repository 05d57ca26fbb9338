"""Replay speed of compiled and JSON formats, side by side with GoAccess in the same run.

    python bench/format_bench.py --runs 3
    python bench/format_bench.py --lines 200000 --runs 1   # a quick look

From one generated Combined log (``replay_bench.generate``) it derives, line for line, a Debian
Apache ``vhost_combined`` log with ``%D`` (microseconds) appended and an nginx ``escape=json``
log with ``request_time``; then it times ``monitoring --replay --json`` on:

* the Combined log with the built-in parser (the reference speed);
* the vhost log given as an Apache format string (``--log-format '%v:%p %h %l %u %t "%r" %>s %O
  "%{Referer}i" "%{User-Agent}i" %D'``): compiled format, latency percentiles and vhosts on;
* the JSON log (``--log-format json``);

and GoAccess on the vhost log with the equivalent ``--log-format``. Results go to
``bench/results/formats.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys

from benchlib import load_average, machine, replay_options, table, write_results
from replay_bench import MB, generate, measure, row

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "formats.txt")
APACHE = '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D'
GOACCESS = '%v:%^ %h %^ %e [%d:%t %^] "%r" %s %b "%R" "%u" %D'


def derive(combined: str) -> tuple[str, str]:
    """The vhost and JSON logs made from ``combined`` (once, then reused)."""
    vhost, jsonl = combined.replace(".log", "-vhost-D.log"), combined.replace(".log", "-nginx.json")
    if os.path.exists(vhost) and os.path.exists(jsonl):
        return vhost, jsonl
    rng = random.Random(11)
    with open(combined, encoding="utf-8") as lines, open(vhost + ".partial", "w", encoding="utf-8") as out_vhost, \
            open(jsonl + ".partial", "w", encoding="utf-8") as out_json:
        for line in lines:
            line = line.rstrip("\n")
            host = line.split(" ", 1)[0]
            micros = rng.choice([120, 850, 4_000, 12_000, 45_000, 250_000, rng.randint(1, 2_000_000)])
            site = f"site{rng.randint(1, 4)}.example"
            out_vhost.write(f"{site}:443 {line} {micros}\n")
            stamp = line.split("[", 1)[1].split("]", 1)[0]
            quoted = line.split('"')
            status, size = quoted[2].split()[:2]
            out_json.write(json.dumps({"time_local": stamp, "remote_addr": host, "remote_user": "", "request": quoted[1],
                                       "status": status, "body_bytes_sent": size, "request_time": f"{micros / 1e6:.3f}",
                                       "http_referer": quoted[3], "http_user_agent": quoted[5], "host": site}) + "\n")
    os.replace(vhost + ".partial", vhost)
    os.replace(jsonl + ".partial", jsonl)
    return vhost, jsonl


def main() -> None:
    """Generate the logs, run the measurements, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per log (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command")
    parser.add_argument("--output", default=RESULTS)
    options = replay_options(parser)
    combined = generate(options.workdir, "combined", options.lines, 1000)
    vhost, jsonl = derive(combined)
    out = os.path.join(options.workdir, "format.json")
    base = [sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file"]
    load_before = load_average()
    goaccess = shutil.which("goaccess")
    ga_wall = None
    rows = []
    if goaccess is not None:
        ga = measure([goaccess, vhost, f"--log-format={GOACCESS}", "--date-format=%d/%b/%Y", "--time-format=%H:%M:%S",
                      "-o", os.path.join(options.workdir, "goaccess.json")], options.runs, os.devnull, quiet=True)
        ga_wall = statistics.median(result.wall for result in ga)
        rows.append(row(f"vhost_combined + %D ({os.path.getsize(vhost) / MB:,.0f} MB)", "GoAccess (same format)",
                        options.lines, ga, ga_wall))
    for name, path, extra in (
        ("Combined (built-in parser)", combined, []),
        ("vhost_combined + %D, Apache format string", vhost, ["--log-format", APACHE]),
        ("nginx escape=json", jsonl, ["--log-format", "json"]),
    ):
        results = measure([*base, *extra, path], options.runs, out)
        rows.append(row(f"{name} ({os.path.getsize(path) / MB:,.0f} MB)", "monilog", options.lines, results, ga_wall))
        print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ["log", "engine", "runs", "wall s", "best s", "CPU s", "lines/s", "best lines/s", "RSS max MB",
              "PSS all MB", "vs GoAccess"]
    text = "\n".join([
        f"monitoring --replay --json --no-log-file: {machine()}",
        f"{options.lines:,} lines; load average before {load_before[0]:.2f}, after {load_average()[0]:.2f}",
        table(rows, header),
    ])
    print(text)
    write_results(options.output, text)


if __name__ == "__main__":
    main()

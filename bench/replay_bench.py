"""Measure ``monitoring --replay`` on big generated logs: lines/s, peak memory, and GoAccess for scale.

Run from the repository root (a benchmark, not a test)::

    python bench/replay_bench.py                 # 1M-line Combined and Common logs, a few minutes
    python bench/replay_bench.py --runs 3 --no-goaccess
    python bench/replay_bench.py --big           # adds a 10M-line run (about 2.2 GB of log) for the memory bound
    python bench/replay_bench.py --one-core      # monitoring and GoAccess pinned to one CPU (taskset -c 0)

The logs come from ``log_generator`` with a fixed seed at a busy server's 1000 requests/s
(1M lines = 1000 s of traffic, 300 clients, 10 sections of 20 paths, 5 % errors), so every
10-second report has 10,000 hits and the default threshold alerts. They are written once to
``--workdir`` and reused.

For each log the command ``monitoring --replay --json --no-log-file LOG`` (full statistics,
alerting, JSON output to a file) runs ``--runs`` times with worker processes and once in one
process (``taskset -c 0``: one CPU, so no workers; the same engine with other batch
boundaries); the table shows medians (``wall s``, ``CPU s``: user + system of all processes,
``lines/s``) and the best run. The two JSON outputs must be identical, byte for byte: the bench
fails otherwise. When ``goaccess`` is installed
(Debian package ``goaccess``) it processes the same file to a JSON report in the same session,
and the table shows how many times faster monilog is. ``--one-core`` runs every command under
``taskset -c 0``: the fast replay's worker processes then share one CPU, as on a one-core host.

Memory: ``RSS max`` is the peak resident set of the largest process (as ``/usr/bin/time`` shows
it); ``PSS all`` the peak of the summed proportional set sizes of the process and its worker
processes, sampled (pages shared after ``fork`` divided among the sharers): what the run uses.

Results are printed and written to ``bench/results/replay.txt`` (with ``--one-core``,
``replay_one_core.txt``; ``--output`` to change).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import Run, load_average, machine, replay_options, run, table, write_results

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "replay.txt")
RESULTS_ONE_CORE = os.path.join(os.path.dirname(RESULTS), "replay_one_core.txt")
START = "2024-05-01 12:00:00+00:00"
SEED = 1
MB = 1_000_000


def generate(workdir: str, fmt: str, lines: int, rate: int) -> str:
    """The path of a generated log of ``lines`` lines (made once, then reused)."""
    path = os.path.join(workdir, f"{fmt}-{lines}-{rate}-seed{SEED}.log")
    if not os.path.exists(path):
        partial = path + ".partial"
        subprocess.run([sys.executable, "-m", "monilog.cli.log_generator", "--no-sleep", "--quiet", "--truncate",
                        "--start", START, "--seed", str(SEED), "--rates", str(rate),
                        "--durations", str(lines / rate), "--format", fmt, "--file", partial], check=True)
        os.replace(partial, path)
    return path


def monitoring(path: str, pin: Sequence[str] = ()) -> list[str]:
    return [*pin, sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file", path]


def measure(command: list[str], runs: int, output: str, env: dict[str, str] | None = None,
            quiet: bool = False) -> list[Run]:
    results = []
    for _ in range(runs):
        result = run(command, output, env, quiet=quiet)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed with status {result.returncode}")
        results.append(result)
    return results


def row(name: str, engine: str, lines: int, results: Sequence[Run], goaccess: float | None) -> list[str]:
    wall = statistics.median(result.wall for result in results)
    best = min(result.wall for result in results)
    cpu = statistics.median(result.cpu for result in results)
    ratio = "" if goaccess is None else f"{goaccess / wall:.1f}x"
    return [name, engine, str(len(results)), f"{wall:.2f}", f"{best:.2f}", f"{cpu:.2f}", f"{lines / wall:,.0f}",
            f"{lines / best:,.0f}", f"{max(r.max_rss for r in results) / MB:.0f}",
            f"{max(r.tree_pss for r in results) / MB:.0f}", ratio]


def main() -> None:
    """Generate the logs, run the measurements, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per log (default 1,000,000)")
    parser.add_argument("--rate", type=int, default=1000, help="requests per second of the generated traffic")
    parser.add_argument("--runs", type=int, default=5, help="runs of the fast engine and of GoAccess per log")
    parser.add_argument("--big", action="store_true", help="also replay a 10M-line Combined log (memory bound)")
    parser.add_argument("--no-goaccess", action="store_true", help="skip GoAccess even when installed")
    parser.add_argument("--one-core", action="store_true",
                        help="run monitoring and GoAccess pinned to CPU 0 (taskset -c 0)")
    parser.add_argument("--output", help="results file (default bench/results/replay.txt, with --one-core "
                        "replay_one_core.txt)")
    options = replay_options(parser)
    if options.output is None:
        options.output = RESULTS_ONE_CORE if options.one_core else RESULTS

    pin: list[str] = []
    if options.one_core:
        taskset = shutil.which("taskset")
        if taskset is None:
            raise SystemExit("--one-core needs taskset (Debian package util-linux)")
        pin = [taskset, "-c", "0"]
    goaccess = None if options.no_goaccess else shutil.which("goaccess")
    plan = [("combined", options.lines), ("common", options.lines)]
    if options.big:
        plan.append(("combined", 10 * options.lines))

    rows: list[list[str]] = []
    identical = True
    load_before = load_average()
    for fmt, lines in plan:
        path = generate(options.workdir, fmt, lines, options.rate)
        name = f"{fmt} {lines / 1e6:g}M ({os.path.getsize(path) / MB:,.0f} MB)"
        fast_json = os.path.join(options.workdir, "fast.json")
        single_json = os.path.join(options.workdir, "single.json")
        runs = 1 if lines > options.lines else options.runs
        fast = measure(monitoring(path, pin), runs, fast_json)
        single = measure(monitoring(path, ["taskset", "-c", "0"]), 1, single_json)
        same = filecmp.cmp(fast_json, single_json, shallow=False)
        identical = identical and same
        ga_wall = None
        if goaccess is not None and lines == options.lines:
            ga_runs = measure([*pin, goaccess, path, f"--log-format={fmt.upper()}", "-o",
                               os.path.join(options.workdir, "goaccess.json")], runs, os.devnull, quiet=True)
            ga_wall = statistics.median(result.wall for result in ga_runs)
            rows.append(row(name, "GoAccess 1.7" if "1.7" in _version(goaccess) else "GoAccess", lines, ga_runs, ga_wall))
        rows.append(row(name, "monilog" + ("" if same else " (DIFFERS)"), lines, fast, ga_wall))
        rows.append(row(name, "monilog, one process", lines, single, ga_wall))
        print("\n".join("  ".join(cells) for cells in rows[-3 if ga_wall else -2:]), file=sys.stderr, flush=True)

    header = ["log", "engine", "runs", "wall s", "best s", "CPU s", "lines/s", "best lines/s", "RSS max MB",
              "PSS all MB", "vs GoAccess"]
    pinned = " (monitoring and GoAccess pinned to CPU 0: taskset -c 0)" if pin else ""
    text = "\n".join([
        f"monitoring --replay --json --no-log-file{pinned}: {machine()}",
        (f"generated at {options.rate} req/s, seed {SEED}; load average before {load_before[0]:.2f}, "
         f"after {load_average()[0]:.2f}"),
        table(rows, header),
        "outputs with workers and in one process identical: " + ("yes" if identical else "NO"),
    ])
    print(text)
    write_results(options.output, text)
    if not identical:
        raise SystemExit("the replay's output with workers differs from its output in one process")


def _version(executable: str) -> str:
    done = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.stdout else ""


if __name__ == "__main__":
    main()

"""How far monilog's engine is from the least any pure-Python counting engine does per line.

Run from the repository root (a benchmark, not a test; about a minute)::

    python bench/floor_bench.py
    python bench/floor_bench.py --megabytes 50     # a quicker look

In this one process, on blocks of 512 kB of the 1M-line Combined log of ``replay_bench`` (read
into memory first: no file, pipe or thread is timed), it measures the CPU time per line of:

* counting the block's newlines (``bytes.count``), which every exact block parser does to know
  that its pattern matched every line;
* ``findall`` of monilog's Combined block pattern (its five groups) over the block;
* the least a counting engine does: both of the above, the groups turned into columns, and four
  ``Counter`` s (clients, request and status pairs, seconds, request and size pairs): no
  decoding, no section rule, no statistics, no output;
* monilog's engine, in this process: ``parse_block`` then ``aggregate`` (what the workers of a
  replay and the watcher's thread of a live follow run on each block), with the built-in parser
  and with Apache's Combined ``LogFormat`` string given as a compiled format;
* the same lines as following live reads them: reads of 900 kB (0.2 s of a 20,000 lines/s log)
  through the watcher's ``LineSplitter.feed_block`` into ``Monitor.feed`` (lines into blocks,
  parsing, counting, the apply step, statistics and alerting; no file, thread or output), and
  the same reads split into lists of lines (``LineSplitter.feed``) that ``Monitor.feed`` joins
  again, as the watcher handed them over before it kept them as blocks.

Each figure is the best of ``--repeats`` (CPU time, ``time.process_time``). The floor shows which
goals a pure-Python engine cannot reach on this machine whatever its design: a goal of X µs a
line for a whole process (reading, threads, output included) is out of reach when the floor is
above X. When monilog's C accelerator is built (``monilog.accelerator``), monilog's rows are
measured with it and again in pure Python (``MONILOG_PURE_PYTHON=1``, in a process of its own
started after this one's measurements). Results are printed and written to ``bench/results/floor.txt`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Callable, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import load_average, machine, replay_options, table, write_results
from replay_bench import generate

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "floor.txt")
COMBINED_LOGFORMAT = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
BLOCK_BYTES = 512 << 10
READ_BYTES = 900 << 10


def blocks_of(path: str, megabytes: int) -> List[bytes]:
    """The first ``megabytes`` of a file in blocks of whole lines of about 512 kB."""
    with open(path, "rb") as stream:
        data = stream.read(megabytes << 20)
    data = data[:data.rfind(b"\n") + 1]
    blocks, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK_BYTES) + 1 or len(data)
        blocks.append(data[start:end])
        start = end
    return blocks


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The least CPU time of ``repeats`` runs of ``work``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--megabytes", type=int, default=100, help="how much of the log to use (default 100)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--engine-only", action="store_true", help=argparse.SUPPRESS)
    options = replay_options(parser)

    from monilog import accelerator
    from monilog.accumulation.aggregate import aggregate
    from monilog.monitor import Monitor
    from monilog.parsing.block import _BLOCK_PATTERNS, parse_block
    from monilog.parsing.parser import LogParser
    from monilog.watcher import LineSplitter

    blocks = blocks_of(generate(options.workdir, "combined", 1_000_000, 1000), options.megabytes)
    lines = sum(block.count(b"\n") for block in blocks)
    pattern = _BLOCK_PATTERNS["combined"]

    def least() -> None:
        for block in blocks:
            rows = pattern.findall(block)
            if len(rows) != block.count(b"\n"):
                raise SystemExit("the pattern did not match every line")
            who, stamps, requests, statuses, sizes = zip(*rows)
            Counter(who), Counter(zip(requests, statuses)), Counter(stamps), Counter(zip(requests, sizes))

    def engine(fmt: str) -> Callable[[], None]:
        def run() -> None:
            source = LogParser(fmt)
            for block in blocks:
                aggregate(parse_block(block, source), 10)
        return run

    data = b"".join(blocks)
    reads = [data[start:start + READ_BYTES] for start in range(0, len(data), READ_BYTES)]

    def followed(as_blocks: bool) -> Callable[[], None]:
        def run() -> None:
            splitter, monitor = LineSplitter(), Monitor(10, 120, 10)
            for read in reads:
                monitor.feed("access.log", splitter.feed_block(read) if as_blocks else splitter.feed(read))
        return run

    load_before = load_average()[0]
    engine_rows = [
        ("monilog's engine, built-in Combined parser", engine("combined")),
        ("monilog's engine, Combined LogFormat string (compiled)", engine(COMBINED_LOGFORMAT)),
        ("as followed live: 900 kB reads, LineSplitter.feed_block, Monitor.feed", followed(True)),
        ("the same reads split into lines that Monitor.feed joins again", followed(False)),
    ]
    if options.engine_only:  # the pure-Python run of the parent below: its figures as JSON
        print(json.dumps([best_of(options.repeats, work) / lines * 1e6 for _, work in engine_rows]))
        return
    measured = [
        ("count the newlines", lambda: [block.count(b"\n") for block in blocks]),
        ("findall of the Combined block pattern", lambda: [pattern.findall(block) for block in blocks]),
        ("the least a counting engine does (both, columns, 4 Counters)", least),
        *engine_rows,
    ]
    rows = [[name, f"{best_of(options.repeats, work) / lines * 1e6:.3f}", ""] for name, work in measured]
    if accelerator.speedups is not None:  # the same engine rows in pure Python, in a process of its own
        done = subprocess.run([sys.executable, *sys.argv, "--engine-only"], capture_output=True, text=True, check=True,
                              env=dict(os.environ, MONILOG_PURE_PYTHON="1"))
        for row, figure in zip(rows[-len(engine_rows):], json.loads(done.stdout.splitlines()[-1])):
            row[2] = f"{figure:.3f}"
    text = "\n".join([
        f"CPU time per line in one process, best of {options.repeats}: {machine()}",
        f"{lines:,} Combined lines ({sum(map(len, blocks)) / lines:.0f} bytes a line) in blocks of 512 kB, "
        f"read into memory first; load average before {load_before:.2f}, after {load_average()[0]:.2f}",
        f"monilog's engine: {accelerator.description()} (and pure Python, MONILOG_PURE_PYTHON=1, in a process of its own)",
        table(rows, ["work", "µs CPU per line", "pure Python"]),
    ])
    print(text)
    write_results(options.output, text)


if __name__ == "__main__":
    main()

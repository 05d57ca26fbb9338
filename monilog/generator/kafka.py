"""``log_generator --kafka kafka://HOST:PORT/TOPIC``: the generated traffic as messages of a topic.

:class:`TopicWriter` takes the place of the log file of :meth:`LogGenerator.write
<monilog.generator.generator.LogGenerator.write>`: the same timeline, the same seeds, one message
per line (as log shippers send them), spread over the partitions by librdkafka's partitioner.
Lines written in real time are sent at once (``linger.ms=0``); at the end every message is
flushed, and one the broker did not acknowledge is an :class:`OSError`.
"""

from __future__ import annotations

from typing import Any, List

from monilog.watcher.kafka import KafkaSettings, load_client, parse_url

FLUSH_SECONDS = 60.0
"""How long the end of a run waits for the broker to acknowledge what is still in flight."""


class TopicWriter:
    """Writes lines as messages to a topic (the interface of the generator's log file)."""

    def __init__(self, url: str, realtime: bool) -> None:
        address = parse_url(url)
        client = load_client()
        self.topic = address.topic
        self.lines = 0
        """Lines sent so far."""
        self._failures: List[Any] = []
        self._producer = client.Producer(KafkaSettings().config(address.brokers, **({"linger.ms": 0} if realtime else {})))

    def __enter__(self) -> TopicWriter:
        return self

    def __exit__(self, *_: object) -> None:
        waiting = self._producer.flush(FLUSH_SECONDS)
        if self._failures or waiting:
            reason = self._failures[0].str() if self._failures else "no acknowledgement"
            raise OSError(f"{len(self._failures) + waiting} message(s) not delivered to {self.topic}: {reason}")

    def room(self) -> int:
        """A topic never rotates."""
        return 1 << 62

    def write_line(self, line: str, when: float, torn: bool) -> None:
        """Send one line (its newline dropped) as a message; a topic has no torn writes."""
        self._send(line.rstrip("\n"))
        self._producer.poll(0)

    def write_lines(self, lines: List[str], when: float) -> None:
        """Send each line as a message."""
        for line in lines:
            self._send(line)
        self._producer.poll(0)

    def _send(self, line: str) -> None:
        while True:
            try:
                self._producer.produce(self.topic, line.encode("utf-8"), on_delivery=self._delivered)
                break
            except BufferError:  # librdkafka's queue is full: let it send some
                self._producer.poll(0.1)
        self.lines += 1

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self._failures.append(error)

"""Kafka topics as inputs: ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC``, followed live or replayed.

Fleets ship their access logs to a topic (Vector, Fluent Bit, Filebeat, rsyslog's omkafka); a
topic is read where a file would be. Each message is one line, or several separated by
newlines. The client is ``confluent-kafka`` (librdkafka), the optional extra ``monilog[kafka]``:
this module imports it only when a topic is opened.

* :class:`KafkaFollower` is one more input kind of :class:`~monilog.watcher.FileWatcher`: the
  watcher thread drives it like a file's follower, in the same polls, and it reports through the
  same :class:`~monilog.watcher.follower.FollowerReport`, so files keep being followed beside it.
* :class:`TopicReplay` reads a topic's partitions for ``--replay``: each partition is one stream of
  blocks of lines, which the replayer aggregates like a file's chunks and merges in time order
  like several files.

Decisions:

* Without a consumer group (the default) every partition is read, assigned explicitly. Following
  starts at each partition's end as the broker reports it when the topic is first reached
  (``from_start``: its earliest retained offset). With a group (``--kafka-group``) the broker
  shares the partitions among the group's members and they resume from the group's committed
  offsets (librdkafka commits them every 5 s); a partition without one starts at the end (the
  start with ``from_start``).
* A broker that is down or unreachable, at start or later, is a notice and not an error: librdkafka
  reconnects with backoff (up to :data:`RECONNECT_BACKOFF_MAX_MS`) and the consumer goes on from
  its position, so nothing the broker kept is lost; a topic that does not exist yet is waited for
  (its metadata asked again with backoff, up to :data:`MAX_BACKOFF` seconds). A position the
  broker no longer has (retention deleted it, or the broker lost its log) is read on from the
  earliest offset it has, with a notice: lines may be missing, none is skipped on purpose.
* A message's timestamp is never a line's time: lines carry their own. In a replay it only helps
  to decide where the topic ended (:class:`TopicReplay`).
* A message that is empty (or a tombstone) is counted as skipped (:data:`EMPTY_MESSAGE`); a line
  longer than the watcher's cap is cut, then skipped as too long by the parser, as in files.
* librdkafka's own log lines go to the ``monilog.watcher.kafka`` logger, which keeps them:
  what matters reaches the user as notices, never as raw lines over the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import groupby, repeat
from operator import is_not
from types import ModuleType
from typing import Any, Callable, Deque, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, TypeVar

from monilog.outputs.optional import optional_module
from monilog.parsing.columns import LineBlock

from .follower import FollowerReport, fresh
from .lines import DEFAULT_MAX_LINE_LENGTH

SCHEME = "kafka://"
"""How an input names a topic."""

EMPTY_MESSAGE = "empty message"
"""The skip reason of a message with no content."""

CONSUME_MESSAGES = 4096
"""Messages taken per consume call; a full batch means more is waiting."""

REPLAY_MESSAGES = 512
"""In a replay: messages taken per consume call. Fewer than :data:`CONSUME_MESSAGES`: the consume
calls of a million messages took 0.2 s of CPU 512 at a time, 0.34 s 4096 at a time (measured; a
batch's message objects then stay in the CPU caches instead of being made and freed a megabyte
at a time)."""

MAX_BACKOFF = 30.0
"""Longest wait between two tries to reach a topic's metadata."""

METADATA_TIMEOUT = 5.0
"""Seconds one metadata request may take."""

RECONNECT_BACKOFF_MAX_MS = 10_000
"""librdkafka's longest wait between two connection tries to a broker."""

FETCH_WAIT = 0.05
"""In a replay: seconds a consume call waits when no message is ready."""

FETCH_WAIT_MS = 10
"""In a replay: milliseconds the broker may hold a fetch waiting for more data (librdkafka: 500), and
the pause before fetching again once the prefetch queue is full (librdkafka: 1000, which left the
consumer idle most of the time)."""

PREFETCH_KBYTES = 16 << 10
"""In a replay: KiB of messages librdkafka fetches ahead (its default, 64 MiB, is memory for nothing)."""

QUIET_SECONDS = 0.5
"""In a replay: a poll past a partition's end offset that brings nothing for this long ends it."""

STALLED_SECONDS = 30.0
"""In a replay: a partition short of its end offset whose messages stop coming for this long ends
with a notice, rather than waiting forever on a broker that miscounts."""

BUFFERED_BYTES = 8 << 20
"""In a replay: bytes of lines kept per partition ahead of the merge before its fetching is paused."""

T = TypeVar("T")

LOGGER = logging.getLogger(__name__)
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False

_DOWN_CODES = ("_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "_TIMED_OUT", "_MSG_TIMED_OUT")
"""librdkafka errors that mean "the broker cannot be reached now"."""


def is_kafka(name: str) -> bool:
    """True if an input name is a ``kafka://`` URL."""
    return name.startswith(SCHEME)


class KafkaAddress(NamedTuple):
    """Where a topic is: its bootstrap brokers and its name."""

    brokers: str
    """``host:port,host:port``, librdkafka's ``bootstrap.servers``."""
    topic: str


def parse_url(url: str) -> KafkaAddress:
    """The brokers and topic of ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC``; :class:`ValueError` if it is not one."""
    if not is_kafka(url):
        raise ValueError(f"not a kafka:// URL: {url}")
    brokers, slash, topic = url[len(SCHEME):].partition("/")
    hosts = brokers.split(",")
    if not slash or not topic or "/" in topic or not all(_host_port(host) for host in hosts):
        raise ValueError(f"not a kafka://HOST:PORT[,HOST:PORT...]/TOPIC URL: {url}")
    return KafkaAddress(brokers, topic)


def _host_port(text: str) -> bool:
    host, colon, port = text.rpartition(":")
    return bool(colon and host and port.isdigit() and 0 < int(port) < 65536)


def load_client() -> ModuleType:
    """The ``confluent_kafka`` module; :class:`ImportError` naming the extra when it is missing."""
    return optional_module("confluent_kafka", "confluent-kafka", "kafka")


def parse_option(text: str) -> Tuple[str, str]:
    """A ``--kafka-option key=value`` (a librdkafka setting); :class:`ValueError` if it has no ``=``."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"expected key=value (a librdkafka setting such as security.protocol=SSL), not {text!r}")
    return key.strip(), value


@dataclass(frozen=True)
class KafkaSettings:
    """How topics are read (and alerts published): ``--kafka-group`` and ``--kafka-option``."""

    group: Optional[str] = None
    """A consumer group id, to share the partitions with other members; None: read them all."""
    options: Mapping[str, str] = field(default_factory=dict)
    """librdkafka settings (SASL, TLS...), applied last: they win over monilog's own."""

    def config(self, brokers: str, **own: Any) -> Dict[str, Any]:
        """A librdkafka configuration: the brokers, ``own`` settings, then the user's options."""
        config: Dict[str, Any] = {
            "bootstrap.servers": brokers, "client.id": "monilog", "logger": LOGGER,
            "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
        }
        config.update(own)
        config.update(self.options)
        return config

    def consumer(self, address: KafkaAddress, on_error: Callable[[Any], None], **own: Any) -> Any:
        """A consumer of ``address``'s brokers (not subscribed to anything yet)."""
        client = load_client()
        group = self.group
        return client.Consumer(self.config(
            address.brokers, **{"group.id": group or "monilog", "enable.auto.commit": group is not None,
                                "auto.offset.reset": "earliest", "error_cb": on_error, **own}))


def message_lines(value: Optional[bytes], max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> List[bytes]:
    """The lines of one message (none when it is empty), each cut to ``max_line_length`` bytes."""
    if not value:
        return []
    lines = value.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return [line[:max_line_length] for line in lines] if len(value) > max_line_length else lines


def _is_down(error: Any) -> bool:
    return str(error.name()) in _DOWN_CODES


class KafkaFollower:
    """A topic followed by the :class:`~monilog.watcher.FileWatcher` thread, like a file.

    The watcher calls :meth:`prime` once, then :meth:`check` and :meth:`read` at every poll and
    :meth:`close` at the end. Lines go to ``sink.deliver`` under the URL as source, notices to
    ``sink.notice``, empty messages to ``sink.skip``. Lookups that may block (the partitions at
    start, the broker's offsets after an outage) run on a helper thread, with backoff, and hand
    their results to the watcher thread, which alone uses the consumer.

    After an outage, once the broker answers again, each partition's position is compared with
    the broker's end offset: a broker that came back with fewer messages than were read (its log
    lost, as an in-memory broker's is) has its partitions read again from their earliest offset,
    with a notice, instead of waiting for offsets it may never reach again.
    """

    explicit = True
    """Named on the command line: never forgotten like a glob's match."""
    idle = False
    finished = False
    """A topic never ends."""

    def __init__(self, url: str, sink: FollowerReport, settings: KafkaSettings, *,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        self.path = url
        self.address = parse_url(url)
        self._sink = sink
        self._settings = settings
        self._max_line_length = max_line_length
        self._client: Optional[ModuleType] = None
        self._consumer: Any = None
        self._notices: Deque[Tuple[str, str, str]] = deque()  # (level, kind, message) from the helper thread
        self._assignment: Optional[List[Any]] = None  # partitions and offsets found by the helper, to assign
        self._stopping = threading.Event()
        self._helper: Optional[threading.Thread] = None
        self._ends: Optional[Dict[int, int]] = None  # the broker's end offsets after an outage, found by the helper
        self._down = False  # the broker could not be reached, and was not found again yet
        self._reached_end: Optional[float] = None  # when (monotonic) a consume last took fewer messages than it could

    def prime(self, from_start: bool) -> None:
        """Connect (in the background): subscribe with a group, else look the partitions up."""
        self._client = load_client()
        if self._settings.group is not None:
            reset = "earliest" if from_start else "latest"
            self._consumer = self._settings.consumer(self.address, self._on_error, **{"auto.offset.reset": reset})
            self._consumer.subscribe([self.address.topic], on_assign=self._on_assign)
            return
        self._consumer = self._settings.consumer(self.address, self._on_error)
        self._help(self._look_up, from_start)

    def check(self) -> None:
        """Nothing to check: librdkafka follows the brokers itself."""

    def read(self, blocks: int) -> bool:
        """Deliver what the consumer has ready; True when more is waiting."""
        consumer = self._consumer
        if consumer is None:
            return False
        assignment, self._assignment = self._assignment, None
        if assignment is not None:
            consumer.assign(assignment)
        ends, self._ends = self._ends, None
        if ends is not None:
            self._compare(ends)
        while self._notices:
            self._emit(*self._notices.popleft())
        messages = consumer.consume(CONSUME_MESSAGES, 0)
        lines: List[bytes] = []
        empty = 0
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_message_error(error)
                continue
            found = message_lines(message.value(), self._max_line_length)
            if found:
                lines += found
            else:
                empty += 1
        if empty:
            self._sink.skip(self.path, EMPTY_MESSAGE, empty)
        full, now = len(messages) == CONSUME_MESSAGES, time.monotonic()
        if lines:
            self._sink.count(self.path, "lines", len(lines))
            self._sink.deliver(self.path, LineBlock(b"\n".join(lines) + b"\n", len(lines), more=full,
                                                    backlog=not fresh(self._reached_end, now)))
        if not full:
            self._reached_end = now
        return full

    def close(self, flush: bool) -> None:
        """Close the consumer (a group's offsets are committed); a helper still waiting for a
        broker's answer ends on its own, its lookups having their own client."""
        self._stopping.set()
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception as error:  # the broker is gone: nothing left to commit to
                self._emit("warning", "closed", f"closing the consumer: {error}")
            self._consumer = None

    # -- internals --------------------------------------------------------------------------

    def _emit(self, level: str, kind: str, message: str) -> None:
        self._sink.notice(level, self.path, kind, message)

    def _help(self, job: Callable[..., None], *arguments: Any) -> None:
        """Run ``job(lookup, *arguments)`` on the helper thread (unless it is busy with the previous
        one), ``lookup`` being a client of its own: a lookup that waits for a broker's answer would
        block the consumer's calls in the watcher thread, and with them every file followed."""
        if self._helper is not None and self._helper.is_alive():
            return

        def run() -> None:
            lookup = self._settings.consumer(self.address, lambda error: None)
            try:
                job(lookup, *arguments)
            finally:
                lookup.close()

        self._helper = threading.Thread(target=run, daemon=True, name=f"monilog kafka {self.address.topic}")
        self._helper.start()

    def _retrying(self, attempt: Callable[[], T]) -> Optional[T]:
        return _retry(attempt, self._stopping, lambda problem: self._notices.append(("warning", "kafka-unavailable", problem)))

    def _look_up(self, lookup: Any, from_start: bool) -> None:
        """Helper job: find the partitions and where to start."""
        client, topic = self._client, self.address.topic
        assert client is not None
        assignment = self._retrying(lambda: _starting_offsets(client, lookup, topic, from_start))
        if assignment is not None:
            where = "their earliest offset" if from_start else "their end"
            self._notices.append(("info", "kafka-following",
                                  f"following {len(assignment)} partition{'s' if len(assignment) != 1 else ''} from {where}"))
            self._assignment = assignment
            self._down = False  # reached: an outage from now on is noticed anew

    def _recheck(self, lookup: Any, partitions: List[int]) -> None:
        """Helper job after an outage: wait until the broker answers, and hand its end offsets to
        the watcher thread (:meth:`_compare`)."""
        client, topic = self._client, self.address.topic
        assert client is not None
        ends = self._retrying(lambda: _watermarks(client, lookup, topic, partitions))
        if ends is not None:
            self._ends = {number: high for number, (_, high) in ends.items()}

    def _compare(self, ends: Dict[int, int]) -> None:
        """After an outage: partitions read further than the broker's end are read again from their start."""
        client = self._client
        assert client is not None
        assigned = self._consumer.position(self._consumer.assignment())
        lost = [partition.partition for partition in assigned if partition.offset > ends.get(partition.partition, partition.offset)]
        if lost:
            self._emit("warning", "kafka-reset", f"partition{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}: the "
                       "broker has fewer messages than were read (its log was lost?): reading again from the earliest offset")
            self._consumer.assign([client.TopicPartition(self.address.topic, partition.partition,
                                                         client.OFFSET_BEGINNING if partition.partition in lost else partition.offset)
                                   for partition in assigned])
        self._emit("info", "reconnected", "broker reachable again: reading on")
        self._down = False

    def _on_assign(self, consumer: Any, partitions: List[Any]) -> None:
        """A group gave this member partitions (they start at the committed offsets)."""
        numbers = ", ".join(str(partition.partition) for partition in partitions) or "none"
        self._emit("info", "kafka-following", f"group {self._settings.group}: assigned partitions {numbers}")

    def _on_error(self, error: Any) -> None:
        """librdkafka's error callback (called from consume, in the watcher thread)."""
        if not _is_down(error):
            self._emit("warning", "kafka-error", error.str())
        elif not self._down:
            self._down = True
            self._emit("warning", "kafka-unavailable", f"broker unreachable ({error.str()}): librdkafka reconnects with "
                       f"backoff (up to {RECONNECT_BACKOFF_MAX_MS // 1000} s); reading goes on from the same position")
            self._help(self._recheck, [partition.partition for partition in self._consumer.assignment()])

    def _on_message_error(self, error: Any) -> None:
        name = str(error.name())
        if name == "_PARTITION_EOF":
            return
        if name == "_AUTO_OFFSET_RESET":
            self._emit("warning", "kafka-reset", f"{error.str()}: reading on from the earliest offset the broker has")
            return
        self._on_error(error)


class _NotReady(Exception):
    """A topic cannot be read yet (broker unreachable, topic missing), for a reason worth a notice."""


def _retry(attempt: Callable[[], T], stop: threading.Event, report: Callable[[str], None]) -> Optional[T]:
    """``attempt()`` until it does not raise :class:`_NotReady`, waiting 1, 2, 4... up to
    :data:`MAX_BACKOFF` seconds between tries and reporting each new problem; None if ``stop`` came first."""
    delay = 1.0
    problem = None
    while not stop.is_set():
        try:
            return attempt()
        except _NotReady as error:
            if str(error) != problem:
                problem = str(error)
                report(f"{problem}: trying again with backoff (up to {MAX_BACKOFF:g} s)")
        stop.wait(delay)
        delay = min(delay * 2, MAX_BACKOFF)
    return None


def _starting_offsets(client: ModuleType, consumer: Any, topic: str, from_start: bool) -> List[Any]:
    """Every partition of ``topic`` with the offset to start from: the earliest, or the end now."""
    partitions = _partitions(client, consumer, topic)
    if from_start:
        return [client.TopicPartition(topic, number, client.OFFSET_BEGINNING) for number in partitions]
    return [client.TopicPartition(topic, number, high) for number, (_, high) in _watermarks(client, consumer, topic,
                                                                                              partitions).items()]


def _partitions(client: ModuleType, consumer: Any, topic: str) -> List[int]:
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT)
    except client.KafkaException as error:
        raise _NotReady(f"cannot reach the brokers: {error.args[0].str() if error.args else error}") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        reason = found.error.str() if found is not None and found.error is not None else "no partitions"
        raise _NotReady(f"topic {topic} not readable yet ({reason})")
    return sorted(found.partitions)


def _watermarks(client: ModuleType, consumer: Any, topic: str, partitions: List[int]) -> Dict[int, Tuple[int, int]]:
    """The (low, high) offsets of each partition: the first kept and the next to be written."""
    marks = {}
    for number in partitions:
        try:
            marks[number] = consumer.get_watermark_offsets(client.TopicPartition(topic, number), timeout=METADATA_TIMEOUT)
        except client.KafkaException as error:
            raise _NotReady(f"cannot read the offsets of partition {number}: {error}") from None
        if marks[number] is None:
            raise _NotReady(f"no answer about the offsets of partition {number}")
    return marks


class TopicReplay:
    """A topic's partitions, read from their earliest offset to their end at start, for ``--replay``.

    One consumer reads every partition; :meth:`streams` gives one iterator of blocks of lines per
    partition, which a replay merges like several files. Messages fetched ahead for a partition wait in its
    buffer; past :data:`BUFFERED_BYTES`, its fetching is paused until the merge has taken them,
    so memory stays bounded whatever the partitions' time skew.

    Where a partition ends: Kafka's end offset (the high watermark read at start) is the offset of
    the next message to be written, so the partition ends once the message before it was read;
    messages after it came later. Some brokers report less (tansu: the first offset of the
    partition's last record batch, plus one), so messages past the end offset are read on until
    the broker says the partition is at its end, a poll brings nothing for :data:`QUIET_SECONDS`,
    or a message stamped after the replay started (written after it) comes; a notice counts them.
    So a replay is exact on Kafka and never hangs on a broker that miscounts.
    """

    def __init__(self, url: str, settings: KafkaSettings, *, notice: Callable[[str, str], None],
                 on_skipped: Callable[[str, str, int], None], stop: Optional[threading.Event] = None,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        """Reach the topic (waiting with backoff while it cannot be reached) and read its offsets.

        ``notice(message, kind)`` and ``on_skipped(source, reason, count)`` are called in this thread.
        """
        self.url = url
        self.address = parse_url(url)
        self._client = client = load_client()
        self._notice = notice
        self._on_skipped = on_skipped
        self._stop = stop or threading.Event()
        self._max_line_length = max_line_length
        # a backlog is read: no fetch waits for more data; the prefetch queue is kept small; a
        # replay commits nothing, even with a group (it would move the live members' offsets)
        self._consumer = settings.consumer(self.address, self._on_error, **{
            "enable.partition.eof": True, "enable.auto.commit": False, "fetch.wait.max.ms": FETCH_WAIT_MS,
            "queued.max.messages.kbytes": PREFETCH_KBYTES, "fetch.queue.backoff.ms": FETCH_WAIT_MS})
        self._down = False
        topic = self.address.topic
        self.started_ms = 0
        """When the end offsets were asked for (epoch ms): a message stamped later came after them."""

        def offsets() -> Dict[int, Tuple[int, int]]:
            self.started_ms = int(time.time() * 1000)
            return _watermarks(client, self._consumer, topic, _partitions(client, self._consumer, topic))

        marks = _retry(offsets, self._stop, lambda problem: notice(f"{url}: {problem}", "kafka-unavailable")) or {}
        self.ends = {number: high for number, (_, high) in marks.items()}
        self._next = {number: low for number, (low, _) in marks.items()}
        self._done = {number: high <= low for number, (low, high) in marks.items()}
        self._past = dict.fromkeys(marks, 0)  # messages read past each end offset
        self._buffers: Dict[int, Deque[bytes]] = {number: deque() for number in marks}  # blocks of whole lines
        self._buffered = dict.fromkeys(marks, 0)
        self._paused: Dict[int, bool] = dict.fromkeys(marks, False)
        self._quiet_since: Optional[float] = None
        self._partition_of = client.Message.partition
        reading = [number for number, done in self._done.items() if not done]
        if reading:
            self._consumer.assign([client.TopicPartition(topic, number, self._next[number]) for number in reading])

    @property
    def partitions(self) -> List[int]:
        """The partitions' numbers, in order."""
        return sorted(self.ends)

    def streams(self, block_bytes: int) -> List[Iterator[bytes]]:
        """One iterator per partition, in offset order, of blocks of whole lines (each ending in a
        newline) of about ``block_bytes``."""
        return [self._blocks(number, block_bytes) for number in self.partitions]

    def close(self) -> None:
        """Close the consumer."""
        try:
            self._consumer.close()
        except Exception as error:
            self._notice(f"{self.url}: closing the consumer: {error}", "kafka-error")

    # -- internals --------------------------------------------------------------------------

    def _blocks(self, number: int, block_bytes: int) -> Iterator[bytes]:
        buffer = self._buffers[number]
        parts: List[bytes] = []
        size = 0
        while True:
            while buffer:
                block = buffer.popleft()
                self._buffered[number] -= len(block)
                parts.append(block)
                size += len(block)
                if size >= block_bytes:
                    yield b"".join(parts)
                    parts, size = [], 0
            if self._paused[number] and not self._done[number]:
                self._set_paused(number, False)
            if self._done[number] or self._stop.is_set():
                if parts:
                    yield b"".join(parts)
                return
            self._fetch()

    def _fetch(self) -> None:
        """One consume call, its messages shared out to the partitions' buffers, a run of one
        partition's messages at a time."""
        # what is ready at once; only when nothing is, wait a little (a timeout waits for a full batch)
        consume = self._consumer.consume
        messages = consume(REPLAY_MESSAGES, 0) or consume(REPLAY_MESSAGES, FETCH_WAIT)
        now = time.monotonic()
        if messages:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        for number, run in groupby(messages, self._partition_of):  # runs of one partition, split in C
            self._take(number, list(run))
        if self._quiet_since is not None:
            quiet = now - self._quiet_since
            for number, done in self._done.items():
                if done or self._buffers[number]:
                    continue
                if self._next[number] >= self.ends[number] and quiet >= QUIET_SECONDS:
                    self._finish(number)
                elif quiet >= STALLED_SECONDS:
                    self._notice(f"{self.url}: partition {number}: no message came for {STALLED_SECONDS:g} s at offset "
                                 f"{self._next[number]}, short of its end offset {self.ends[number]}: replayed up to there",
                                 "kafka-short")
                    self._finish(number)

    def _take(self, number: int, run: List[Any]) -> None:
        """Buffer a run of messages of one partition: at once, as one block, when they are plain
        lines below the end offset; else message by message."""
        # the Message methods are mapped over the run: no Python loop per message (and errors are
        # told by identity: a KafkaError compared with None raises)
        message = self._client.Message
        if self._done.get(number, True) or any(map(is_not, map(message.error, run), repeat(None))):
            self._take_each(number, run)
            return
        last = run[-1].offset()
        if run[0].offset() < self._next[number] or last >= self.ends[number]:
            self._take_each(number, run)
            return
        values = list(map(message.value, run))
        if not all(values):  # an empty message or a tombstone
            self._take_each(number, run)
            return
        values.append(b"")  # the block's last newline, in the same join
        block = b"\n".join(values)
        # a message ending with a newline would give an empty line more (counting is faster than
        # looking for two newlines in a row, and is enough when each message is one line)
        if (block.count(b"\n") > len(run) and b"\n\n" in block) or (
                len(block) > self._max_line_length and max(map(len, values)) > self._max_line_length):
            self._take_each(number, run)  # newlines of their own, lines too long
            return
        self._next[number] = last + 1
        self._buffer(number, block)

    def _take_each(self, number: int, run: List[Any]) -> None:
        empty = 0
        for message in run:
            error = message.error()
            if error is not None:
                if str(error.name()) == "_PARTITION_EOF":
                    if number in self._done and self._next[number] >= self.ends[number]:
                        self._finish(number)
                else:
                    self._on_error(error)
                continue
            if self._done.get(number, True):
                continue  # fetched before the partition was ended: written after the replay started
            offset = message.offset()
            if offset < self._next[number]:
                continue  # already read (fetched again after a pause)
            if offset >= self.ends[number]:
                kind, stamp = message.timestamp()
                if kind != self._client.TIMESTAMP_NOT_AVAILABLE and stamp > self.started_ms:
                    self._finish(number)
                    continue
                self._past[number] += 1
            self._next[number] = offset + 1
            lines = message_lines(message.value(), self._max_line_length)
            if lines:
                self._buffer(number, b"\n".join(lines) + b"\n")
            else:
                empty += 1
        if empty:
            self._on_skipped(self.url, EMPTY_MESSAGE, empty)

    def _buffer(self, number: int, block: bytes) -> None:
        self._buffers[number].append(block)
        self._buffered[number] += len(block)
        if self._buffered[number] >= BUFFERED_BYTES and not self._paused[number]:
            self._set_paused(number, True)

    def _finish(self, number: int) -> None:
        """The partition is read to its end: stop fetching it."""
        self._done[number] = True
        self._set_paused(number, True)
        if self._past[number]:
            self._notice(f"{self.url}: partition {number}: {self._past[number]} message(s) read past the end offset "
                         f"{self.ends[number]} the broker reported at start (it counts record batches, not messages)",
                         "kafka-end")

    def _set_paused(self, number: int, paused: bool) -> None:
        """Pause or resume fetching a partition. librdkafka drops what it fetched ahead for a paused
        partition, and after a resume fetches it again only when its broker thread next wakes up
        (up to a second later, measured, when no other partition keeps it busy): a seek to where
        the partition was read up to wakes it at once."""
        partition = self._client.TopicPartition(self.address.topic, number, self._next[number])
        if paused:
            self._consumer.pause([partition])
        else:
            self._consumer.resume([partition])
            try:
                self._consumer.seek(partition)
            except self._client.KafkaException:
                pass  # the resume stands: fetching starts again, only later
        self._paused[number] = paused

    def _on_error(self, error: Any) -> None:
        if _is_down(error):
            if not self._down:
                self._down = True
                self._notice(f"{self.url}: broker unreachable ({error.str()}): reconnecting with backoff", "kafka-unavailable")
            return
        self._notice(f"{self.url}: {error.str()}", "kafka-error")

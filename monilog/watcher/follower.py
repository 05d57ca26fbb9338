"""One followed path: its open file generations, rotation, truncation, errors, and standard input.

Internal to :mod:`monilog.watcher`: :class:`~monilog.watcher.FileWatcher` drives these objects from
its thread in three steps per poll (see there), and they report through a :class:`FollowerReport`.

A *generation* (:class:`OpenFile`) is one opened inode, or one stream. A path's current generation
is replaced when the path names another inode (rename + create, delete + re-create, symlink
retargeted); the previous one is *retired*: it stays open and keeps being read, before the new one,
until it has been idle for the rotation grace period, so lines still written to it after the rename
are not lost. Its unterminated last line is then delivered, and it is closed.

A generation that appears while following is first compared with what was read of the others, by
their first bytes (:data:`HEAD_LENGTH`): a copy of one of them (copytruncate under a glob) only
has what was not read from the original read, once the original's reading has ended (see
:class:`ReadMark`). A generation whose first bytes are not text (:func:`text_problem`) is not read.
"""

from __future__ import annotations

import os
import select
import stat
import time
from typing import Dict, List, NamedTuple, Optional, Protocol, Sequence, Set, Tuple

from .lines import LineSplitter, text_problem

READ_BLOCK = 4 << 20
"""Bytes read per system call, and at most a batch of lines: a busy log's poll interval in one
batch (20,000 lines/s of 225 bytes in 0.2 s are 0.9 MB), since the engine counts each distinct
client and target once per batch: 1 MiB batches of such a log cost 15 % less CPU per line than
256 KiB ones (``bench/follow_cpu_bench.py``). A backlog (a log followed from its start, or a
watcher that fell behind) is read 4 MiB at a time, and a read that fills them is delivered as a
block with more behind it (:attr:`LineBlock.more <monilog.parsing.columns.LineBlock.more>`), whose
last report period the monitor keeps for the next block: each period's counters of a file read
alone then come in one batch (when they are cut, see :meth:`Monitor.feed
<monilog.monitor.Monitor.feed>`), with the first thousand keys of every dimension to apply once
(``bench/cardinality_bench.py --follow`` on 2026-12-07: 4 MiB reads took the log of random paths
and clients from 36 % to 41 % of the ordinary log's speed by CPU, before this wait; 8 and 16 MiB
gained nothing more on it)."""

FRESH_SECONDS = 5.0
"""Data read within this many seconds (monotonic) of a read that had reached the end of its file
or stream was written since then: its last line tells the log's time now, to within that much,
well inside the clock rules' 60 s (:data:`~monilog.accumulation.clock.MAX_JUMP`). Anything else
is a backlog (:attr:`LineBlock.backlog <monilog.parsing.columns.LineBlock.backlog>`): a file read
from its start, a stream's history, whatever was written while the process was stopped or behind."""

TAIL_LENGTH = 64
"""How many of the last bytes read are compared again before reading on (truncation detection)."""

HEAD_LENGTH = 1024
"""How many first bytes of a file identify its content (copies) and tell whether it is text."""

Identity = Tuple[int, int]
"""(st_dev, st_ino): which file a path names."""


def fresh(reached_end: Optional[float], now: float) -> bool:
    """Whether data read at ``now`` was written since an end of its input reached at
    ``reached_end`` (monotonic seconds; None: never), and so tells the log's time now."""
    return reached_end is not None and now - reached_end <= FRESH_SECONDS


def identity_of(status: os.stat_result) -> Identity:
    """The (device, inode) pair telling whether two stats describe the same file."""
    return status.st_dev, status.st_ino


class FollowerReport(Protocol):
    """Where followers send lines, notices and counts (the watcher)."""

    def deliver(self, source: str, lines: Sequence[bytes]) -> None:
        """Hand complete lines read from ``source`` to the consumer."""

    def notice(self, level: str, source: str, kind: str, message: str) -> None:
        """Report something the user should know about ``source``."""

    def count(self, source: str, field: str, amount: int = 1) -> None:
        """Add ``amount`` to the ``field`` counter of ``source``."""

    def skip(self, source: str, reason: str, amount: int) -> None:
        """Count ``amount`` pieces of input of ``source`` that were no line at all (an empty Kafka message)."""


class ReadMark(NamedTuple):
    """How far a file's content was read: a copy of it is read on from there."""

    head: bytes
    """Its first bytes (up to :data:`HEAD_LENGTH`)."""
    offset: int
    """How many bytes of it were read."""
    tail: bytes
    """The last bytes read, up to ``offset`` (up to :data:`TAIL_LENGTH`)."""
    pending: int
    """Bytes of an unterminated line just before ``offset``, not delivered."""
    discarding: bool
    """True if the line at ``offset`` was being discarded (cut, or started inside)."""
    path: str
    """The source it was read as."""


def same_start(head: bytes, known: bytes) -> Optional[bool]:
    """Whether a file starting with ``head`` starts like one starting with ``known``.

    ``None`` while it cannot tell: ``head`` is shorter than ``known`` and a start of it (a copy
    still being written, or a new file that has not differed yet). An empty ``known`` matches
    nothing.
    """
    if not known:
        return False
    if len(head) >= len(known):
        return head.startswith(known)
    return None if known.startswith(head) else False


class OpenFile:
    """One opened file generation (an inode read at an offset) or stream (read as it comes)."""

    def __init__(self, fd: int, status: os.stat_result, offset: int, max_line_length: int,
                 *, owns_fd: bool = True, ends_at_eof: bool = False) -> None:
        """Wrap ``fd`` (described by ``status``), to be read from ``offset`` if it is a regular file.

        ``owns_fd=False`` leaves the descriptor open at :meth:`close` (standard input);
        ``ends_at_eof`` makes end of file final (standard input), where a named pipe's end of file
        only means that no writer is connected right now.
        """
        self.fd = fd
        self.identity = identity_of(status)
        self.seekable = owns_fd and stat.S_ISREG(status.st_mode)
        self.offset = offset
        self.splitter = LineSplitter(max_line_length)
        self.owns_fd = owns_fd
        self.ends_at_eof = ends_at_eof
        self.owner: Optional[Follower] = None
        self.last_data = time.monotonic()
        self.at_eof = False
        self.reached_end: Optional[float] = None
        """When (monotonic) a read last reached its end: found nothing more, or, in a regular file,
        less than a full block. What is read within :data:`FRESH_SECONDS` of it is fresh."""
        self.ended = False
        self.head = b""
        """Its first bytes (up to :data:`HEAD_LENGTH`), as far as seen."""
        self.problem: Optional[str] = None
        """Why it is not a text log (:func:`text_problem` of its first bytes), if it is not."""
        self.problem_reported = False
        """True once :attr:`problem` was reported."""
        self.sniffing = False
        """True while it is not known whether it is a copy of a file already read."""
        self.source: Optional[OpenFile] = None
        """The file it is a copy of, while that one is still read."""
        self.resume: Optional[ReadMark] = None
        """How far the file it is a copy of was read, until it is read on from there."""
        self.previous: Optional[ReadMark] = None
        """How far it was read before it was last truncated."""
        self.copies: List[OpenFile] = []
        """Copies of it waiting for its reading to end."""
        self._tail = b""
        self._poller = None if self.seekable else select.poll()
        if self._poller is not None:
            self._poller.register(fd, select.POLLIN)
        if self.seekable:
            self._grow_head(status.st_size)
            if offset > 0:
                self._tail = self._bytes_before(offset)
                if not self._tail.endswith(b"\n"):
                    self.splitter.skip_to_newline()

    @property
    def reading(self) -> bool:
        """True if its content is read: it is text, and not a copy waiting for its original."""
        return (not self.sniffing and self.source is None and self.resume is None
                and self.problem is None)

    def look(self) -> int:
        """Its size now, learning its first bytes while they are fewer than :data:`HEAD_LENGTH`.

        For a generation not read (:attr:`reading`): :meth:`read_block` learns them otherwise.
        """
        size = os.fstat(self.fd).st_size
        self._grow_head(size)
        return size

    def truncated(self, size: int) -> bool:
        """Whether it was truncated since it was last read, ``size`` being its size now.

        It was if it is shorter than what was read, or no longer holds the last bytes read there
        (truncated and refilled between two reads).
        """
        return size < self.offset or self._bytes_before(self.offset) != self._tail

    def current_head(self) -> Optional[bytes]:
        """Its first bytes as they are now; ``None`` if it was truncated since it was last read."""
        size = os.fstat(self.fd).st_size
        if self.truncated(size):
            return None
        if len(self.head) < min(size, HEAD_LENGTH):
            return os.pread(self.fd, HEAD_LENGTH, 0)
        return self.head

    def mark(self) -> ReadMark:
        """How far it was read, now."""
        return ReadMark(self.head, self.offset, self._tail, self.splitter.pending,
                        self.splitter.discarding, self.owner.path if self.owner else "")

    def wait_for(self, source: OpenFile) -> None:
        """Take it for a copy of ``source``: read it once ``source`` is no longer read."""
        self.source = source
        source.copies.append(self)

    def detach(self) -> None:
        """No longer take it for a copy of the file it waits for."""
        if self.source is not None:
            self.source.copies.remove(self)
            self.source = None

    def read_on_from(self, mark: ReadMark) -> bool:
        """Read it on from where its original's reading ended, if it holds what was read there.

        Call it once it is at least ``mark.offset`` long. A partial line before ``mark.offset`` is
        read again, whole, from this copy. False (and read from its start) if it differs.
        """
        self.resume = None
        if self._bytes_before(mark.offset) != mark.tail:
            return False
        self.offset = mark.offset - mark.pending
        self._tail = self._bytes_before(self.offset)
        if mark.discarding:
            self.splitter.skip_to_newline()
        return True

    def end_reading(self) -> ReadMark:
        """Its content is no longer read (truncated, closed): the copies waiting read on."""
        mark = self.mark()
        for copy in self.copies:
            copy.source = None
            copy.resume = mark
        self.copies.clear()
        return mark

    def read_block(self) -> Tuple[bytes, bool]:
        """Read what comes next: (data, truncated). Empty data means nothing more for now."""
        if not self.seekable:
            data = self._read_stream()
            if data and len(self.head) < HEAD_LENGTH:
                self.head += data[:HEAD_LENGTH - len(self.head)]
                self.problem = self.problem or text_problem(self.head)
            return data, False
        if not self.reading:
            return b"", False
        size = os.fstat(self.fd).st_size
        if size == self.offset:
            return b"", False
        truncated = self.truncated(size)
        if truncated:
            self.previous = self.end_reading()
            self.offset = 0
            self._tail = self.head = b""
        self._grow_head(size)
        if self.problem is not None:
            return b"", truncated
        data = os.pread(self.fd, READ_BLOCK, self.offset)
        self.offset += len(data)
        self._tail = (self._tail + data[-TAIL_LENGTH:])[-TAIL_LENGTH:]
        return data, truncated

    def close(self) -> None:
        """Close the descriptor if this object opened it; copies waiting for it read on."""
        self.end_reading()
        self.detach()
        if self.owns_fd:
            os.close(self.fd)

    def _grow_head(self, size: int) -> None:
        """Read its first bytes again if there are more of them, and judge whether they are text."""
        if len(self.head) < min(size, HEAD_LENGTH):
            self.head = os.pread(self.fd, HEAD_LENGTH, 0)
            self.problem = self.problem or text_problem(self.head)

    def _bytes_before(self, offset: int) -> bytes:
        """The :data:`TAIL_LENGTH` bytes (or fewer, near the start) before ``offset``."""
        start = max(0, offset - TAIL_LENGTH)
        return os.pread(self.fd, offset - start, start)

    def _read_stream(self) -> bytes:
        """Read what a pipe, terminal or standard input has ready, without blocking."""
        assert self._poller is not None
        if not self._poller.poll(0):
            return b""
        try:
            data = os.read(self.fd, READ_BLOCK)
        except BlockingIOError:
            return b""
        if not data and self.ends_at_eof:
            self.ended = True
        return data


class Follower:
    """The state machine of one followed path: open, rotate, drain, truncate, report errors."""

    def __init__(self, path: str, sink: FollowerReport, registry: Dict[Identity, OpenFile], *,
                 max_line_length: int, rotation_grace: float, explicit: bool) -> None:
        """Follow ``path``, reporting to ``sink``.

        ``registry`` maps every open generation of every follower by identity, so that a file met
        under a second name is not read twice and a rotated file that a glob matches again is
        handed over rather than reread. ``explicit`` paths were named by the user (their absence
        is worth a warning); the others were found by a glob pattern.
        """
        self.path = path
        self.explicit = explicit
        self.finished = False
        """True once this source can deliver nothing more (only standard input ends)."""
        self.current: Optional[OpenFile] = None
        self.retired: List[OpenFile] = []
        self._sink = sink
        self._registry = registry
        self._max_line_length = max_line_length
        self._rotation_grace = rotation_grace
        self._start_mark: Optional[Tuple[Identity, int]] = None
        self._had_generation = False
        self._reported: Set[str] = set()

    @property
    def idle(self) -> bool:
        """True when nothing is open for this path."""
        return self.current is None and not self.retired

    def prime(self, from_start: bool) -> None:
        """First look at the path when the watcher starts: open it at its end, or its start."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            if self.explicit:
                self._report_once("warning", "missing", "does not exist yet; waiting for it")
            return
        except OSError as error:
            self._report_error(error)
            return
        if stat.S_ISREG(status.st_mode) and not from_start:
            self._start_mark = (identity_of(status), status.st_size)
        self._open(status, appeared=False)

    def check(self) -> None:
        """See which file the path names now; retire the current one if it changed, open the new."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            if self.current is not None:
                self._retire_current()
                self._sink.notice("info", self.path, "removed",
                                  "removed; reading what is left of it and waiting for a new file")
            return
        except OSError as error:
            self._report_error(error)
            return
        if self.current is not None:
            if self.current.identity == identity_of(status):
                return
            self._retire_current()
        self._open(status, appeared=True)

    def read(self, blocks: int) -> bool:
        """Read up to ``blocks`` blocks per open generation, oldest first; True if more is waiting.

        The current generation is read only once every retired one has been read to its end, so
        lines keep the order they were written in across a rotation.
        """
        behind = False
        for handle in list(self.retired):
            if self._read(handle, blocks):
                behind = True
            elif time.monotonic() - handle.last_data >= self._rotation_grace:
                self.close_generation(handle, flush=True)
        if self.current is not None:
            if behind:
                self.current.at_eof = False  # not read this time: its end is unknown
            else:
                behind = self._read(self.current, blocks)
        return behind

    def close(self, flush: bool) -> None:
        """Close every generation; with ``flush``, deliver the unterminated last lines of those read
        to their end."""
        for handle in list(self.retired):
            self.close_generation(handle, flush)
        if self.current is not None:
            self.close_generation(self.current, flush)

    def close_generation(self, handle: OpenFile, flush: bool) -> None:
        """Close one generation, delivering its unterminated last line if it was read to its end."""
        try:
            if flush and handle.at_eof:
                last = handle.splitter.flush()
                if last is not None:
                    self._deliver([last])
        finally:
            handle.close()
            if self._registry.get(handle.identity) is handle:
                del self._registry[handle.identity]
            if handle is self.current:
                self.current = None
            else:
                self.retired.remove(handle)

    def _read(self, handle: OpenFile, blocks: int) -> bool:
        """Read up to ``blocks`` blocks of one generation and deliver its lines; True if more waits."""
        for _ in range(blocks):
            try:
                if not handle.reading and handle.problem is None:
                    self._settle(handle)
                data, truncated = handle.read_block()
            except OSError as error:
                self._report_error(error)
                return False
            if truncated:
                self._truncated(handle)
            if handle.problem is not None:
                self._refuse(handle)
                if not data:
                    return False
                self._sink.count(self.path, "bytes", len(data))  # a stream is read on, unused,
                continue  # to its end: its writer must not block
            if not data:
                handle.at_eof = True
                handle.reached_end = time.monotonic()
                return False
            handle.at_eof = False
            handle.last_data = time.monotonic()
            self._feed(handle, data)
        return True

    def _feed(self, handle: OpenFile, data: bytes) -> None:
        """Split ``data`` into lines, deliver them, count bytes and cut lines."""
        self._sink.count(self.path, "bytes", len(data))
        cut_before = handle.splitter.cut_lines
        full, now = len(data) >= READ_BLOCK, time.monotonic()
        lines = handle.splitter.feed_block(data, more=full, backlog=not fresh(handle.reached_end, now))
        if handle.seekable and not full:  # a short read of a file is its end now; a stream's may not be
            handle.reached_end = now
        cut = handle.splitter.cut_lines - cut_before
        if cut:
            self._sink.count(self.path, "cut_lines", cut)
            self._sink.notice("warning", self.path, "cut",
                              f"line longer than {handle.splitter.max_line_length} bytes cut "
                              f"to that length ({cut} in this read)")
        if lines:
            self._deliver(lines)

    def _deliver(self, lines: Sequence[bytes]) -> None:
        """Hand lines to the consumer and count them."""
        self._sink.count(self.path, "lines", len(lines))
        self._sink.deliver(self.path, lines)

    def _truncated(self, handle: OpenFile) -> None:
        """Count and report a truncation; drop the partial line that preceded it."""
        dropped = handle.splitter.reset()
        self._sink.count(self.path, "truncations")
        detail = (f"; an unterminated line before it ({dropped} bytes) is dropped here, its end "
                  "went to the copy") if dropped else ""
        self._sink.notice("warning", self.path, "truncated",
                          f"truncated (copytruncate?): reading it again from the start{detail}")

    def _settle(self, handle: OpenFile) -> None:
        """Find out what is to be read of a generation that appeared, before reading it.

        It may be a copy of a generation read (copytruncate under a glob): its first bytes say so,
        and it is then read only from where the original's reading ended, once it ended.
        """
        if handle.sniffing:
            self._identify(handle)
        elif handle.source is not None:
            self._check_copy(handle, handle.source)
        if handle.resume is not None:
            self._resume(handle, handle.resume)

    def _identify(self, handle: OpenFile) -> None:
        """Compare a generation's first bytes with those of every generation read, as they are now
        and as they were before it was last truncated: take it for a copy of one, for none, or
        leave it undecided (unread: a copy still being written, or a new file not different yet)."""
        handle.look()
        if handle.problem is not None:
            return
        handle.sniffing = True
        if not handle.head:  # nothing to compare, nor to read
            return
        undecided = False
        for other in list(self._registry.values()):
            if other is handle or not (other.seekable and other.reading):
                continue
            candidates: List[Tuple[Optional[bytes], Optional[ReadMark]]] = [
                (other.current_head(), None)]
            if other.previous is not None:
                candidates.append((other.previous.head, other.previous))
            for known, mark in candidates:
                verdict = None if known is None else same_start(handle.head, known)
                if verdict is None:  # including a truncation of ``other`` not noticed yet
                    undecided = True
                elif verdict:
                    handle.sniffing = False
                    if mark is None:
                        handle.wait_for(other)
                    else:
                        handle.resume = mark
                    self._sink.notice("info", self.path, "copy",
                                      f"copy of {(mark or other.mark()).path} (copytruncate?): "
                                      "reading only what was not read from it")
                    return
        handle.sniffing = undecided

    def _check_copy(self, handle: OpenFile, source: OpenFile) -> None:
        """Keep a generation for a copy of one still read only while both start alike."""
        if len(handle.head) == HEAD_LENGTH and handle.head == source.head:
            return
        handle.look()
        current = source.current_head()
        if current is None:  # truncated: its next read ends its reading, and the copy's wait
            return
        common = min(len(handle.head), len(current))
        if handle.head[:common] != current[:common]:
            handle.detach()
            self._not_a_copy(source.mark().path)

    def _resume(self, handle: OpenFile, mark: ReadMark) -> None:
        """Read a copy on from where its original's reading ended, once it is that long."""
        if handle.look() >= mark.offset and not handle.read_on_from(mark):
            self._not_a_copy(mark.path)

    def _not_a_copy(self, original: str) -> None:
        """Report that a generation taken for a copy of ``original`` differs: it is read whole."""
        self._sink.notice("warning", self.path, "copy",
                          f"not a copy of {original} after all (it differs further on): "
                          "reading it from its start")

    def _refuse(self, handle: OpenFile) -> None:
        """Report, once, that a generation is not text and is not read."""
        if not handle.problem_reported:
            handle.problem_reported = True
            self._sink.notice("error", self.path, "not-text", f"{handle.problem}: its lines are "
                              "not read (following the other files)")

    def _retire_current(self) -> None:
        """Keep the current generation open as a retired one, to drain what is still written to it."""
        assert self.current is not None
        self.current.last_data = time.monotonic()
        self.retired.append(self.current)
        self.current = None

    def _open(self, status: os.stat_result, appeared: bool) -> None:
        """Start reading the file the path names now (``status`` from stat of the path).

        A file that ``appeared`` after start-up and is read from its start may be a copy of one
        already read: it is identified first.
        """
        if stat.S_ISDIR(status.st_mode):
            if self.explicit:
                self._report_once("error", "unreadable", "is a directory, not a file; skipped")
            return
        known = self._registry.get(identity_of(status))
        if known is not None:
            self._adopt(known)
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return
        except OSError as error:
            self._report_error(error)
            return
        try:
            status = os.fstat(fd)
            if identity_of(status) in self._registry:  # renamed between stat and open: next poll
                os.close(fd)
                return
            handle = OpenFile(fd, status, self._start_offset(status), self._max_line_length)
        except OSError as error:
            os.close(fd)
            self._report_error(error)
            return
        self._start_mark = None
        self._take(handle)
        if self._had_generation:
            self._sink.count(self.path, "rotations")
            self._sink.notice("info", self.path, "rotated",
                              "now names a new file: reading it from its start "
                              "(the previous one is read to its end first)")
        elif "missing" in self._reported:
            self._sink.notice("info", self.path, "appeared", "appeared: reading it from its start")
        elif self._reported - {"duplicate"}:
            self._sink.notice("info", self.path, "readable", "readable now: following it")
        self._had_generation = True
        self._reported.clear()
        if appeared and handle.seekable and handle.offset == 0:
            self._identify(handle)

    def _adopt(self, known: OpenFile) -> None:
        """The path names a file already open: take it over if it was retired, else skip it."""
        owner = known.owner
        if owner is None or known not in owner.retired:
            self._report_once("info", "duplicate",
                              f"same file as {owner.path if owner else 'another source'}; not read twice")
            return
        owner.retired.remove(known)
        self._take(known)
        self._had_generation = True
        self._reported.clear()

    def _take(self, handle: OpenFile) -> None:
        """Make ``handle`` this path's current generation."""
        handle.owner = self
        self._registry[handle.identity] = handle
        self.current = handle

    def _start_offset(self, status: os.stat_result) -> int:
        """Where to start reading a newly opened file: where it ended at start-up, or its start."""
        if self._start_mark is None or not stat.S_ISREG(status.st_mode):
            return 0
        mark_identity, mark_size = self._start_mark
        if mark_identity != identity_of(status) or status.st_size < mark_size:
            return 0
        return mark_size

    def _report_error(self, error: OSError) -> None:
        """Report an error reaching the path, once until the path is readable again."""
        if isinstance(error, PermissionError):
            self._report_once("error", "permission",
                              "permission denied: cannot read it (following the other files)")
        else:
            self._report_once("error", "unreadable", f"cannot read it: {error.strerror or error}")

    def _report_once(self, level: str, kind: str, message: str) -> None:
        """Report a lasting condition once, until the path is successfully opened again."""
        if kind not in self._reported:
            self._reported.add(kind)
            self._sink.notice(level, self.path, kind, message)


class StdinFollower(Follower):
    """Standard input (``-``): one stream, read as it comes, finished at its end of file."""

    def __init__(self, sink: FollowerReport, *, max_line_length: int) -> None:
        """Follow file descriptor 0, reported under the name ``-``."""
        super().__init__("-", sink, {}, max_line_length=max_line_length, rotation_grace=0.0,
                         explicit=True)

    def prime(self, from_start: bool) -> None:
        """Take standard input as it is: a stream has no end to start at."""
        try:
            self.current = OpenFile(0, os.fstat(0), 0, self._max_line_length,
                                    owns_fd=False, ends_at_eof=True)
        except OSError as error:
            self._report_error(error)
            self.finished = True

    def check(self) -> None:
        """Standard input cannot be rotated: nothing to check."""

    def read(self, blocks: int) -> bool:
        """Read what standard input has ready; at its end, deliver its last line and finish."""
        if self.current is None:
            return False
        behind = self._read(self.current, blocks)
        if self.current.ended:
            self.close_generation(self.current, flush=True)
            self.finished = True
            self._sink.notice("info", self.path, "closed", "standard input reached its end")
        return behind

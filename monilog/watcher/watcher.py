"""Follow live log files like ``tail -F``, in a thread, handing complete lines to a callback.

How it works: one thread polls. Every ``poll_interval`` (0.2 s by default) it

1. stats each followed path (following symlinks) and compares the (device, inode) it names with
   the file it has open: a different one means rotation (rename + create, delete + re-create, a
   retargeted symlink), a missing one means deletion;
2. expands the glob patterns again, following files that newly match;
3. reads what was appended to every open file, in blocks, and hands the complete lines to
   ``on_lines`` in batches, in the watcher thread. The thread waits for the callback, so a slow
   consumer slows reading down instead of growing a queue: memory stays bounded.

It sleeps on a :class:`threading.Event` between polls, so an idle watcher costs a few ``stat``
calls per poll and :meth:`FileWatcher.stop` returns at once. When a file has more waiting than one
turn reads (8 MiB), the next poll starts without sleeping.

Decisions:

* Start position: existing files are followed from their end as it was when :meth:`start` was
  called (``from_start`` reads them from the beginning). If that end falls inside a line, the rest
  of that line is skipped. Files that appear later (created, re-created, newly matching a glob,
  a symlink's new target) are read from their start: everything in them is new, unless they are a
  copy of a file already read (below).
* Rotation (the path names another file): the previous file stays open and is read to its end
  before the new one is read, then kept open until it has been idle for ``rotation_grace``
  seconds (at least two polls), so lines a writer adds to it after the rename (until it reopens
  its log) are not lost; then its unterminated last line is delivered and it is closed.
* copytruncate: a file that became shorter than the read offset, or whose last bytes read are no
  longer what was read there (truncated and refilled between two polls), is read again from 0.
  Lines written after the last read are then only in the copy: if the copy is not followed, they
  are lost (a poll interval's worth, more when reading is behind a slow consumer), and so is the
  unterminated line read before the truncation (its end went to the copy).
* Copies (copytruncate under a glob: ``access.log*`` sees ``access.log.1`` appear, a copy of
  ``access.log``): like log shippers (Filebeat, Fluent Bit, Vector), the watcher knows a file's
  content by its first bytes (1 KiB) and remembers how far it read each open file, and how far it
  had read it before its last truncation. A file that appears while following and starts with the
  same bytes as one read (all of them, if that one is shorter than 1 KiB) is its copy: it is read
  only from where the original's reading ended, once it has (the original found truncated, or
  closed), and only if it holds the bytes read just before that point (else it is read whole,
  with a warning). So the lines the truncation took from the original are read from the copy,
  once, a partial line read before the truncation is read again whole from there, and a copy of
  a file read up to the truncation is not read at all.

  - Short files: a file shorter than the first bytes it could be a copy of, and equal to their
    start, waits unread until it is longer or differs (a copy being written; a new file with
    nothing of its own yet, like the empty one logrotate's ``create`` leaves). While its original
    is still read, a copy is kept only as long as both start alike: a new file with the same
    header as a log shorter than 1 KiB is read whole as soon as the two differ.
  - Remaining races: lines written between the copy and the truncation are in neither file
    (logrotate's own copytruncate race); lines read from the copy are delivered under its name,
    possibly after the first lines written after the truncation; a new file starting exactly like
    a file read (its first KiB) waits unread as long as that one is read, so two identical files
    are read once; a copy of a file no longer open (closed after a rotation) is read whole; files
    existing at start-up are not compared.

* Not text: a file whose first bytes say it is UTF-16, UTF-32 or compressed
  (:func:`~monilog.watcher.text_problem`) is reported once and not read, while the others are
  followed (a stream is read on to its end, unused, so that its writer does not block); the path
  is read again when it names another file.
* A file whose name a glob matches again after rotation (``access.log*`` matching
  ``access.log.1``) is handed over to its new name, not read twice; the same file named twice (a
  symlink and its target) is read once. Files a pattern matches whose names say they are
  compressed (``.gz``, ``.bz2``, ``.xz``, ...: :func:`~monilog.watcher.lines.compression_named`)
  are rotated logs, never opened: one notice names each (``compressed (gzip); use --replay to
  read it``). A compressed file under another name is opened, and refused as not text (above).
* A missing file is waited for (one warning), a file that cannot be read (permission denied, a
  directory) is reported once and retried at every poll while the others are followed.
* Standard input (``-``) and named pipes are read as streams, never blocking. Standard input ends
  at its end of file (and the watcher ends when it was the only source, see :meth:`FileWatcher.wait`);
  a named pipe's end of file only means that no writer is connected now, so it is kept open.
* No inotify: polling meets the targets (idle CPU well under 1 % of a core, latency under the
  0.5 s target, see ``bench/watcher_bench.py``), works on every file system (NFS, overlays) and
  for pipes, and needs no fallback path.
* At :meth:`FileWatcher.stop`, what was appended since the last poll is read once more and the
  unterminated last line of each file read to its end is delivered.
* An exception raised by ``on_lines`` or ``on_notice`` ends the watcher (files closed) and is
  raised again by :meth:`FileWatcher.stop`; it is also available as :attr:`FileWatcher.error`.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from dataclasses import dataclass, fields, replace
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Union

from .follower import Follower, Identity, OpenFile, StdinFollower
from .kafka import KafkaFollower, KafkaSettings, is_kafka
from .lines import DEFAULT_MAX_LINE_LENGTH, compression_named

LOGGER = logging.getLogger(__name__)

BLOCKS_PER_TURN = 2
"""Blocks read from one file per poll before the others get their turn (2 x 4 MiB,
:data:`~monilog.watcher.follower.READ_BLOCK`): a read that finds the end of what was written is
one of them, so that a file read whole in one block is known to be at its end (and its
unterminated last line is delivered when the watcher stops)."""


def glob_matches(pattern: str, compressed: bool = False) -> List[str]:
    """The files ``pattern`` matches now, sorted; those named like compressed rotated logs
    (:func:`~monilog.watcher.lines.compression_named`) only if ``compressed``: a replay reads
    them, following does not."""
    matches = sorted(glob.glob(pattern, recursive=True))
    return matches if compressed else [path for path in matches if compression_named(path) is None]


STDIN = "-"
"""The path that names standard input."""

_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class WatchNotice(NamedTuple):
    """Something about a followed path the user should know; not an exception."""

    level: str
    """``"info"``, ``"warning"`` or ``"error"``."""
    path: str
    """The path, glob pattern or ``-`` concerned."""
    message: str
    """What happened, in words, without the path."""
    kind: str
    """Stable machine-readable category: ``missing``, ``appeared``, ``removed``, ``rotated``,
    ``truncated``, ``copy``, ``not-text``, ``compressed``, ``cut``, ``permission``, ``unreadable``,
    ``readable``, ``duplicate``, ``closed``."""


@dataclass
class FileStats:
    """Counters of one source (or of all of them)."""

    lines: int = 0
    """Complete lines delivered."""
    bytes: int = 0
    """Bytes read."""
    cut_lines: int = 0
    """Lines longer than the cap, delivered cut."""
    rotations: int = 0
    """Times the path started naming a new file after the previous one."""
    truncations: int = 0
    """Times the file was found truncated and read again from its start."""

    def __add__(self, other: FileStats) -> FileStats:
        """Sum of two sets of counters."""
        return FileStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


class WatchStats(NamedTuple):
    """A snapshot of the watcher's counters."""

    files: Dict[str, FileStats]
    """Per source (path as given or as the glob matched it, ``-`` for standard input)."""
    total: FileStats
    """Sum over all sources."""


class FileWatcher:
    """Follow files, glob patterns and standard input in a thread, calling ``on_lines`` with lines.

    >>> with FileWatcher(["/var/log/nginx/access.log"], consume):   # doctest: +SKIP
    ...     wait_for_the_end()
    """

    def __init__(
        self,
        paths: Sequence[Union[str, "os.PathLike[str]"]],
        on_lines: Callable[[str, Sequence[bytes]], None],
        *,
        from_start: bool = False,
        poll_interval: float = 0.2,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        on_notice: Optional[Callable[[WatchNotice], None]] = None,
        rotation_grace: float = 1.0,
        kafka: Optional[KafkaSettings] = None,
        on_skipped: Optional[Callable[[str, str, int], None]] = None,
    ) -> None:
        """Prepare to follow ``paths``; nothing is opened before :meth:`start`.

        ``paths`` are file paths (which may not exist yet), glob patterns (``*``, ``?``, ``[]``,
        ``**``; files may start matching later) and ``-`` for standard input; a named pipe's path
        works too. ``on_lines(source, lines)`` receives, in the watcher thread, a batch of complete
        lines as bytes without their newline, in file order: a sequence of them (from a file, a
        :class:`~monilog.watcher.LineBlock`, which also keeps them as the one block of bytes they
        were read in, for :meth:`Monitor.feed <monilog.monitor.Monitor.feed>` to parse without
        joining them again). ``on_notice`` receives
        :class:`WatchNotice` objects (default: they are logged to the ``monilog.watcher`` logger).
        ``from_start`` reads existing files from their beginning instead of their end.
        Lines longer than ``max_line_length`` bytes are cut. A rotated or removed file is closed
        once idle for ``rotation_grace`` seconds.

        A ``kafka://HOST:PORT/TOPIC`` path is a topic, read with ``kafka`` settings by a
        :class:`~monilog.watcher.kafka.KafkaFollower`; ``on_skipped(source, reason, count)`` counts
        its empty messages.
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("paths must be a sequence of paths, not a single path")
        names = [os.fspath(path) for path in paths]
        if not names:
            raise ValueError("no path to watch")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be at least 1, not {max_line_length}")
        self._on_lines = on_lines
        self._on_notice = on_notice
        self._on_skipped = on_skipped
        self._from_start = from_start
        self._poll_interval = poll_interval
        self._max_line_length = max_line_length
        self._rotation_grace = max(rotation_grace, 2 * poll_interval)
        self._registry: Dict[Identity, OpenFile] = {}
        self._followers: Dict[str, Union[Follower, KafkaFollower]] = {}
        self._patterns: List[str] = []
        self._compressed: Set[str] = set()
        """Compressed rotations the patterns matched, each reported once and never opened."""
        self._stats: Dict[str, FileStats] = {}
        self._lock = threading.Lock()
        self._early_notices: List[WatchNotice] = []
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self.last_activity = time.monotonic()
        """:func:`time.monotonic` time of the last delivered line (of :meth:`start` before any)."""
        self.caught_up_at: Optional[float] = None
        """:func:`time.monotonic` time at which a poll began that then found every input read to
        its end: everything written before it has been delivered (None before such a poll)."""
        for name in names:
            if name == STDIN:
                self._add(STDIN, StdinFollower(self, max_line_length=max_line_length))
            elif is_kafka(name):
                self._add(name, KafkaFollower(name, self, kafka or KafkaSettings(), max_line_length=max_line_length))
            elif glob.has_magic(name) and not os.path.lexists(name):
                if name not in self._patterns:
                    self._patterns.append(name)
            else:
                self._add(name, self._follower(name, explicit=True))

    @property
    def stats(self) -> WatchStats:
        """Counters per source and in total, as of now."""
        with self._lock:
            files = {source: replace(counters) for source, counters in self._stats.items()}
        return WatchStats(files, sum(files.values(), FileStats()))

    @property
    def running(self) -> bool:
        """True between :meth:`start` and the end of the watcher thread."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> Optional[BaseException]:
        """The exception that ended the watcher thread (raised by a callback), if any."""
        return self._error

    def start(self) -> FileWatcher:
        """Open the files at their start position and start the watcher thread; return ``self``.

        Lines appended after this returns are delivered, even before the thread's first poll.
        """
        if self._thread is not None:
            raise RuntimeError("this FileWatcher was already started")
        self._thread = threading.Thread(target=self._run, name="monilog-watcher", daemon=True)
        self.last_activity = time.monotonic()
        try:
            for follower in list(self._followers.values()):
                follower.prime(self._from_start)
            self._scan_patterns(initial=True)
        except BaseException:
            self._close_all(flush=False)
            self._thread = None
            raise
        self._thread.start()
        return self

    def stop(self, timeout: Optional[float] = 10.0) -> bool:
        """Stop following: read what is left, deliver last lines, close every file, join the thread.

        Returns False if the thread is still running after ``timeout`` seconds (a callback that
        does not return); it then closes its files itself when it finishes. Called from a callback,
        it only asks the thread to stop once the callback returns, and returns False. Re-raises an
        exception that a callback raised in the watcher thread. Safe to call more than once.
        """
        self._stopping.set()
        if self._thread is None:
            return True
        if threading.current_thread() is self._thread:
            return False
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        error, self._error = self._error, None
        if error is not None:
            raise error
        return True

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the watcher thread ends; True if it has.

        It ends by itself only when every source was standard input and it reached its end of file
        (``cat access.log | monitoring -``), or when a callback raised; otherwise at :meth:`stop`.
        """
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> FileWatcher:
        """Start following."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop following."""
        self.stop()

    # FollowerReport interface, called by the followers in the watcher thread (and by start()).

    def deliver(self, source: str, lines: Sequence[bytes]) -> None:
        """Hand a batch of lines to the consumer (a :class:`~monilog.watcher.lines.LineBlock`
        from a file, a list from Kafka)."""
        self.last_activity = time.monotonic()
        self._on_lines(source, lines)

    def notice(self, level: str, source: str, kind: str, message: str) -> None:
        """Report a notice: at once from the watcher thread, after start-up otherwise."""
        notice = WatchNotice(level, source, message, kind)
        if threading.current_thread() is self._thread:
            self._emit(notice)
        else:
            self._early_notices.append(notice)

    def count(self, source: str, field: str, amount: int = 1) -> None:
        """Add ``amount`` to a counter of ``source``."""
        with self._lock:
            counters = self._stats.setdefault(source, FileStats())
            setattr(counters, field, getattr(counters, field) + amount)

    def skip(self, source: str, reason: str, amount: int) -> None:
        """Count input of ``source`` that was no line (with ``on_skipped``, if given)."""
        if self._on_skipped is not None:
            self._on_skipped(source, reason, amount)

    # Internals.

    def _run(self) -> None:
        """The watcher thread: poll until stopped or exhausted, then close everything."""
        try:
            for notice in self._early_notices:
                self._emit(notice)
            self._early_notices.clear()
            while not self._stopping.is_set() and not self._exhausted():
                began = time.monotonic()
                if not self._poll():
                    self.caught_up_at = began
                    self._stopping.wait(self._poll_interval)
            for follower in list(self._followers.values()):
                follower.read(BLOCKS_PER_TURN)
            self._close_all(flush=True)
        except BaseException as error:  # a callback failed: keep it for stop(), close the files
            self._error = error
            LOGGER.error("file watcher stopped by an error in a callback", exc_info=error)
            self._close_all(flush=False)

    def _poll(self) -> bool:
        """One round: check paths, expand patterns, read. True if a file has more waiting."""
        for follower in list(self._followers.values()):
            follower.check()
        self._scan_patterns(initial=False)
        behind = False
        for follower in list(self._followers.values()):
            if follower.read(BLOCKS_PER_TURN):
                behind = True
        return behind

    def _scan_patterns(self, initial: bool) -> None:
        """Follow files newly matching the patterns; forget matches gone and fully read."""
        matched = set()
        for pattern in self._patterns:
            matches = glob_matches(pattern, compressed=True)
            if initial and not matches:
                self.notice("warning", pattern, "missing", "no file matches yet; waiting for one")
            for path in matches:
                key = os.path.abspath(path)
                matched.add(key)
                if key in self._followers:
                    continue
                compressed = compression_named(path)
                if compressed is not None:  # a compressed rotation, left unopened
                    if key not in self._compressed:
                        self._compressed.add(key)
                        self.notice("info", path, "compressed", f"{compressed.problem}: not followed")
                    continue
                follower = self._add(key, self._follower(path, explicit=False))
                if initial:
                    follower.prime(self._from_start)
                    continue
                follower.check()
                if not follower.idle:
                    self.notice("info", path, "appeared", f"new file matching {pattern}: following it")
        for key, follower in list(self._followers.items()):
            if not follower.explicit and follower.idle and key not in matched:
                del self._followers[key]

    def _follower(self, path: str, explicit: bool) -> Follower:
        """A follower of ``path`` reporting to this watcher."""
        return Follower(path, self, self._registry, max_line_length=self._max_line_length,
                        rotation_grace=self._rotation_grace, explicit=explicit)

    def _add(self, key: str, follower: Union[Follower, KafkaFollower]) -> Union[Follower, KafkaFollower]:
        """Register ``follower`` under ``key`` (its absolute path) unless one is there already."""
        if key != STDIN and not is_kafka(key):
            key = os.path.abspath(key)
        follower = self._followers.setdefault(key, follower)
        with self._lock:
            self._stats.setdefault(follower.path, FileStats())
        return follower

    def _exhausted(self) -> bool:
        """True when no source can deliver anything any more (standard input alone, ended)."""
        return not self._patterns and all(follower.finished for follower in self._followers.values())

    def _close_all(self, flush: bool) -> None:
        """Close every open file, delivering last lines if ``flush``."""
        for follower in list(self._followers.values()):
            follower.close(flush)

    def _emit(self, notice: WatchNotice) -> None:
        """Give a notice to ``on_notice``, or log it."""
        if self._on_notice is not None:
            self._on_notice(notice)
        else:
            LOGGER.log(_LOG_LEVELS[notice.level], "%s: %s", notice.path, notice.message)

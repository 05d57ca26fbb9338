"""Worker processes aggregating chunks, each fed through its own pipe."""

from __future__ import annotations

import gc
import multiprocessing
import queue
import signal
import sys
import threading
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from monilog.replayer.aggregation import ChunkResult, ChunkTask, Refusal, aggregate_chunk

_ENDED = Refusal("a replay worker failed: the process ended", failure=True)
"""The result of a chunk whose worker died."""


class WorkerPool:
    """Worker processes aggregating chunks, each fed through its own pipe.

    No helper thread runs in this process (a :class:`multiprocessing.pool.Pool` has three, and
    they compete with the replay for the interpreter lock). Each worker answers its tasks in
    order; a worker that dies leaves its chunks to the main process.
    """

    def __init__(self, count: int, in_flight: int) -> None:
        if sys.platform.startswith("linux"):
            # fork is the fastest start, and safe while this process has a single thread
            context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "forkserver")
        else:
            context = multiprocessing.get_context()
        self._connections: List[Any] = []
        self._processes: List[Any] = []
        self._queued: List[Deque[int]] = []
        self._done: Dict[int, ChunkResult] = {}
        self._worker_of: Dict[int, int] = {}
        self._tickets = self._taken = 0
        self.count = count
        """Number of worker processes."""
        self.limit = in_flight * count
        """How many results may be outstanding before chunks are only handed out when needed."""
        try:
            for _ in range(count):
                mine, theirs = context.Pipe()
                process = context.Process(target=_worker_main, args=(theirs,), daemon=True)  # type: ignore[attr-defined]
                self._connections.append(mine)
                self._queued.append(deque())
                process.start()
                self._processes.append(process)
                theirs.close()
        except BaseException:
            self.close()
            raise

    def submit(self, task: ChunkTask) -> int:
        """Hand ``task`` to the least busy worker; return the ticket for :meth:`result`."""
        ticket = self._tickets
        self._tickets += 1
        while True:
            alive = [index for index, connection in enumerate(self._connections) if connection is not None]
            if not alive:
                self._done[ticket] = aggregate_chunk(task)
                return ticket
            worker = min(alive, key=self._work_left)
            try:
                self._connections[worker].send(task)
            except OSError:  # it died with nothing queued: the chunk goes the reference path, said like the others
                self._lose(worker)
                self._done[ticket] = _ENDED
                return ticket
            self._queued[worker].append(ticket)
            self._worker_of[ticket] = worker
            return ticket

    @property
    def outstanding(self) -> int:
        """Tickets handed out whose result was not taken yet."""
        return self._tickets - self._taken

    def result(self, ticket: int) -> ChunkResult:
        """The aggregate (or reason) of a submitted task, waiting for it if needed."""
        while ticket not in self._done:
            worker = self._worker_of[ticket]
            try:
                answer = self._connections[worker].recv()
            except (EOFError, OSError):
                self._lose(worker)
                continue
            self._done[self._queued[worker].popleft()] = answer
        self._worker_of.pop(ticket, None)
        self._taken += 1
        return self._done.pop(ticket)

    def _work_left(self, worker: int) -> int:
        """Chunks a worker still works on: those queued, less the first when its answer is there.

        The answers stay in the pipe until the replay takes them, in its merge order (read ahead,
        a distinct-path replay's chunks of ten thousand keys a dimension took the main process's
        peak from 88 MB to 150 MB). A worker whose answer waits is given its next chunk all the
        same: it receives chunks in a thread of its own, so neither side's send can block the other.
        """
        queued, connection = self._queued[worker], self._connections[worker]
        try:
            return len(queued) - (1 if queued and connection.poll(0) else 0)
        except (EOFError, OSError):
            return len(queued)  # it died: found out when it is sent to or read from

    def _lose(self, worker: int) -> None:
        """Give up a worker that died: its queued chunks go through the reference path."""
        self._connections[worker].close()
        self._connections[worker] = None
        for lost in self._queued[worker]:
            self._done[lost] = _ENDED
        self._queued[worker].clear()

    def close(self) -> None:
        """Stop the workers (at once: any work still queued is abandoned)."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join()
        for connection in self._connections:
            if connection is not None:
                connection.close()


def _worker_main(connection: Any) -> None:
    """A worker process: aggregate each task received, until the pipe closes.

    Tasks are received by a thread into a queue, so that the main process can always hand one
    over, even while this process waits for it to take an answer (an answer and a task of a
    Kafka partition's lines are each larger than a pipe holds).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a handler inherited from the caller would not do
    gc.disable()  # aggregation makes no reference cycles, only many short-lived tuples
    tasks: queue.SimpleQueue[Optional[ChunkTask]] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                tasks.put(connection.recv())
            except (EOFError, OSError):
                tasks.put(None)
                return

    threading.Thread(target=receive, name="monilog-tasks", daemon=True).start()
    while True:
        task = tasks.get()
        if task is None:
            return
        try:
            connection.send(aggregate_chunk(task))
        except OSError:  # the main process went away
            return

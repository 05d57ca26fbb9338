"""How a replay cuts files and shares the work: one dataclass, so a caller (or a test) picks its own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplayTuning:
    """Sizes and counts that trade speed for memory in a replay; none changes its results."""

    chunk_bytes: int = 16 << 20
    """Largest size of the chunks files are cut into (cut at the next line start): big chunks mean
    fewer segments for the main process to apply."""
    min_chunk_bytes: int = 1 << 20
    """Smallest chunk size. In between, with worker processes, a chunk is a share of what is left
    of its file (half of it divided by the workers), so the last chunks keep every worker busy."""
    first_chunk_bytes: int = 64 << 10
    """Size of each file's first chunk, whose first line the clock rules may hold back (then its
    lines are read again, which costs little for a small chunk)."""
    merged_chunk_bytes: int = 2 << 20
    """Largest chunk when files are merged: their counters are kept per second, so a chunk's
    aggregate is bigger and is kept smaller."""
    piece_bytes: int = 512 << 10
    """Size of the pieces a chunk is read and parsed in (their bytes are freed once parsed)."""
    counted_lines: int = 20_000
    """Consecutive pieces are counted together until they hold this many records: their columns
    are held until then (a 16 MB chunk of short Common lines counted at once took a worker to
    52 MB), with the records of the last period of the group before, which are counted with them
    (so a period shorter than this is counted once, whole, and cut as it is counted)."""
    max_chunk_bytes: int = 64 << 20
    """A chunk longer than this (made of very long lines) is read line by line in this process."""
    in_process_bytes: int = 8 << 20
    """Inputs smaller than this are aggregated without worker processes."""
    chunks_in_flight: int = 2
    """Chunks handed ahead to each worker (results outstanding at most, whatever the number of files)."""
    lines_per_batch: int = 4096
    """Lines per batch when a file is read line by line (pipes, W3C logs, refused chunks)."""
    workers: int = 0
    """Worker processes; 0: one per available core."""

"""The clock rules: held first lines and jumps, outliers, live refusals and clock steps.

The rules are tested on :class:`LogClock` itself (its rulings), and once more through a
:class:`Monitor`, where they decide which period lines count in and what the alert rule sees.
"""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from typing import List, Optional, Tuple

from monilog.accumulation.clock import CLOCK_STEP_SECONDS, Decision, LogClock
from monilog.monitor import Monitor
from tests.support import Recorder

T0 = 1_700_000_000  # a whole second, 2023-11-14 22:13:20 UTC
Y2099 = int(datetime(2099, 1, 1, tzinfo=timezone.utc).timestamp())

A, H, C, OUT, R = Decision.ACCEPTED, Decision.HELD, Decision.CONFIRMED, Decision.OUTLIER, Decision.REFUSED


def rulings(clock: LogClock, second: int, count: int = 1, host: Optional[float] = None) -> List[Tuple[Decision, int, int]]:
    return [tuple(ruling) for ruling in clock.admit(second, count, host)]  # type: ignore[misc]


class HeldLinesTest(unittest.TestCase):
    def test_a_lone_first_line_is_held_and_confirmed_by_the_next(self) -> None:
        clock = LogClock(window=10)
        self.assertEqual(rulings(clock, T0), [(H, T0, 1)])
        self.assertIsNone(clock.latest)
        self.assertEqual(rulings(clock, T0 + 1), [(C, T0, 1), (A, T0 + 1, 1)])
        self.assertEqual(clock.latest, T0 + 1)

    def test_a_second_line_of_the_same_second_confirms_at_once(self) -> None:
        clock = LogClock(window=10)
        self.assertEqual(rulings(clock, T0, 5), [(H, T0, 1), (C, T0, 1), (A, T0, 4)])
        self.assertIsNone(clock.held)

    def test_replayed_gap_is_confirmed_by_the_next_line(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 3)
        self.assertEqual(rulings(clock, T0 + 3600), [(H, T0 + 3600, 1)])  # a real pause of an hour
        self.assertEqual(rulings(clock, T0 + 3601), [(C, T0 + 3600, 1), (A, T0 + 3601, 1)])
        self.assertEqual(clock.outliers, 0)

    def test_absurd_future_line_is_an_outlier(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 3)
        self.assertEqual(rulings(clock, Y2099), [(H, Y2099, 1)])
        self.assertEqual(rulings(clock, T0 + 1), [(OUT, Y2099, 1), (A, T0 + 1, 1)])
        self.assertEqual((clock.outliers, clock.latest), (1, T0 + 1))

    def test_absurd_first_lines_are_outliers(self) -> None:
        for first in (Y2099, 0):  # 2099, and 1970 as the very first line
            with self.subTest(first=first):
                clock = LogClock(window=10)
                rulings(clock, first)
                self.assertEqual(rulings(clock, T0)[0], (OUT, first, 1))
                self.assertEqual(clock.outliers, 1)

    def test_a_1970_line_after_the_first_is_simply_behind(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 2)
        self.assertEqual(rulings(clock, 0), [(A, 0, 1)])
        self.assertEqual(clock.latest, T0)

    def test_sparse_first_lines_are_not_outliers(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0)
        self.assertEqual(rulings(clock, T0 + 300), [(C, T0, 1), (H, T0 + 300, 1)])  # itself a jump, held in turn
        self.assertEqual(rulings(clock, T0 + 301), [(C, T0 + 300, 1), (A, T0 + 301, 1)])
        self.assertEqual(clock.outliers, 0)

    def test_trusted_time_confirms_what_it_reaches_and_drops_what_is_far_ahead(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 2)
        rulings(clock, T0 + 10_000)
        self.assertEqual([tuple(r) for r in clock.advance(T0 + 4)], [(OUT, T0 + 10_000, 1)])
        clock = LogClock(window=10)
        rulings(clock, T0)
        self.assertEqual([tuple(r) for r in clock.advance(T0 + 1)], [(C, T0, 1)])
        clock = LogClock(window=10)
        rulings(clock, T0)
        self.assertEqual([tuple(r) for r in clock.release()], [(C, T0, 1)], "the end of the input confirms")


class LiveTest(unittest.TestCase):
    def live_clock(self) -> LogClock:
        """A clock whose log runs 100 s behind the host."""
        clock = LogClock(window=10)
        rulings(clock, T0, 2, host=T0 + 100)
        clock.learn(T0 + 100, moved=True)
        self.assertEqual(clock.offset, -100)
        return clock

    def test_lines_far_beyond_the_expected_log_time_are_refused(self) -> None:
        clock = self.live_clock()
        self.assertEqual(rulings(clock, T0 + 70, 5, host=T0 + 105), [(R, T0 + 70, 5)])
        self.assertEqual(rulings(clock, T0 + 5, 1, host=T0 + 105), [(A, T0 + 5, 1)])
        self.assertEqual(clock.refused, 5)

    def test_a_log_clock_stepped_forward_is_followed_after_a_while(self) -> None:
        clock = self.live_clock()
        step = int(CLOCK_STEP_SECONDS)
        self.assertEqual(rulings(clock, T0 + 3600, 1, host=T0 + 110)[0][0], R)
        self.assertEqual(rulings(clock, T0 + 3600 + step, 1, host=T0 + 110 + step), [(A, T0 + 3600 + step, 1)])
        self.assertEqual(clock.offset, 3600 - 110)

    def test_expected_time_trusts_a_held_first_line_near_the_host(self) -> None:
        clock = LogClock(window=10)
        self.assertIsNone(clock.expected(T0))
        rulings(clock, T0 - 5)
        self.assertEqual(clock.expected(T0 + 1), T0 - 5, "the held line's time is now")
        self.assertEqual(clock.expected(T0 + 2), T0 - 4)
        far = LogClock(window=10)
        rulings(far, T0 - 10 * 86_400)
        self.assertIsNone(far.expected(T0))


class MonitorClockTest(unittest.TestCase):
    LINE = '10.0.0.1 - - [{}] "GET /a HTTP/1.1" 200 5'

    def line(self, epoch: int) -> str:
        return self.LINE.format(datetime.fromtimestamp(epoch, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z"))

    def test_an_outlier_counts_late_and_cannot_derail_alerts(self) -> None:
        recorder = Recorder()
        monitor = Monitor(threshold=1, window=10, period=10, sinks=[recorder])
        lines = [self.line(T0 + second) for second in range(5)]
        lines.append(self.line(Y2099))
        lines += [self.line(T0 + 5 + second // 3) for second in range(60)]
        for line in lines:
            monitor.feed("access.log", [line])
        summary = monitor.finish()
        self.assertEqual((summary.parsed, summary.outlier_hits), (66, 1))
        alerts = [item for kind, item in recorder.items if kind == "event"]
        self.assertEqual([(e.kind, e.time.timestamp()) for e in alerts], [("alert", T0 + 7)])
        self.assertLess(monitor.alerter.clock, T0 + 100)
        self.assertEqual(sum(item.stats.late for kind, item in recorder.items if kind == "report"), 1)

    def test_the_same_lines_in_one_batch_or_one_by_one(self) -> None:
        lines = [self.line(Y2099)] + [self.line(T0 + second // 2) for second in range(40)]
        lines[20:20] = [self.line(T0 + 5000), "garbage", self.line(T0 + 5001)]
        outputs = []
        for batches in ([lines], [[line] for line in lines], [lines[:21], lines[21:]]):
            recorder = Recorder()
            monitor = Monitor(threshold=1, window=10, period=10, sinks=[recorder])
            for batch in batches:
                monitor.feed("access.log", batch)
            monitor.finish()
            outputs.append(recorder.items)
        self.assertEqual(outputs[1], outputs[0])
        self.assertEqual(outputs[2], outputs[0])


if __name__ == "__main__":
    unittest.main()

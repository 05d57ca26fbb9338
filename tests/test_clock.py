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
from monilog.parsing.columns import LineBlock
from tests.support import Recorder

T0 = 1_700_000_000  # a whole second, 2023-11-14 22:13:20 UTC
Y2099 = int(datetime(2099, 1, 1, tzinfo=timezone.utc).timestamp())

A, H, C, OUT, R = Decision.ACCEPTED, Decision.HELD, Decision.CONFIRMED, Decision.OUTLIER, Decision.REFUSED
BACK = Decision.STEPPED_BACK


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

    def follow_step_back(self, clock: LogClock, caught_up: bool, seconds: int = 40) -> List[List[Tuple[Decision, int, int]]]:
        """An hour's step back of the log 100 s behind the host: one line a second for ``seconds``."""
        out = []
        for elapsed in range(seconds):
            host = T0 + 200 + elapsed
            if caught_up:
                clock.caught_up(host - 0.5)
            out.append(rulings(clock, T0 + 100 - 3600 + elapsed, 1, host=host))
        return out

    def test_a_log_clock_stepped_back_is_followed_after_a_while(self) -> None:
        clock = self.live_clock()
        seen = self.follow_step_back(clock, caught_up=True)
        step = int(CLOCK_STEP_SECONDS)
        self.assertTrue(all(r == [(A, T0 + 100 - 3600 + i, 1)] for i, r in enumerate(seen[:step])), seen[:step])
        back = next(i for i, r in enumerate(seen) if r[0][0] is BACK)
        self.assertLessEqual(back, step + 1)
        second = T0 + 100 - 3600 + back
        self.assertEqual(seen[back], [(BACK, second, 0), (A, second, 1)])
        self.assertEqual((clock.latest, clock.offset), (T0 + 100 - 3600 + 39, second - (T0 + 200 + back)))
        self.assertEqual(clock.step_back, 3600)
        self.assertTrue(all(r == [(A, T0 + 100 - 3600 + i, 1)] for i, r in enumerate(seen) if i > back))

    def test_the_expected_time_waits_while_every_line_is_far_behind(self) -> None:
        clock = self.live_clock()
        clock.caught_up(T0 + 200)
        for elapsed in range(11):  # old lines keep coming
            rulings(clock, T0 - 3600 + elapsed, 1, host=T0 + 200 + elapsed)
        self.assertEqual(clock.expected(T0 + 210.5), T0 + 100, "no false recovery while the rule decides")
        rulings(clock, T0 + 111, 1, host=T0 + 211)
        self.assertEqual(clock.expected(T0 + 212), T0 + 112)
        rulings(clock, T0 - 3600, 1, host=T0 + 220)  # a lone stale line, then silence
        self.assertEqual(clock.expected(T0 + 221), T0 + 120)
        self.assertEqual(clock.expected(T0 + 240), T0 + 140, "silence moves the clock on")

    def test_a_backlog_read_after_a_stall_is_not_a_step_back(self) -> None:
        clock = self.live_clock()  # lines read late, never once with every input read to its end
        self.assertFalse(any(r[0][0] is BACK for r in self.follow_step_back(clock, caught_up=False, seconds=100)))

    def test_old_lines_among_current_ones_are_not_a_step_back(self) -> None:
        clock = self.live_clock()
        for elapsed in range(100):
            host = T0 + 110 + elapsed
            clock.caught_up(host)
            self.assertEqual(rulings(clock, T0 - 3600 + elapsed, 1, host=host), [(A, T0 - 3600 + elapsed, 1)])
            rulings(clock, T0 + 10 + elapsed, 1, host=host)
        self.assertEqual(clock.latest, T0 + 109)

    def test_a_backlog_s_offset_refuses_nothing_until_settled_and_never_lowers_a_settled_one(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 2, host=T0 + 7200)  # a file read from its start, its last line two hours old
        clock.learn(T0 + 7200, moved=True, backlog=True)
        self.assertEqual((clock.offset, clock.settled), (-7200, False))
        # the next block, read a moment later, runs hours ahead of that offset: ruled in log time
        self.assertEqual(rulings(clock, T0 + 3600, 5, host=T0 + 7200.1),
                         [(H, T0 + 3600, 1), (C, T0 + 3600, 1), (A, T0 + 3600, 4)])
        clock.learn(T0 + 7200.1, moved=True)  # lines read as they came
        self.assertTrue(clock.settled)
        self.assertEqual(rulings(clock, T0 + 3700, 5, host=T0 + 7201), [(R, T0 + 3700, 5)])
        settled = clock.offset
        # the process stopped for two minutes: what was written meanwhile is a backlog, older than now
        self.assertEqual(rulings(clock, T0 + 3601, 3, host=T0 + 7322), [(A, T0 + 3601, 3)])
        clock.learn(T0 + 7322, moved=True, backlog=True)
        self.assertEqual((clock.offset, clock.settled), (settled, True))
        self.assertEqual(rulings(clock, T0 + 3600 + 86_400, 5, host=T0 + 7322.1), [(R, T0 + 3600 + 86_400, 5)])
        self.assertEqual(rulings(clock, T0 + 3740, 2, host=T0 + 7322.2),  # 18 s ahead of it
                         [(H, T0 + 3740, 1), (C, T0 + 3740, 1), (A, T0 + 3740, 1)])
        clock.learn(T0 + 7322.2, moved=True, backlog=True)  # a backlog ahead of it raises it
        self.assertEqual((clock.offset, clock.settled), ((T0 + 3740) - (T0 + 7322.2), True))

    def test_the_host_clock_refutes_no_held_line_while_the_offset_is_not_settled(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 2, host=T0 + 7200)
        clock.learn(T0 + 7200, moved=True, backlog=True)
        rulings(clock, T0 + 7200)  # a lone line written now, after a quiet log's two hours
        self.assertEqual(clock.advance(T0 + 5, refute=False), [], "only a lower bound of the log's time")
        self.assertEqual([tuple(r) for r in clock.advance(T0 + 7150, refute=False)], [(C, T0 + 7200, 1)])
        rulings(clock, T0 + 9000)
        self.assertEqual([tuple(r) for r in clock.advance(T0 + 7205)], [(OUT, T0 + 9000, 1)])

    def test_expected_time_trusts_a_held_first_line_near_the_host(self) -> None:
        clock = LogClock(window=10)
        self.assertIsNone(clock.expected(T0))
        rulings(clock, T0 - 5)
        self.assertEqual(clock.expected(T0 + 1), T0 - 5, "the held line's time is now")
        self.assertEqual(clock.expected(T0 + 2), T0 - 4)
        far = LogClock(window=10)
        rulings(far, T0 - 10 * 86_400)
        self.assertIsNone(far.expected(T0))


class ReplayStepBackTest(unittest.TestCase):
    def test_a_replayed_log_stepped_back_is_followed_in_its_own_time(self) -> None:
        clock = LogClock(window=10)
        rulings(clock, T0, 2)
        for second in range(1, 100):
            rulings(clock, T0 + second)
        back = T0 + 99 - 3600
        seen = [rulings(clock, back + second) for second in range(40)]
        step = int(CLOCK_STEP_SECONDS)
        self.assertTrue(all(r == [(A, back + i, 1)] for i, r in enumerate(seen[:step])))
        self.assertEqual(seen[step], [(BACK, back + step, 0), (A, back + step, 1)])
        self.assertEqual(clock.step_back, 3600)
        self.assertEqual(clock.latest, back + 39)

    def test_a_lone_old_line_or_old_lines_within_the_window_are_not_a_step(self) -> None:
        clock = LogClock(window=60)
        rulings(clock, T0, 2)
        for second in range(1, 100):
            rulings(clock, T0 + second)
            self.assertEqual(rulings(clock, T0 + second - 50), [(A, T0 + second - 50, 1)])  # lateness, not a step
        self.assertEqual(rulings(clock, 0), [(A, 0, 1)])
        for second in range(40):
            rulings(clock, T0 - 3600 + second * 2)
            rulings(clock, T0 + 100 + second)  # the log's present goes on
        self.assertEqual(clock.latest, T0 + 139)


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

    def test_a_replayed_step_back_restarts_the_timeline_in_one_batch_or_one_by_one(self) -> None:
        lines = [self.line(T0 + second // 3) for second in range(300)]  # 3 req/s for 100 s
        lines += [self.line(T0 + 100 - 3600 + second // 3) for second in range(300)]  # corrected by an hour
        outputs = []
        for batches in ([lines], [[line] for line in lines], [lines[:350], lines[350:]]):
            recorder = Recorder()
            monitor = Monitor(threshold=2, window=10, period=10, sinks=[recorder])
            for batch in batches:
                monitor.feed("access.log", batch)
            summary = monitor.finish()
            outputs.append(recorder.items)
        self.assertEqual(outputs[1], outputs[0])
        self.assertEqual(outputs[2], outputs[0])
        self.assertEqual(summary.parsed, 600)
        notices = [item for kind, item in recorder.items if kind == "notice"]
        self.assertEqual(len(notices), 1)
        self.assertIn("stepped back by 59m59s", notices[0])  # from the newest line before the step
        self.assertEqual([e.kind for e in recorder.events], ["alert"], "one alert for the episode")
        reports = recorder.reports
        starts = [r.stats.start.timestamp() for r in reports if r.stats.start is not None]
        self.assertEqual(starts[:10], [T0 + 10 * i for i in range(10)])
        self.assertEqual(starts[-7:], [T0 + 100 - 3600 + 40 + 10 * i for i in range(-1, 6)])
        self.assertEqual(sum(r.stats.late for r in reports), 90, "the 30 s before the rule decided")
        self.assertEqual(summary.stats.duration, 100 + 70, "the two timeline segments add up, overlapping or not")

    def test_a_quiet_log_followed_from_its_start_counts_its_next_lone_lines(self) -> None:
        host = T0 + 7200  # its last line is two hours old
        recorder = Recorder()
        monitor = Monitor(threshold=1, window=10, period=10, sinks=[recorder])
        old = "".join(self.line(T0 - 3600 + second) + "\n" for second in range(3600)).encode()
        monitor.feed("access.log", LineBlock(old, 3600, backlog=True), wall_now=host)
        for second in range(0, 20):  # read as they were written, one lone line every 5 s
            monitor.tick(host + second)
            if second % 5 == 4:
                monitor.feed("access.log", LineBlock((self.line(T0 + 7200 + second) + "\n").encode(), 1),
                             wall_now=host + second + 0.5)
        summary = monitor.finish()
        self.assertEqual((summary.parsed, summary.late_hits, summary.outlier_hits), (3604, 0, 0))
        self.assertEqual(monitor.clock.latest, T0 + 7200 + 19)

    def test_a_settled_offset_outlives_a_stall_s_backlog(self) -> None:
        def block(*seconds: int) -> LineBlock:
            return LineBlock("".join(self.line(T0 + second) + "\n" for second in seconds).encode(), len(seconds))

        monitor = Monitor(threshold=1, window=10, period=10, sinks=[Recorder()])
        monitor.feed("access.log", block(*range(10)), wall_now=T0 + 9.5)  # read as written: settled
        monitor.tick(T0 + 10)
        stalled = block(10)  # the process stopped two minutes; a quiet log wrote one line meanwhile
        stalled.backlog = True
        monitor.feed("access.log", stalled, wall_now=T0 + 130)
        burst = block(*[86_400] * 5)  # a backend a day ahead, in the rest of that backlog
        burst.backlog = True
        monitor.feed("access.log", burst, wall_now=T0 + 130.1)
        for second in (131, 133):  # the log's next lines, read as written
            monitor.feed("access.log", block(second), wall_now=T0 + second + 0.5)
            monitor.tick(T0 + second + 1)
        summary = monitor.finish()
        self.assertEqual((summary.parsed, summary.late_hits, summary.outlier_hits, monitor.clock.refused), (18, 0, 5, 5))

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

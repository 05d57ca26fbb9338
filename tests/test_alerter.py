"""The alert rule: crossings at the exact second, recovery, late and absurd timestamps."""

from __future__ import annotations

import random
import unittest
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog import Alerter, AlertEvent
from tests.support import shuffled_within

T0 = 1_700_000_000  # a whole second, 2023-11-14 22:13:20 UTC


def steady(alerter: Alerter, start: int, seconds: int, per_second: int) -> List[AlertEvent]:
    """Feed ``per_second`` hits in each of ``seconds`` seconds from ``start``; return the events."""
    events: List[AlertEvent] = []
    for second in range(start, start + seconds):
        for _ in range(per_second):
            events += alerter.observe(second)
    return events


class ThresholdTest(unittest.TestCase):
    def test_below_threshold_never_alerts(self) -> None:
        alerter = Alerter(threshold=10, window=120)
        events = steady(alerter, T0, 600, 10) + alerter.advance(T0 + 1000)
        self.assertEqual(events, [])
        self.assertFalse(alerter.alerting)
        self.assertEqual(alerter.history, ())

    def test_alert_at_the_exact_second_of_the_crossing(self) -> None:
        # 11 hits/s from T0: the window [T-120, T-1] holds 11*(T-T0) hits, above 1200 from
        # T - T0 = 110 (1210 hits) on, so the alert is raised at T0 + 110.
        alerter = Alerter(threshold=10, window=120)
        events = steady(alerter, T0, 200, 11)
        self.assertEqual(len(events), 1)
        event = events[0]
        self.assertEqual(event.kind, "alert")
        self.assertEqual(event.time.timestamp(), T0 + 110)
        self.assertEqual(event.hits, 1210)
        self.assertAlmostEqual(event.average, 1210 / 120)
        self.assertTrue(alerter.alerting)

    def test_exactly_at_threshold_does_not_alert(self) -> None:
        alerter = Alerter(threshold=10, window=120)
        events = steady(alerter, T0, 300, 10) + alerter.advance(T0 + 300)
        self.assertEqual(alerter.window_hits, 1200)
        self.assertEqual(alerter.average, 10.0)
        self.assertEqual(events, [])
        # one hit more in the next window exceeds it
        alerter.observe(T0 + 300, count=11)
        events = alerter.advance(T0 + 301)
        self.assertEqual([e.kind for e in events], ["alert"])
        self.assertEqual(events[0].hits, 1201)

    def test_no_duplicate_alert_while_high(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        events = steady(alerter, T0, 500, 5)
        self.assertEqual([e.kind for e in events], ["alert"])

    def test_recovery_at_the_exact_second_and_only_once(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        events = steady(alerter, T0, 20, 3)  # 30 hits in every full window
        events += steady(alerter, T0 + 20, 40, 0)
        events += alerter.observe(T0 + 60)
        kinds = [e.kind for e in events]
        self.assertEqual(kinds, ["alert", "recover"])
        # window [T-10, T-1] holds 3*(T0+20-(T-10)) hits; <= 10 from T = T0 + 27 (9 hits)
        recover = events[1]
        self.assertEqual(recover.time.timestamp(), T0 + 27)
        self.assertEqual(recover.hits, 9)
        self.assertEqual(recover.started, events[0].time)
        self.assertEqual(recover.duration, recover.time - events[0].time)
        self.assertEqual(recover.peak_hits, 30)
        self.assertFalse(alerter.alerting)

    def test_peak_of_the_ongoing_alert(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        self.assertIsNone(alerter.peak_hits)
        steady(alerter, T0, 10, 5)          # window reaches 50 hits
        steady(alerter, T0 + 10, 10, 2)     # falls to 20, still above 10
        alerter.advance(T0 + 20)
        self.assertTrue(alerter.alerting)
        self.assertEqual(alerter.window_hits, 20)
        self.assertEqual(alerter.peak_hits, 50)
        recover = alerter.advance(T0 + 40)[0]
        self.assertEqual(recover.peak_hits, 50)
        self.assertIsNone(alerter.peak_hits)

    def test_alert_again_after_recovery(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        events = steady(alerter, T0, 20, 3) + steady(alerter, T0 + 20, 30, 0)
        events += steady(alerter, T0 + 50, 20, 3) + alerter.advance(T0 + 100)
        self.assertEqual([e.kind for e in events], ["alert", "recover", "alert", "recover"])
        self.assertEqual(alerter.history, tuple(events))

    def test_silence_recovers_by_advance_alone(self) -> None:
        alerter = Alerter(threshold=10, window=120)
        steady(alerter, T0, 150, 20)
        self.assertTrue(alerter.alerting)
        # nothing more is logged; only the wall clock moves on
        events: List[AlertEvent] = []
        for tick in range(T0 + 150, T0 + 400):
            events += alerter.advance(tick)
        self.assertEqual([e.kind for e in events], ["recover"])
        # window [T-120, T-1] has 20*(T0+150-(T-120)) hits <= 1200 from T = T0 + 210
        self.assertEqual(events[0].time.timestamp(), T0 + 210)

    def test_hits_leave_the_window(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        alerter.observe(T0)
        alerter.observe(T0, count=15)
        self.assertEqual(alerter.window_hits, 0)  # second T0 is not complete yet
        events = alerter.advance(T0 + 1)
        self.assertEqual(alerter.window_hits, 16)
        self.assertEqual([e.kind for e in events], ["alert"])
        self.assertEqual(alerter.advance(T0 + 10), [])
        self.assertEqual(alerter.window_hits, 16)  # the window [T0, T0+9] still holds second T0
        events = alerter.advance(T0 + 11)
        self.assertEqual(alerter.window_hits, 0)
        self.assertEqual([e.kind for e in events], ["recover"])
        self.assertEqual(events[0].time.timestamp(), T0 + 11)

    def test_fractional_threshold_compared_exactly(self) -> None:
        # 0.29 * 100 is 28.999999999999996 in binary floating point: 29 hits must not alert.
        alerter = Alerter(threshold=0.29, window=100)
        alerter.observe(T0, count=29)
        self.assertEqual(alerter.advance(T0 + 1), [])
        alerter.observe(T0 + 1)
        self.assertEqual([e.kind for e in alerter.advance(T0 + 2)], ["alert"])
        # 0.57 * 100 is 56.99999999999999: 57 hits is exactly at the threshold
        alerter = Alerter(threshold=0.57, window=100)
        alerter.observe(T0, count=57)
        self.assertEqual(alerter.advance(T0 + 1), [])
        # 1.1 * 3 is 3.3000000000000003: 3 hits is below, 4 above
        alerter = Alerter(threshold="1.1", window=3)
        alerter.observe(T0, count=3)
        self.assertEqual(alerter.advance(T0 + 1), [])
        alerter.observe(T0 + 1)
        self.assertEqual(len(alerter.advance(T0 + 2)), 1)

    def test_other_windows(self) -> None:
        for window in (1, 7, 60, 300):
            alerter = Alerter(threshold=2, window=window)
            events = steady(alerter, T0, window + 5, 3)
            # 3*(T-T0) > 2*window first at T - T0 = floor(2*window/3) + 1
            expected = T0 + (2 * window) // 3 + 1
            self.assertEqual([e.time.timestamp() for e in events], [expected], window)

    def test_invalid_arguments(self) -> None:
        for threshold in (0, -1, "abc", float("nan"), float("inf")):
            with self.assertRaises(ValueError):
                Alerter(threshold=threshold)
        for window in (0, -5, 1.5, True):
            with self.assertRaises(ValueError):
                Alerter(window=window)  # type: ignore[arg-type]
        alerter = Alerter()
        with self.assertRaises(ValueError):
            alerter.observe(datetime(2024, 1, 1))  # naive
        with self.assertRaises(ValueError):
            alerter.observe(T0, count=-1)
        with self.assertRaises(ValueError):
            alerter.observe(float("nan"))


class LateHitsTest(unittest.TestCase):
    def test_late_hits_inside_the_window_count_later(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        alerter.observe(T0)
        alerter.observe(T0 + 5)
        alerter.observe(T0 + 1, count=10)  # behind the clock but inside the window
        self.assertEqual(alerter.late_hits, 0)
        events = alerter.advance(T0 + 6)
        self.assertEqual([e.kind for e in events], ["alert"])
        self.assertEqual(events[0].hits, 12)
        self.assertEqual(events[0].time.timestamp(), T0 + 6)

    def test_late_hits_outside_the_window_are_counted_and_ignored(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        alerter.observe(T0)
        alerter.observe(T0 + 30)
        alerter.observe(T0 + 20, count=100)  # window is [T0+21, T0+30]
        self.assertEqual(alerter.late_hits, 100)
        self.assertEqual(alerter.advance(T0 + 31), [])
        # the boundary: with the clock at T0+31 the oldest second still counted is T0+22
        alerter.observe(T0 + 21, count=50)
        alerter.observe(T0 + 22, count=5)
        self.assertEqual(alerter.late_hits, 150)
        self.assertEqual(alerter.advance(T0 + 32), [])
        self.assertEqual(alerter.window_hits, 6)  # 5 at T0+22 and the hit at T0+30

    def test_long_gap_costs_window_not_gap(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        steady(alerter, T0, 10, 5)
        self.assertTrue(alerter.alerting)
        calls = []
        original = alerter._evaluate
        alerter._evaluate = lambda second, events: (calls.append(second), original(second, events))  # type: ignore[method-assign]
        events = alerter.advance(T0 + 10 ** 9)
        self.assertLessEqual(len(calls), 12)
        self.assertEqual([e.kind for e in events], ["recover"])
        self.assertEqual(events[0].time.timestamp(), T0 + 18)  # 5*(T0+10-(T-10)) <= 10
        self.assertEqual(alerter.window_hits, 0)
        self.assertEqual(alerter.clock, T0 + 10 ** 9)

    def test_absurd_past_line_is_late(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        events = steady(alerter, T0, 3, 1)
        events += alerter.observe(0)  # 1970
        events += steady(alerter, T0 + 3, 20, 3)
        self.assertEqual(alerter.late_hits, 1)
        self.assertEqual([e.kind for e in events], ["alert"])

    def test_clock_never_moves_backwards(self) -> None:
        alerter = Alerter(threshold=1, window=10)
        steady(alerter, T0, 5, 1)
        alerter.advance(T0 + 3)
        self.assertEqual(alerter.clock, T0 + 4)

    def test_per_second_is_oldest_first(self) -> None:
        alerter = Alerter(threshold=100, window=4)
        for second, count in ((T0, 1), (T0 + 1, 2), (T0 + 2, 3), (T0 + 3, 4), (T0 + 4, 5)):
            alerter.observe(second, count=count)
        self.assertEqual(alerter.per_second(), [2, 3, 4, 5])
        self.assertEqual(alerter.average, 10 / 4)  # last evaluated window: [T0, T0+3]


class EventTest(unittest.TestCase):
    def test_messages_show_date_time_and_offset(self) -> None:
        tz = timezone(timedelta(hours=-7))
        alerter = Alerter(threshold=1, window=10)
        start = datetime(2024, 3, 1, 12, 0, 0, tzinfo=tz)
        events: List[AlertEvent] = []
        for i in range(12):
            events += alerter.observe(start + timedelta(seconds=i), count=5)
        events += alerter.advance(start + timedelta(seconds=100))
        alert, recover = events
        self.assertEqual(
            alert.message,
            "High traffic generated an alert - hits = 15, triggered at 2024-03-01 12:00:03 -0700",
        )
        self.assertEqual(str(alert), alert.message)
        self.assertEqual(recover.kind, "recover")
        self.assertIn("recovered at 2024-03-01 12:00:20 -0700", recover.message)
        self.assertIn("after 17s", recover.message)
        self.assertEqual(recover.time.utcoffset(), timedelta(hours=-7))

    def test_events_are_immutable(self) -> None:
        alerter = Alerter(threshold=1, window=2)
        alerter.observe(T0, count=5)
        event = alerter.advance(T0 + 1)[0]
        with self.assertRaises(AttributeError):
            event.hits = 0  # type: ignore[misc]


def reference_events(ops: List[Tuple[str, int, int]], threshold: int, window: int) -> List[Tuple[str, int, int]]:
    """Brute force: replay the rule by rescanning every accepted hit at every crossed second."""
    hits: Dict[int, int] = {}
    clock: Optional[int] = None
    alerting = False
    out: List[Tuple[str, int, int]] = []

    def move(to: int) -> None:
        nonlocal clock, alerting
        if clock is None:
            clock = to
            return
        for t in range(clock + 1, to + 1):
            total = sum(c for s, c in hits.items() if t - window <= s <= t - 1)
            if not alerting and total > threshold * window:
                alerting = True
                out.append(("alert", t, total))
            elif alerting and total <= threshold * window:
                alerting = False
                out.append(("recover", t, total))
        clock = max(clock, to)

    def add(second: int, count: int) -> None:
        if clock is not None and second <= clock - window:
            return
        hits[second] = hits.get(second, 0) + count

    for op, second, count in ops:
        move(second)
        if op == "observe":
            add(second, count)
    return out


class PropertyTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(
        threshold=st.integers(min_value=1, max_value=4),
        window=st.integers(min_value=1, max_value=12),
        steps=st.lists(
            st.tuples(
                st.sampled_from(["observe", "observe", "observe", "advance"]),
                st.integers(min_value=-15, max_value=6),
                st.integers(min_value=0, max_value=9),
            ),
            min_size=1,
            max_size=80,
        ),
    )
    def test_matches_brute_force_reference(self, threshold: int, window: int, steps: List[Tuple[str, int, int]]) -> None:
        # Timelines wander forwards with late hits (the clock rules on jumps are tests/test_clock.py's).
        ops: List[Tuple[str, int, int]] = []
        now = T0
        for op, delta, count in steps:
            if delta >= 0:
                now += delta
                second = now
            else:
                second = now + delta  # a late hit (or a stale advance)
            ops.append((op, second, count))
        alerter = Alerter(threshold=threshold, window=window)
        got: List[Tuple[str, int, int]] = []
        for op, second, count in ops:
            events = alerter.observe(second, count) if op == "observe" else alerter.advance(second)
            got += [(e.kind, int(e.time.timestamp()), e.hits) for e in events]
        self.assertEqual(got, reference_events(ops, threshold, window))
        self.assertEqual([(e.kind, int(e.time.timestamp()), e.hits) for e in alerter.history], got)


class HistoryTest(unittest.TestCase):
    def test_history_keeps_the_last_events_and_counts_the_others(self) -> None:
        alerter = Alerter(threshold=1, window=1, max_history=4)
        for second in range(0, 20, 2):  # a burst every other second: alert, recover, alert...
            alerter.observe(T0 + second, count=5)
        alerter.advance(T0 + 30)
        self.assertEqual(len(alerter.history), 4)
        self.assertEqual(alerter.dropped_events, 16)
        self.assertEqual(alerter.history[-1].kind, "recover")
        self.assertEqual(alerter.history[-1].time.timestamp(), T0 + 20)


class LatenessTest(unittest.TestCase):
    def test_a_second_is_evaluated_lateness_seconds_later_at_its_own_time(self) -> None:
        alerter = Alerter(threshold=1, window=10, lateness=5)
        events = steady(alerter, T0, 11, 2)  # the window is above 10 hits from T0 + 6 on
        self.assertEqual(events, [], "T0 + 6 waits for the clock to reach T0 + 11")
        events = alerter.advance(T0 + 11)
        self.assertEqual([(e.kind, e.time.timestamp()) for e in events], [("alert", T0 + 6)])
        self.assertEqual(alerter.evaluated, T0 + 6)

    def test_hits_up_to_lateness_behind_count_in_their_second(self) -> None:
        alerter = Alerter(threshold=1, window=10, lateness=5)
        alerter.observe(T0 + 10)
        alerter.observe(T0 + 5, count=20)  # 5 s behind: not yet evaluated, counts in its window
        self.assertEqual(alerter.late_hits, 0)
        events = alerter.advance(T0 + 11)
        self.assertEqual([(e.kind, e.time.timestamp(), e.hits) for e in events], [("alert", T0 + 6, 20)])

    @settings(max_examples=200, deadline=None)
    @given(
        threshold=st.integers(min_value=1, max_value=3),
        window=st.integers(min_value=1, max_value=8),
        lateness=st.integers(min_value=0, max_value=6),
        gaps=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=60),
        seed=st.integers(min_value=0, max_value=1000),
    )
    def test_shuffled_within_lateness_equals_sorted(self, threshold: int, window: int, lateness: int,
                                                     gaps: List[int], seed: int) -> None:
        seconds, now = [], T0
        for gap in gaps:
            now += gap
            seconds.append(now)
        shuffled = shuffled_within(seconds, lateness, random.Random(seed))
        in_order, late = Alerter(threshold, window), Alerter(threshold, window, lateness=lateness)
        expected = [e for second in seconds for e in in_order.observe(second)]
        got = [e for second in shuffled for e in late.observe(second)]
        got += late.advance(max(seconds) + lateness)
        self.assertEqual(got, expected)
        self.assertEqual((late.late_hits, late.window_hits), (0, in_order.window_hits))


if __name__ == "__main__":
    unittest.main()

"""CLF and W3C timestamp parsing: offsets, invalid dates, the cache."""

from __future__ import annotations

import calendar
import unittest
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from monilog.parsing.timestamps import CACHE_SIZE, clf_timestamp, utc_offset, w3c_timestamp

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_text(moment: datetime) -> str:
    """Format an aware datetime the way Apache's ``%t`` does (without brackets)."""
    offset = int(moment.utcoffset().total_seconds()) // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return (
        f"{moment.day:02d}/{MONTH_NAMES[moment.month - 1]}/{moment.year:04d}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{minutes:02d}"
    )


class ClfTimestampTest(unittest.TestCase):
    def test_utc(self) -> None:
        moment, epoch = clf_timestamp("17/May/2015:08:05:32 +0000")
        self.assertEqual(moment, datetime(2015, 5, 17, 8, 5, 32, tzinfo=timezone.utc))
        self.assertEqual(moment.utcoffset(), timedelta(0))
        self.assertEqual(epoch, calendar.timegm((2015, 5, 17, 8, 5, 32)))

    def test_negative_offset_keeps_local_time_and_offset(self) -> None:
        moment, epoch = clf_timestamp("10/Oct/2000:13:55:36 -0700")
        self.assertEqual((moment.year, moment.month, moment.day, moment.hour), (2000, 10, 10, 13))
        self.assertEqual(moment.utcoffset(), timedelta(hours=-7))
        self.assertEqual(epoch, calendar.timegm((2000, 10, 10, 20, 55, 36)))

    def test_half_hour_offset(self) -> None:
        moment, epoch = clf_timestamp("01/Jan/2024:00:10:00 +0530")
        self.assertEqual(moment.utcoffset(), timedelta(hours=5, minutes=30))
        # 00:10 at +05:30 is 18:40 UTC the day before
        self.assertEqual(epoch, calendar.timegm((2023, 12, 31, 18, 40, 0)))
        self.assertEqual(moment.astimezone(timezone.utc), datetime(2023, 12, 31, 18, 40, tzinfo=timezone.utc))

    def test_every_month_and_any_case(self) -> None:
        for number, name in enumerate(MONTH_NAMES, start=1):
            for spelled in (name, name.upper(), name.lower()):
                moment, _ = clf_timestamp(f"05/{spelled}/2021:00:00:00 +0000")
                self.assertEqual(moment.month, number, spelled)

    def test_leap_day(self) -> None:
        self.assertEqual(clf_timestamp("29/Feb/2024:12:00:00 +0000")[0].day, 29)
        with self.assertRaises(ValueError):
            clf_timestamp("29/Feb/2023:12:00:00 +0000")

    def test_invalid_moments_raise(self) -> None:
        for text in (
            "31/Feb/2024:12:00:00 +0000",  # no such day
            "31/Apr/2024:12:00:00 +0000",
            "00/Jan/2024:12:00:00 +0000",
            "10/Foo/2024:12:00:00 +0000",  # no such month
            "10/Oct/2024:25:00:00 +0000",  # hour 25
            "10/Oct/2024:24:00:00 +0000",
            "10/Oct/2024:12:60:00 +0000",
            "10/Oct/2024:12:00:60 +0000",  # leap second
            "10/Oct/0000:12:00:00 +0000",
            "10/Oct/2024:12:00:00 +2400",  # offsets out of range
            "10/Oct/2024:12:00:00 +0060",
            "10/Oct/2024:12:00:00 0700",  # no sign
            "10/Oct/2024:12:00:00",  # no offset
            "10/Oct/2024:12:00:00 +07:00",
            "10/Oct/2024 12:00:00 +0000",  # wrong separators
            "1/Oct/2024:12:00:00 +0000",  # unpadded day
            "١٠/Oct/2024:12:00:00 +0000",  # non-ASCII digits
            " 10/Oct/2024:12:00:00 +0000",
            "10/Oct/2024:12:00:00 +0000 ",
            "",
            "-",
        ):
            with self.subTest(text=text), self.assertRaises(ValueError):
                clf_timestamp(text)

    def test_each_distinct_timestamp_is_converted_once(self) -> None:
        first = clf_timestamp("11/Nov/2011:11:11:11 +0100")
        again = clf_timestamp("".join(["11/Nov/2011:11:11:11", " +0100"]))  # equal text, other object
        self.assertIs(first, again)
        self.assertEqual(clf_timestamp.cache_info().maxsize, CACHE_SIZE)

    @given(
        st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)),
        st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    )
    def test_agrees_with_strptime(self, local: datetime, offset_minutes: int) -> None:
        moment = local.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
        text = clf_text(moment)
        parsed, epoch = clf_timestamp(text)
        reference = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        self.assertEqual(parsed, reference)
        self.assertEqual(parsed.utcoffset(), reference.utcoffset())
        self.assertEqual(epoch, int(reference.timestamp()))


class UtcOffsetTest(unittest.TestCase):
    def test_zones(self) -> None:
        self.assertIs(utc_offset("+0000"), timezone.utc)
        self.assertIs(utc_offset("-0000"), timezone.utc)
        self.assertEqual(utc_offset("-0700").utcoffset(None), timedelta(hours=-7))
        self.assertEqual(utc_offset("+0545").utcoffset(None), timedelta(hours=5, minutes=45))
        self.assertEqual(utc_offset("+2359").utcoffset(None), timedelta(hours=23, minutes=59))

    def test_zone_objects_are_shared(self) -> None:
        self.assertIs(utc_offset("+0530"), utc_offset("".join(["+05", "30"])))

    def test_bad_offsets(self) -> None:
        for text in ("+2400", "-0060", "0530", "+530", "+05300", "+05:3", "+ 530", "+\u0661\u0662\u0660\u0660"):
            with self.subTest(text=text), self.assertRaises(ValueError):
                utc_offset(text)


class W3CTimestampTest(unittest.TestCase):
    def test_utc_date_and_time(self) -> None:
        moment, epoch = w3c_timestamp("2024-03-01", "13:55:36")
        self.assertEqual(moment, datetime(2024, 3, 1, 13, 55, 36, tzinfo=timezone.utc))
        self.assertIs(moment.tzinfo, timezone.utc)
        self.assertEqual(epoch, calendar.timegm((2024, 3, 1, 13, 55, 36)))

    def test_seconds_and_fractions_are_optional(self) -> None:
        self.assertEqual(w3c_timestamp("2024-03-01", "13:55")[0].second, 0)
        moment, epoch = w3c_timestamp("2024-03-01", "13:55:36.25")
        self.assertEqual(moment.microsecond, 250000)
        self.assertEqual(epoch, calendar.timegm((2024, 3, 1, 13, 55, 36)))

    def test_invalid(self) -> None:
        for date, time in (
            ("2024-02-30", "00:00:00"),
            ("2024-13-01", "00:00:00"),
            ("2024-3-1", "00:00:00"),
            ("01/Mar/2024", "00:00:00"),
            ("2024-03-01", "25:00:00"),
            ("2024-03-01", "12:00:00Z"),
            ("2024-03-01", "-"),
            ("-", "12:00:00"),
        ):
            with self.subTest(date=date, time=time), self.assertRaises(ValueError):
                w3c_timestamp(date, time)


if __name__ == "__main__":
    unittest.main()

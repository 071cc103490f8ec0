"""No marketing SMS at night: the quiet window, on the shop's wall clock.

A text at 23:00 wakes people up, and several countries restrict marketing calls and texts at
night. The rule is on the *local wall clock* of the shop's IANA time zone
(``SHOPCRM_SMS_TIME_ZONE``, e.g. ``Europe/Berlin``): a moment is quiet when its local time
lies in ``[start, end)`` (default 21:00 to 08:00); a window whose start is later than its end
crosses midnight. Start equal to end means no quiet hours.

Daylight saving changes are where naive arithmetic goes wrong ("now + 11 hours" is 08:00
on most days, 09:00 or 07:00 on two), so nothing here adds durations to wall times:

* :func:`next_allowed` answers the first moment, in UTC, whose local time is outside the
  window; on the night the clocks change, 08:00 is found as a wall time of that date;
* a window end that does not exist that day (in the spring gap, e.g. 02:30 in Berlin on
  the last Sunday of March) is reached when the clock jumps over it, at the gap's end;
* a window end that exists twice (in the autumn fold) is its first occurrence still ahead.
  The wall clock then runs back: a moment of the repeated hour before the end is quiet again,
  because that is what its clock shows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class QuietHours:
    """The quiet window, ``[start, end)`` in local wall-clock time."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    @classmethod
    def parse(cls, text: str | None) -> QuietHours:
        """``"21:00-08:00"``; empty or ``none`` means no quiet hours (``00:00-00:00``)."""
        if text is None or text.strip().lower() in ("", "none", "off"):
            return cls(time(0, 0), time(0, 0))
        match = _WINDOW.fullmatch(text)
        if not match:
            raise ValueError(f"quiet hours {text!r} must look like 21:00-08:00 (start-end, 24-hour clock)")
        hours_a, minutes_a, hours_b, minutes_b = (int(group) for group in match.groups())
        if hours_a > 23 or hours_b > 23 or minutes_a > 59 or minutes_b > 59:
            raise ValueError(f"quiet hours {text!r}: hours go from 00 to 23 and minutes from 00 to 59")
        return cls(time(hours_a, minutes_a), time(hours_b, minutes_b))

    @property
    def empty(self) -> bool:
        return self.start == self.end

    def is_quiet_at(self, wall: time) -> bool:
        """Whether a local wall-clock time lies in the window."""
        wall = wall.replace(tzinfo=None)
        if self.empty:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


def zone(name: str) -> ZoneInfo:
    """The IANA time zone, or ValueError naming the setting's expected form."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{name!r} is not an IANA time zone; use a name such as Europe/Berlin") from None


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment for quiet hours must be timezone-aware (UTC), not naive")
    return moment.astimezone(UTC)


def may_send(now: datetime, tz: ZoneInfo, quiet: QuietHours = QuietHours()) -> bool:
    """Whether ``now`` (aware) lies outside the quiet window on the shop's clock (asked before
    every text: without a window there is no local time to work out)."""
    moment = _require_aware(now)
    return quiet.empty or not quiet.is_quiet_at(moment.astimezone(tz).time())


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _first_instant_showing(wall: datetime, tz: ZoneInfo, not_before: datetime) -> datetime:
    """The first UTC moment at or after ``not_before`` whose local clock shows ``wall`` or has
    just passed it (the moment the clock jumps over a wall time that does not exist)."""
    occurrences = sorted({wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)})
    real = [moment for moment in occurrences if _wall(moment, tz) == wall and moment >= not_before]
    if real:
        return real[0]
    # In a gap: the earlier reading shows a time before it, the later one a time after it;
    # the clock jumps in between, on a whole second.
    low, high = (int(moment.timestamp()) for moment in (occurrences[0], occurrences[-1]))
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            high = middle
        else:
            low = middle
    return max(datetime.fromtimestamp(high, UTC), not_before)


def next_allowed(now: datetime, tz: ZoneInfo, quiet: QuietHours = QuietHours()) -> datetime:
    """The first moment at or after ``now`` (aware) outside the quiet window, in UTC."""
    moment = _require_aware(now)
    for _ in range(3):  # at most one window end ahead; the loop only guards odd zone rules
        local = moment.astimezone(tz)
        if not quiet.is_quiet_at(local.time()):
            return moment
        end_date: date = local.date()
        if quiet.start > quiet.end and local.time() >= quiet.start:
            end_date += timedelta(days=1)  # the evening part: the window ends tomorrow morning
        moment = _first_instant_showing(datetime.combine(end_date, quiet.end), tz, moment)
    return moment

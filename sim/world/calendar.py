"""Clock conventions. The model clock is in hours; t = 0 is Monday 00:00 of the first week.

A :class:`~sim.scenario.Window` is a daily window on some weekdays (working hours, patrol hours,
a crew's shift). Deadlines in working hours or days, patrols and shifts all use the same three
functions here, so "working time" means one thing everywhere.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from sim.scenario import CalendarConfig, Deadline, Window

HOURS_PER_DAY = 24.0
HOURS_PER_WEEK = 168.0


def weekly_open_hours(w: Window) -> float:
    return w.hours_per_day * len(w.days)


# These run several times for every case (busy hours, deadlines, shifts, patrol hours): they
# read the window's cached tables and avoid calls where a comparison does.
def in_window(t: float, w: Window) -> bool:
    day = int(t // HOURS_PER_DAY)
    h = t - day * HOURS_PER_DAY
    return w.open_days[day % 7] and w.start_h <= h < w.end_h


def next_open(t: float, w: Window) -> float:
    """The earliest time >= t inside the window."""
    if w.always:
        return t
    day = int(t // HOURS_PER_DAY)
    open_days = w.open_days
    for d in range(day, day + 8):
        if not open_days[d % 7]:
            continue
        lo, hi = d * HOURS_PER_DAY + w.start_h, d * HOURS_PER_DAY + w.end_h
        if t < hi:
            return lo if lo > t else t
    raise AssertionError("a window with at least one day always opens within a week")


def open_hours_until(t: float, w: Window) -> float:
    """F(t): hours inside the window between time 0 and t (piecewise linear, non-decreasing)."""
    per_week, cum = w.week_table
    weeks = math.floor(t / HOURS_PER_WEEK)
    r = t - weeks * HOURS_PER_WEEK
    day = int(r // HOURS_PER_DAY)
    if day > 6:
        day = 6
    h = r - day * HOURS_PER_DAY
    inside = 0.0
    if w.open_days[day]:
        start = w.start_h
        x = h - start
        if x > 0.0:  # clipped to [0, hours_per_day]
            length = w.end_h - start
            inside = length if length < x else x
    return weeks * per_week + cum[day] + inside


def time_at_open_hours(y: float, w: Window) -> float:
    """The earliest t with F(t) = y, for y > 0: inside an open stretch or at its very end."""
    per_week, cum = w.week_table
    weeks = math.floor(y / per_week)
    rem = y - weeks * per_week
    if rem <= 0 and weeks > 0:
        weeks -= 1
        rem += per_week
    day = bisect_left(cum, rem, 1, 8) - 1
    return weeks * HOURS_PER_WEEK + day * HOURS_PER_DAY + w.start_h + (rem - cum[day])


def open_hours_between(t0: float, t1: float, w: Window) -> float:
    """Hours inside the window between t0 and t1 (0 if t1 <= t0)."""
    if t1 <= t0:
        return 0.0
    if w.always:
        return t1 - t0
    return open_hours_until(t1, w) - open_hours_until(t0, w)


def advance(t: float, amount_h: float, w: Window) -> float:
    """The time at which ``amount_h`` hours inside the window have passed since t."""
    if w.always:
        return t + max(amount_h, 0.0)
    if amount_h <= 0:
        return next_open(t, w)
    return max(t, time_at_open_hours(open_hours_until(t, w) + amount_h, w))


def deadline_h(deadline: Deadline, cal: CalendarConfig) -> float:
    """Length of a deadline in its own clock: working hours for working units, else hours."""
    if deadline.unit == "working_days":
        return deadline.value * cal.working_hours.hours_per_day
    if deadline.unit == "days":
        return deadline.value * HOURS_PER_DAY
    return deadline.value


def due_time(t_dispatch: float, deadline: Deadline, cal: CalendarConfig) -> float:
    """Absolute time a case dispatched at ``t_dispatch`` is due.

    Working units count only working time (a case dispatched on Friday evening with a 4-working-
    hour deadline is due Monday 12:30 with 08:30–17:30 working hours); plain hours and days count
    the clock.
    """
    length = deadline_h(deadline, cal)
    if deadline.unit in ("working_hours", "working_days"):
        return advance(t_dispatch, length, cal.working_hours)
    return t_dispatch + length


def clock_label(t: float) -> str:
    """``t`` hours as ``D+d HH:MM`` (day number and time of day), for narratives and logs."""
    day = int(t // HOURS_PER_DAY)
    minutes = int(round((t - day * HOURS_PER_DAY) * 60))
    if minutes == 24 * 60:
        day, minutes = day + 1, 0
    return f"D{day} {minutes // 60:02d}:{minutes % 60:02d}"

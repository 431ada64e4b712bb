"""Working time: exact values for hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.scenario import ALWAYS, CalendarConfig, Deadline, Window
from sim.world.calendar import (
    advance,
    clock_label,
    due_time,
    in_window,
    next_open,
    open_hours_between,
    open_hours_until,
)

WORK = Window(start_h=8.5, end_h=17.5, days=(0, 1, 2, 3, 4))  # Mon–Fri 08:30–17:30
CAL = CalendarConfig(working_hours=WORK)
MON, FRI, SAT = 0.0, 4 * 24.0, 5 * 24.0


@pytest.mark.parametrize("t, amount, expected", [
    (MON + 9, 4, MON + 13),              # inside the day
    (MON + 16, 4, 24 + 11.0),            # 1.5 h today, 2.5 h Tuesday from 08:30
    (MON + 3, 1, MON + 9.5),             # before opening
    (FRI + 16, 4, 7 * 24 + 11.0),        # Friday afternoon → Monday 11:00
    (SAT + 10, 9, 7 * 24 + 17.5),        # a whole working day, from the weekend
    (MON + 8.5, 45, FRI + 17.5),         # exactly one working week ends on Friday's close
    (MON + 8.5, 90, 7 * 24 + 4 * 24 + 17.5),
])
def test_advance(t, amount, expected):
    assert advance(t, amount, WORK) == pytest.approx(expected)


def test_advance_and_open_hours_are_inverse():
    for t in [0.0, 7.3, 30.1, 100.0, 130.5, 171.0]:
        for amount in [0.5, 3.0, 9.0, 40.0, 200.0]:
            end = advance(t, amount, WORK)
            assert open_hours_between(t, end, WORK) == pytest.approx(amount)


def test_next_open():
    assert next_open(MON + 18, WORK) == pytest.approx(24 + 8.5)
    assert next_open(FRI + 18, WORK) == pytest.approx(7 * 24 + 8.5)
    assert next_open(MON + 10, WORK) == MON + 10
    assert next_open(5.0, ALWAYS) == 5.0


def test_due_time_units():
    assert due_time(FRI + 18, Deadline(value=4, unit="working_hours"), CAL) == pytest.approx(
        7 * 24 + 12.5)
    assert due_time(MON + 8.5, Deadline(value=1, unit="working_days"), CAL) == pytest.approx(17.5)
    assert due_time(FRI + 16, Deadline(value=3, unit="hours"), CAL) == pytest.approx(FRI + 19)
    assert due_time(FRI + 16, Deadline(value=2, unit="days"), CAL) == pytest.approx(FRI + 64)


def test_clock_label():
    assert clock_label(0) == "D0 00:00"
    assert clock_label(24 + 8.5) == "D1 08:30"


def _open_hours_reference(t: float, w: Window) -> float:
    """F(t) as the plain formula: whole weeks, the days before this one, the part of today."""
    per_week = sum(w.hours_per_day for d in range(7) if d in w.days)
    weeks = math.floor(t / 168.0)
    r = t - weeks * 168.0
    day = min(int(r // 24.0), 6)
    before = sum(w.hours_per_day for d in range(day) if d in w.days)
    inside = min(max(r - day * 24.0 - w.start_h, 0.0), w.hours_per_day) if day in w.days else 0.0
    return weeks * per_week + before + inside


@pytest.mark.parametrize("w", [Window(start_h=8.5, end_h=17.5, days=(0, 1, 2, 3, 4)),
                               Window(start_h=0.0, end_h=24.0, days=(5, 6)),
                               Window(start_h=6.25, end_h=22.0, days=(0, 2, 6)),
                               Window(start_h=0.0, end_h=24.0)])
def test_window_functions_equal_their_plain_definitions(w):
    rng = np.random.default_rng(3)
    ts = np.concatenate([rng.random(3000) * 900.0,  # anywhere in five weeks
                         np.arange(0.0, 900.0, 0.25)])  # on the hour, on window edges
    for t in ts.tolist():
        assert open_hours_until(t, w) == _open_hours_reference(t, w)  # bit for bit
        day, h = int(t // 24.0), t - int(t // 24.0) * 24.0
        inside = (day % 7) in w.days and w.start_h <= h < w.end_h
        assert in_window(t, w) is inside
        t_open = next_open(t, w)
        assert t_open >= t and in_window(t_open, w)
        assert inside == (t_open == t)
        # nothing open in between: the window's hours from t to t_open are none
        assert open_hours_between(t, t_open, w) == 0.0

"""Working time: exact values for hand-checked cases."""

from __future__ import annotations

import pytest

from sim.scenario import ALWAYS, CalendarConfig, Deadline, Window
from sim.world.calendar import advance, clock_label, due_time, next_open, open_hours_between

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

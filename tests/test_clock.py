"""The engine's run loop and lean processes behave as SimPy's own (``sim.engine.clock``)."""

from __future__ import annotations

import simpy
from simpy.core import URGENT

from sim.engine.clock import DelayedProcess, LeanProcess, run_clock, timeout


def _scenario(env: simpy.Environment, log: list, lean: bool) -> None:
    """Processes that tie at whole hours, urgent events at the stop time, a failed event
    handled by its process, a condition over processes and a process started later."""
    proc = LeanProcess if lean else simpy.Process

    def worker(name: str, delays: list[float]):
        for d in delays:
            yield env.timeout(d)
            log.append((env.now, name))
        return name

    def failing():
        ev = env.event()
        env.timeout(1.0).callbacks.append(lambda _e: ev.fail(ValueError("x")))
        try:
            yield ev
        except ValueError:
            log.append((env.now, "caught"))

    def waiter():
        ps = [proc(env, worker(f"w{k}", [0.5, 1.5])) for k in range(3)]
        yield env.all_of(ps)
        log.append((env.now, "all", tuple(p.value for p in ps)))

    for k in range(4):
        proc(env, worker(f"p{k}", [1.0, 1.0, 0.5 * k]))
    proc(env, failing())
    proc(env, waiter())
    if lean:
        DelayedProcess(env, lambda: worker("late", [1.0]), 2.0)
        DelayedProcess(env, lambda: None, 2.0)
    else:
        env.timeout(2.0).callbacks.append(lambda _e: env.process(worker("late", [1.0])))
    # urgent events exactly at a stop time: scheduled before the run they run in it
    urgent = simpy.Event(env)
    urgent._ok, urgent._value = True, None
    urgent.callbacks.append(lambda _e: log.append((env.now, "urgent")))
    env.schedule(urgent, URGENT, 3.0)


def _run(lean: bool) -> list:
    env = simpy.Environment()
    log: list = []
    _scenario(env, log, lean)
    for t in (1.0, 2.0, 3.0, 3.5, 10.0):
        if lean:
            run_clock(env, t)
        else:
            env.run(until=t)
        log.append((env.now, "stop"))
    return log


def test_run_clock_and_lean_processes_give_simpys_order():
    assert _run(lean=True) == _run(lean=False)


def test_run_clock_runs_what_simpy_runs_at_the_stop_time():
    env = simpy.Environment()
    seen = []
    env.timeout(2.0).callbacks.append(lambda _e: seen.append("normal at 2"))
    run_clock(env, 2.0)
    assert seen == [] and env.now == 2.0  # a normal event at the stop time waits
    run_clock(env, 2.5)
    assert seen == ["normal at 2"]


def test_lean_process_end_is_no_event_unless_someone_waits():
    env = simpy.Environment()

    def quick():
        yield env.timeout(1.0)
        return 7

    p = LeanProcess(env, quick())
    run_clock(env, 1.5)
    n = len(env._queue)
    assert p.processed and p.value == 7 and n == 0

    def waits_after():
        v = yield p  # already over: resumes at once with its value
        return v + 1

    q = LeanProcess(env, waits_after())
    run_clock(env, 2.0)
    assert q.value == 8


def test_a_failing_lean_process_still_crashes_the_run():
    env = simpy.Environment()

    def bad():
        yield env.timeout(1.0)
        raise KeyError("boom")

    LeanProcess(env, bad())
    try:
        run_clock(env, 5.0)
    except KeyError:
        pass
    else:
        raise AssertionError("the failure was swallowed")


def test_timeout_is_simpys_timeout():
    env = simpy.Environment()
    env.timeout(0.5)  # something already pending
    ours, theirs = timeout(env, 1.25), env.timeout(1.25)
    (t1, p1, e1, ev1), (t2, p2, e2, ev2) = sorted(env._queue)[1:]
    assert (t1, p1, e1 + 1) == (t2, p2, e2) and ev1 is ours and ev2 is theirs
    assert type(ours) is type(theirs) and vars(ours).keys() == vars(theirs).keys()
    assert (ours._delay, ours._ok, ours._value, ours.callbacks) == (1.25, True, None, [])
    try:
        timeout(env, -1.0)
    except ValueError:
        pass
    else:
        raise AssertionError("a negative delay was accepted")

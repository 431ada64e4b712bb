"""The case lifecycle on the information platform: the seven standard steps (S2.3, facts.md).

    report (信息收集) → filing and screening (案卷建立) → dispatch (任务派遣; starts the deadline
    clock) → handling by a department crew (任务处理) → feedback (处理反馈) → on-site verification
    by a grid worker and closure (核查结案) → evaluation (综合评价, in the KPIs)

Detours: a minor problem found on patrol may be fixed on the spot; a complex case, or one that
needs several departments, goes to the grid manager to coordinate before the crews go out; a
misrouted case goes to the wrong department, costs it the screening (and sometimes a wasted crew
visit) and is returned (回退) and dispatched again by an operator; a fix that fails verification is
sent back for rework (返工); at each missed deadline an event escalates the case one level and that
level's team reviews it (``sim.agents.levels``); a case the department cannot solve, that failed
too many reworks, or that is still unsolved after the district's deadline is parked (挂账).

A department may *schedule* its work: ``scheduling_lead`` hours pass between dispatch and the
crew's first visit (an appointment), drawn from the case's own uniform.

Crews are claimed only while their shift is open (``sim.agents.departments``); work still in
progress when a shift ends runs on as overtime or resumes next shift (``end_of_shift``). A
verifier goes out only in patrol hours and takes a worker slot only then.

Every random choice and duration of a case comes from the case itself: its first pass from the
uniforms the incident drew at birth (``sim.engine.case.U_*``), everything else from
``sim.engine.case.case_uniform`` keyed by purpose — never from a stream shared in event order.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Generator

import simpy

from sim.agents.departments import shift_end
from sim.agents.levels import crew_street, crew_travel_h, escalate
from sim.engine import case as I
from sim.engine.case import Incident, case_uniform
from sim.engine.clock import timeout
from sim.world.calendar import due_time, in_window, next_open

if TYPE_CHECKING:
    from sim.agents import Department
    from sim.engine.model import GridModel


def park(m: "GridModel", inc: Incident) -> None:
    inc.t_parked = m.env.now
    m.finish_case(inc, "parked")


def case_process(m: "GridModel", inc: Incident) -> Generator:
    """One case from its first report to closure or parking (a SimPy process)."""
    env = m.env
    sc = m.scenario
    plat = sc.platform
    sub = m.subtypes[inc.sub]
    u = inc.u
    g = inc.grid
    inc.state = "reported"

    # 1. report — a worker who finds a minor problem may fix it at once (S1.4)
    if inc.channel == "patrol":
        worker = m.pick_worker(g, u[I.U_WORKER])
        inc.worker = worker.unique_id
        worker.reports += 1
        if sub.minor and u[I.U_ONSPOT] < sc.patrol.on_spot_fix_prob * worker.skill:
            pool = m.worker_pools[g]
            ev = pool.acquire()
            if ev is not None:
                yield ev
            t0 = env.now
            d = sc.patrol.on_spot_fix_time.ppf(u[I.U_ONSPOT_TIME])
            m.busy_add("worker", t0, t0 + d, g)
            yield timeout(env, d)
            pool.release_from(t0)
            worker.on_spot_fixes += 1
            inc.on_spot = True
            inc.t_filed = inc.t_closed = env.now
            m.finish_case(inc, "closed")
            return
        yield timeout(env, sc.patrol.report_time.ppf(u[I.U_REPORT_TIME]))

    # 2. filing and screening by the platform
    ops = m.operators
    ev = ops.acquire()
    if ev is not None:
        yield ev
    yield timeout(env, plat.screening_time.ppf(u[I.U_SCREEN]))
    ops.release()
    inc.t_filed = env.now
    inc.state = "filed"
    if plat.handoff_delay.mean > 0:  # paper transfer between bodies, no shared platform
        yield timeout(env, plat.handoff_delay.ppf(case_uniform(inc, "handoff")))

    # 3. dispatch: starts the deadline clock (and the escalation events)
    auto = u[I.U_AUTO] < plat.auto_dispatch_share
    yield from _dispatch_step(m, auto, u[I.U_DISPATCH])
    m.start_deadline(inc, sub)
    inc.state = "dispatched"
    if u[I.U_COMPLEX] < sub.complex_prob or sub.partners:
        inc.complex = u[I.U_COMPLEX] < sub.complex_prob
        inc.state = "coordinating"
        pool = m.manager_pool(g)
        ev = pool.acquire()
        if ev is not None:
            yield ev
        yield timeout(env, plat.manager_coordination_time.ppf(u[I.U_COORD]))
        pool.release()
        m.manager_of(g).cases_coordinated += 1
    misroute = plat.auto_misroute_prob if auto \
        else plat.misroute_prob * m.policies.misroute_factor(inc)
    if u[I.U_MISROUTE] < misroute:
        yield from _misrouted(m, inc, sub.department, sub.partners)
        yield from _dispatch_step(m, False, case_uniform(inc, "redispatch_time"))
    if inc.park_due:
        park(m, inc)
        return

    # 4–6. handling, feedback, verification; rework until it holds
    dept = m.departments[sub.department]
    cfg = dept.cfg
    u_handle, u_fix, u_miss, u_feedback, u_vtime = (
        u[I.U_HANDLE], u[I.U_FIX], u[I.U_VERIFY], u[I.U_FEEDBACK], u[I.U_VERIFY_TIME])
    while True:
        r = inc.reworks
        inc.state = "handling"
        work_h = cfg.handling_time.ppf(u_handle) * dept.time_factor
        lead = cfg.scheduling_lead
        if r == 0 and lead.mean > 0:  # an appointment: the crew goes on the booked day
            inc.state = "scheduled"
            yield timeout(env, lead.ppf(case_uniform(inc, "lead")))
            inc.state = "handling"
        if r == 0 and sub.partners:
            done = yield from _joint_visits(m, inc, sub.department, sub.partners,
                                            sub.joint_mode, u_handle)
        else:
            done = yield from _crew_visit(m, inc, dept, m.travel_h(sub.department, g), work_h)
        if not done:  # parked while it waited for a crew
            park(m, inc)
            return
        dept.cases_handled += 1
        if inc.complex and u[I.U_UNSOLVABLE] < sub.unsolvable_prob:
            park(m, inc)
            return

        inc.state = "feedback"
        yield timeout(env, plat.feedback_delay.ppf(u_feedback))

        inc.state = "verification"
        fixed = u_fix < dept.fix_success_prob
        u_verifier = case_uniform(inc, "verifier", r)
        if m.policies.staged_verification(inc, u_verifier, fixed):
            break  # staged: closed without a site visit (sim.policies.incentives)
        yield from _verify(m, inc, sc.patrol.verification_time.ppf(u_vtime))
        verifier = m.pick_worker(g, u_verifier)
        verifier.verifications += 1
        if fixed:
            break
        if u_miss < plat.verification_miss_prob * (1.0 - verifier.skill):
            inc.false_closure = True
            break
        inc.reworks += 1
        dept.reworks += 1
        if inc.reworks > plat.max_reworks:
            park(m, inc)
            return
        k = inc.reworks
        u_handle, u_fix, u_miss, u_feedback, u_vtime = (
            case_uniform(inc, "handle", k), case_uniform(inc, "fix", k),
            case_uniform(inc, "miss", k), case_uniform(inc, "feedback", k),
            case_uniform(inc, "verify_time", k))

    # 7. closure
    inc.t_closed = env.now
    m.finish_case(inc, "closed")


def _verify(m: "GridModel", inc: Incident, duration_h: float) -> Generator:
    """A grid worker checks the site in patrol hours; the worker slot is taken only then."""
    env = m.env
    hours = m.scenario.patrol.hours
    pool = m.worker_pools[inc.grid]
    while True:
        start = next_open(env.now, hours)
        if start > env.now:
            yield timeout(env, start - env.now)
        ev = pool.acquire()
        if ev is not None:
            yield ev
        if hours.always or in_window(env.now, hours):
            break
        pool.release_from(env.now)  # the queue ran past patrol hours: wait for the next ones
    t0 = env.now
    m.busy_add("worker", t0, t0 + duration_h, inc.grid)
    yield timeout(env, duration_h)
    pool.release_from(t0)


def _joint_visits(m: "GridModel", inc: Incident, lead: str, partners: tuple[str, ...],
                  mode: str, u_handle: float) -> Generator:
    """A case that needs several departments: their crews act together or one after another.

    Each department's crew works its own handling time (the same uniform on each department's
    distribution); together, the case is handled when the last crew is done."""
    env = m.env
    visits = []
    for code in (lead, *partners):
        d = m.departments[code]
        work_h = d.cfg.handling_time.ppf(u_handle) * d.time_factor
        visits.append((d, m.travel_h(code, inc.grid), work_h))
    if mode == "sequential":
        for d, travel_h, work_h in visits:
            done = yield from _crew_visit(m, inc, d, travel_h, work_h)
            if not done:
                return False
        return True
    procs = [env.process(_crew_visit(m, inc, d, travel_h, work_h))
             for d, travel_h, work_h in visits]
    yield env.all_of(procs)
    return all(p.value for p in procs)


def _crew_visit(m: "GridModel", inc: Incident, dept: "Department", travel_h: float,
                work_h: float, wasted: bool = False) -> Generator:
    """A crew of ``dept`` from the case's street travels out, works ``work_h`` and travels back.

    Returns False if the case was parked while it waited for a crew. The first crew request of a
    case sets ``t_crew_req`` and, when granted, ``crew_wait_h`` (waiting for the shift included).
    While it waits, an escalation review that raises its priority puts it back in the queue at
    the new priority. When an emergency pre-empts the crew (``emergency.rules.routine_work:
    preempt``) the case asks for a crew again and the new crew does only the work that was left;
    an interruption on the way back just ends the visit.
    """
    env = m.env
    first = not wasted and inc.t_crew_req != inc.t_crew_req
    if first:
        inc.t_crew_req = env.now
    left_h = travel_h + work_h
    home_travel_h, served_by = travel_h, -1
    while True:
        street = crew_street(inc, m.street_of[inc.grid])  # a level team may move a waiting case
        if street != served_by:
            t_new = crew_travel_h(m, inc, dept, home_travel_h)
            left_h += t_new - travel_h
            travel_h, served_by = t_new, street
        crews = dept.crews[street]
        req, wait = crews.claim(inc.priority, inc.id)
        if wait is not None:  # no crew free (or off shift): wait for one, or for a signal
            if inc.signal is None:
                inc.signal = env.event()
            waiting = m.level_desks.waiting
            if not wasted:
                waiting[inc.id] = (dept.code, wait)
            yield wait | inc.signal
            waiting.pop(inc.id, None)
            if not wait.triggered:
                crews.unclaim(req)
                if inc.park_due:
                    if first:
                        inc.crew_wait_h = env.now - inc.t_crew_req
                    return False
                continue
        if first:
            inc.crew_wait_h = env.now - inc.t_crew_req
            first = False
        progress = [0.0]
        try:
            yield from crew_time(m, dept, left_h, progress, m.street_of[inc.grid])
        except simpy.Interrupt:
            left_h = travel_h + min(work_h, left_h - progress[0])
            continue
        break
    if not wasted:
        inc.t_handled = env.now
    try:
        if travel_h:
            yield from crew_time(m, dept, travel_h, [0.0], m.street_of[inc.grid])
    except simpy.Interrupt:
        pass
    crews.give_back(req)
    return True


def crew_time(m: "GridModel", dept: "Department", hours: float,
              progress: list[float], street: int = -1) -> Generator:
    """``hours`` of a claimed crew's time. Past the end of the shift the work either runs on (paid
    overtime, counted apart from the shift's busy hours) or stops and resumes when the shift opens
    again (``end_of_shift``). ``progress[0]`` accumulates the hours done, also when interrupted."""
    env = m.env
    shift = dept.cfg.shift
    resume = dept.cfg.end_of_shift == "resume_next_shift" and not shift.always
    left = hours
    while left > 1e-12:
        seg = left
        if resume:
            start = next_open(env.now, shift)
            if start > env.now:
                yield timeout(env, start - env.now)  # the crew is kept but not working
            seg = min(left, shift_end(env.now, shift) - env.now)
        token = m.busy_start(dept.code, 1, street)
        t0 = env.now
        try:
            yield timeout(env, seg)
        except simpy.Interrupt:
            progress[0] += env.now - t0
            m.busy_stop(token)
            raise
        m.busy_stop(token)
        progress[0] += seg
        left -= seg


def _misrouted(m: "GridModel", inc: Incident, lead: str, partners: tuple[str, ...]) -> Generator:
    """The case goes to a wrong department first: it screens the case (and with
    ``misroute_visit_prob`` sends a crew for nothing), then returns it (回退)."""
    env = m.env
    plat = m.scenario.platform
    inc.state = "returned"
    others = [c for c, d in m.departments.items()
              if c != lead and c not in partners and d.crews]
    if others:
        wrong = m.departments[others[min(int(inc.u[I.U_WRONG_DEPT] * len(others)),
                                         len(others) - 1)]]
        inc.misrouted_to = wrong.code
        if case_uniform(inc, "misroute_visit") < plat.misroute_visit_prob:
            yield from _crew_visit(m, inc, wrong, m.travel_h(wrong.code, inc.grid),
                                   plat.misroute_visit_time.ppf(
                                       case_uniform(inc, "misroute_visit_time")), wasted=True)
            wrong.misrouted_visits += 1
        wrong.returns += 1
    yield timeout(env, plat.return_delay.ppf(inc.u[I.U_RETURN_DELAY]))
    inc.returns += 1
    inc.state = "dispatched"


def _dispatch_step(m: "GridModel", auto: bool, u_time: float) -> Generator:
    """A dispatcher's work, unless the platform dispatches the case automatically."""
    if auto:
        return
    ops = m.operators
    ev = ops.acquire()
    if ev is not None:
        yield ev
    yield timeout(m.env, m.scenario.platform.dispatch_time.ppf(u_time))
    ops.release()


# ------------------------------------------------------------------------------------ escalation
# Most cases close before their deadline, so a deadline is not an event from the start: it waits
# in the model's deadline book (a heap of case ids, so that closed cases are not kept alive) and
# becomes a timeout only in the hour it falls in, if its case is still open then
# (``release_deadlines``, called at the start of every hour).
def schedule_deadline(m: "GridModel", inc: Incident, t_due: float, level: int) -> None:
    """At ``t_due`` the case, if still open, escalates to ``level`` (4: past the district)."""
    if t_due < m.deadlines_until:
        ev = m.env.timeout(max(0.0, t_due - m.env.now))
        ev.callbacks.append(lambda _e: _missed_deadline(m, inc, t_due, level))
    elif math.isfinite(t_due):
        m.deadline_seq += 1
        heapq.heappush(m.deadline_book, (t_due, m.deadline_seq, inc.id, level))


def release_deadlines(m: "GridModel", until: float) -> None:
    """Make timeouts of the booked deadlines before ``until`` whose cases are still open."""
    m.deadlines_until = until
    book = m.deadline_book
    cases = m.open_incidents
    while book and book[0][0] < until:
        t_due, _, iid, level = heapq.heappop(book)
        inc = cases.get(iid)  # None: closed and recorded since
        if inc is not None and _open(inc):
            schedule_deadline(m, inc, t_due, level)


def _open(inc: Incident) -> bool:
    return not (inc.state in ("closed", "parked") or inc.t_parked == inc.t_parked
                or inc.t_closed == inc.t_closed)


def _missed_deadline(m: "GridModel", inc: Incident, t_due: float, level: int) -> None:
    if not _open(inc):
        return
    esc = m.scenario.platform.escalation
    if level > 3:
        x = inc.extra
        if x and x.get("extension") and not x.get("extension_used"):
            # the district team's extension (延期): one more deadline period before parking
            x["extension_used"] = True
            nxt = due_time(t_due, m.subtypes[inc.sub].deadline, m.scenario.calendar)
            if math.isfinite(nxt):
                schedule_deadline(m, inc, nxt, level)
            return
        if esc.park_after_last_level:
            inc.park_due = True
            inc.wake()
        return
    inc.escalation = level
    escalate(m, inc, level)
    nxt = due_time(t_due, m.subtypes[inc.sub].deadline, m.scenario.calendar)
    if math.isfinite(nxt):
        schedule_deadline(m, inc, nxt, level + 1)

"""The case lifecycle on the information platform: the seven standard steps (S2.3, facts.md).

    report (信息收集) → filing and screening (案卷建立) → dispatch (任务派遣; starts the deadline
    clock) → handling by a department crew (任务处理) → feedback (处理反馈) → on-site verification
    by a grid worker and closure (核查结案) → evaluation (综合评价, in the KPIs)

Detours: a minor problem found on patrol may be fixed on the spot; a complex case goes to the
grid manager to coordinate before dispatch; a misrouted case is returned (回退) and dispatched
again; a fix that fails verification is sent back for rework (返工); an overdue case escalates one
level at each missed deadline; a case the department cannot solve — or that failed too many
reworks — is parked (挂账) for the joint meeting.

Every random choice and duration of a case's first pass comes from the uniforms the incident drew
at birth (``sim.engine.case.U_*``), so policies compared at one seed see the same cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator

import simpy

from sim.engine import case as I
from sim.engine.case import Incident
from sim.world.calendar import next_open

if TYPE_CHECKING:
    from sim.agents import Department
    from sim.engine.model import GridModel


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
            req = pool.request()
            yield req
            token = m.busy_start("worker", 1)
            yield env.timeout(sc.patrol.on_spot_fix_time.ppf(u[I.U_ONSPOT_TIME]))
            pool.release(req)
            m.busy_stop(token)
            worker.on_spot_fixes += 1
            inc.on_spot = True
            inc.t_filed = inc.t_closed = env.now
            m.finish_case(inc, "closed")
            return
        yield env.timeout(sc.patrol.report_time.ppf(u[I.U_REPORT_TIME]))

    # 2. filing and screening by the platform
    ops = m.operators
    req = ops.request()
    yield req
    yield env.timeout(plat.screening_time.ppf(u[I.U_SCREEN]))
    ops.release(req)
    inc.t_filed = env.now
    inc.state = "filed"
    if plat.handoff_delay.mean > 0:  # paper transfer between bodies, no shared platform
        yield env.timeout(plat.handoff_delay.ppf(m.streams["handoff"].random()))

    # 3. dispatch: starts the deadline clock
    yield from _dispatch_step(m, u[I.U_AUTO], u[I.U_DISPATCH])
    m.start_deadline(inc, sub)
    inc.state = "dispatched"
    if u[I.U_COMPLEX] < sub.complex_prob:
        inc.complex = True
        inc.state = "coordinating"
        pool = m.manager_pool(g)
        req = pool.request()
        yield req
        yield env.timeout(plat.manager_coordination_time.ppf(u[I.U_COORD]))
        pool.release(req)
        m.manager_of(g).cases_coordinated += 1
    if u[I.U_MISROUTE] < plat.misroute_prob * m.policies.misroute_factor(inc):
        inc.state = "returned"
        yield env.timeout(plat.return_delay.ppf(u[I.U_RETURN_DELAY]))
        inc.returns += 1
        m.departments[sub.department].returns += 1
        yield from _dispatch_step(m, m.rng_service.random(), m.rng_service.random())

    # 4–6. handling, feedback, verification; rework until it holds
    dept = m.departments[sub.department]
    cfg = dept.cfg
    crews = dept.crews[m.city.street[g]]
    travel_h = m.travel_h(sub.department, g)
    u_handle, u_fix, u_verify, u_feedback, u_vtime = (
        u[I.U_HANDLE], u[I.U_FIX], u[I.U_VERIFY], u[I.U_FEEDBACK], u[I.U_VERIFY_TIME])
    while True:
        inc.state = "handling"
        priority = -(sub.urgency + m.escalation_at(inc, env.now))
        yield from _crew_visit(m, inc, dept, crews, priority, travel_h,
                               cfg.handling_time.ppf(u_handle) * dept.time_factor)
        dept.cases_handled += 1
        if inc.complex and u[I.U_UNSOLVABLE] < sub.unsolvable_prob:
            m.finish_case(inc, "parked")
            return

        inc.state = "feedback"
        yield env.timeout(plat.feedback_delay.ppf(u_feedback))

        inc.state = "verification"
        if m.policies.staged_verification(inc, u_verify, u_fix < dept.fix_success_prob):
            break  # staged: closed without a site visit (sim.policies.incentives)
        pool = m.worker_pools[g]
        req = pool.request()
        yield req
        start = next_open(env.now, sc.patrol.hours)
        if start > env.now:
            yield env.timeout(start - env.now)
        token = m.busy_start("worker", 1)
        yield env.timeout(sc.patrol.verification_time.ppf(u_vtime))
        pool.release(req)
        m.busy_stop(token)
        verifier = m.pick_worker(g, u_verify)
        verifier.verifications += 1
        if u_fix < dept.fix_success_prob:
            break
        if u_verify < plat.verification_miss_prob * (1.0 - verifier.skill):
            inc.false_closure = True
            break
        inc.reworks += 1
        dept.reworks += 1
        if inc.reworks > plat.max_reworks:
            m.finish_case(inc, "parked")
            return
        rs = m.rng_service
        u_handle, u_fix, u_verify, u_feedback, u_vtime = (
            rs.random(), rs.random(), rs.random(), rs.random(), rs.random())

    # 7. closure
    inc.t_closed = env.now
    m.finish_case(inc, "closed")


def _crew_visit(m: "GridModel", inc: Incident, dept: "Department", crews: simpy.Resource,
                priority: int, travel_h: float, work_h: float) -> Generator:
    """A department crew travels out, works ``work_h`` and travels back (step 4).

    When an emergency pre-empts the crew (``emergency.rules.routine_work: preempt``, see
    ``sim.emergency``) the case asks for a crew again; the new crew travels out and does only the
    work that was left. An interruption on the way back just ends the visit.
    """
    env = m.env
    t_req = env.now
    left_h = travel_h + work_h
    first = True
    while True:
        req = crews.request(priority=priority, preempt=False)
        req.case_id = inc.id  # lets an emergency name the case it pre-empts
        yield req
        if first and inc.reworks == 0:
            inc.crew_wait_h = env.now - t_req
        first = False
        token = None
        try:
            start = next_open(env.now, dept.cfg.shift)
            if start > env.now:
                yield env.timeout(start - env.now)
            token = m.busy_start(dept.code, 1)
            t0 = env.now
            yield env.timeout(left_h)
        except simpy.Interrupt:
            if token is not None:
                m.busy_stop(token)
                work_left = min(work_h, left_h - (env.now - t0))
                left_h = travel_h + work_left
            continue
        break
    inc.t_handled = env.now
    try:
        if travel_h:
            yield env.timeout(travel_h)
    except simpy.Interrupt:
        pass
    crews.release(req)
    m.busy_stop(token)


def _dispatch_step(m: "GridModel", u_auto: float, u_time: float) -> Generator:
    """A dispatcher's work, unless the platform dispatches the case automatically."""
    plat = m.scenario.platform
    if u_auto < plat.auto_dispatch_share:
        return
    req = m.operators.request()
    yield req
    yield m.env.timeout(plat.dispatch_time.ppf(u_time))
    m.operators.release(req)

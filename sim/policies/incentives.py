"""Appraisal schemes and the behaviour they induce (S3.3, S6.2, S7.1): effort and gaming.

Nothing here assumes that an incentive works. Each grid worker, at each appraisal decision,
maximises an expected utility built from the scheme's own rewards and penalties, the chance of
being caught, and a personal honesty cost; what follows — more patrol effort, padded reports,
cases kept off the record, staged verifications — emerges from that choice, and supervision
(spot checks, field inspections) and resident complaints catch some of the gaming.

Worker ``i`` with base effort e0 (``staffing.effort``), observed genuine reports per unit effort
per month ρ, honesty cost m_i (a draw of ``behaviour.honesty_cost_yuan``), perceived risk
multiplier r_i (raised after being caught, fading by half each decision):

    b   = pay_per_report + pay_per_closure                       (reward of one credited report)
    od  = overdue_penalty · p_overdue(grid) / workers(grid)   (penalty share a report brings)
    π_p = min(1, r_i · spot_check_share · spot_check_detect_prob)
    U(e, n) = (b − od)·ρ·e − κ·(e − e0)² + n·(b − m_i − π_p·F − time_value·report_h) − c·n²/2
              − quota_penalty · [ρ·e + n < quota]

chosen over a grid of efforts e ∈ [effort_min, effort_max] and padded reports n ∈ {interior
optimum, just enough to meet the quota} (F = caught_penalty, κ = effort_cost, c = padding_cost).
With no reward for reporting (b = 0) padding never pays: n = 0.

Keeping a found problem off the record (collusion with the assessed unit) pays, per case,

    side_payment_share · (penalty_per_case + p_overdue(dept) · penalty_per_overdue)
    + overdue_penalty · p_overdue(dept) / workers(grid) − b
    against  m_i + min(1, r_i·(field_inspection_prob + q_res·p_complain·investigation_detect))·F
(+ satisfaction_bonus · α · S with a satisfaction-weighted scheme),
and a staged verification (no site visit; a failed fix is then closed as if fixed) pays
``time_value · verification_h + p_fail · overdue_penalty·p_overdue/workers`` against
``m_i + min(1, r_i·(spot_check_share·detect + p_fail·p_complain·investigation_detect))·F
+ p_fail · satisfaction_bonus · α · S``. Each gaming act is re-checked by the supervision stream
when it happens; caught acts cost the worker F and raise r_i.

Departments are ranked each cycle by on-time closure rate: the bottom ``black_list_share`` (and
any department that paid overdue penalties) is held to account and speeds up (handling time ÷
(1 + speed), fix success × (1 − rush_quality_loss · speed)); with a red list, departments not on
it raise care (fix failures avoided ``care``, handling time × (1 + care_time_cost · care)).
Without pressure both relax. Whether on-time closure improves is therefore an outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.engine import case as I
from sim.engine.case import Incident
from sim.policies.tally import Tally
from sim.world.calendar import next_open

if TYPE_CHECKING:
    from sim.engine.model import GridModel

MONTH_H = 30 * 24.0
PRIOR_OVERDUE = 0.05  # assumed overdue share before anything has been observed


@dataclass
class WorkerState:
    """What a worker's choices depend on and what they chose (one per worker post)."""

    worker: Any
    honesty_yuan: float
    base_effort: float
    risk: float = 1.0
    rho: float = float("nan")  # genuine reports per unit effort per month
    padded_per_period: int = 0
    suppress_depts: frozenset = frozenset()
    stage: bool = False
    reports_at_decision: int = 0
    verifs_at_cycle: int = 0
    reports_at_cycle: int = 0
    credited_in_cycle: float = 0.0  # genuine + padded reports credited since the cycle began
    pay_in_cycle: float = 0.0  # variable pay since the cycle began
    padded_total: int = 0


class Outcomes:
    """Running counts on cases per grid and per department (for appraisal and disclosure)."""

    def __init__(self, n_grids: int, depts: list[str]):
        self.grid_on_time = np.zeros(n_grids)
        self.grid_late = np.zeros(n_grids)
        self.dept_on_time = dict.fromkeys(depts, 0.0)
        self.dept_late = dict.fromkeys(depts, 0.0)
        self.dept_penalty = dict.fromkeys(depts, 0.0)

    def reset_departments(self) -> None:
        for d in self.dept_on_time:
            self.dept_on_time[d] = self.dept_late[d] = self.dept_penalty[d] = 0.0


class Incentives:
    """Worker and department appraisal on monthly cycles, and the gaming it induces."""

    def __init__(self, m: "GridModel", tally: Tally):
        self.m = m
        self.tally = tally
        sc = m.scenario
        self.cfg = sc.appraisal
        self.ws = sc.appraisal.worker_scheme
        self.ds = sc.appraisal.department_scheme
        self.sup = sc.appraisal.supervision
        self.beh = sc.appraisal.behaviour
        self.res = sc.residents
        self.rng = m.streams["behaviour"]
        self.rng_sup = m.streams["supervision"]
        traits = m.streams["staff_traits"]
        self.state: dict[int, WorkerState] = {}
        for ws in m.workers_by_grid:
            for w in ws:
                if w.unique_id in self.state:  # a patrol beat's worker, met on another grid
                    continue
                u = float(traits.random())
                self.state[w.unique_id] = WorkerState(w, self.beh.honesty_cost_yuan.ppf(u),
                                                      w.effort)
        self.out = Outcomes(m.city.n_grids, list(m.departments))
        self.p_od_dept = dict.fromkeys(m.departments, PRIOR_OVERDUE)
        self.p_od_grid = np.full(m.city.n_grids, PRIOR_OVERDUE)
        self.res_share_grid = np.zeros(m.city.n_grids)
        self._res_reports = np.zeros(m.city.n_grids)
        self._all_reports = np.zeros(m.city.n_grids)
        self._padded_id = 0
        minor = [k for k, s in enumerate(m.subtypes) if s.minor] or list(range(len(m.subtypes)))
        w = np.array([m.subtypes[k].rate_per_1000_households_per_day for k in minor]) + 1e-12
        self._pad_subs = minor
        self._pad_cum = np.cumsum(w / w.sum())
        self._last_decision = 0.0
        self._cycle_start = 0.0
        self.gaming_active = self._gaming_possible()
        # reports need crediting only when something is paid or counted for them
        self._credit_reports = bool(self.ws.pay_per_report_yuan or self.ws.quota_reports_per_month
                                    or sc.workforce.attrition.quit_sensitivity)

    # ------------------------------------------------------------------------------ quantities
    @property
    def reward_per_report(self) -> float:
        return self.ws.pay_per_report_yuan + self.ws.pay_per_closure_yuan

    def _present_workers(self, g: int) -> list:
        return [w for w in self.m.workers_by_grid[g] if w.present]

    def _n_present(self, g: int) -> int:
        return max(1, len(self._present_workers(g)))

    def _gaming_possible(self) -> bool:
        ws, beh, ds = self.ws, self.beh, self.ds
        return bool(self.reward_per_report > 0 or ws.quota_penalty_yuan > 0
                    or ws.overdue_penalty_yuan > 0 or beh.time_value_yuan_per_h > 0
                    or (beh.collusion_side_payment_share > 0
                        and (ds.penalty_per_case_yuan > 0 or ds.penalty_per_overdue_yuan > 0)))

    def complain_prob(self, g: int) -> float:
        trust = self.m.residents[g].trust
        return min(1.0, self.res.complaints.prob_per_bad_experience * trust / 0.5)

    # ---------------------------------------------------------------------------- worker choice
    def decide(self) -> None:
        """Every worker re-chooses effort and gaming from what the last period showed."""
        m, now = self.m, self.m.env.now
        days = (now - self._last_decision) / 24.0
        changed = False
        for st in self.state.values():
            w = st.worker
            if days > 0 and w.present:
                used = w.effort * (1.0 - w.training_share)
                if used > 0:
                    rho = (w.reports - st.reports_at_decision) * 30.0 / days / used
                    st.rho = rho if math.isnan(st.rho) else 0.5 * st.rho + 0.5 * rho
            st.reports_at_decision = w.reports
            st.risk = 1.0 + (st.risk - 1.0) / 2.0
            if w.present:
                changed |= self._choose(st)
        if changed:
            m.refresh_patrol_rates()
        self._last_decision = now

    def _choose(self, st: WorkerState) -> bool:
        """Best effort and gaming for one worker; True if the effort changed."""
        w, ws, beh, sup = st.worker, self.ws, self.beh, self.sup
        g = w.grid
        rho = 0.0 if math.isnan(st.rho) else st.rho
        b = self.reward_per_report
        n_w = self._n_present(g)
        od = ws.overdue_penalty_yuan * float(self.p_od_grid[g]) / n_w
        F = ws.caught_penalty_yuan
        pi_pad = min(1.0, st.risk * sup.spot_check_share * sup.spot_check_detect_prob)
        report_h = self.m.scenario.patrol.report_time.mean
        v = b - st.honesty_yuan - pi_pad * F - beh.time_value_yuan_per_h * report_h
        c = beh.padding_cost_yuan
        n_max = beh.padded_reports_max_per_month
        quota, q_pen = ws.quota_reports_per_month, ws.quota_penalty_yuan
        e0 = st.base_effort
        efforts = np.unique(np.concatenate([np.linspace(beh.effort_min, beh.effort_max, 61),
                                            [min(max(e0, beh.effort_min), beh.effort_max)]]))
        best = (-math.inf, 0.0, e0, 0)
        for e in efforts.tolist():
            genuine = rho * e
            u_e = (b - od) * genuine - beh.effort_cost_yuan * (e - e0) ** 2
            cands = {min(n_max, max(0, int(round(v / c))) if v > 0 else 0)}
            if quota and q_pen > 0 and genuine < quota:
                cands.add(min(n_max, int(math.ceil(quota - genuine))))
            for n in sorted(cands):
                u = u_e + n * v - c * n * n / 2.0
                if quota and q_pen > 0 and genuine + n < quota:
                    u -= q_pen
                cand = (u, -abs(e - e0), e, n)
                if self._better(cand, best):
                    best = cand
        _, _, effort, n = best
        changed = w.effort != effort
        w.effort = effort
        st.padded_per_period = int(n)
        st.suppress_depts = self._suppress_depts(st, b, od_scale=ws.overdue_penalty_yuan / n_w,
                                                 F=F)
        st.stage = self._stages(st, F, n_w)
        return changed

    @staticmethod
    def _better(cand: tuple, best: tuple) -> bool:
        """Higher utility wins; ties go to the effort nearest the base and fewer padded reports."""
        if cand[0] > best[0] + 1e-9:
            return True
        if cand[0] < best[0] - 1e-9:
            return False
        return (cand[1], -cand[3]) > (best[1], -best[3])

    def _suppress_depts(self, st: WorkerState, b: float, od_scale: float, F: float) -> frozenset:
        beh, ds, sup, cmp_ = self.beh, self.ds, self.sup, self.res.complaints
        g = st.worker.grid
        q_res = float(self.res_share_grid[g])
        pi = min(1.0, st.risk * (sup.field_inspection_prob
                                 + q_res * self.complain_prob(g) * cmp_.investigation_detect_prob))
        # a problem left standing is a bad experience for residents: a satisfaction-weighted
        # scheme makes it cost the worker α·S points of bonus
        sat_hit = self.ws.satisfaction_bonus_yuan_per_point * self.res.satisfaction_learning_rate \
            * self.m.residents[g].satisfaction
        cost = st.honesty_yuan + pi * F + sat_hit
        out = []
        for d, p_od in self.p_od_dept.items():
            gain = beh.collusion_side_payment_share * (ds.penalty_per_case_yuan
                                                       + p_od * ds.penalty_per_overdue_yuan)
            gain += od_scale * p_od - b
            if gain > cost:
                out.append(d)
        return frozenset(out)

    def _stages(self, st: WorkerState, F: float, n_w: int) -> bool:
        beh, sup, cmp_, ws = self.beh, self.sup, self.res.complaints, self.ws
        g = st.worker.grid
        fix = [d.fix_success_prob for d in self.m.departments.values()]
        p_fail = 1.0 - float(np.mean(fix)) if fix else 0.0
        p_od = float(self.p_od_grid[g])
        gain = beh.time_value_yuan_per_h * self.m.scenario.patrol.verification_time.mean \
            + p_fail * ws.overdue_penalty_yuan * p_od / n_w
        pi = min(1.0, st.risk * (sup.spot_check_share * sup.spot_check_detect_prob
                                 + p_fail * self.complain_prob(g)
                                 * cmp_.investigation_detect_prob))
        sat_hit = p_fail * ws.satisfaction_bonus_yuan_per_point \
            * self.res.satisfaction_learning_rate * self.m.residents[g].satisfaction
        return gain > st.honesty_yuan + pi * F + sat_hit

    # ------------------------------------------------------------------------------ padded reports
    def schedule_padding(self, t_next: float) -> None:
        """Spread each worker's padded reports for the coming period over its patrol hours."""
        m, now = self.m, self.m.env.now
        hours = m.scenario.patrol.hours
        span = t_next - now
        per_month_to_period = span / MONTH_H
        for st in self.state.values():
            n = int(round(st.padded_per_period * per_month_to_period))
            for k in range(n):
                t = next_open(now + (k + 0.5) / n * span, hours)
                if t >= min(t_next, m.horizon_h):
                    continue
                ev = m.env.timeout(t - now)
                ev.callbacks.append(lambda _e, st=st: m.env.process(self._padded_report(st)))

    def _padded_report(self, st: WorkerState):
        m = self.m
        w = st.worker
        if not w.present:
            return
        self._padded_id -= 1
        k = int(np.searchsorted(self._pad_cum, self.rng.random(), side="right"))
        sub = self._pad_subs[min(k, len(self._pad_subs) - 1)]
        inc = Incident(self._padded_id, w.grid, sub, float("nan"), [])
        inc.extra = {"padded": True}
        inc.channel = "patrol"
        inc.t_report = m.env.now
        inc.worker = w.unique_id
        m.counters["reported"] += 1
        m.open_incidents[inc.id] = inc  # recorded even if the run ends before it is filed
        self.tally.add("padded_reports")
        st.padded_total += 1
        self.credit_report(st)
        if self.rng_sup.random() < self.sup.spot_check_share * self.sup.spot_check_detect_prob:
            self.caught(w.unique_id, "padded", inc)
        pool = m.worker_pools[w.grid]
        ev = pool.acquire()
        if ev is not None:
            yield ev
        t0 = m.env.now
        d = m.scenario.patrol.report_time.mean
        m.busy_add("worker", t0, t0 + d, w.grid)
        yield m.env.timeout(d)
        pool.release_from(t0)
        inc.on_spot = True
        inc.t_filed = inc.t_closed = m.env.now
        m.finish_case(inc, "closed")

    # -------------------------------------------------------------------------------- suppression
    def maybe_suppress(self, inc: Incident, times: dict[str, float]) -> None:
        """The patrol that finds ``inc`` first keeps it off the record if its worker colludes."""
        t_pat = times.get("patrol")
        if t_pat is None or min(times.values()) < t_pat:
            return
        m = self.m
        w = m.pick_worker(inc.grid, inc.u[I.U_WORKER])
        st = self.state[w.unique_id]
        dept = m.subtypes[inc.sub].department
        if dept not in st.suppress_depts:
            return
        del times["patrol"]
        inc.extra = {**(inc.extra or {}), "suppressed_by": w.unique_id}
        share = self.beh.collusion_side_payment_share
        side = share * (self.ds.penalty_per_case_yuan
                        + self.p_od_dept[dept] * self.ds.penalty_per_overdue_yuan)
        if t_pat < m.horizon_h:
            ev = m.env.timeout(t_pat - m.env.now)
            ev.callbacks.append(lambda _e: self._suppressed(inc, st, side))
        if self.rng_sup.random() < self.sup.field_inspection_prob:
            t_found = t_pat + 1.0 / 24.0
            times["handed_down"] = min(times.get("handed_down", math.inf), t_found)
            inc.extra["inspection_at"] = t_found

    def _suppressed(self, inc: Incident, st: WorkerState, side: float) -> None:
        self.tally.add("suppressed")
        self.tally.add("side_payments_yuan", side)
        if inc.extra and inc.extra.get("inspection_at") is not None:
            self.caught(st.worker.unique_id, "suppressed", inc)

    # ----------------------------------------------------------------------------- staged checks
    def staged(self, inc: Incident, u_verify: float, fixed: bool) -> bool:
        """True if the verifier stages the check; then the case closes without a site visit."""
        m = self.m
        w = m.pick_worker(inc.grid, u_verify)
        st = self.state.get(w.unique_id)
        if st is None or not st.stage:
            return False
        w.verifications += 1
        inc.extra = {**(inc.extra or {}), "staged_by": w.unique_id}
        self.tally.add("staged_verifications")
        if not fixed:
            inc.false_closure = True
        if self.rng_sup.random() < self.sup.spot_check_share * self.sup.spot_check_detect_prob:
            self.caught(w.unique_id, "staged", inc)
        return True

    # -------------------------------------------------------------------------------- detection
    def caught(self, worker_id: int, kind: str, inc: Incident | None) -> None:
        st = self.state[worker_id]
        if inc is not None:
            if inc.extra and inc.extra.get("caught"):
                return
            inc.extra = {**(inc.extra or {}), "caught": True}
        st.risk = self.sup.caught_risk_multiplier
        self.tally.add("gaming_caught")
        self.tally.add(f"caught_{kind}")
        self.pay(st, -self.ws.caught_penalty_yuan)

    # ------------------------------------------------------------------------------------- pay
    def pay(self, st: WorkerState, amount: float) -> None:
        if amount:
            st.pay_in_cycle += amount
            self.tally.add("incentive_pay_yuan", amount)

    def credit_report(self, st: WorkerState) -> None:
        st.credited_in_cycle += 1
        self.pay(st, self.ws.pay_per_report_yuan)

    def on_report(self, inc: Incident, channel: str) -> None:
        g = inc.grid
        self._all_reports[g] += 1
        if channel == "resident":
            self._res_reports[g] += 1
        if self.ds.penalty_per_case_yuan:
            dept = self.m.subtypes[inc.sub].department
            self.out.dept_penalty[dept] += self.ds.penalty_per_case_yuan
            self.tally.add("department_penalties_yuan", self.ds.penalty_per_case_yuan)
        if channel == "patrol" and self._credit_reports:
            w = self.m.pick_worker(g, inc.u[I.U_WORKER])
            self.credit_report(self.state[w.unique_id])

    def on_closed(self, inc: Incident) -> None:
        amount = self.ws.pay_per_closure_yuan
        if inc.worker >= 0 and inc.worker in self.state:
            self.pay(self.state[inc.worker], amount)
        elif amount:
            ws = self._present_workers(inc.grid)
            for w in ws:
                self.pay(self.state[w.unique_id], amount / len(ws))
        if inc.t_due == inc.t_due and inc.t_closed <= inc.t_due:
            self._on_time(inc)

    def _on_time(self, inc: Incident) -> None:
        self.out.grid_on_time[inc.grid] += 1
        dept = inc.department or self.m.subtypes[inc.sub].department
        if dept in self.out.dept_on_time:
            self.out.dept_on_time[dept] += 1

    def on_overdue(self, inc: Incident) -> None:
        """A case missed its deadline for the first time."""
        g = inc.grid
        self.out.grid_late[g] += 1
        dept = inc.department or self.m.subtypes[inc.sub].department
        if dept in self.out.dept_late:
            self.out.dept_late[dept] += 1
            if self.ds.penalty_per_overdue_yuan:
                self.out.dept_penalty[dept] += self.ds.penalty_per_overdue_yuan
                self.tally.add("department_penalties_yuan", self.ds.penalty_per_overdue_yuan)
        if self.ws.overdue_penalty_yuan:
            ws = self._present_workers(g)
            for w in ws:
                self.pay(self.state[w.unique_id], -self.ws.overdue_penalty_yuan / len(ws))

    # ---------------------------------------------------------------------------- cycle closing
    def close_cycle(self) -> None:
        """Monthly appraisal: quota, satisfaction bonus, department lists and their answers."""
        m, now = self.m, self.m.env.now
        t0 = self._cycle_start
        frac = (now - t0) / MONTH_H
        if frac <= 0:
            return
        ws = self.ws
        for st in self.state.values():
            w = st.worker
            extra = 0.0
            if ws.quota_reports_per_month and ws.quota_penalty_yuan and w.present \
                    and st.credited_in_cycle < ws.quota_reports_per_month * frac:
                extra -= ws.quota_penalty_yuan * min(1.0, frac)
            if ws.satisfaction_bonus_yuan_per_point and w.present:
                s = m.residents[w.grid].satisfaction
                extra += ws.satisfaction_bonus_yuan_per_point * (s - ws.satisfaction_reference) \
                    * frac
            if extra:
                st.pay_in_cycle += extra
                self.tally.add_period("incentive_pay_yuan", extra, t0, now)
        self._update_rates()
        self._appraise_departments()
        self._cycle_start = now

    def start_cycle_counts(self) -> None:
        for st in self.state.values():
            st.credited_in_cycle = 0.0
            st.pay_in_cycle = 0.0
            st.verifs_at_cycle = st.worker.verifications
            st.reports_at_cycle = st.worker.reports

    def _update_rates(self) -> None:
        o = self.out
        tot = o.grid_on_time + o.grid_late
        seen = tot > 0
        self.p_od_grid[seen] = o.grid_late[seen] / tot[seen]
        for d in self.p_od_dept:
            n = o.dept_on_time[d] + o.dept_late[d]
            if n:
                self.p_od_dept[d] = o.dept_late[d] / n
        seen = self._all_reports > 0
        self.res_share_grid[seen] = self._res_reports[seen] / self._all_reports[seen]

    def _appraise_departments(self) -> None:
        ds, o = self.ds, self.out
        depts = list(self.m.departments)
        rate = {}
        for d in depts:
            n = o.dept_on_time[d] + o.dept_late[d]
            rate[d] = o.dept_on_time[d] / n if n else 1.0
        order = sorted(depts, key=lambda d: (rate[d], d))
        n_black = math.ceil(ds.black_list_share * len(depts)) if ds.black_list_share else 0
        n_red = math.ceil(ds.red_list_share * len(depts)) if ds.red_list_share else 0
        black = set(order[:n_black])
        red = set(order[::-1][:n_red])
        for d in depts:
            dep = self.m.departments[d]
            speed = getattr(dep, "speed", 0.0)
            care = getattr(dep, "care", 0.0)
            if d in black or o.dept_penalty[d] > 0:
                speed = min(ds.speed_max, speed + ds.speed_step)
            else:
                speed *= 1.0 - ds.relax
            if n_red and d not in red:
                care = min(ds.care_max, care + ds.care_step)
            elif not n_red:
                care *= 1.0 - ds.relax
            self._apply_department(dep, speed, care)
            self.tally.add("black_listed", float(d in black))
            self.tally.add("red_listed", float(d in red))
        o.reset_departments()

    def _apply_department(self, dep: Any, speed: float, care: float) -> None:
        ds = self.ds
        dep.speed, dep.care = speed, care
        p0 = dep.cfg.fix_success_prob * max(0.0, 1.0 - ds.rush_quality_loss * speed)
        dep.fix_success_prob = min(1.0, max(0.01, p0 + care * (1.0 - p0)))
        dep.time_factor = (1.0 + ds.care_time_cost * care) / (1.0 + speed)

    def mean_effort(self) -> float:
        e = [w.effort for w in self.m.own_workers if w.present]  # a part's own (sim.engine.parts)
        return float(np.mean(e)) if e else float("nan")

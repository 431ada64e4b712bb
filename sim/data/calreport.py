"""The calibration fit report (Markdown) and the calibrated scenario's text with provenance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.data.calibrate import Calibration
    from sim.scenario import Scenario


def _p(v: float) -> str:
    if v != v:
        return "–"
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _f(v: float | None, nd: int = 2) -> str:
    return "–" if v is None or v != v else f"{v:,.{nd}f}"


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "–"


def _head(cal: "Calibration") -> list[str]:
    log, p, n = cal.log, cal.period, cal.counts
    cols = ", ".join(f"{k} = {v!r}" for k, v in log.columns.items())
    lines = [f"# Calibration fit report: {Path(cal.source).name}", "",
             f"- format: {cal.fmt} ({log.container}{', gzip' if log.gzip else ''}); mapping: "
             f"{cal.mapping} (matched on {log.match!r})",
             f"- columns: {cols}",
             f"- time zone: {log.times.describe() if log.times else '–'}",
             f"- period: {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} = {p.days:.2f} days "
             f"({p.how}); exposure under the fitted profiles {cal.profiles.exposure_h / 24:.2f} "
             "mean days",
             f"- rows read: {n['rows']:,}; malformed: {n['malformed']:,}; outside the period: "
             f"{n['outside']:,}; unmapped: {n['unmapped']:,} ({_pct(n['unmapped'], n['readable'])}"
             f"); dropped by the mapping: {n['dropped']:,} ({_pct(n['dropped'], n['readable'])});"
             f" cancelled: {n['cancelled']:,}; duplicates: {n['duplicate']:,}; requests used: "
             f"{n['used']:,}",
             f"- households: {cal.households:,.0f} (from {cal.households_from}); the base "
             f"city's zones and hotspots multiply incident rates by {cal.multiplier:.4g} on "
             "average, so the scenario's category rates are the per-household rates below "
             "divided by that",
             "- personal data: only identifier, times, status, agency and request type were "
             "read" + (" (and the step, source, deadline and satisfaction columns listed under "
                       "Case steps)" if cal.steps is not None else "")
             + "; no address, coordinates, free text or media link was kept or written."]
    if cal.warnings:
        lines += ["", "## Warnings", ""] + [f"- **warning**: {w}" for w in cal.warnings]
    return lines


def _rates(cal: "Calibration") -> list[str]:
    lines = ["", "## Arrival rates and time to close by category", "",
             "Requests over the period's exposure (cancelled and duplicate requests are not "
             "cases); exact Poisson 95% interval. Dispersion = variance / mean of whole-day "
             "counts (about 1 for a Poisson process). Time to close: Kaplan–Meier median and "
             "p90 (open requests censored at the log's end), and the fitted distribution.", "",
             "| category | requests | per day (95% CI) | per 1,000 households per day | "
             "dispersion | closed | open | at 0 h | KM median / p90 (h) | fit: mean / median / "
             "p90 (h) | fit |", "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for c, f in cal.categories.items():
        t = f.ttc
        lines.append(
            f"| {c} | {f.requests:,} | {_f(f.rate_per_day)} ({_f(f.rate_ci[0])} – "
            f"{_f(f.rate_ci[1])}) | {_f(f.rate_per_1000_households_per_day, 4)} | "
            f"{_f(f.dispersion)} | {f.closed:,} | {_f(100 * f.open_share, 1)}% | "
            f"{t.zero:,} | {_f(t.km.get('p50'), 1)} / {_f(t.km.get('p90'), 1)} | "
            f"{_f(t.fit.get('mean'), 1)} / {_f(t.fit.get('median'), 1)} / "
            f"{_f(t.fit.get('p90'), 1)} | {t.kind} |")
    if not cal.log.has_closed:
        lines.append("\nThe log has no closing-time column: no time to close is fitted.")
    lines += ["", "The model gives every category the same hour-of-day and weekday profile; "
              "the p columns test each category's own pattern against them (chi-square; – = "
              "too few requests).", "", "| category | hour-of-day p | weekday p |",
              "|---|---:|---:|"]
    lines += [f"| {c} | {_p(f.hourly_p)} | {_p(f.weekly_p)} |" for c, f in cal.categories.items()]
    if cal.kept_from_base:
        lines += ["", "Categories no mapping rule targets keep the base scenario's rate: "
                  + ", ".join(cal.kept_from_base) + "."]
    return lines


def _types(cal: "Calibration", top: int = 40) -> list[str]:
    t = cal.type_table
    lines = ["", "## Request types and where they went", "",
             f"{len(t):,} distinct values of {cal.log.match!r}; the {min(top, len(t))} most "
             "frequent:", "", "| request type | → category.subtype | requests |",
             "|---|---|---:|"]
    for r in t.head(top).itertuples():
        lines.append(f"| {r.type} | {r.target} | {r.requests:,} |")
    return lines


def _subtypes(cal: "Calibration") -> list[str]:
    with_subs = {c: f for c, f in cal.categories.items() if f.subtype_shares}
    if not with_subs:
        return []
    lines = ["", "## Subtype shares", "",
             "From the requests a rule maps to a subtype; (n + ½) / (N + ½·k), so a subtype the "
             "log never shows keeps a small share.", "",
             "| category | subtype | requests | fitted share |", "|---|---|---:|---:|"]
    for c, f in with_subs.items():
        for sub, share in f.subtype_shares.items():
            lines.append(f"| {c} | {sub} | {f.subtype_counts[sub]:,} | {share:.3f} |")
    return lines


def _profiles(cal: "Calibration") -> list[str]:
    p = cal.profiles
    lines = ["", "## Profiles (mean 1), and the data behind each factor", "",
             "Each factor is shrunk towards the base scenario's shape with a prior worth 20 "
             "requests: where the log saw few requests (short logs, night hours) the base shape "
             "dominates.", "", "| hour | requests | hours observed | factor |",
             "|---:|---:|---:|---:|"]
    for h in range(24):
        lines.append(f"| {h:02d} | {int(p.hour_counts[h]):,} | {p.hour_exposure_h[h]:.1f} | "
                     f"{p.hourly[h]:.3f} |")
    lines += ["", "| weekday | requests | days observed | factor |", "|---|---:|---:|---:|"]
    for d, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
        lines.append(f"| {name} | {int(p.weekday_counts[d]):,} | {p.weekday_exposure_d[d]:.2f} "
                     f"| {p.weekly[d]:.3f} |")
    return lines


def _sizing(cal: "Calibration") -> list[str]:
    if cal.sizing is None:
        return []
    lines = ["", "## Capacity sized for the log's volume", "",
             f"Per street ({cal.sizing.streets:,} streets): crews = ⌈cases per hour × visit "
             "hours / (shift share of the week × 0.7)⌉; operators for the busiest hour.", "",
             "| unit | cases per day | hours per case | shift | base | sized | utilisation |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for r in cal.sizing.rows:
        lines.append(f"| {r['unit']} | {_f(r['cases_per_day'], 1)} | {_f(r['visit_h'])} | "
                     f"{r['shift']} | {r['base']:,} | {r['sized']:,} | "
                     f"{_f(100 * r['utilisation'], 0)}% |")
    return lines


def _fig(r: dict, side: str, k: str, ci: bool = True, nd: int = 1) -> str:
    """One figure of a check row: value (interval), or "> bound" where never reached."""
    v = r.get(f"{side}_{k}")
    if v is None or v != v:
        gt = r.get(f"{side}_{k}_gt")
        return f"> {gt:,.0f}" if gt is not None and gt == gt else "–"
    lo, hi = r.get(f"{side}_{k}_lo"), r.get(f"{side}_{k}_hi")
    if not ci or lo is None or lo != lo:
        return _f(v, nd)
    return f"{_f(v, nd)} ({_f(lo, nd)} – {_f(hi, nd) if hi == hi else '…'})"


def _verdict(cal: "Calibration") -> list[str]:
    """The answer first: log against the calibrated city per category, before and after the
    fit, and the loss with its interval."""
    ch, before, f = cal.check, cal.check_before, cal.fitted
    if ch is None:
        return []
    from sim.data.closedloop import GOAL_MIN_CLOSED, MEDIAN_GOAL, goals

    g = goals(ch)
    lines = ["", "## Verdict: the log against the calibrated city", "",
             f"**{ch.summary()}.** The log's own {ch.requests:,} requests "
             f"({ch.days:.1f} days{'' if ch.streets == 0 else f' on {ch.streets} street(s)'}"
             f"{f', a {1 / ch.scale:.2%} share of the city' if ch.scale != 1 else ''}) replayed "
             f"{ch.reps} times and followed {ch.follow_days:.1f} days past the window, as the "
             "log follows them; cases per day from the calibrated scenario's own arrivals. "
             "Kaplan–Meier median and p90 (hours) on both sides, 95% intervals; \"> h\": "
             "the follow-up never reaches the quantile (a lower bound).", "",
             "| category | closed | cases/day log | calibrated | median log | "
             + ("before fit | " if before is not None else "") + "calibrated | p90 log | "
             + ("before fit | " if before is not None else "") + "calibrated | verdict |",
             "|---|---:|---:|---:|---:|" + ("---:|" if before is not None else "")
             + "---:|---:|" + ("---:|" if before is not None else "") + "---:|---|"]
    prev = before.table.set_index("category") if before is not None else None
    for r in ch.table.to_dict("records"):
        cells = [f"{r['closed']:,}", _fig(r, "log", "per_day"), _fig(r, "sim", "per_day")]
        for k in ("p50", "p90"):
            cells.append(_fig(r, "log", k))
            if prev is not None:
                b = prev.loc[r["category"]].to_dict() if r["category"] in prev.index else {}
                cells.append(_fig(b, "sim", k, ci=False))
            cells.append(_fig(r, "sim", k))
        bad = [k for k in ("per_day", "p50", "p90") if r[f"{k}_ok"] is False
               or r[f"{k}_ok"] == 0.0]
        cells.append("agrees" if not bad else "differs: " + ", ".join(bad))
        lines.append(f"| {r['category']} | " + " | ".join(cells) + " |")
    lines += ["", f"Goals: cases per day within 10% — met by {len(g['per_day_met'])}, missed by "
              f"{', '.join(g['per_day_missed']) or 'none'}; median within {MEDIAN_GOAL:g}× where "
              f"the log has ≥ {GOAL_MIN_CLOSED} closed — met by {len(g['p50_met'])}, missed by "
              f"{', '.join(g['p50_missed']) or 'none'}."]
    zero = [r["category"] for r in ch.table.to_dict("records") if r["log_p50"] == 0]
    if zero:
        lines += ["", f"{', '.join(zero)}: the log closes half its requests at once (on the "
                  "call); a resident request in gridsim is filed, dispatched, handled and "
                  "verified, so no fit reaches a median of 0 h."]
    if f is not None:
        lines += ["", f"Loss (weighted mean squared log-ratio of simulated to logged median and "
                  f"p90): base {f.start_loss:.3f} ({f.start_loss_ci[0]:.3f} – "
                  f"{f.start_loss_ci[1]:.3f}) → fitted {f.loss:.3f} ({f.loss_ci[0]:.3f} – "
                  f"{f.loss_ci[1]:.3f}); the log's own sampling error is worth {f.floor:.3f}."]
    return lines


def _check(cal: "Calibration") -> list[str]:
    lines: list[str] = []
    f = cal.fitted
    if f is not None:
        lines += ["", "## Departments fitted to the log (--fit)", "",
                  f"{f.trials} candidates besides the base (fixed-point steps, then Optuna TPE), "
                  f"each on the log's replayed requests; stopped: {f.stopped}. "
                  + ("**No candidate beat the base scenario: it is kept.**" if f.kept_base
                     else "The best candidate is kept (the base was one)."), "",
                  "| department | handling mean (h) | scheduling lead (h) | cv | crews per street "
                  "(most) |", "|---|---:|---:|---:|---:|"]
        for d, (m, cv) in f.handling.items():
            lines.append(f"| {d} | {m:.2f} | {f.lead.get(d, 0.0):.1f} | {cv:.2f} | "
                         f"{f.crews[d]:,} ({f.crew_bounds.get(d, '–')}) |")
        lines += ["", "Bounds: " + "; ".join(f"{k} {lo:g} – {hi:g}" for k, (lo, hi)
                                           in f.bounds.items()) + "."]
        if f.not_identified:
            lines.append("- **Not identified by the log** (moving them changes the fit by less "
                         "than the log's sampling error): " + ", ".join(f.not_identified))
        for a, b in f.trade_offs:
            lines.append(f"- **{a} and {b} trade off**: the log identifies only their "
                         "combination")
    return lines


def _matching(cal: "Calibration") -> list[str]:
    if cal.matching is None:
        return ["", "Rates are rates of *logged requests* (cases); gridsim's category rates are "
                "of incidents. Pass --match-cases to rescale the rates so that the scenario "
                "files cases at the log's rate."]
    lines = ["", "## Cases filed by the calibrated scenario (--match-cases)", "",
             "| category | log per day | simulated before | factor | simulated after (95% CI) |",
             "|---|---:|---:|---:|---:|"]
    for _, r in cal.matching.iterrows():
        lines.append(f"| {r['category']} | {_f(r['log_per_day'])} | {_f(r['before'])} | "
                     f"{_f(r['factor'], 3)} | {_f(r['after'])} ({_f(r['after_lo'])} – "
                     f"{_f(r['after_hi'])}) |")
    return lines


def _leftovers(cal: "Calibration") -> list[str]:
    log, lines = cal.log, []
    for title, d in (("Malformed rows (counted, not fatal)", log.malformed),
                     ("Unmapped types (add them to the mapping to use them)", log.unmapped),
                     ("Dropped on purpose by the mapping (null)", log.dropped),
                     ("Status values not in the vocabulary", log.status_unknown)):
        if d:
            lines += ["", f"## {title}", ""]
            for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:25]:
                lines.append(f"- {k}: {v:,}")
            if len(d) > 25:
                lines.append(f"- … and {len(d) - 25} more")
    return lines


def fit_report(cal: "Calibration") -> str:
    """The fit report (Markdown): what was read, fitted, sized and checked, and what was not."""
    head = _head(cal)
    lines = (head[:1] + _verdict(cal) + head[1:] + _rates(cal) + _types(cal) + _subtypes(cal)
             + _sizing(cal)
             + _check(cal) + _matching(cal) + _profiles(cal) + _leftovers(cal)
             + (cal.steps.report_lines() if cal.steps is not None else []))
    if cal.places is not None:  # requests with places (sim.data.places)
        from sim.data.places import places_report

        lines += ["", places_report(cal.places)]
    return "\n".join(lines) + "\n"


def scenario_text(cal: "Calibration", scenario: "Scenario") -> str:
    """The calibrated scenario as YAML, with provenance and time-to-close targets as comments."""
    p = cal.period
    head = [f"# Calibrated by `gridsim calibrate {Path(cal.source).name} --format {cal.fmt}`",
            f"# mapping: {cal.mapping}; period {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M}"
            f" ({p.days:.2f} days, {p.how}); {cal.counts['used']:,} requests; households from "
            f"{cal.households_from}.",
            f"# time zone: {cal.log.times.tz if cal.log.times else '–'}",
            "# Fitted: city.households, incidents.hourly_profile, incidents.weekly_profile, each "
            "mapped category's rate_per_1000_households_per_day"
            + (", platform.operators, departments' crews_per_street and shifts" if cal.sizing
               else "")
            + (", departments' handling_time and scheduling_lead (--fit)" if cal.fitted
               else "")
            + "; the log's categories are reported by residents only.",
            "# Log's time to close (Kaplan–Meier median / p90, h; targets for the run's KPIs):"]
    if cal.matching is not None:
        head.insert(4, "# Rates rescaled so that the scenario files cases at the log's rate "
                       "(--match-cases): " + ", ".join(
                           f"{r.category} ×{r.factor:.3f}" for r in cal.matching.itertuples()))
    for c, f in cal.categories.items():
        km = f.ttc.km
        if km.get("p50") == km.get("p50") and km.get("p50") is not None:
            head.append(f"#   {c}: {km['p50']:.1f} / {_f(km.get('p90'), 1)} ({f.closed:,} "
                        "closed)")
    for w in cal.warnings:
        head.append(f"# warning: {w}")
    return "\n".join(head) + "\n" + scenario.to_yaml()




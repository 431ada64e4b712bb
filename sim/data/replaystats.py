"""Summaries of a replay: the log and the simulated city per category and department, with one
Kaplan–Meier for both sides, and paired differences between two policies on the same requests.

A quantile the follow-up never reaches (more than half of a cohort still open when the log was
extracted) is not a number: it is reported as a lower bound, "> longest follow-up"
(``p50_h`` null and ``p50_h_gt`` the bound in ``replay.json``), never as NaN.

The simulated figures are means over replications with a Student-t 95% interval; the paired
differences (policy − baseline) are taken replication by replication on the same seeds (common
random numbers), so their interval is that of the mean paired difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.data.ttcfit import km_quantile

if TYPE_CHECKING:
    import pandas as pd

    from sim.data.replay import ReplayRun, Requests

QUANTILES = (("p50_h", 0.5), ("p90_h", 0.9))


@dataclass(frozen=True)
class KMQuantile:
    """A Kaplan–Meier quantile, or the lower bound the follow-up gives when it is not reached."""

    value: float | None
    lower_bound: float

    def text(self) -> str:
        return f"{self.value:.1f}" if self.value is not None else f"> {self.lower_bound:.0f}"


def km(durations: np.ndarray, follow: np.ndarray, q: float) -> KMQuantile:
    """The ``q`` quantile of time to close (closed: ``durations``; open: ``follow``, censored)."""
    d = durations[~np.isnan(durations)]
    c = follow[~np.isnan(follow)]
    v = km_quantile(d, c, q) if len(d) else math.nan
    longest = float(max(d.max(initial=0.0), c.max(initial=0.0)))
    return KMQuantile(None if v != v else float(v), longest)


def _t_ci(values: list[float]) -> tuple[float, float, float]:
    from sim.data.validation import mean_ci

    if len(values) == 1:
        return values[0], values[0], values[0]
    return mean_ci(values)


def _log_side(req: "Requests", sel: np.ndarray) -> dict[str, Any]:
    n = int(sel.sum())
    out: dict[str, Any] = {"n": n, "closed_share": float((~np.isnan(req.log_h[sel])).mean())
                           if n else None}
    for key, q in QUANTILES:
        k = km(req.log_h[sel], req.log_follow_h[sel], q) if n and req.has_closed else None
        out[key] = k.value if k else None
        if k is not None and k.value is None:
            out[key.replace("_h", "_h_gt")] = round(k.lower_bound, 3)
    return out


def _sim_side(runs: "list[ReplayRun]", sels: list[np.ndarray]) -> dict[str, Any]:
    ns = [int(s.sum()) for s in sels]
    shares = [float((~np.isnan(r.sim_h[s])).mean()) for r, s in zip(runs, sels) if s.any()]
    out: dict[str, Any] = {"n": float(np.mean(ns)) if ns else 0,
                           "closed_share": float(np.mean(shares)) if shares else None}
    if out["n"] == int(out["n"]):
        out["n"] = int(out["n"])
    for key, q in QUANTILES:
        ks = [km(r.sim_h[s], r.follow_h[s], q) for r, s in zip(runs, sels) if s.any()]
        if ks and all(k.value is not None for k in ks):
            m, lo, hi = _t_ci([k.value for k in ks])  # type: ignore[misc]
            out[key], out[f"{key}_ci"] = m, [max(lo, 0.0), hi]
        else:
            out[key], out[f"{key}_ci"] = None, None
            if ks:
                out[key.replace("_h", "_h_gt")] = round(min(k.lower_bound for k in ks
                                                            if k.value is None), 3)
    return out


def summarise(req: "Requests", runs: "list[ReplayRun]") -> dict[str, Any]:
    """The ``replay.json`` document: per category and per department, the log's ``n``,
    ``closed_share``, ``p50_h``, ``p90_h`` and the simulated ones with their intervals.

    A request's department is the one its case went to in the first replication (the subtype's
    department), on both sides."""
    out: dict[str, Any] = {"categories": {}, "departments": {}}
    for cat in sorted(set(req.category.tolist())):
        sel = req.category == cat
        out["categories"][cat] = {"log": _log_side(req, sel),
                                  "sim": _sim_side(runs, [r.category == cat for r in runs])}
    dep0 = runs[0].department
    for dep in sorted(set(dep0.tolist())):
        out["departments"][dep] = {"log": _log_side(req, dep0 == dep),
                                   "sim": _sim_side(runs, [r.department == dep for r in runs])}
    return out


def table(doc: dict[str, Any]) -> "pd.DataFrame":
    """``replay.json`` as one row per category and department (``replay.csv``)."""
    import pandas as pd

    rows = []
    for level in ("categories", "departments"):
        for name, sides in doc[level].items():
            row: dict[str, Any] = {"level": level[:-1].replace("categorie", "category"),
                                   "name": name}
            for side in ("log", "sim"):
                for k, v in sides[side].items():
                    if isinstance(v, list):
                        row[f"{side}_{k}_lo"], row[f"{side}_{k}_hi"] = v
                    else:
                        row[f"{side}_{k}"] = v
            rows.append(row)
    return pd.DataFrame(rows)


def paired(req: "Requests", policy: "list[ReplayRun]", base: "list[ReplayRun]"
           ) -> dict[str, Any]:
    """Per category and department, the mean paired difference policy − baseline of the
    closed share, p50 and p90 (hours) over replications on the same seeds, with a 95% interval
    (``n_pairs``: replications where both quantiles were reached)."""
    out: dict[str, Any] = {"categories": {}, "departments": {}}
    groups = [("categories", c, lambda r, c=c: r.category == c)
              for c in sorted(set(req.category.tolist()))]
    groups += [("departments", d, lambda r, d=d: r.department == d)
               for d in sorted(set(base[0].department.tolist()))]
    for level, name, pick in groups:
        row: dict[str, Any] = {}
        for key, q in (("closed_share", None), *QUANTILES):
            diffs = []
            for a, b in zip(policy, base):
                sa, sb = pick(a), pick(b)
                if not (sa.any() and sb.any()):
                    continue
                if q is None:
                    diffs.append(float((~np.isnan(a.sim_h[sa])).mean()
                                       - (~np.isnan(b.sim_h[sb])).mean()))
                    continue
                ka, kb = km(a.sim_h[sa], a.follow_h[sa], q), km(b.sim_h[sb], b.follow_h[sb], q)
                if ka.value is not None and kb.value is not None:
                    diffs.append(ka.value - kb.value)
            if diffs:
                m, lo, hi = _t_ci(diffs)
                row[key] = {"diff": m, "ci": [lo, hi], "n_pairs": len(diffs)}
            else:
                row[key] = {"diff": None, "ci": None, "n_pairs": 0}
        out[level][name] = row
    return out


def verdict_lines(doc: dict[str, Any], level: str = "categories") -> list[str]:
    """A Markdown table: log against simulated n, closed share, p50 and p90 per category."""
    lines = ["| | n (log) | closed (log / sim) | p50 h (log / sim [95% CI]) | "
             "p90 h (log / sim [95% CI]) |", "|---|---:|---:|---:|---:|"]
    for name, s in doc[level].items():
        lg, sm = s["log"], s["sim"]
        cells = []
        for key in ("p50_h", "p90_h"):
            cells.append(f"{_q(lg, key)} / {_q(sm, key)}{_ci(sm.get(key + '_ci'))}")
        share = (f"{_pct(lg['closed_share'])} / {_pct(sm['closed_share'])}")
        lines.append(f"| {name} | {lg['n']:,} | {share} | {cells[0]} | {cells[1]} |")
    return lines


def paired_lines(diff: dict[str, Any], level: str = "categories") -> list[str]:
    lines = ["| | Δ closed share | Δ p50 h [95% CI] | Δ p90 h [95% CI] |",
             "|---|---:|---:|---:|"]
    for name, row in diff[level].items():
        cells = []
        for key in ("closed_share", "p50_h", "p90_h"):
            d = row[key]
            if d["diff"] is None:
                cells.append("—")
            elif key == "closed_share":
                cells.append(f"{100 * d['diff']:+.1f} pp [{100 * d['ci'][0]:+.1f}, "
                             f"{100 * d['ci'][1]:+.1f}]")
            else:
                cells.append(f"{d['diff']:+.1f} [{d['ci'][0]:+.1f}, {d['ci'][1]:+.1f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _q(side: dict[str, Any], key: str) -> str:
    v = side.get(key)
    if v is not None:
        return f"{v:.1f}"
    gt = side.get(key.replace("_h", "_h_gt"))
    return f"> {gt:.0f}" if gt is not None else "—"


def _ci(ci: list[float] | None) -> str:
    return f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"

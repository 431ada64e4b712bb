"""Statistics over a results store: confidence intervals, paired differences, sensitivity.

- :func:`summarize` — per design point and KPI: replications n, mean, standard deviation and the
  Student-t 95% confidence interval ``mean ± t(0.975, n−1)·s/√n`` (undefined KPI values, e.g.
  no case closed, are left out of that KPI's n).
- :func:`paired_differences` — point B minus point A on the replications both have. Under common
  random numbers replication r saw the same incidents at both points, so the paired CI (and the
  paired t-test) is usually much narrower than the unpaired Welch CI, reported beside it.
- :func:`sobol_indices` / :func:`morris_indices` — SALib's analyses on the per-point means, in
  the unit coordinates of the design.
- :func:`precision_targets` — how many replications each point needs for a CI half-width target.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiment.spec import Precision


def t_half_width(sd: float, n: int, level: float = 0.95) -> float:
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[int, float, float, float]:
    """(n, mean, sd, half-width) of the finite values."""
    y = np.asarray([v for v in values if v is not None], dtype=float)
    y = y[np.isfinite(y)]
    n = len(y)
    if n == 0:
        return 0, float("nan"), float("nan"), float("nan")
    sd = float(y.std(ddof=1)) if n > 1 else float("nan")
    return n, float(y.mean()), sd, t_half_width(sd, n, level)


def summarize(kpis: pd.DataFrame, keys: list[str] | None = None,
              level: float = 0.95) -> pd.DataFrame:
    """Long table: point_id, kpi, n, mean, sd, half_width, ci_low, ci_high."""
    keys = keys or [c for c in kpis.columns if c not in ("point_id", "replication")]
    rows = []
    for pid, g in kpis.groupby("point_id", sort=True):
        for k in keys:
            n, m, sd, hw = mean_ci(g[k], level)
            rows.append({"point_id": int(pid), "kpi": k, "n": n, "mean": m, "sd": sd,
                         "half_width": hw, "ci_low": m - hw, "ci_high": m + hw})
    return pd.DataFrame(rows, columns=["point_id", "kpi", "n", "mean", "sd", "half_width",
                                       "ci_low", "ci_high"])


def paired_differences(kpis: pd.DataFrame, pairs: list[tuple[int, int]],
                       keys: list[str], level: float = 0.95) -> pd.DataFrame:
    """B − A per KPI on common replications: mean, paired CI, paired t p-value, Welch CI."""
    rows = []
    by_point = {int(p): g.set_index("replication") for p, g in kpis.groupby("point_id")}
    for a, b in pairs:
        ga, gb = by_point.get(a), by_point.get(b)
        if ga is None or gb is None:
            continue
        common = ga.index.intersection(gb.index)
        for k in keys:
            ya = ga.loc[common, k].to_numpy(dtype=float)
            yb = gb.loc[common, k].to_numpy(dtype=float)
            ok = np.isfinite(ya) & np.isfinite(yb)
            d = yb[ok] - ya[ok]
            n, m, sd, hw = mean_ci(d, level)
            p = float(stats.ttest_rel(yb[ok], ya[ok]).pvalue) if n > 1 and sd > 0 else (
                float("nan") if n < 2 else (0.0 if m != 0 else 1.0))
            welch = _welch_half_width(ga[k].to_numpy(dtype=float), gb[k].to_numpy(dtype=float),
                                      level)
            rows.append({"point_a": a, "point_b": b, "kpi": k, "n_pairs": n, "mean_diff": m,
                         "half_width": hw, "ci_low": m - hw, "ci_high": m + hw,
                         "p_value": p, "unpaired_half_width": welch})
    return pd.DataFrame(rows, columns=["point_a", "point_b", "kpi", "n_pairs", "mean_diff",
                                       "half_width", "ci_low", "ci_high", "p_value",
                                       "unpaired_half_width"])


def _welch_half_width(a: np.ndarray, b: np.ndarray, level: float) -> float:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(stats.t.ppf(0.5 + level / 2, dof) * se)


def point_means(kpis: pd.DataFrame, n_points: int, key: str) -> np.ndarray:
    """Mean of ``key`` per point 0..n_points-1 (NaN where a point has no value)."""
    m = kpis.groupby("point_id")[key].mean()
    return m.reindex(range(n_points)).to_numpy(dtype=float)


def _problem(names: list[str]) -> dict:
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def sobol_indices(kpis: pd.DataFrame, names: list[str], n_points: int, keys: list[str],
                  second_order: bool, seed: int) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices with 95% bootstrap half-widths.

    With ``second_order`` the table's ``attrs["S2"]`` holds the second-order indices (one row
    per pair of factors: kpi, factor, factor_2, S2, S2_conf).
    """
    from SALib.analyze import sobol

    rows, pairs = [], []
    for k in keys:
        y = point_means(kpis, n_points, k)
        if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
            continue  # incomplete design or a constant output: indices undefined
        res = sobol.analyze(_problem(names), y, calc_second_order=second_order, seed=seed)
        for j, n in enumerate(names):
            rows.append({"kpi": k, "factor": n, "S1": res["S1"][j], "S1_conf": res["S1_conf"][j],
                         "ST": res["ST"][j], "ST_conf": res["ST_conf"][j]})
        if second_order:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    pairs.append({"kpi": k, "factor": names[i], "factor_2": names[j],
                                  "S2": res["S2"][i, j], "S2_conf": res["S2_conf"][i, j]})
    out = pd.DataFrame(rows, columns=["kpi", "factor", "S1", "S1_conf", "ST", "ST_conf"])
    out.attrs["S2"] = pd.DataFrame(pairs, columns=["kpi", "factor", "factor_2", "S2", "S2_conf"])
    return out


def morris_indices(kpis: pd.DataFrame, x: np.ndarray, names: list[str], keys: list[str],
                   levels: int, seed: int) -> pd.DataFrame:
    """Morris elementary effects: mu, mu* (mean |EE|), sigma, per unit of the factor's range."""
    from SALib.analyze import morris

    rows = []
    for k in keys:
        y = point_means(kpis, len(x), k)
        if not np.all(np.isfinite(y)):
            continue
        res = morris.analyze(_problem(names), x, y, num_levels=levels, seed=seed)
        for j, n in enumerate(names):
            rows.append({"kpi": k, "factor": n, "mu": res["mu"][j], "mu_star": res["mu_star"][j],
                         "sigma": res["sigma"][j], "mu_star_conf": res["mu_star_conf"][j]})
    return pd.DataFrame(rows, columns=["kpi", "factor", "mu", "mu_star", "sigma",
                                       "mu_star_conf"])


def precision_targets(kpis: pd.DataFrame, prec: Precision, reps: dict[int, int]
                      ) -> dict[int, int]:
    """Replications each point needs next so the CI half-width of ``prec.kpi`` meets the target.

    Only replications below each point's current count are used, so the decision sequence is
    the same whether a sweep ran in one go or was interrupted and resumed. Growth per round is
    at most doubling (an early, noisy variance estimate must not overshoot).
    """
    out = dict(reps)
    by_point = {int(p): g for p, g in kpis.groupby("point_id")}
    for pid, n in reps.items():
        if n >= prec.max_replications:
            continue
        g = by_point.get(pid)
        y = g.loc[g.replication < n, prec.kpi] if g is not None else pd.Series(dtype=float)
        m, mean, sd, hw = mean_ci(y)
        if m < 2:
            out[pid] = n + 1
            continue
        target = prec.half_width * (abs(mean) if prec.relative else 1.0)
        if hw <= target:
            continue
        needed = math.ceil(m * (hw / target) ** 2) if target > 0 else prec.max_replications
        out[pid] = int(min(prec.max_replications, max(n + 1, min(2 * n, needed))))
    return out

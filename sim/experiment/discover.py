"""Scenario discovery: the boxes of lever space where a target fails (PRIM, or CART).

Given the design points (or runs) of any store — a sweep or an optimisation — and a target on
one KPI (``on_time_rate`` below 0.95, say), discovery finds a few simple *boxes* (a range per
numeric lever, a set of values per categorical one) inside which the target mostly fails:

- **PRIM** (Friedman & Fisher 1999, the method of EMA Workbench): start from the whole lever
  space and repeatedly *peel* the slice (the lowest or highest ``peel_alpha`` share of one
  numeric lever, or one value of a categorical lever) whose removal raises the share of failing
  cases most, until the box holds less than ``mass_min`` of the cases; then *paste* back any
  slice that does not lower it. Every box on the way is kept (the *peeling trajectory*): early
  boxes cover most failures at a low density, late ones are dense and small. The box chosen is
  the one with the highest **coverage** (its share of all failures) among those whose
  **density** (share of its cases that fail) reaches ``threshold``. Further boxes are found the
  same way after removing the cases of the first (covering).
- **CART**: a small classification tree (Gini impurity, depth-limited, written here in NumPy —
  no scikit-learn); each leaf where most cases fail is a box (the conditions on its path).

Each limit carries a quasi-p-value (one-sided binomial test: would the box's failures be as
many if this limit were dropped?) so limits that matter can be told from incidental ones, and
every box is also given in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

Method = Literal["prim", "cart"]


@dataclass(frozen=True)
class Limit:
    """The restriction of one lever in a box: ``low``/``high`` (numeric) or ``values``."""

    lever: str
    low: float | None = None
    high: float | None = None
    values: tuple[Any, ...] | None = None
    quasi_p: float = float("nan")

    def words(self) -> str:
        name = self.lever
        if self.values is not None:
            vals = ", ".join(_fmt(v) for v in self.values)
            return f"{name} ∈ {{{vals}}}" if len(self.values) > 1 else f"{name} = {vals}"
        if self.low is not None and self.high is not None:
            return f"{_fmt(self.low)} ≤ {name} ≤ {_fmt(self.high)}"
        if self.low is not None:
            return f"{name} ≥ {_fmt(self.low)}"
        return f"{name} ≤ {_fmt(self.high)}"


@dataclass
class Box:
    limits: list[Limit]
    n: int                 # cases in the box
    failing: int           # failing cases in the box
    coverage: float        # failing in the box / all failing cases
    density: float         # failing in the box / cases in the box
    mass: float            # cases in the box / all cases

    def words(self, target: str = "the target fails") -> str:
        where = " and ".join(lim.words() for lim in self.limits) or "everywhere"
        return (f"where {where}: {target} in {100 * self.density:.0f}% of cases "
                f"({self.failing} of {self.n}); this box holds {100 * self.coverage:.0f}% of all "
                f"failures and {100 * self.mass:.0f}% of all cases")


@dataclass
class Discovery:
    kpi: str
    op: str
    threshold: float
    method: str
    unit: str                    # "point" (mean over replications) or "run"
    n_cases: int
    n_failing: int
    boxes: list[Box]
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)  # PRIM: first box's peels

    @property
    def target(self) -> str:
        return f"{self.kpi} {self.op} {_fmt(self.threshold)}"


# ----------------------------------------------------------------------------------- helpers
def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


class _Space:
    """The levers as arrays: numeric columns as floats, the others as category codes."""

    def __init__(self, x: pd.DataFrame):
        self.names = list(x.columns)
        self.numeric = {c: _is_numeric(x[c]) for c in self.names}
        self.cols: dict[str, np.ndarray] = {}
        self.cats: dict[str, list[Any]] = {}
        for c in self.names:
            if self.numeric[c]:
                self.cols[c] = x[c].to_numpy(dtype=float)
            else:
                cats = list(dict.fromkeys(x[c].tolist()))
                self.cats[c] = cats
                lookup = {json_key(v): i for i, v in enumerate(cats)}
                self.cols[c] = np.array([lookup[json_key(v)] for v in x[c]], dtype=int)
        self.n = len(x)


def json_key(v: Any) -> str:
    return repr(v)


def _stats(mask: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    return int(mask.sum()), int(y[mask].sum())


# -------------------------------------------------------------------------------------- PRIM
class _PrimBox:
    """Box state during peeling: numeric [lo, hi] and categorical allowed codes."""

    def __init__(self, space: _Space, mask: np.ndarray):
        self.space = space
        self.lo = {c: -math.inf for c in space.names if space.numeric[c]}
        self.hi = {c: math.inf for c in space.names if space.numeric[c]}
        self.allowed = {c: set(range(len(space.cats[c]))) for c in space.cats}
        self.base = mask  # cases still available (covering removes earlier boxes)

    def copy(self) -> "_PrimBox":
        b = _PrimBox.__new__(_PrimBox)
        b.space, b.base = self.space, self.base
        b.lo, b.hi = dict(self.lo), dict(self.hi)
        b.allowed = {c: set(v) for c, v in self.allowed.items()}
        return b

    def mask(self, drop: str | None = None) -> np.ndarray:
        m = self.base.copy()
        for c in self.space.names:
            if c == drop:
                continue
            x = self.space.cols[c]
            if self.space.numeric[c]:
                m &= (x >= self.lo[c]) & (x <= self.hi[c])
            elif len(self.allowed[c]) < len(self.space.cats[c]):
                m &= np.isin(x, sorted(self.allowed[c]))
        return m


def _peels(box: _PrimBox, inside: np.ndarray, alpha: float) -> list[tuple[str, str, Any]]:
    """Candidate peels: (lever, 'lo'|'hi'|'cat', new limit or code removed)."""
    out = []
    sp = box.space
    for c in sp.names:
        x = sp.cols[c][inside]
        if len(x) == 0:
            continue
        if sp.numeric[c]:
            u = np.unique(x)
            if len(u) < 2:
                continue
            q_lo, q_hi = np.quantile(x, alpha), np.quantile(x, 1 - alpha)
            n_below, n_above = int((u < q_lo).sum()), int((u > q_hi).sum())
            out.append((c, "lo", float(u[n_below] if n_below else u[1])))
            out.append((c, "hi", float(u[-1 - n_above] if n_above else u[-2])))
        else:
            present = sorted(set(x.tolist()) & box.allowed[c])
            if len(present) > 1:
                out.extend((c, "cat", code) for code in present)
    return out


def _apply(box: _PrimBox, peel: tuple[str, str, Any]) -> _PrimBox:
    b = box.copy()
    c, kind, v = peel
    if kind == "lo":
        b.lo[c] = v
    elif kind == "hi":
        b.hi[c] = v
    else:
        b.allowed[c].discard(v)
    return b


def _peel_trajectory(space: _Space, y: np.ndarray, base: np.ndarray, alpha: float,
                     mass_min: float) -> list[_PrimBox]:
    box = _PrimBox(space, base)
    traj = [box]
    n_all = space.n
    while True:
        inside = box.mask()
        n_in, k_in = _stats(inside, y)
        best, best_key = None, None
        for peel in _peels(box, inside, alpha):
            cand = _apply(box, peel)
            m = cand.mask()
            n, k = _stats(m, y)
            if n == 0 or n >= n_in or n / n_all < mass_min:
                continue
            # density gained per share of cases peeled off (EMA Workbench's "lenient1"): a
            # categorical peel that removes a third of the cases must earn its size
            gain = (k / n - k_in / n_in) / ((n_in - n) / n_all)
            key = (gain, n)
            if best_key is None or key > best_key:
                best, best_key = cand, key
        if best is None or best_key[0] <= 0:
            return traj
        box = best
        traj.append(box)


def _paste(box: _PrimBox, y: np.ndarray) -> _PrimBox:
    """Relax limits one slice at a time while the density does not fall."""
    sp = box.space
    while True:
        m = box.mask()
        n0, k0 = _stats(m, y)
        d0 = k0 / n0 if n0 else 0.0
        improved = False
        for c in sp.names:
            cand = None
            if sp.numeric[c]:
                x = sp.cols[c][box.mask(drop=c)]
                below = x[x < box.lo[c]]
                above = x[x > box.hi[c]]
                for kind, vals in (("lo", below), ("hi", above)):
                    if len(vals) == 0:
                        continue
                    b = box.copy()
                    if kind == "lo":
                        b.lo[c] = float(vals.max())
                    else:
                        b.hi[c] = float(vals.min())
                    n, k = _stats(b.mask(), y)
                    if n > n0 and k / n >= d0:
                        cand = b
                        break
            else:
                for code in set(range(len(sp.cats[c]))) - box.allowed[c]:
                    b = box.copy()
                    b.allowed[c].add(code)
                    n, k = _stats(b.mask(), y)
                    if n > n0 and k / n >= d0:
                        cand = b
                        break
            if cand is not None:
                box, improved = cand, True
                break
        if not improved:
            return box


def _to_box(pbox: _PrimBox, y: np.ndarray, full: np.ndarray) -> Box:
    sp = pbox.space
    m = pbox.mask()
    n, k = _stats(m, y)
    total_fail = int(y[full].sum())
    limits = []
    for c in sp.names:
        if sp.numeric[c]:
            x_all = sp.cols[c][full]
            lo = pbox.lo[c] if pbox.lo[c] > x_all.min() else None
            hi = pbox.hi[c] if pbox.hi[c] < x_all.max() else None
            if lo is None and hi is None:
                continue
            xin = sp.cols[c][m]
            lim = Limit(c, low=float(xin.min()) if lo is not None and len(xin) else lo,
                        high=float(xin.max()) if hi is not None and len(xin) else hi)
        else:
            if len(pbox.allowed[c]) == len(sp.cats[c]):
                continue
            lim = Limit(c, values=tuple(sp.cats[c][i] for i in sorted(pbox.allowed[c])))
        limits.append(lim)
    limits = [_with_quasi_p(lim, pbox, y, n, k) for lim in limits]
    return Box(limits, n, k, k / total_fail if total_fail else float("nan"),
               k / n if n else float("nan"), n / int(full.sum()) if full.sum() else float("nan"))


def _with_quasi_p(lim: Limit, pbox: _PrimBox, y: np.ndarray, n: int, k: int) -> Limit:
    m = pbox.mask(drop=lim.lever)
    n0, k0 = _stats(m, y)
    p0 = k0 / n0 if n0 else 0.0
    qp = float(stats.binom.sf(k - 1, n, p0)) if n and 0 < p0 < 1 else (0.0 if p0 == 0 and k
                                                                        else 1.0)
    return Limit(lim.lever, lim.low, lim.high, lim.values, qp)


def _choose(traj: list[_PrimBox], y: np.ndarray, total_fail: int, threshold: float) -> int:
    rows = []
    for i, b in enumerate(traj):
        n, k = _stats(b.mask(), y)
        rows.append((i, k / n if n else 0.0, k / total_fail if total_fail else 0.0))
    ok = [r for r in rows if r[1] >= threshold]
    if ok:
        return max(ok, key=lambda r: (r[2], r[1]))[0]
    return max(rows, key=lambda r: (r[1], r[2]))[0]


def prim(x: pd.DataFrame, y: np.ndarray, *, peel_alpha: float = 0.05, mass_min: float = 0.05,
         threshold: float = 0.8, max_boxes: int = 3, paste: bool = True
         ) -> tuple[list[Box], pd.DataFrame]:
    """PRIM boxes (covering: each next box on the cases outside the earlier ones) and the
    peeling trajectory of the first box (coverage, density, mass, limits restricted)."""
    space = _Space(x.reset_index(drop=True))
    y = np.asarray(y, dtype=bool)
    full = np.ones(space.n, dtype=bool)
    total = int(y.sum())
    boxes: list[Box] = []
    trajectory = pd.DataFrame(columns=["step", "coverage", "density", "mass", "restricted"])
    base = full.copy()
    while len(boxes) < max_boxes and y[base].sum() > 0:
        traj = _peel_trajectory(space, y, base, peel_alpha, mass_min)
        if not boxes:
            trajectory = pd.DataFrame([_traj_row(i, b, y, total, space.n, full)
                                       for i, b in enumerate(traj)])
        chosen = traj[_choose(traj, y, int(y[base].sum()), threshold)]
        if paste:
            chosen = _paste(chosen, y)
        box = _to_box(chosen, y, full)
        if not box.limits or (boxes and box.density < threshold):
            if not boxes:
                boxes.append(box)
            break
        boxes.append(box)
        base = base & ~chosen.mask()
    return boxes, trajectory


def _traj_row(i: int, b: _PrimBox, y: np.ndarray, total: int, n_all: int,
              full: np.ndarray) -> dict[str, Any]:
    n, k = _stats(b.mask(), y)
    box = _to_box(b, y, full)
    return {"step": i, "coverage": k / total if total else float("nan"),
            "density": k / n if n else float("nan"), "mass": n / n_all,
            "restricted": len(box.limits), "limits": "; ".join(lim.words() for lim in box.limits)}


# -------------------------------------------------------------------------------------- CART
def cart(x: pd.DataFrame, y: np.ndarray, *, max_depth: int = 3, min_leaf: int = 5,
         threshold: float = 0.5) -> list[Box]:
    """Boxes from the leaves of a small Gini classification tree whose failure share ≥
    ``threshold`` (largest coverage first)."""
    space = _Space(x.reset_index(drop=True))
    y = np.asarray(y, dtype=bool)
    full = np.ones(space.n, dtype=bool)
    leaves: list[_PrimBox] = []
    _grow(_PrimBox(space, full), y, 0, max_depth, min_leaf, leaves)
    boxes = []
    for leaf in leaves:
        b = _to_box(leaf, y, full)
        if b.n and b.density >= threshold and b.failing:
            boxes.append(b)
    return sorted(boxes, key=lambda b: (-b.coverage, -b.density))


def _gini(n: int, k: int) -> float:
    if n == 0:
        return 0.0
    p = k / n
    return 2 * p * (1 - p) * n


def _grow(box: _PrimBox, y: np.ndarray, depth: int, max_depth: int, min_leaf: int,
          leaves: list[_PrimBox]) -> None:
    m = box.mask()
    n, k = _stats(m, y)
    if depth >= max_depth or k in (0, n) or n < 2 * min_leaf:
        leaves.append(box)
        return
    best, best_g = None, _gini(n, k) - 1e-12
    sp = box.space
    for c in sp.names:
        x = sp.cols[c][m]
        yy = y[m]
        if sp.numeric[c]:
            u = np.unique(x)
            for a, b in zip(u[:-1], u[1:]):
                t = float(a)  # left: x ≤ t; right: x ≥ b
                left = x <= t
                nl, kl = int(left.sum()), int(yy[left].sum())
                if nl < min_leaf or n - nl < min_leaf:
                    continue
                g = _gini(nl, kl) + _gini(n - nl, k - kl)
                if g < best_g:
                    lb, rb = box.copy(), box.copy()
                    lb.hi[c] = min(lb.hi[c], t)
                    rb.lo[c] = max(rb.lo[c], float(b))
                    best, best_g = (lb, rb), g
        else:
            for code in sorted(set(x.tolist())):
                left = x == code
                nl, kl = int(left.sum()), int(yy[left].sum())
                if nl < min_leaf or n - nl < min_leaf:
                    continue
                g = _gini(nl, kl) + _gini(n - nl, k - kl)
                if g < best_g:
                    lb, rb = box.copy(), box.copy()
                    lb.allowed[c] = {code}
                    rb.allowed[c] = rb.allowed[c] - {code}
                    best, best_g = (lb, rb), g
    if best is None:
        leaves.append(box)
        return
    for child in best:
        _grow(child, y, depth + 1, max_depth, min_leaf, leaves)


# ------------------------------------------------------------------------------ on a store
def cases(store, kpi: str, per: str = "point") -> tuple[pd.DataFrame, np.ndarray]:  # noqa: ANN001
    """Lever values and the KPI per design point (mean over its ok runs) or per run."""
    pts = store.points()
    levers = [c for c in pts.columns if c not in ("point_id", "scenario_hash")]
    kp = store.kpis()
    if kpi not in kp.columns:
        from sim.scenario import ScenarioError

        kept = [c for c in kp.columns if c not in ("point_id", "replication")]
        raise ScenarioError([("--kpi", f"{kpi!r} is not in this store; it keeps: "
                                       + (", ".join(kept) or "nothing yet"))], str(store.path))
    if per == "point":
        y = kp.groupby("point_id")[kpi].mean()
        frame = pts.set_index("point_id").loc[y.index.intersection(pts.point_id), levers]
        values = y.loc[frame.index].to_numpy(dtype=float)
    else:
        frame = kp[["point_id", kpi]].merge(pts[["point_id", *levers]], on="point_id")
        values = frame[kpi].to_numpy(dtype=float)
        frame = frame[levers]
    ok = np.isfinite(values)
    return frame[ok].reset_index(drop=True), values[ok]


def discover(store, kpi: str, op: str, threshold: float, *, method: Method = "prim",  # noqa: ANN001
             per: str = "point", density: float = 0.8, max_boxes: int = 3,
             peel_alpha: float = 0.05, mass_min: float = 0.05, max_depth: int = 3,
             min_leaf: int = 3) -> Discovery:
    """Where in lever space does ``kpi op threshold`` hold (op ``<`` or ``>``: the failure)?"""
    x, v = cases(store, kpi, per)
    y = v < threshold if op == "<" else v > threshold
    if method == "cart":
        boxes, traj = cart(x, y, max_depth=max_depth, min_leaf=min_leaf,
                           threshold=0.5), pd.DataFrame()
    else:
        boxes, traj = prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min, threshold=density,
                           max_boxes=max_boxes)
    return Discovery(kpi, op, threshold, method, per, len(y), int(y.sum()), boxes, traj)


def print_discovery(d: Discovery, console, title: str | None = None) -> None:  # noqa: ANN001
    from rich.table import Table

    what = "design points" if d.unit == "point" else "runs"
    console.print(f"[bold]{title or 'Scenario discovery'}[/] — {d.method.upper()}: where "
                  f"{d.target} ({d.n_failing} of {d.n_cases} {what})", highlight=False)
    if d.n_failing == 0:
        console.print(f"  {d.target} nowhere in the store: no box to find.", highlight=False)
        return
    for i, b in enumerate(d.boxes, start=1):
        console.print(f"  box {i}: {b.words(d.target)}", highlight=False, soft_wrap=True)
        if b.limits:
            t = Table(show_header=True, box=None, padding=(0, 2))
            for c in ("lever", "limit", "quasi-p"):
                t.add_column(c, justify="right" if c == "quasi-p" else "left")
            for lim in b.limits:
                t.add_row(lim.lever, lim.words(), f"{lim.quasi_p:.2g}")
            console.print(t)
    if len(d.trajectory):
        console.print("  peeling trajectory (coverage ↔ density): " + ", ".join(
            f"{100 * r.coverage:.0f}%/{100 * r.density:.0f}%"
            for r in d.trajectory.iloc[::max(1, len(d.trajectory) // 8)].itertuples()),
            highlight=False, soft_wrap=True)


def trajectory_figure(d: Discovery):  # noqa: ANN201 - a plotly figure
    import plotly.graph_objects as go

    t = d.trajectory
    fig = go.Figure(go.Scatter(x=t.coverage, y=t.density, mode="lines+markers",
                               marker={"color": t.restricted, "colorscale": "Viridis",
                                       "showscale": True,
                                       "colorbar": {"title": "levers restricted"}},
                               text=t.limits, name="peeling trajectory"))
    fig.update_layout(title=f"PRIM: coverage vs density where {d.target}",
                      xaxis_title="coverage (share of all failures in the box)",
                      yaxis_title="density (share of the box that fails)",
                      xaxis_tickformat=".0%", yaxis_tickformat=".0%", height=420)
    return fig

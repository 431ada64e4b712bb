"""``gridsim report --format csv|json|markdown``: the report's tables as text for pipes.

- ``csv`` — the summary by design point (the same columns as ``summary.csv`` of ``--csv``):
  point_id, the factors, replications, then each KPI's mean and its 95% CI half-width.
- ``json`` — one document: the experiment, the run counts, every point with its factor values
  and, per KPI, n, mean, half-width and CI bounds; paired differences, failed runs, indices.
  Undefined values are ``null``.
- ``markdown`` — the console's tables as GitHub-flavoured Markdown tables.

Figures are written in full (CSV and JSON at full precision), never cut to a column's width.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from sim.experiment.report import ReportData, fmt, fmt_ci, wide_summary
from sim.metrics import KPI_DEFINITIONS

FORMATS = ("table", "csv", "json", "markdown")


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _clean(v.item())
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def as_csv(data: ReportData) -> str:
    return wide_summary(data).to_csv(index=False)


def as_json(data: ReportData) -> str:
    counts = data.runs.status.value_counts().to_dict() if len(data.runs) else {}
    n = data.kpis.groupby("point_id").size() if len(data.kpis) else pd.Series(dtype=int)
    by = {(int(r.point_id), r.kpi): r for r in data.summary.itertuples()}
    points = []
    for row in data.points.to_dict("records"):
        pid = int(row["point_id"])
        kp = {}
        for k in data.keys:
            s = by.get((pid, k))
            kp[k] = {f: (_clean(float(getattr(s, f))) if s is not None else None)
                     for f in ("mean", "half_width", "ci_low", "ci_high")}
            kp[k]["n"] = int(s.n) if s is not None else 0
        points.append({"point_id": pid, "scenario_hash": row["scenario_hash"],
                       "factors": {f: _clean(row[f]) for f in data.factors},
                       "replications": int(n.get(pid, 0)), "kpis": kp})
    failed = data.runs[data.runs.status == "failed"] if len(data.runs) else data.runs
    doc = {
        "experiment": data.exp.spec.name, "experiment_hash": data.exp.hash,
        "design": data.exp.spec.design.type, "store": str(data.store_path),
        "factors": data.factors, "kpis": data.keys,
        "runs": {"ok": int(counts.get("ok", 0)), "failed": int(counts.get("failed", 0))},
        "points": points,
        "differences": _records(data.differences),
        "failed_runs": _records(failed[["point_id", "replication", "seed", "error"]])
        if len(failed) else [],
        "sobol": _records(data.sobol), "morris": _records(data.morris),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]], right: list[bool]) -> list[str]:
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---:" if r else ":---" for r in right) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def as_markdown(data: ReportData) -> str:
    from sim.experiment.report import _short, _val

    counts = data.runs.status.value_counts().to_dict() if len(data.runs) else {}
    lines = [f"# {_md_cell(data.exp.spec.name)}", "",
             f"{data.exp.spec.design.type}, {len(data.points)} points, {counts.get('ok', 0)} "
             f"runs ok, {counts.get('failed', 0)} failed ({_md_cell(str(data.store_path))})", "",
             "## Mean ± 95% CI half-width by design point", ""]
    ws = wide_summary(data)
    header = ["point", *[_short(f) for f in data.factors], "n",
              *[f"{KPI_DEFINITIONS[k][0]} {KPI_DEFINITIONS[k][1]}" for k in data.keys]]
    rows = [[str(int(r["point_id"])), *[_val(r[f]) for f in data.factors],
             str(int(r["replications"])), *[fmt_ci(r[k], r[f"{k}_ci95"], k) for k in data.keys]]
            for r in ws.to_dict("records")]
    lines += _md_table(header, rows, [True] * len(header))
    failed = data.runs[data.runs.status == "failed"] if len(data.runs) else data.runs
    if len(failed):
        lines += [f"## Failed runs ({len(failed)})", ""]
        rows = [[str(r.point_id), str(r.replication), str(r.seed),
                 ((r.error or "").strip().splitlines()[-1:] or [""])[0]]
                for r in failed.itertuples()]
        lines += _md_table(["point", "replication", "seed", "error (last line)"], rows,
                           [True, True, True, False])
    if len(data.differences):
        lines += ["## Paired differences B − A (common random numbers)", ""]
        rows = [[str(r.point_a), str(r.point_b), KPI_DEFINITIONS[r.kpi][0], str(r.n_pairs),
                 fmt(r.mean_diff, r.kpi), f"[{fmt(r.ci_low, r.kpi)}, {fmt(r.ci_high, r.kpi)}]",
                 "–" if not math.isfinite(r.p_value) else f"{r.p_value:.3g}",
                 fmt(r.unpaired_half_width, r.kpi)] for r in data.differences.itertuples()]
        lines += _md_table(["A", "B", "KPI", "n", "B − A", "95% CI", "p (paired t)",
                            "unpaired ±"], rows, [True, True, False] + [True] * 5)
    for name, df, cols in (("Sobol indices", data.sobol, ["S1", "S1_conf", "ST", "ST_conf"]),
                           ("Morris screening", data.morris,
                            ["mu", "mu_star", "sigma", "mu_star_conf"])):
        if len(df):
            lines += [f"## {name}", ""]
            rows = [[KPI_DEFINITIONS[r["kpi"]][0], r["factor"], *[f"{r[c]:.3g}" for c in cols]]
                    for r in df.to_dict("records")]
            lines += _md_table(["KPI", "factor", *cols], rows, [False, False] + [True] * 4)
    return "\n".join(lines)


def render(data: ReportData, fmt_name: str) -> str:
    return {"csv": as_csv, "json": as_json, "markdown": as_markdown}[fmt_name](data)

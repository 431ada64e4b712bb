"""Joint-response rules against the default on the ready drills: paired differences with 95%
intervals under common random numbers (same seed ⇒ same emergency, same routine incidents).

For each drill (``scenarios/market_fire_drill.yaml``, ``gas_leak_drill.yaml``,
``flood_drill.yaml``) and each rule in :data:`RULES`, every seed is run twice — the drill as
written (the default: simultaneous dispatch, unified platform command, 1-min decisions, routine
work waits, levels by harm on) and with the one rule changed — through ``run_scenario`` (the
whole day, routine cases included). A cell is the mean paired difference (rule − default) with
its 95% t-interval; its verdict is ↑ or ↓ when the interval excludes 0, "no detectable change"
when it does not, and "=" when every seed gives exactly the same value.

    .venv/bin/python benchmarks/emergency_rules.py              # 20 seeds, print the table
    .venv/bin/python benchmarks/emergency_rules.py --write      # … and rewrite docs/emergency.md
    .venv/bin/python benchmarks/emergency_rules.py --seeds 5    # smaller

``--write`` replaces the text between the markers in ``docs/emergency.md``; the block carries the
verdicts as JSON, which ``tests/test_emergency_rules.py`` re-checks at reduced size.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.experiment.analysis import mean_ci  # noqa: E402
from sim.run import run_scenario  # noqa: E402
from sim.scenario import load_scenario, scenario_with  # noqa: E402

DOC = ROOT / "docs" / "emergency.md"
BEGIN, END = "<!-- emergency-rules:begin -->", "<!-- emergency-rules:end -->"

DRILLS: dict[str, str] = {"fire (market, night)": "market_fire_drill.yaml",
                          "gas leak (homes)": "gas_leak_drill.yaml",
                          "flood (several grids)": "flood_drill.yaml"}
#: rule name -> overrides of the drill (each against the drill as written)
RULES: dict[str, dict] = {
    "sequential dispatch": {"emergency.rules.dispatch": "sequential"},
    "lead command (relay 3 min, decision 5 min)": {"emergency.rules.command": "lead"},
    "slow platform decision (6 min, not 1)": {
        "emergency.rules.platform_dispatch_min": {"dist": "fixed", "value": 6.0}},
    "routine_work: preempt": {"emergency.rules.routine_work": "preempt"},
    "triggers × 2 (escalation_factor)": {"emergency.rules.escalation_factor": 2.0},
    "no levels by harm (Decree 493 off)": {"emergency.rules.harm_levels.enabled": False},
}
#: KPI -> column heading
COLUMNS: dict[str, str] = {
    "em_containment_min": "containment (min)", "em_damage_yuan": "damage (¥)",
    "em_injured": "injured", "em_killed": "killed", "em_exposure_h": "exposure (person-h)",
    "em_time_to_care_min": "time to care (min)",
    "em_routine_cases_delayed": "routine cases delayed", "mean_crew_wait_h": "routine crew wait (h)"}


def kpis(path: str, overrides: dict, seed: int) -> dict[str, float]:
    sc = load_scenario(ROOT / "scenarios" / path)
    if overrides:
        sc = scenario_with(sc, overrides)
    return run_scenario(sc, seed=seed, keep_cases=False).kpis


def compare(path: str, overrides: dict, seeds: list[int],
            base: dict[int, dict[str, float]] | None = None) -> dict[str, dict]:
    """KPI -> {mean, half_width, n, verdict} of the paired differences rule − default."""
    base = base or {s: kpis(path, {}, s) for s in seeds}
    rule = {s: kpis(path, overrides, s) for s in seeds}
    out = {}
    for key in COLUMNS:
        d = np.array([rule[s][key] - base[s][key] for s in seeds], dtype=float)
        d = d[np.isfinite(d)]
        n, mean, _, hw = mean_ci(d)
        if n and np.all(d == 0):
            verdict = "="
        elif n >= 2 and math.isfinite(hw) and abs(mean) > hw:
            verdict = "↑" if mean > 0 else "↓"
        else:
            verdict = "no detectable change"
        out[key] = {"mean": mean, "half_width": hw, "n": n, "verdict": verdict}
    return out


def run(seeds: list[int], drills: dict[str, str] = DRILLS,
        rules: dict[str, dict] = RULES) -> dict[str, dict[str, dict[str, dict]]]:
    """drill -> rule -> KPI -> result."""
    res: dict[str, dict[str, dict[str, dict]]] = {}
    for dname, path in drills.items():
        base = {s: kpis(path, {}, s) for s in seeds}
        res[dname] = {r: compare(path, over, seeds, base) for r, over in rules.items()}
    return res


def _num(x: float) -> str:
    a = abs(x)
    if a >= 1e5:
        return f"{x:+,.3g}".replace("e+0", "e").replace("e+", "e")
    if a < 0.1:
        return f"{x:+.2g}"
    return f"{x:+,.2f}" if a < 100 else f"{x:+,.0f}"


def cell(r: dict) -> str:
    if r["n"] == 0:
        return "–"
    if r["verdict"] == "=":
        return "= (identical)"
    body = f"{_num(r['mean'])} ± {abs(r['half_width']):,.3g}"
    return f"**{r['verdict']} {body}**" if r["verdict"] in ("↑", "↓") else f"n.d. ({body})"


def markdown(res: dict, n_seeds: int, seconds: float) -> str:
    lines = [f"Paired differences rule − default, mean ± 95% half-width over {n_seeds} seeds "
             "(same seed, same emergency and routine incidents); **↑/↓** the interval excludes "
             "0, n.d. no detectable change, = identical at every seed. Written by "
             f"`benchmarks/emergency_rules.py --write` ({seconds:.0f} s).", ""]
    for dname, rules in res.items():
        lines += [f"**{dname}** — `scenarios/{DRILLS.get(dname, '')}`", "",
                  "| rule | " + " | ".join(COLUMNS.values()) + " |",
                  "|---|" + "---:|" * len(COLUMNS)]
        for rname, r in rules.items():
            lines.append(f"| {rname} | " + " | ".join(cell(r[k]) for k in COLUMNS) + " |")
        lines.append("")
    verdicts = {d: {r: {k: [v["verdict"], _round(v["mean"]), _round(v["half_width"])]
                        for k, v in x.items()} for r, x in rules.items()}
                for d, rules in res.items()}
    lines.append(f"<!-- verdicts {json.dumps(verdicts, ensure_ascii=False)} -->")
    return "\n".join(lines)


def _round(x: float) -> float | None:
    return None if not math.isfinite(x) else float(f"{x:.4g}")


def stored_verdicts(text: str | None = None) -> dict:
    """The verdicts written in docs/emergency.md: drill -> rule -> KPI -> [verdict, mean
    difference, 95% half-width]."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    m = re.search(r"<!-- verdicts (\{.*\}) -->", text)
    return json.loads(m.group(1)) if m else {}


def write(block: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    tmp = DOC.with_name(DOC.name + ".partial")
    tmp.write_text(text[:i] + "\n" + block + "\n" + text[j:], encoding="utf-8")
    tmp.replace(DOC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 1 … N (default 20)")
    ap.add_argument("--write", action="store_true", help="rewrite the table in docs/emergency.md")
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = run(list(range(1, a.seeds + 1)))
    block = markdown(res, a.seeds, time.perf_counter() - t0)
    print(block)
    if a.write:
        write(block)
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()

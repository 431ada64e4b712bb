"""``gridsim drill SCENARIO [--seed N] [--set path=value ...] [--trace FILE]``.

Runs the scenario's scripted emergencies as a drill (:class:`sim.emergency.Drill`), prints the
timestamped bilingual narrative, then the emergency KPI table; ``--trace`` writes the replayable
event trace (``.jsonl`` or ``.parquet``); ``--replay FILE`` prints the narrative of a saved trace.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override a scenario field by dotted path, e.g. "
                  "emergency.rules.dispatch=sequential (repeatable; values are YAML).")]


def drill_command(
    scenario: Annotated[Optional[Path], typer.Argument(
        help="Drill scenario YAML, e.g. scenarios/fire_drill.yaml.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: run.seed).")] = None,
    set_: SetOpt = None,
    trace: Annotated[Optional[Path], typer.Option(
        help="Write the event trace here (.jsonl or .parquet) for replay and animation.")] = None,
    replay: Annotated[Optional[Path], typer.Option(
        help="Print the narrative of a saved trace instead of running.")] = None,
    verbose: Annotated[bool, typer.Option(help="Include hazard updates.")] = False,
) -> None:
    """Run an emergency drill: narrative of the joint response, then its KPIs."""
    from rich.table import Table

    from sim.cli.common import console, fail, kpi_table, resolve_scenario
    from sim.emergency.trace import narrative, read_trace
    from sim.scenario import ScenarioError

    if replay is not None:
        try:
            rows = read_trace(replay)
        except (OSError, ValueError, KeyError) as err:
            fail(ScenarioError([("replay", f"cannot read trace: {err}")], str(replay)))
            return
        for line in narrative(rows, verbose):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    try:
        if seed is not None and not 0 <= seed < 2**63:
            raise ScenarioError([("seed", f"must be between 0 and 2**63-1 (got {seed})")], "--seed")
        if trace is not None and trace.suffix not in (".jsonl", ".parquet"):
            raise ScenarioError([("trace", "the trace file must end in .jsonl or .parquet")],
                                str(trace))
        if trace is not None and not trace.parent.exists():
            raise ScenarioError([("trace", "its directory does not exist")], str(trace))
        sc = resolve_scenario(scenario, set_)
        from sim.emergency.drill import Drill

        d = Drill(sc, seed)
    except ScenarioError as e:
        fail(e)
        return
    if not sc.emergency.incidents and not any(k.rate_per_day > 0
                                              for k in sc.emergency.kinds.values()):
        fail(ScenarioError([("emergency.incidents", "the drill has no emergency: list at least "
                             "one, e.g. [{kind: building_fire, at_h: 10, grid: 0}]")], sc.name))
    d.run()
    console.print(f"{sc.name} — seed {d.model.seed}; clock from the first emergency "
                  f"(model hour {d.manager.origin_h:g})", highlight=False)
    for line in d.narrative(verbose):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(_emergency_table(d, Table))
    for line in _coverage_lines(d):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(kpi_table(d.kpis(), "Emergency KPIs 突发事件指标"))
    if trace is not None:
        d.write_trace(trace)
        console.print(f"trace written to {trace} ({len(d.events)} rows)", highlight=False)


def _emergency_table(d, Table):  # -> rich Table
    """One row per emergency; times in minutes from the alarm."""
    t = Table(title="Emergencies 突发事件 (minutes from the alarm 自接警起分钟)",
              title_justify="left")
    for col in ("#", "kind", "level", "first", "joint", "contained", "damage ¥", "people",
                "aid"):
        t.add_column(col, justify="left" if col == "kind" else "right", no_wrap=True)

    def mins(a: float, b: float) -> str:
        return "–" if math.isnan(a) or math.isnan(b) else f"{(a - b) * 60:.1f}"

    for _, row in d.table().iterrows():
        t.add_row(str(row.emergency), row.kind, row.max_level or "–",
                  mins(row.t_first_response_h, row.t_alarm_h),
                  mins(row.t_full_joint_h, row.t_alarm_h),
                  mins(row.t_contained_h, row.t_alarm_h), f"{row.damage_yuan:,.0f}",
                  f"{row.people_affected:,.0f}", str(int(row.mutual_aid_units)))
    return t


def _coverage_lines(d) -> list[str]:
    """5-minute coverage of each responder with placed stations (the fire norm, facts.md)."""
    from sim.emergency.stations import station_coverage

    m = d.manager
    city = d.model.city
    out = []
    for code, stations in m.stations.items():
        r = m.cfg.responders[code]
        if r.placement != "district_km2":
            continue
        sites = np.array([st.grid for st in stations])
        share = station_coverage(city, r, m.speed_kmh(code), 5.0, sites)
        area = float(city.area_km2.sum())
        out.append(f"{r.label_zh} {r.label_en}: {len(sites)} station(s), "
                   f"{area / len(sites):.1f} km² each; households reached within 5 min of "
                   f"dispatch: {share:.1%}")
    return out

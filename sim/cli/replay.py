"""``gridsim replay``: a log's own requests through a scenario, followed to closure, compared
with what the log says happened — and, with ``--set`` or ``--baseline``, the same requests under
another policy as paired differences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sim.cli.common import SetOpt


def replay_command(
    log: Annotated[Path, typer.Argument(help="Service-request log (CSV, JSON, JSON Lines).")],
    format_: Annotated[str, typer.Option(
        "--format", help="Any log format calibrate reads (nyc311, open311, csv, json, "
                         "jsonl, …).")],
    out: Annotated[Path, typer.Option(
        help="Run folder to write: manifest.json, replay.json, replay.csv, cases.parquet "
             "(and paired.json with --set or --baseline).")],
    scenario: Annotated[Optional[Path], typer.Option(
        help="Scenario to replay the requests on (default: the baseline; usually the one "
             "`gridsim calibrate --out` wrote).")] = None,
    set_: SetOpt = None,
    baseline: Annotated[Optional[Path], typer.Option(
        help="Also replay on this scenario and print paired differences (scenario − baseline). "
             "With --set and no --baseline the baseline is the scenario without the --set.")
    ] = None,
    mapping: Annotated[Optional[Path], typer.Option(help="Mapping file (as calibrate's).")] = None,
    column: Annotated[Optional[list[str]], typer.Option(
        "--column", help="FIELD=HEADER naming the log's column of a field (repeatable).")] = None,
    tz: Annotated[Optional[str], typer.Option("--tz", help="The city's time zone.")] = None,
    crs: Annotated[Optional[str], typer.Option(
        "--crs", help="On a scenario with city.geometry: the CRS of the log's lat/lon (as "
                      "calibrate's); each request is replayed on the cell it falls in.")] = None,
    from_: Annotated[Optional[str], typer.Option(
        "--from", help="Replay requests created at or after this time only.")] = None,
    to: Annotated[Optional[str], typer.Option(
        "--to", help="Replay requests created before this time only.")] = None,
    reps: Annotated[int, typer.Option(help="Replications (same seeds for every policy).")] = 5,
    streets: Annotated[Optional[int], typer.Option(
        help="Replay on this many streets of the city at the same load per street, the "
             "requests thinned in proportion (the same ones for every policy): a quicker "
             "sample of a large city's log (default: the whole city).")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Master seed of the replications (default: the scenario's).")] = None,
) -> None:
    """Replay a log's requests on a scenario and compare time to close with the log's."""
    from rich.console import Console
    from rich.markdown import Markdown

    from sim.cli.common import fail, resolve_scenario
    from sim.cli.run import _staging
    from sim.data.logformats import parse_column_options
    from sim.data.replay import read_requests, replay
    from sim.data.replaystats import paired, paired_lines, summarise, verdict_lines
    from sim.data.servicelog import CalibrationError
    from sim.scenario import ScenarioError, load_scenario

    err = Console(stderr=True)
    try:
        problems: list[tuple[str, str]] = []
        if reps < 2:
            problems.append(("reps", f"needs at least 2 replications (got {reps})"))
        if streets is not None and streets < 1:
            problems.append(("streets", f"must be at least 1 (got {streets})"))
        if not log.is_file():
            problems.append(("", f"{log}: file not found"))
        if out.exists() and not out.is_dir():
            problems.append(("out", f"{out} exists and is not a directory"))
        cols, col_problems = parse_column_options(column or [])
        problems += col_problems
        if problems:
            raise CalibrationError(problems, "gridsim replay")
        sc = resolve_scenario(scenario, set_)
        base = load_scenario(baseline) if baseline else (
            resolve_scenario(scenario, None) if set_ else None)
        req = read_requests(log, format_, sc, mapping, columns=cols, tz=tz, start=from_, end=to,
                            crs=crs)
    except ScenarioError as e:
        fail(e)
        return
    master = sc.run.seed if seed is None else seed
    if streets is not None:
        sc, base, req = _on_streets(sc, base, req, streets, master)
    err.print(f"replaying {len(req):,} requests ({(req.window_h[1] - req.window_h[0]) / 24:.1f} "
              f"days, followed {(req.horizon_h - req.window_h[1]) / 24:.1f} days past the "
              f"window) × {reps} replications" + (" × 2 policies" if base else ""),
              highlight=False)
    with _staging(out) as stage:
        assert stage is not None
        runs = replay(sc, req, reps, master, case_sink=stage / "cases.parquet")
        doc = summarise(req, runs)
        files: dict[str, Any] = {"replay.json": doc}
        diff = None
        if base is not None:
            base_runs = replay(base, req, reps, master)
            diff = paired(req, runs, base_runs)
            files["paired.json"] = diff
        _write_all(stage, files, doc, _manifest(log, sc, base, req, master, reps, runs))
    text = ["# Replay of " + log.name, "", *verdict_lines(doc), "", "Departments:", "",
            *verdict_lines(doc, "departments")]
    if diff is not None:
        text += ["", "Paired differences (scenario − baseline, same requests and seeds):", "",
                 *paired_lines(diff), "", *paired_lines(diff, "departments")]
    text += [f"- {n}" for n in req.notes]
    err.print(Markdown("\n".join(text)))
    err.print(f"results written to {out}/", highlight=False)


def _on_streets(sc: Any, base: Any, req: Any, streets: int, seed: int) -> tuple[Any, Any, Any]:
    from sim.data.replay import thin
    from sim.data.sizing import reduced_city

    small = reduced_city(sc, streets)
    share = small.city.households / sc.city.households
    return (small, reduced_city(base, streets) if base is not None else None,
            thin(req, share, seed))


def _manifest(log: Path, sc: Any, base: Any, req: Any, master: int, reps: int,
              runs: list[Any]) -> dict[str, Any]:
    import hashlib
    import platform
    import time

    from sim.data.sizing import n_streets
    from sim.version import __version__

    h = hashlib.sha256()
    with open(log, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"gridsim_version": __version__, "log": str(log), "log_sha256": h.hexdigest(),
            "scenario_name": sc.name, "scenario_hash": sc.hash(),
            "baseline_name": base.name if base is not None else None,
            "baseline_hash": base.hash() if base is not None else None,
            "master_seed": master, "reps": reps, "seeds": [r.seed for r in runs],
            "requests": len(req), "households": sc.city.households, "streets": n_streets(sc),
            "model_time_0": str(req.t0),
            "window_h": list(req.window_h), "follow_up_end_h": req.horizon_h,
            "python": platform.python_version(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _write_all(stage: Path, files: dict[str, Any], doc: dict[str, Any],
               manifest: dict[str, Any]) -> None:
    import json

    from sim.data.replaystats import table

    for name, content in {**files, "manifest.json": manifest}.items():
        (stage / name).write_text(json.dumps(content, indent=2, allow_nan=False) + "\n",
                                  encoding="utf-8")
    table(doc).to_csv(stage / "replay.csv", index=False)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)

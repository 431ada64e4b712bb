"""``gridsim validation``: the model against published figures, with confidence intervals."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sim.cli.common import fail
from sim.data.validation import (
    SENSITIVITY,
    VALIDATIONS,
    _fmt,
    markdown_table,
    sensitivity,
    sensitivity_markdown,
    validate_city,
)


def validation_command(
    names: Annotated[Optional[list[str]], typer.Argument(
        help="Validations to run (default: all): " + ", ".join(VALIDATIONS))] = None,
    reps: Annotated[int, typer.Option(help="Independent replications per scenario.")] = 10,
    days: Annotated[Optional[float], typer.Option(
        help="Simulated days (default: the scenario's); shorter runs for a quick check.")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Master seed the replication seeds derive from (default: run.seed).")] = None,
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table.")] = False,
    sensitivity_: Annotated[bool, typer.Option(
        "--sensitivity", help="Also vary the assumed parameters one at a time (sim/data/validation.py"
                              " SENSITIVITY) and show how each figure moves.")] = False,
) -> None:
    """Run the validation scenarios: published vs simulated, with 95% CIs and verdicts."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from sim.scenario import ScenarioError

    chosen = names or list(VALIDATIONS)
    unknown = [n for n in chosen if n not in VALIDATIONS]
    err = Console(stderr=True)
    if unknown or reps < 2 or (days is not None and days <= 0):
        problems = [("name", f"unknown validation {n!r}; allowed: {', '.join(VALIDATIONS)}")
                    for n in unknown]
        if reps < 2:
            problems.append(("reps", f"needs at least 2 replications for an interval (got {reps})"))
        if days is not None and days <= 0:
            problems.append(("days", f"must be positive (got {days:g})"))
        fail(ScenarioError(problems, "gridsim validation"))
    if sensitivity_:
        for n in chosen:
            err.print(f"{n}: {reps} replications × {1 + len(SENSITIVITY.get(n, []))} variants…",
                      highlight=False)
            print(f"\n{VALIDATIONS[n].title}\n")
            print(sensitivity_markdown(sensitivity(n, reps=reps, days=days)))
        print("\n✗ = disagrees with the published figure")
        return
    frames = []
    for n in chosen:
        err.print(f"{n}: {reps} replications…", highlight=False)
        frames.append(validate_city(VALIDATIONS[n], reps=reps, days=days, master_seed=seed))
    df = pd.concat(frames, ignore_index=True)
    if markdown:
        print(markdown_table(df))
        return
    t = Table(title="Validation: published vs simulated (95% CI over replications)",
              title_justify="left")
    for col in ("scenario", "published figure", "published", "simulated", "95% CI", "verdict"):
        t.add_column(col)
    for _, r in df.iterrows():
        f = _fmt(r["metric"])
        verdict = "[green]agrees[/]" if r["agrees"] else "[red]disagrees[/]"
        if r["calibrated"]:
            verdict += " (calibrated)"
        t.add_row(r["validation"], r["target"], f(r["published"]), f(r["simulated"]),
                  f"{f(r['ci_lo'])} – {f(r['ci_hi'])}", verdict)
    Console().print(t)
    print(f"{reps} replications each; days: {'scenario' if days is None else f'{days:g}'}; "
          "see docs/validation.md for sources and what the model cannot reproduce.")

"""Full-size validation: published figures (facts.md) against simulated ones, with 95% CIs.

    .venv/bin/python benchmarks/validate.py [--reps 20] [--markdown] [--sensitivity]
                                            [--no-docs] [--no-levers]

Runs every scenario of ``sim.data.validation.VALIDATIONS`` at its own length (no reduction) with
independent replications and prints one line per published figure — the same table as
``gridsim validation``, and the one docs/validation.md shows. The tests run the same code at a
reduced length (tests/test_validation_cities.py).

Then it rewrites the measured tables of the docs that ``make validate`` owns
(``sim.experiment.doc_tables``: docs/incentives.md) at full size, printing any claim that no
longer holds, and walks every field of the schema (benchmarks/lever_walk.py, docs/levers.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from sim.data.validation import (
    SENSITIVITY,
    VALIDATIONS,
    format_row,
    markdown_table,
    sensitivity,
    sensitivity_markdown,
    validate_city,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20, help="replications per scenario")
    ap.add_argument("--markdown", action="store_true", help="also print the Markdown table")
    ap.add_argument("--sensitivity", action="store_true",
                    help="also vary the assumed parameters one at a time")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite the measured tables")
    ap.add_argument("--no-levers", action="store_true", help="skip the lever walk")
    args = ap.parse_args()
    frames = []
    for name, v in VALIDATIONS.items():
        t0 = time.perf_counter()
        df = validate_city(v, reps=args.reps)
        frames.append(df)
        for _, row in df.iterrows():
            print(format_row(row))
        print(f"  ({name}: {args.reps} replications in {time.perf_counter() - t0:.1f} s)")
    if args.markdown:
        print()
        print(markdown_table(pd.concat(frames, ignore_index=True)))
    if args.sensitivity:
        for name in SENSITIVITY:
            print(f"\n{VALIDATIONS[name].title}\n")
            print(sensitivity_markdown(sensitivity(name, reps=args.reps)))
    failed = 0 if args.no_docs else write_doc_tables()
    if not args.no_levers:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import lever_walk
        failed += lever_walk.main(["--write-docs"])
    if failed:
        sys.exit(1)


def write_doc_tables() -> int:
    """Rewrite the measured tables ``make validate`` owns; the number of claims that fail."""
    from sim.cli.docs import DOCS_DIR, write_generated_section
    from sim.experiment.doc_tables import TABLES

    bad = 0
    for t in TABLES:
        if "make validate" not in t.command:
            continue
        t0 = time.perf_counter()
        body, claims = t.make("full")
        write_generated_section(DOCS_DIR / t.doc, t.name, t.command, body)
        broken = [what for what, ok in claims if not ok]
        bad += len(broken)
        print(f"\n{t.doc} ({t.name}): {len(claims) - len(broken)}/{len(claims)} claims hold "
              f"({time.perf_counter() - t0:.0f} s)")
        for what in broken:
            print(f"  NO LONGER HOLDS: {what}")
    return bad


if __name__ == "__main__":
    main()

"""Full-size validation: published figures (facts.md) against simulated ones, with 95% CIs.

    .venv/bin/python benchmarks/validate.py [--reps 20] [--markdown] [--sensitivity]

Runs every scenario of ``sim.data.validation.VALIDATIONS`` at its own length (no reduction) with
independent replications and prints one line per published figure — the same table as
``gridsim validation``, and the one docs/validation.md shows. The tests run the same code at a
reduced length (tests/test_validation_cities.py).
"""

from __future__ import annotations

import argparse
import time

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


if __name__ == "__main__":
    main()

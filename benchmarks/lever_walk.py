"""The lever walk over every field of the scenario schema (sim.experiment.levers).

    .venv/bin/python benchmarks/lever_walk.py [--fields N] [--sample-seed S] [--write-docs]

Perturbs every leaf field of the walk's base scenario (or N of them, chosen by S), runs it at
common seeds against the base and prints one line per field: the KPI it moved most, effect /
noise and the verdict. ``--write-docs`` rewrites the generated table in docs/levers.md. A field
with no valid perturbation, or that changes no KPI at all and is not a reviewed exception or
weak field (``sim.experiment.levers.acceptable``), makes the exit status 1.
``make validate`` runs it over all fields (benchmarks/validate.py); the tests walk a sample
(tests/test_levers.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim.cli.docs import write_generated_section
from sim.experiment.levers import (
    PAIR_SEEDS,
    acceptable,
    THRESHOLD,
    fmt_ratio,
    leaves,
    markdown,
    sample,
    walk,
    walk_base,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "levers.md"
COMMAND = "benchmarks/lever_walk.py --write-docs (run by `make validate`)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=0, help="walk this many fields (0: all)")
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    paths = [lf.path for lf in leaves(walk_base())]
    if args.fields:
        paths = sample(paths, args.fields, args.sample_seed)
    t0 = time.perf_counter()

    def show(r) -> None:
        ratio = fmt_ratio(r.ratio) if r.kpi else ""
        print(f"{r.path:70s} {r.verdict:12.60s} {r.kpi:34s} {ratio}", flush=True)

    results = walk(paths, progress=show)
    n_all = len(leaves(walk_base()))
    head = (f"All {n_all} leaf fields" if len(results) == n_all else
            f"{len(results)} of the {n_all} leaf fields (a sample, seed {args.sample_seed}; "
            "`make validate` walks all)")
    counts = {}
    for r in results:
        v = "exception" if r.verdict.startswith("exception") else r.verdict
        counts[v] = counts.get(v, 0) + 1
    summary = head + ": " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + "."
    bad = [r for r in results if not acceptable(r)]
    print(f"\n{len(results)} fields in {time.perf_counter() - t0:.0f} s; "
          f"{sum(r.verdict == 'moves' for r in results)} move a KPI beyond {THRESHOLD:g}× noise "
          f"at {len(PAIR_SEEDS)} paired seeds; {len(bad)} need attention")
    for r in bad:
        print(f"  {r.path}: {r.verdict}")
    print(summary)
    if args.write_docs:
        write_generated_section(DOC, "lever-walk", COMMAND, summary + "\n\n" + markdown(results))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

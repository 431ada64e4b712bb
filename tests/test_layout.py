"""The package's layout holds: layers import downwards only, no import cycles, nothing outside
``sim.cli`` imports it, and no module is too long to read in one sitting.

The import graph is read from the source with ``ast`` (every ``import`` statement, at module level
or inside a function, except those under ``if TYPE_CHECKING:``), so it also sees imports that are
deferred to call time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"
MAX_LINES = 600

# Lower numbers are lower layers; a module may import its own layer and the ones below it.
LAYERS: list[tuple[str, int]] = [
    ("sim.scenario.size", 1),  # the size guard counts grids with the city's own code
    ("sim.scenario", 0),    # the schema: what a run is given
    ("sim.metrics", 1),     # every KPI, once (reads case logs; knows nothing of the engine)
    ("sim.tally", 1),
    ("sim.kpi_catalogue", 1),  # each KPI's labels, unit and formula in words       # counts and means over a mask, whole or per unit (for the KPIs)
    ("sim.world", 1),       # the city, the calendar, patrol beats
    ("sim.agents", 2),      # the Mesa agents
    ("sim.engine.case", 2),  # the case record, shared by the engine and the plug-ins
    ("sim.policies", 3),    # plug-ins the engine calls (they import the engine only for typing)
    ("sim.emergency.drill", 5),  # a drill builds and runs a model
    ("sim.emergency", 3),   # the emergency plug-in: hazards, stations, dispatch, trace
    ("sim.engine", 4),      # GridModel, arrivals, the workflow, records, seeding
    ("sim.run", 6),         # run_scenario
    ("sim.experiment", 7),  # designs, backends, the store, analysis, reports
    ("sim.data", 8),        # logs, calibration, validation, theory
    ("sim.cli", 9),         # every command
    ("sim.version", 0),     # the package version
]


def module_name(path: Path) -> str:
    rel = path.relative_to(SIM.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def layer(mod: str) -> int | None:
    for prefix, rank in LAYERS:  # the first (most specific) prefix that matches
        if mod == prefix or mod.startswith(prefix + "."):
            return rank
    return None  # the package root (sim/__init__.py) re-exports the public names


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(mod: str) -> set[str]:
    path = MODULES[mod]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # `import sim.engine.model` names the module itself
                t = t.rpartition(".")[0]
            if t and t != mod:
                found.add(t)
    return found


GRAPH = nx.DiGraph()
for _mod in MODULES:
    GRAPH.add_node(_mod)
    for _dep in imports_of(_mod):
        GRAPH.add_edge(_mod, _dep)


def test_the_graph_is_read_from_the_source():
    """The walker sees module-level, deferred and relative imports (a guard on the guard)."""
    assert ("sim.engine.model", "sim.engine.workflow") in GRAPH.edges
    assert ("sim.cli", "sim.cli.experiment") in GRAPH.edges  # `from sim.cli import experiment`
    assert ("sim.run", "sim.engine.model") in GRAPH.edges
    # under TYPE_CHECKING only: the plug-ins name the model for typing, never import it
    assert ("sim.policies.incentives", "sim.engine.model") not in GRAPH.edges
    assert len(MODULES) > 50


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(GRAPH))
    assert not cycles, "import cycles in sim/: " + "; ".join(" → ".join(c + [c[0]])
                                                            for c in cycles[:10])


def test_nothing_outside_the_commands_imports_them():
    bad = sorted((a, b) for a, b in GRAPH.edges
                 if b.startswith("sim.cli") and not (a == "sim.cli" or a.startswith("sim.cli.")))
    assert not bad, "only sim/cli/ may import sim.cli: " + ", ".join(f"{a} → {b}" for a, b in bad)


def test_layers_import_downwards_only():
    bad = []
    for a, b in GRAPH.edges:
        if MODULES[a].name == "__init__.py" and b.startswith(a + "."):
            continue  # a package's front door re-exports its own modules (lazily, on first use)
        la, lb = layer(a), layer(b)
        if la is not None and lb is not None and lb > la:
            bad.append(f"{a} (layer {la}) → {b} (layer {lb})")
    assert not bad, "imports that go up a layer:\n  " + "\n  ".join(sorted(bad))


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer(m) is None] == ["sim"]


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_no_module_is_too_long_to_read(mod):
    n = len(MODULES[mod].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{MODULES[mod].relative_to(SIM.parent)} has {n} lines (at most {MAX_LINES})"


def test_the_public_entry_points_keep_working():
    from sim import Scenario, load_scenario, run_scenario  # noqa: F401
    from sim.cli import app, main  # noqa: F401  (the console script is sim.cli:main)

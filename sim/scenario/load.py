"""Loading, validating, ``--set`` overrides by dotted path, and the JSON Schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.scenario.errors import ScenarioError, _format_validation
from sim.scenario.model import Scenario
from sim.scenario.yamlio import parse_yaml, read_mapping


def validate_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate a plain mapping as a Scenario, or raise ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError([("", f"a scenario must be a mapping of fields, got {type(data).__name__}")],
                            source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation(err, Scenario), source) from None



def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file, applying dotted-path overrides first."""
    from sim.scenario.mapfiles import resolve_paths

    data = read_mapping(path)
    if overrides:
        data = set_paths(data, overrides, source=str(path))
    data = resolve_paths(data, Path(path).resolve().parent)  # map files: relative to the file
    return validate_scenario(data, str(path))


# -------------------------------------------------------------------------------------- overrides
def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[1, 2]"]`` → ``{"a.b": 3, "c": [1, 2]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError([(item, "an override must look like path.to.field=value")], "--set")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ScenarioError([(item, "the field path before '=' is empty")], "--set")
        out[key] = parse_yaml(raw, f"--set {key}") if raw.strip() else ""
    return out


def set_paths(data: dict, overrides: dict[str, Any], source: str | None = "--set") -> dict:
    """Return a copy of ``data`` with each dotted path set. Paths must exist in the schema."""
    import copy

    base = copy.deepcopy(data)
    full = Scenario().model_dump(mode="json", by_alias=True)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node, ref = base, full
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            so_far = ".".join(parts[: i + 1])
            if isinstance(ref, dict) and ref and part not in ref and part not in node \
                    and not _is_dict_field(parts[:i]):
                allowed = ", ".join(ref.keys())
                raise ScenarioError([(so_far, f"unknown field; allowed: {allowed}")], source)
            if last:
                node[part] = value
                break
            if part not in node or not isinstance(node[part], dict):
                seed = ref.get(part) if isinstance(ref, dict) else None
                node[part] = copy.deepcopy(seed) if isinstance(seed, dict) else {}
            node = node[part]
            ref = ref.get(part, {}) if isinstance(ref, dict) else {}
    return base


def _is_dict_field(parts: list[str]) -> bool:
    """True where the path points into a user-keyed mapping (departments, categories, zones…)."""
    keyed = {("departments",), ("incidents", "categories"), ("city", "zones")}
    if tuple(parts) in keyed:
        return True
    if parts[:1] == ["emergency"] and parts[-1] in ("responders", "kinds", "levels", "units",
                                                    "control_per_unit_per_min", "pump_mm_per_h"):
        return True
    return len(parts) == 4 and parts[:2] == ["incidents", "categories"] and parts[3] == "subtypes"


def scenario_with(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A validated copy of ``scenario`` with dotted-path overrides applied."""
    data = scenario.model_dump(mode="json", by_alias=True)
    return validate_scenario(set_paths(data, overrides), scenario.name)


def json_schema() -> dict:
    return Scenario.model_json_schema(by_alias=True)

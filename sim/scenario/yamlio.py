"""Strict YAML in and out: no tags, no duplicate keys, lists of plain values on one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.scenario.errors import ScenarioError


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line; everything else in block style."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(x, (int, float, str, bool)) or x is None for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# ----------------------------------------------------------------------------------------- errors
# ------------------------------------------------------------------------------------------- YAML
class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that also refuses explicit tags and duplicate keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse YAML text safely: no tags, no duplicate keys. Errors become ScenarioError."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            tag = getattr(event, "tag", None)
            if tag is not None and tag != "!":
                line = event.start_mark.line + 1
                raise ScenarioError([("", f"YAML tags are not allowed (found {tag!r} on line {line})")],
                                    source)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except yaml.YAMLError as err:
        raise ScenarioError([("", f"malformed YAML: {_yaml_msg(err)}")], source) from None


def _yaml_msg(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def read_mapping(path: str | Path) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([("", "file not found")], str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([("", f"cannot read file: {err}")], str(path)) from None
    data = parse_yaml(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([("", "the file must hold a mapping of fields at its top level")],
                            str(path))
    return data


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


#: a scenario, experiment or mapping file is a few kilobytes; refuse what cannot be one
MAX_BYTES = 16 * 1024 * 1024
#: values after YAML aliases are expanded (the baseline scenario has about 2,000)
MAX_VALUES = 1_000_000
#: levels of nested mappings and lists (the baseline scenario has 6)
MAX_DEPTH = 64


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse YAML text safely: no tags, no duplicate keys, no alias bombs, bounded nesting.

    Errors become ScenarioError. An empty text (or one of only comments) parses to None, like
    an explicit ``null``; :func:`parse_mapping` tells them apart.
    """
    if len(text) > MAX_BYTES:
        raise ScenarioError([("", f"{len(text) / 2**20:,.1f} MB of text; a YAML file here holds "
                                  f"at most {MAX_BYTES // 2**20} MB")], source)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ScenarioError([("", f"malformed YAML: nested too deeply (more than "
                                              f"{MAX_DEPTH} levels, line "
                                              f"{event.start_mark.line + 1})")], source)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            tag = getattr(event, "tag", None)
            if tag is not None and tag != "!":
                line = event.start_mark.line + 1
                raise ScenarioError([("", f"YAML tags are not allowed (found {tag!r} on line {line})")],
                                    source)
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except yaml.YAMLError as err:
        raise ScenarioError([("", f"malformed YAML: {_yaml_msg(err)}")], source) from None
    except RecursionError:
        raise ScenarioError([("", "malformed YAML: nested too deeply")], source) from None
    try:
        n = expanded_size(data)
    except ValueError as err:
        raise ScenarioError([("", f"malformed YAML: {err}")], source) from None
    if n > MAX_VALUES:
        raise ScenarioError([("", f"holds more than {MAX_VALUES:,} values once its YAML aliases "
                                  "are expanded")], source)
    return data


def expanded_size(data: Any) -> int:
    """Values in ``data`` with every shared (aliased) part counted each time it is used.

    Linear in the number of distinct containers; stops counting past :data:`MAX_VALUES`.
    Raises ValueError when a container contains itself (``&a [*a]``).
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        obj, done = stack.pop()
        if not isinstance(obj, (dict, list)):
            continue
        key = id(obj)
        children = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[key] > MAX_VALUES:
                return sizes[key]
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ValueError("an anchor refers to itself (a YAML alias inside its own anchor)")
        on_path.add(key)
        stack.append((obj, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)))
    return sizes.get(id(data), 1)


def _has_document(text: str) -> bool:
    try:
        return any(isinstance(e, yaml.DocumentStartEvent)
                   for e in yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return True  # parse_yaml reports it


def _yaml_msg(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def parse_mapping(text: str, source: str | None = None) -> dict:
    """The top-level mapping of a YAML file's text, or ScenarioError.

    A file with no YAML document at all — zero bytes, blank, or only comments — is an error
    (a truncated or wrongly saved file must not run as the defaults); an explicit ``{}`` is
    the empty mapping (for a scenario: every field at its default).
    """
    if text.startswith("\ufeff"):  # a byte-order mark some editors write
        text = text[1:]
    data = parse_yaml(text, source)
    if data is None:
        if not _has_document(text):
            raise ScenarioError([("", "the file is empty (no YAML in it); write {} for a file "
                                      "of all defaults")], source)
        raise ScenarioError([("", "the file holds null, not a mapping of fields; write {} for "
                                  "a file of all defaults")], source)
    if not isinstance(data, dict):
        raise ScenarioError([("", "the file must hold a mapping of fields at its top level "
                                  f"(it holds a {type(data).__name__})")], source)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ScenarioError([(str(bad[0]), "a field name must be text")], source)
    return data


def read_mapping(path: str | Path) -> dict:
    """Read a YAML file that holds a mapping: scenario, experiment or log-mapping files."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ScenarioError([("", f"the file is {size / 2**20:,.1f} MB; a YAML file here "
                                      f"holds at most {MAX_BYTES // 2**20} MB")], str(path))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([("", "file not found")], str(path)) from None
    except IsADirectoryError:
        raise ScenarioError([("", "is a folder, not a file")], str(path)) from None
    except UnicodeDecodeError as err:
        raise ScenarioError([("", f"is not UTF-8 text (byte {err.start}: {err.reason}); save "
                                  "it as UTF-8")], str(path)) from None
    except OSError as err:
        raise ScenarioError([("", f"cannot read file: {err.strerror or err}")], str(path)) \
            from None
    return parse_mapping(text, str(path))

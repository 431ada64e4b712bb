"""Scenario errors: one problem per line, each naming its field path and what is allowed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

_DIST_TAGS = {"fixed", "exponential", "lognormal", "uniform"}  # tagged-union keys, not field names


class ScenarioError(Exception):
    """Bad scenario input. ``str(err)`` is the message for the user, one problem per line."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(f"{prefix}{path or '<root>'}: {msg}" for path, msg in problems))


class ScenarioRefError(ValueError):
    """A cross-reference error raised inside validation, carrying its own field path."""

    def __init__(self, path: str, msg: str):
        self.path = path
        self.msg = msg
        super().__init__(f"{path}: {msg}")


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Walk ``loc`` through the schema and list the field names allowed at its parent."""
    node: Any = model
    for part in loc[:-1]:
        if isinstance(node, tuple) and node[0] == "dict":
            node = node[1]
        elif isinstance(node, type) and issubclass(node, BaseModel):
            f = node.model_fields.get(str(part))
            if f is None:
                return None
            node = _unwrap(f.annotation)
        else:
            return None
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return None


def _unwrap(annotation: Any) -> Any:
    import typing

    origin = typing.get_origin(annotation)
    if origin is dict:
        return ("dict", _unwrap(typing.get_args(annotation)[1]))
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
        return None
    return annotation


def _format_validation(err: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for e in err.errors(include_url=False):
        ctx_err = (e.get("ctx") or {}).get("error")
        if isinstance(ctx_err, ScenarioRefError):
            problems.append((ctx_err.path, ctx_err.msg))
            continue
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p in _DIST_TAGS))
        path = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc)
            msg = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("model_type", "dict_type"):
            shown = repr(e["input"])
            if len(shown) <= 60:
                msg += f" (got {shown})"
        problems.append((path, msg))
    return problems



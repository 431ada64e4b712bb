"""Helpers for the property and hardening tests: the CLI in this process, scenario leaves."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel

from tests.conftest import _Result


@functools.lru_cache(maxsize=1)
def _command():
    import typer

    from sim.cli import app

    return typer.main.get_command(app)


def invoke(*args: str) -> _Result:
    """``gridsim ARGS`` in this process, the Typer app turned into a command once.

    Like ``gridsim_inproc``, an exception escaping the command is re-raised (a traceback never
    passes for an error message); building the command once makes a call about 5 ms, which is
    what lets the property tests try hundreds of inputs.
    """
    from click.testing import CliRunner

    r = CliRunner().invoke(_command(), list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return _Result(r.exit_code, r.stdout, r.stderr)


@dataclass(frozen=True)
class Leaf:
    """One scalar field of a scenario by dotted path, its baseline value and its bounds."""

    path: str
    value: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, (int, float)) and not isinstance(self.value, bool)


def _bounds(info) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, at.Ge):
            out["lo"] = m.ge
        elif isinstance(m, at.Gt):
            out["lo"], out["lo_open"] = m.gt, True
        elif isinstance(m, at.Le):
            out["hi"] = m.le
        elif isinstance(m, at.Lt):
            out["hi"], out["hi_open"] = m.lt, True
    return out


def leaves(model: BaseModel | None = None, prefix: str = "") -> list[Leaf]:
    """Every scalar field of ``model`` (default: the baseline scenario), with its bounds."""
    if model is None:
        from sim.scenario import Scenario

        model = Scenario()
    out: list[Leaf] = []
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        path = f"{prefix}{key}"
        if isinstance(value, BaseModel):
            out += leaves(value, path + ".")
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel)
                                                       for v in value.values()):
            for k, v in value.items():
                out += leaves(v, f"{path}.{k}.")
        elif isinstance(value, (bool, int, float, str)) or value is None:
            out.append(Leaf(path, value, **_bounds(info)))
    return out

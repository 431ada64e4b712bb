"""The base of every gridsim agent: a Mesa agent numbered by its own model.

``mesa.Agent.__init__`` numbers agents from a class-level table keyed by model, which keeps every
model ever built alive (about 0.1 MB per run in a long sweep). A gridsim agent takes its number
from the model's own counter instead (1, 2, … per model, as Mesa's) and registers itself through
the public ``Model.register_agent``.
"""

from __future__ import annotations

import itertools

import mesa


def agent_numbers(model: mesa.Model) -> itertools.count:
    """The model's agent counter, created on first use."""
    counter = model.__dict__.get("agent_numbers")
    if counter is None:
        counter = model.__dict__["agent_numbers"] = itertools.count(1)
    return counter


class GridAgent(mesa.Agent):
    """A Mesa agent whose ``unique_id`` comes from its model, not a process-wide table."""

    def __init__(self, model: mesa.Model) -> None:
        self.model = model
        self.unique_id = next(agent_numbers(model))
        self.pos = None
        model.register_agent(self)

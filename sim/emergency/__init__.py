"""Emergencies and joint response (S3.2): contingency plans, units that move, hazards that grow,
escalation IV → I, mutual aid, and the trainer's :class:`Drill`.

Modules: ``stations`` (where units are based, who is free), ``hazards`` (fire / gas / crowd growth,
rain-driven waterlogging), ``people`` (exposed, evacuated, injured, cared for, killed),
``manager`` (the emergencies of one model run: command, escalation, the event trace) with its
halves ``dispatch`` (units, mutual aid, grid workers) and ``outcomes`` (people, supply cut-off,
traffic control, levels by harm, the table), ``drill`` (step-by-step API and narrative);
the command line is ``sim.cli.drill`` (``gridsim drill``).
The scenario section is ``sim.scenario.emergency.EmergencyConfig``; KPIs are in ``sim.metrics``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Drill", "EmergencyManager", "narrate", "read_trace", "station_coverage"]


def __getattr__(name: str) -> Any:  # lazy: sim.scenario imports sim.scenario.emergency only
    if name == "Drill":
        from sim.emergency.drill import Drill
        return Drill
    if name in ("narrate", "read_trace"):
        from sim.emergency import trace
        return getattr(trace, name)
    if name == "EmergencyManager":
        from sim.emergency.manager import EmergencyManager
        return EmergencyManager
    if name == "station_coverage":
        from sim.emergency.stations import station_coverage
        return station_coverage
    raise AttributeError(name)

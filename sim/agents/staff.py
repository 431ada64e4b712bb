"""Grid staff (S1.3, S1.4): workers, managers, assistants, and the level teams above them."""

from __future__ import annotations

import mesa

from sim.agents.base import GridAgent


class GridWorker(GridAgent):
    """网格员: patrols the grid, reports, fixes minor problems on the spot, verifies fixes."""

    def __init__(self, model: mesa.Model, grid: int, skill: float, effort: float):
        super().__init__(model)
        self.grid = grid
        self.skill = skill
        self.initial_skill = skill  # skill when hired (training effects are measured from it)
        self.effort = effort
        self.training_share = 0.0  # share of patrol time spent in training (sim.policies.workforce)
        self.present = True  # False while the post is vacant after a quit (sim.policies.workforce)
        self.reports = 0
        self.on_spot_fixes = 0
        self.verifications = 0
        p = model.scenario.patrol  # type: ignore[attr-defined]
        # share of the patrol window left after the fixed other duties (information collection,
        # meetings, paperwork: ``patrol.other_duties_h_per_day``); fixes, verifications and
        # reports are charged from patrol time as they happen (sim.engine.discovery)
        self.patrol_hours_share = max(0.0, 1.0 - p.other_duties_h_per_day / p.hours.hours_per_day)

    @property
    def planned_patrol_share(self) -> float:
        """Share of the patrol window this worker plans to patrol (0 while the post is vacant)."""
        if not self.present:
            return 0.0
        return (1.0 - self.training_share) * self.patrol_hours_share

    @property
    def patrol_strength(self) -> float:
        """Contribution to the grid's discovery hazard (before coverage and area)."""
        return self.skill * self.effort * self.planned_patrol_share


class GridManager(GridAgent):
    """网格管理员: coordinates complex problems before they go to departments."""

    def __init__(self, model: mesa.Model, grid: int):
        super().__init__(model)
        self.grid = grid
        self.cases_coordinated = 0


class GridAssistant(GridAgent):
    """网格协管员: helps workers; adds a fraction of a worker's patrol coverage."""

    def __init__(self, model: mesa.Model, grid: int):
        super().__init__(model)
        self.grid = grid


class LevelTeam(GridAgent):
    """上级网格管理团队 of one community, street or district: reviews escalated cases with as many
    desks as members, and moves or defers those still waiting for a crew
    (``sim.agents.levels``)."""

    def __init__(self, model: mesa.Model, level: str, unit: int, size: int):
        super().__init__(model)
        self.level = level
        self.unit = unit
        self.size = size
        self.escalations_received = 0
        self.cases_reviewed = 0  # escalated cases a member reviewed (sim.agents.levels)
        self.reassigned = 0  # cases a street team moved to another street's free crew
        self.mutual_aid = 0  # cases a district team ordered another street's crews to take
        self.extension = 0  # extensions (延期) a district team granted
        self.cases_coordinated = 0  # stands in for the grid manager where a grid has none

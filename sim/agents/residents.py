"""Residents of one grid as one aggregate agent (S4). No personal records exist anywhere."""

from __future__ import annotations

import mesa


class ResidentGroup(mesa.Agent):
    """居民: reporting propensity (differs by grid, facts: up to 3x), awareness, satisfaction."""

    def __init__(self, model: mesa.Model, grid: int, households: float, propensity: float):
        super().__init__(model)
        self.grid = grid
        self.households = households
        self.propensity = propensity
        self.awareness = 1.0
        self.satisfaction = 70.0
        self.reports = 0

    @property
    def reporting_multiplier(self) -> float:
        return self.propensity * self.awareness

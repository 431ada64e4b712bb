"""Residents of one grid as one aggregate agent (S4). No personal records exist anywhere.

A ``ResidentGroup`` holds only grid aggregates: households, a base reporting propensity (differs
by grid, facts: up to 3×), awareness (raised by campaigns, fading back to 1), satisfaction
(0–100, an exponentially weighted score of how the grid's cases are handled), trust (0–1, moved
by public disclosure and by feedback on complaints) and counts. The dynamics are in
``sim.policies.residents``; the formulas are in ``docs/incentives.md``.
"""

from __future__ import annotations

import math

import mesa

from sim.agents.base import GridAgent


class ResidentGroup(GridAgent):
    """居民: reporting propensity, awareness, satisfaction, trust of one basic grid."""

    def __init__(self, model: mesa.Model, grid: int, households: float, propensity: float):
        super().__init__(model)
        cfg = model.scenario.residents  # type: ignore[attr-defined]
        self.grid = grid
        self.households = households
        self.propensity = propensity
        self.awareness = 1.0
        self.satisfaction = cfg.initial_satisfaction
        self.trust = cfg.initial_trust
        self._s0 = cfg.initial_satisfaction
        self._t0 = cfg.initial_trust
        self._beta_s = cfg.satisfaction_elasticity
        self._beta_t = cfg.trust_elasticity
        self._alpha = cfg.satisfaction_learning_rate
        self.reports = 0
        self.complaints = 0
        self.campaign_events = 0

    @property
    def reporting_multiplier(self) -> float:
        """Multiplies the resident reporting hazard of the grid's incidents."""
        m = self.propensity * self.awareness
        if self._beta_s:
            m *= math.exp(self._beta_s * (self.satisfaction - self._s0) / 100.0)
        if self._beta_t:
            m *= math.exp(self._beta_t * (self.trust - self._t0))
        return m

    def observe(self, score: float, weight: float = 1.0) -> None:
        """Move satisfaction toward the score (0–100) residents give one handled problem."""
        step = min(1.0, self._alpha * weight)
        self.satisfaction += step * (score - self.satisfaction)

    def raise_awareness(self, gain: float, ceiling: float) -> None:
        """One campaign event closes ``gain`` of the gap to the ceiling."""
        self.awareness += gain * max(0.0, ceiling - self.awareness)
        self.campaign_events += 1

    def fade_awareness(self, keep: float) -> None:
        """Campaign effects fade: the excess over 1 shrinks by the factor ``keep``."""
        self.awareness = 1.0 + (self.awareness - 1.0) * keep

    def move_trust(self, gain: float = 0.0, loss: float = 0.0) -> None:
        self.trust += gain * (1.0 - self.trust) - loss * self.trust
        self.trust = min(1.0, max(0.0, self.trust))

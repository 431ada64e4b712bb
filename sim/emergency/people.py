"""The people an emergency puts at risk: in the danger zone, led out, injured, cared for, dead.

Expected numbers per affected grid (fractions of people, no draws), advanced each tick by
:meth:`People.step` with the exact solution of ``dZ/dt = −a·Z − c`` over the tick (the same
``_grow`` as the hazards): Z people in the zone of a grid where the hazard is live leave it by
themselves and get injured at the per-person rate ``a`` (self-evacuation + injury) and are led
out by the evacuators on scene at ``c`` people per minute. The injured join the queue for care,
``dW/dt = −(d + s)·W − care`` (d: death rate while waiting, s: reaching care unaided, care: the
medical units on scene), solved the same way. Formulas: :class:`sim.scenario.emergency.PeopleAtRisk`.
"""

from __future__ import annotations

import numpy as np

from sim.emergency.hazards import _grow
from sim.scenario.emergency import PeopleAtRisk

#: waiting injured below this count as cleared (the response is over for them)
CLEARED = 0.005


class People:
    """People at risk of one emergency."""

    def __init__(self, cfg: PeopleAtRisk, population: np.ndarray):
        self.cfg = cfg
        self.population = population
        self.zone: dict[int, float] = {}  # grid -> people still in its danger zone
        self.exposed = 0.0  # everyone who was ever in a danger zone
        self.evacuated = 0.0  # left the zone unhurt (led out or by themselves)
        self.injured = 0.0
        self.waiting = 0.0  # injured not yet in care
        self.cared = 0.0
        self.killed = 0.0
        self.exposure_min = 0.0  # person-minutes in a live danger zone
        self.wait_min = 0.0  # person-minutes of the injured waiting for care

    def reach(self, grid: int) -> None:
        """The hazard reaches ``grid``: its occupants are in the danger zone (once)."""
        if grid not in self.zone:
            n = self.cfg.occupants_share * float(self.population[grid])
            self.zone[grid] = n
            self.exposed += n

    def explode(self, grid: int) -> float:
        """An explosion in ``grid`` injures a share of its zone at once; returns how many."""
        z = self.zone.get(grid, 0.0)
        hurt = self.cfg.explosion_injured_share * z
        self.zone[grid] = z - hurt
        self.injured += hurt
        self.waiting += hurt
        return hurt

    def step(self, dt_min: float, live: dict[int, float], evac: dict[int, float],
             care: float) -> None:
        """Advance ``dt_min``: ``live`` grid → severity where the hazard is live now, ``evac``
        grid → people per minute the evacuators there can lead out, ``care`` injured per
        minute the medical units on scene take into care."""
        cfg = self.cfg
        hurt = 0.0
        for g in sorted(live):
            z = self.zone.get(g, 0.0)
            if z <= 0:
                continue
            inj = cfg.injury_per_min * min(1.0, live[g] / cfg.harm_at)
            z1, integral = _grow(z, -(inj + cfg.self_evacuation_per_min), evac.get(g, 0.0), dt_min)
            self.zone[g] = z1
            self.exposure_min += integral
            hurt += inj * integral
            self.evacuated += z - z1 - inj * integral
        self.injured += hurt
        self.waiting += hurt
        if self.waiting > 0:
            w = self.waiting
            rate = cfg.untreated_death_per_min + cfg.self_care_per_min
            w1, integral = _grow(w, -rate, care, dt_min)
            dead = cfg.untreated_death_per_min * integral
            self.killed += dead
            self.cared += w - w1 - dead
            self.wait_min += integral
            self.waiting = w1 if w1 >= 1e-9 else 0.0

    @property
    def cleared(self) -> bool:
        return self.waiting < CLEARED

    def time_to_care_min(self) -> float:
        """Mean minutes an injured person waited for care (Little: waiting person-min ÷ injured)."""
        return self.wait_min / self.injured if self.injured > 0 else float("nan")


def share_by_zone(total: float, zone: dict[int, float], live: dict[int, float]
                  ) -> dict[int, float]:
    """Split a capacity among the live grids in proportion to the people in their zones."""
    weights = {g: zone.get(g, 0.0) for g in live}
    s = sum(weights.values())
    if s <= 0 or total <= 0:
        return {}
    return {g: total * w / s for g, w in weights.items()}

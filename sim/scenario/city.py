"""The city section: zones and how households are grouped into basic grids (S1.1).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import ZoneType, _Model


# ------------------------------------------------------------------------------------------- city
class Zone(_Model):
    """One kind of area. ``difficulty`` > 1 shrinks grids there (S1.1) and slows patrols."""

    share: float = Field(gt=0, le=1, description="share of the city's households")
    households_per_km2: float = Field(gt=0)
    incident_multiplier: float = Field(default=1.0, ge=0)
    difficulty: float = Field(default=1.0, ge=0.2, le=5)


def _default_zones() -> dict[str, Zone]:
    return {
        "residential": Zone(share=0.7, households_per_km2=12000, incident_multiplier=1.0,
                            difficulty=1.0),
        "commercial": Zone(share=0.2, households_per_km2=6000, incident_multiplier=1.6,
                           difficulty=1.5),
        "mixed": Zone(share=0.1, households_per_km2=8000, incident_multiplier=1.2, difficulty=1.2),
    }


#: land cells a city may have (city_large has 100,000; each costs about 100 bytes)
MAX_CELLS = 10_000_000


class CityConfig(_Model):
    """The city: fixed land cells with households, fixed communities, streets and districts,
    and the grid-size lever that cuts each community into basic grids."""

    households: int = Field(default=16000, ge=10, le=20_000_000)
    persons_per_household: float = Field(default=2.6, gt=0, le=10)
    households_per_grid: float = Field(
        default=400, ge=10, le=20000, description="grid-size lever: target households per basic grid"
    )
    cell_m2: float = Field(
        default=10000, ge=100, le=1_000_000,
        description="area of one land cell (单元网格): the city is a fixed set of such cells, "
                    "whatever the grid size (facts: Dongcheng's 10,000 m² unit-grid method)",
    )
    households_per_community: float = Field(
        default=1600, ge=10, le=1_000_000,
        description="households per community (社区): communities are fixed areas of the city, "
                    "independent of households_per_grid (Dongcheng 2004: 203,904 / 137 ≈ 1,488)",
    )
    communities_per_street: int = Field(default=5, ge=1, le=200)
    streets_per_district: int = Field(default=10, ge=1, le=200)
    zones: dict[ZoneType, Zone] = Field(default_factory=_default_zones, min_length=1)
    hotspot_share: float = Field(default=0.1, ge=0, le=1)
    hotspot_multiplier: float = Field(default=2.0, ge=1, le=20)
    resident_propensity_spread: float = Field(
        default=3.0, ge=1, le=10,
        description="max/min ratio of resident reporting propensity across grids (facts: up to 3x)",
    )

    @field_validator("zones")
    @classmethod
    def _shares(cls, zones: dict[str, Zone]) -> dict[str, Zone]:
        total = sum(z.share for z in zones.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"zone shares must add up to 1 (they add up to {total:.4g})")
        return zones

    @model_validator(mode="after")
    def _cells(self) -> "CityConfig":
        # the land cells are built as arrays (sim.world.city._layout): refuse a city of more
        # cells than a machine can hold before anything is allocated
        km2 = self.cell_m2 / 1e6
        n = sum(max(1, round(self.households * z.share / z.households_per_km2 / km2))
                for z in self.zones.values())
        if n > MAX_CELLS:
            raise ValueError(
                f"the city would have {n:,.0f} land cells (households / households_per_km2 / "
                f"cell_m2, zone by zone); at most {MAX_CELLS:,} are allowed: raise "
                "zones.*.households_per_km2 or cell_m2, or lower households")
        return self


# --------------------------------------------------------------------------------------- staffing

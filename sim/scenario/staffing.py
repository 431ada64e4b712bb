"""The staffing and patrol sections: pay, level teams, grid staff per grid, patrol habits.
"""

from __future__ import annotations

from pydantic import Field

from sim.scenario.base import Window, _Model
from sim.scenario.distributions import Distribution, Fixed, LogNormal


class Pay(_Model):
    """Monthly cost per person or unit, in yuan (assumptions; set them to your city's)."""

    grid_worker: float = Field(default=6000, ge=0)
    grid_manager: float = Field(default=8000, ge=0)
    grid_assistant: float = Field(default=4000, ge=0)
    level_team_member: float = Field(default=9000, ge=0)
    platform_operator: float = Field(default=7000, ge=0)


class LevelTeams(_Model):
    """Management teams above the basic grids (S1.3): people per community / street / district."""

    community: int = Field(default=2, ge=0, le=100)
    street: int = Field(default=5, ge=0, le=500)
    district: int = Field(default=10, ge=0, le=5000)


class Staffing(_Model):
    """Staff per basic grid (S1.3) — the staffing levers — and their skills."""

    workers_per_grid: int = Field(default=2, ge=1, le=50)
    workers_total: int | None = Field(
        default=None, ge=1, le=2_000_000,
        description="head count of grid workers for the whole city, replacing workers_per_grid "
                    "(e.g. Dongcheng: 350 supervisors over 1,593 grids); fewer workers than grids "
                    "patrol beats of adjacent grids (sim/world/beats.py); null = workers_per_grid each",
    )
    managers_per_grid: int = Field(default=1, ge=0, le=10)
    assistants_per_grid: int = Field(default=1, ge=0, le=50)
    level_teams: LevelTeams = LevelTeams()
    skill_mean: float = Field(default=0.8, gt=0, le=1, description="mean worker skill, 0–1")
    skill_sd: float = Field(default=0.1, ge=0, le=0.5)
    effort: float = Field(default=1.0, gt=0, le=2, description="patrol effort multiplier")
    pay: Pay = Pay()


class PatrolConfig(_Model):
    """Daily patrols at fixed hours (S1.4); e.g. Chengdu 07:30–22:30 every day (facts)."""

    hours: Window = Window(start_h=8.0, end_h=18.0)
    coverage_km2_per_h: float = Field(
        default=0.06, gt=0, description="area one worker sweeps per hour at skill 1, effort 1"
    )
    assistant_coverage_factor: float = Field(default=0.3, ge=0, le=1)
    other_duties_h_per_day: float = Field(
        default=2.0, ge=0, le=24,
        description="hours of each worker's patrol window spent on duties other than patrol "
                    "(information collection, meetings, paperwork); fixes, verifications and "
                    "reports come on top, as they happen (assumption)",
    )
    on_spot_fix_prob: float = Field(
        default=0.9, ge=0, le=1, description="chance a worker of skill 1 fixes a minor problem at once"
    )
    on_spot_fix_time: Distribution = LogNormal(mean=0.3, cv=0.5)
    report_time: Distribution = Fixed(value=0.1)
    verification_time: Distribution = LogNormal(mean=0.4, cv=0.5)


# -------------------------------------------------------------------------------------- incidents

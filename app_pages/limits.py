"""What the app agrees to run interactively, checked before a run starts.

A scenario beyond these limits is refused with a message naming the limit, instead of freezing
the app; the CLI (``gridsim run``) and sweeps have no such limits. The work of a run grows with
grid-days (grids × simulated days): the baseline, 45 grids × 30 days, takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import CityConfig, Scenario

MAX_UPLOAD_KB = 256
MAX_GRIDS = 600
MAX_DAYS = 366.0
MAX_GRID_DAYS = 40_000.0          # one run
MAX_RUNS = 40                     # one comparison (variants × replications)
MAX_TOTAL_GRID_DAYS = 120_000.0   # one comparison, all runs together


@dataclass(frozen=True)
class Problem:
    en: str
    zh: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def grid_count(city: CityConfig) -> int:
    """Number of basic grids ``sim.world.city.build_city`` will cut, without building it."""
    from sim.world.city import grid_count as count

    return count(city)


def check_scenario(sc: Scenario) -> list[Problem]:
    """Problems that make ``sc`` too large for one interactive run (empty when it is fine)."""
    out: list[Problem] = []
    grids = grid_count(sc.city)
    days = sc.run.days
    if grids > MAX_GRIDS:
        out.append(Problem(f"{grids:,} basic grids; the app runs at most {MAX_GRIDS:,} "
                           "(raise city.households_per_grid or lower city.households)",
                           f"{grids:,} 个基础网格，本应用最多 {MAX_GRIDS:,} 个"
                           "（请增大 city.households_per_grid 或减少 city.households）"))
    if days > MAX_DAYS:
        out.append(Problem(f"{days:g} simulated days; the app runs at most {MAX_DAYS:g}",
                           f"模拟 {days:g} 天，本应用最多 {MAX_DAYS:g} 天"))
    if grids <= MAX_GRIDS and days <= MAX_DAYS and grids * days > MAX_GRID_DAYS:
        out.append(Problem(f"{grids:,} grids × {days:g} days = {grids * days:,.0f} grid-days; the "
                           f"app runs at most {MAX_GRID_DAYS:,.0f} (shorten run.days)",
                           f"{grids:,} 个网格 × {days:g} 天 = {grids * days:,.0f} 网格·天，"
                           f"本应用最多 {MAX_GRID_DAYS:,.0f}（请缩短 run.days）"))
    return out


def check_batch(scenarios: list[Scenario], replications: int) -> list[Problem]:
    """Problems with a comparison of ``scenarios`` at ``replications`` seeds each."""
    out: list[Problem] = []
    for sc in scenarios:
        out += check_scenario(sc)
    runs = len(scenarios) * replications
    if runs > MAX_RUNS:
        out.append(Problem(f"{runs} runs; the app runs at most {MAX_RUNS} in one comparison",
                           f"共 {runs} 次运行，本应用一次比较最多 {MAX_RUNS} 次"))
    total = replications * sum(grid_count(sc.city) * sc.run.days for sc in scenarios)
    if not out and total > MAX_TOTAL_GRID_DAYS:
        out.append(Problem(f"{total:,.0f} grid-days in all; the app runs at most "
                           f"{MAX_TOTAL_GRID_DAYS:,.0f} in one comparison (fewer replications or "
                           "days)", f"合计 {total:,.0f} 网格·天，本应用一次比较最多 "
                           f"{MAX_TOTAL_GRID_DAYS:,.0f}（请减少重复次数或天数）"))
    return out

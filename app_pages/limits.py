"""What the app agrees to run interactively, checked before a run starts.

A scenario beyond these limits is refused with a message naming the limit, instead of freezing
the app; the CLI (``gridsim run``) and sweeps have no such limits. The work of a run grows with
grid-days (grids × simulated days): the baseline, 45 grids × 30 days, takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import CityConfig, Scenario

#: upload limits: each widget refuses more (``max_upload_size``, in whole MB) and the app checks
#: the bytes again, so the label, the widget and the app agree; the server's own limit
#: (``server.maxUploadSize``) is the largest of them. A scenario or a population table is a
#: small text file; a district's boundary file a few MB (San Francisco's 37 neighbourhoods in
#: full detail: 0.5 MB; a city's basic grids as GeoJSON: tens of MB, for the CLI).
MAX_UPLOAD_MB = 1
MAX_UPLOAD_KB = MAX_UPLOAD_MB * 1024
MAX_MAP_UPLOAD_MB = 20
MAX_GRIDS = 600
MAX_DAYS = 366.0
MAX_GRID_DAYS = 40_000.0          # one run
MAX_RUNS = 40                     # one comparison (variants × replications)
MAX_TOTAL_GRID_DAYS = 120_000.0   # one comparison, all runs together
MAX_SWEEP_RUNS = 400              # one sweep launched from the app
MAX_SWEEP_GRID_DAYS = 400_000.0   # one sweep, all runs together (minutes on a few cores)


@dataclass(frozen=True)
class Problem:
    en: str
    zh: str
    batch: bool = False   # a limit of a comparison or sweep, not of the scenario itself

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
        out.append(Problem(f"{runs} runs; the app runs at most {MAX_RUNS} at once",
                           f"共 {runs} 次运行，本应用一次最多运行 {MAX_RUNS} 次", batch=True))
    total = replications * sum(grid_count(sc.city) * sc.run.days for sc in scenarios)
    if not out and total > MAX_TOTAL_GRID_DAYS:
        out.append(Problem(f"{total:,.0f} grid-days in all; the app runs at most "
                           f"{MAX_TOTAL_GRID_DAYS:,.0f} in one comparison (fewer replications or "
                           "days)", f"合计 {total:,.0f} 网格·天，本应用一次比较最多 "
                           f"{MAX_TOTAL_GRID_DAYS:,.0f}（请减少重复次数或天数）", batch=True))
    return out


def check_sweep(runs: int, grid_days: float) -> list[Problem]:
    """Problems with launching a sweep of ``runs`` runs and about ``grid_days`` from the app."""
    out: list[Problem] = []
    if runs > MAX_SWEEP_RUNS:
        out.append(Problem(f"{runs:,} runs; the app launches at most {MAX_SWEEP_RUNS:,}",
                           f"共 {runs:,} 次运行，本应用最多启动 {MAX_SWEEP_RUNS:,} 次", batch=True))
    if grid_days > MAX_SWEEP_GRID_DAYS:
        out.append(Problem(f"about {grid_days:,.0f} grid-days in all; the app launches at most "
                           f"{MAX_SWEEP_GRID_DAYS:,.0f}", f"合计约 {grid_days:,.0f} 网格·天，"
                           f"本应用最多启动 {MAX_SWEEP_GRID_DAYS:,.0f}", batch=True))
    return out

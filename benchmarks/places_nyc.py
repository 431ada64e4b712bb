"""Requests with places on the shipped NYC map: the NYC 311 animal-complaints extract (not
shipped; pass its path) calibrated onto all five boroughs' 2020 NTAs, then per-NTA requests of
the log against per-NTA incidents of the calibrated city (its arrivals drawn for ten years of
requests), with and without the surfaces: Spearman rank correlation over the NTAs, and a PNG
of both side by side.

    .venv/bin/python benchmarks/places_nyc.py /work/shared/data/nyc/311_Animals_short.csv \\
        --png docs/figures/places_nyc.png

The whole city is read (``city.geometry.where={}``: the ready scenario keeps Staten Island
only) on 4 ha cells (``city.cell_m2=40000``; the NTA picture does not need 1 ha ones).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAPPING = """format: nyc311
match: type
mapping:
  "Dead Animal": environment_sanitation
  "Animal in a Park": environment_sanitation
  "Unsanitary Animal*": environment_sanitation
  "Animal-Abuse": public_safety
  "*": resident_needs
"""


def per_nta(cells: np.ndarray, weights: np.ndarray | None, street: np.ndarray, n: int):
    return np.bincount(street[cells], weights=weights, minlength=n)


def incidents_per_nta(sc, city, street, n_nta, categories, days: int, seed: int = 1):
    """Incidents of ``categories`` per NTA drawn by the engine's arrival process."""
    from sim.engine import case as I
    from sim.engine.arrivals import ArrivalGenerator

    subs = I.taxonomy(sc)
    gen = ArrivalGenerator(sc, city, subs, *(np.random.default_rng(seed + k) for k in range(3)))
    cats = np.array([s.category for s in subs])
    out = np.zeros(n_nta)
    for d0 in range(0, days * 24, 24 * 30):
        b, _ = gen.draw_hours(d0, min(d0 + 24 * 30, days * 24))
        keep = np.isin(cats[b.subs], categories)
        out += per_nta(b.cells[keep], None, street, n_nta)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--png", default=str(ROOT / "docs" / "figures" / "places_nyc.png"))
    ap.add_argument("--days", type=int, default=3650)
    args = ap.parse_args()
    from scipy.stats import spearmanr

    from sim.data.calibrate import calibrate
    from sim.data.places import CELL
    from sim.engine.seeding import Streams
    from sim.scenario import load_scenario, scenario_with
    from sim.world.city import build_city

    tmp = Path(tempfile.mkdtemp(prefix="places-nyc-"))
    (tmp / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    base = load_scenario(ROOT / "scenarios" / "nyc_map.yaml",
                         {"city.geometry.where": {}, "city.cell_m2": 40000})
    t0 = time.perf_counter()
    cal, sc = calibrate(args.log, "nyc311", tmp / "mapping.yaml", base, size=False,
                        surfaces=tmp / "surfaces.parquet")
    t_cal = time.perf_counter() - t0
    city = build_city(sc.city, Streams(sc.run.seed)["city"])
    street = city.street[city.cell_grid]
    ids = city.geometry.unit_ids("street", int(street.max()) + 1)
    n_nta = len(ids)
    f = cal.log.frame[cal.used]
    cats = sorted(cal.places.surfaces)
    on = f[(f.place == CELL) & f.category.isin(cats)]
    log_nta = per_nta(on["where"].to_numpy(), None, street, n_nta)
    only = scenario_with(sc, {  # draw the log's categories only (the others keep base rates)
        f"incidents.categories.{c}.rate_per_1000_households_per_day": 0.0
        for c in sc.incidents.categories if c not in cats})
    sc = only
    sim_nta = incidents_per_nta(sc, city, street, n_nta, cats, args.days)
    plain = scenario_with(sc, {"city.geometry.surfaces": None})
    hh_nta = incidents_per_nta(plain, city, street, n_nta, cats, args.days)
    has_hh = np.bincount(street, weights=city.cells.households, minlength=n_nta) > 0
    rho = spearmanr(log_nta, sim_nta).statistic
    rho_plain = spearmanr(log_nta, hh_nta).statistic
    rho_res = spearmanr(log_nta[has_hh], sim_nta[has_hh]).statistic
    c = cal.places.counts
    print(f"log: {len(f):,} used requests of {', '.join(cats)}; placed {c['cell']:,}, outside "
          f"{c['outside']:,}, without a place {c['none']:,}; calibrate took {t_cal:.1f} s")
    print(f"NTAs: {n_nta} ({int(has_hh.sum())} with residents)")
    print(f"Spearman, log vs calibrated city with surfaces: {rho:.3f} "
          f"(NTAs with residents: {rho_res:.3f})")
    print(f"Spearman, log vs the same city without surfaces (households): {rho_plain:.3f}")
    for s in cal.places.surfaces.values():
        print(f"  {s.category}: {s.requests:,} requests, risk spread {s.spread:.2f}")
    draw(city, ids, log_nta, sim_nta, hh_nta, rho, rho_plain, Path(args.png))
    print(f"figure written to {args.png}")


def draw(city, ids, log_nta, sim_nta, hh_nta, rho, rho_plain, png: Path) -> None:
    import altair as alt
    import geopandas as gpd
    import vl_convert as vlc

    from sim.world.geometry import to_lonlat, unit_polygons

    import shapely

    try:
        polys = unit_polygons(city, "street")
    except shapely.errors.GEOSException:  # a coverage union GEOS refuses: the robust union
        street = city.street[city.cell_grid]
        polys = np.array([shapely.union_all(city.geometry.cells[street == k])
                          for k in range(len(ids))], dtype=object)
    polys = to_lonlat(polys, city.geometry.crs)
    frames = []
    for label, v in ((f"log: requests per NTA", log_nta),
                     (f"calibrated city, surfaces (Spearman {rho:.2f})", sim_nta),
                     (f"without surfaces, households (Spearman {rho_plain:.2f})", hh_nta)):
        share = v / v.sum() * 100
        frames.append(gpd.GeoDataFrame({"nta": ids, "share": share, "panel": label},
                                       geometry=polys, crs="EPSG:4326"))
    charts = []
    for g in frames:
        charts.append(alt.Chart(alt.Data(values=g.__geo_interface__["features"]),
                                title=g.panel.iloc[0]).mark_geoshape(stroke="white",
                                                                     strokeWidth=0.2).encode(
            color=alt.Color("properties.share:Q", title="% of the city's",
                            scale=alt.Scale(type="sqrt", scheme="orangered"))
        ).project("mercator").properties(width=300, height=300))
    chart = alt.hconcat(*charts).resolve_scale(color="shared")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(vlc.vegalite_to_png(chart.to_json(), scale=1.5))


if __name__ == "__main__":
    main()

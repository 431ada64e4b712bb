"""The city section: zones and how households are grouped into basic grids (S1.1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import ZoneType, _Model
from sim.scenario.errors import ScenarioRefError


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


# -------------------------------------------------------------------------------------- real map
Level = Literal["grid", "community", "street", "district"]
LEVEL_ORDER = ("grid", "community", "street", "district")


class MapFields(_Model):
    """Attribute names in the boundary file (or in the joined population table)."""

    id: str | None = Field(default=None, description="unit id (unique); the row number when null")
    name: str | None = Field(default=None, description="unit name (the id when null)")
    households: str | None = Field(default=None, description="households per unit")
    population: str | None = Field(
        default=None, description="residents per unit: households = population ÷ "
                                  "city.persons_per_household (give households or population)")
    community: str | None = Field(default=None, description="parent community id (level grid)")
    street: str | None = Field(default=None, description="parent street (街道) id")
    district: str | None = Field(default=None, description="parent district id")
    zone: str | None = Field(
        default=None, description="zone of each unit, one of city.zones (the first zone when null)")


class PopulationTable(_Model):
    """A CSV table joined to the boundary file on the unit id: its ``column`` is the population
    (or households, ``fields.households``) of each unit; its other columns can be named in
    ``fields`` too."""

    file: str
    id: str = Field(description="the table's column holding the unit id (fields.id's values)")
    column: str = Field(description="the table's column of residents (or households)")
    households: bool = Field(default=False, description="the column counts households, "
                                                        "not residents")


class MapLayer(_Model):
    """A second file of points or polygons (GeoJSON, TopoJSON, GeoPackage, zipped Shapefile)."""

    file: str
    layer: str | None = None
    crs: str | None = Field(default=None, description="as city.geometry.crs")
    id: str | None = Field(default=None, description="id attribute (parent layers)")
    name: str | None = Field(default=None, description="name attribute (parent layers)")
    weight: str | None = Field(
        default=None, description="households at each point (points layer); equal when null")
    responder: str | None = Field(
        default=None, description="stations layer: attribute naming each station's responder "
                                  "(emergency.responders key); every dedicated responder's "
                                  "stations when null")


class GeometryConfig(_Model):
    """A real map: the city's units are the polygons of a boundary file.

    With a map, these synthetic-city fields are ignored: ``zones.*.share`` and
    ``zones.*.households_per_km2`` (households and area come from the map), and
    ``communities_per_street`` / ``streets_per_district`` except where the map's level leaves
    streets to be cut from communities (level district). ``city.households`` is the map's total
    (households, or population ÷ persons_per_household) unless set: a different value rescales
    every unit proportionally. Levels below ``level`` are cut as in the synthetic city
    (``households_per_community``, ``households_per_grid``) along a Hilbert curve over the
    map's coordinates.
    """

    file: str = Field(description="GeoJSON, TopoJSON, GeoPackage (with layer) or a zipped "
                                  "Shapefile; relative to the scenario file")
    layer: str | None = Field(default=None, description="layer of a GeoPackage or multi-layer file")
    crs: str | None = Field(
        default=None, description="override the file's CRS: an EPSG code (EPSG:4547) or "
                                  "gcj02 / bd09 (Chinese web-map offsets of lon/lat); a file "
                                  "without a CRS is lon/lat only if every coordinate is in range")
    encoding: str | None = Field(
        default=None, description="text encoding of the attributes (GBK/GB18030 Shapefiles are "
                                  "recognised without it)")
    level: Level = Field(default="street", description="what one polygon of the file is")
    fields: MapFields = MapFields()
    population: PopulationTable | None = None
    where: dict[str, list[str]] = Field(
        default_factory=dict, description="keep only features whose attribute is one of the "
                                          "values (e.g. one borough of a city's file)")
    regrid: bool = Field(default=False, description="level grid: cut the file's communities "
                                                    "into grids anew by households_per_grid")
    parents: dict[Level, MapLayer] = Field(
        default_factory=dict, description="parent units by containment in a second file, for a "
                                          "level not named in fields (else one for the file)")
    points: MapLayer | None = Field(
        default=None, description="buildings or compounds: a unit's households are spread over "
                                  "the cells holding its points (by weight), else by area")
    depots: MapLayer | None = Field(
        default=None, description="crew depots: a street's crews start at its depot point "
                                  "nearest its centre, else at the cell nearest its centre")
    stations: MapLayer | None = Field(
        default=None, description="emergency stations: dedicated responders are based at these "
                                  "points instead of k-means sites")
    detour_factor: float = Field(
        default=1.3, ge=1, le=3,
        description="road distance ÷ straight-line distance for crew trips on a real map "
                    "(assumption: urban road networks measure 1.2–1.4)")
    roads: str | None = Field(
        default=None, description="GraphML road graph (e.g. saved from OSMnx, lon/lat nodes, "
                                  "edge 'length' in metres): crew trips take shortest paths "
                                  "on it instead of straight line × detour_factor")
    surfaces: str | None = Field(
        default=None, description="Parquet of where each category's incidents arise (cell, "
                                  "category, weight; no coordinates), written by calibrate from "
                                  "a log's places; the cells' household weights when null")
    tolerance: float = Field(
        default=0.005, ge=0, le=0.5,
        description="overlaps, gaps and parents' containment may be off by this share of area")

    @model_validator(mode="after")
    def _consistent(self) -> "GeometryConfig":
        f = self.fields
        if f.households and f.population:
            raise ScenarioRefError("city.geometry.fields.population",
                                   "give households or population, not both")
        below = LEVEL_ORDER[:LEVEL_ORDER.index(self.level) + 1]
        for lv in below[1:]:
            if getattr(f, lv):
                raise ScenarioRefError(f"city.geometry.fields.{lv}",
                                       f"the file's polygons are {self.level}s: a {lv} field "
                                       f"names a level at or below them (allowed: parents of "
                                       f"{self.level})")
            if lv in self.parents:
                raise ScenarioRefError(f"city.geometry.parents.{lv}",
                                       f"the file's polygons are {self.level}s: {lv} is not a "
                                       "parent level")
        if self.level in self.parents:
            raise ScenarioRefError(f"city.geometry.parents.{self.level}",
                                   "the file's own level cannot be a parent layer")
        for lv in self.parents:
            if getattr(f, lv):
                raise ScenarioRefError(f"city.geometry.parents.{lv}",
                                       f"{lv} is named both by fields.{lv} and a parent layer")
        if self.regrid and self.level != "grid":
            raise ScenarioRefError("city.geometry.regrid",
                                   "only a file of grids (level: grid) is re-gridded; other "
                                   "levels are always cut by households_per_grid")
        return self

    def files(self) -> dict[str, str]:
        """Every file the map names: {field path: file path}."""
        out = {"city.geometry.file": self.file}
        if self.population:
            out["city.geometry.population.file"] = self.population.file
        for lv, layer in self.parents.items():
            out[f"city.geometry.parents.{lv}.file"] = layer.file
        for name in ("points", "depots", "stations"):
            layer = getattr(self, name)
            if layer is not None:
                out[f"city.geometry.{name}.file"] = layer.file
        if self.roads:
            out["city.geometry.roads"] = self.roads
        if self.surfaces:
            out["city.geometry.surfaces"] = self.surfaces
        return out


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
    geometry: GeometryConfig | None = Field(
        default=None, description="a real map (boundary file) instead of the synthetic city")

    @model_validator(mode="before")
    @classmethod
    def _map_households(cls, data):
        # a map's households are its own total unless the scenario sets city.households (then
        # every unit is rescaled): read the attribute table once to fill the total in
        if isinstance(data, dict) and data.get("geometry") is not None \
                and "households" not in data:
            from sim.scenario.mapfiles import map_households

            try:
                geo = GeometryConfig.model_validate(data["geometry"])
            except ValueError:
                return data  # reported by the field's own validation
            pph = data.get("persons_per_household", cls.model_fields[
                "persons_per_household"].default)
            total = map_households(geo, float(pph))
            data = {**data, "households": max(10, int(round(total)))}
        return data

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
        if self.geometry is not None:
            return self  # cells come from the map's area (checked when the map is read)
        km2 = self.cell_m2 / 1e6
        n = sum(max(1, round(self.households * z.share / z.households_per_km2 / km2))
                for z in self.zones.values())
        if n > MAX_CELLS:
            raise ValueError(
                f"the city would have {n:,.0f} land cells (households / households_per_km2 / "
                f"cell_m2, zone by zone); at most {MAX_CELLS:,} are allowed: raise "
                "zones.*.households_per_km2 or cell_m2, or lower households")
        return self



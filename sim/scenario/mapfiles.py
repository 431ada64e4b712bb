"""The files a real map names (``city.geometry``): where they are, what they hold, their digest.

Paths in a scenario file are relative to it (:func:`resolve_paths`, called by the loader). A
file is read with pyogrio (GDAL): GeoJSON, TopoJSON, GeoPackage (``layer``) and zipped
Shapefiles (read inside the zip, ``/vsizip/``). Attribute text in GBK/GB18030 — common in
Chinese Shapefiles without a ``.cpg`` — arrives from GDAL as Latin-1 and is decoded again here.
:func:`unit_table` turns the boundary file's attributes into one row per unit (id, name,
households, parents, zone) and refuses, naming the field, what no city can be built from.
Every error is a :class:`ScenarioRefError` carrying its ``city.geometry.*`` path.
"""

from __future__ import annotations

import hashlib
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sim.scenario.errors import ScenarioRefError

#: scenario fields holding file paths (dotted, inside ``city.geometry``), resolved by the loader
_FILE_KEYS = (("file",), ("population", "file"), ("points", "file"), ("depots", "file"),
              ("stations", "file"), ("roads",), ("surfaces",))


def resolve_paths(data: Any, base: Path) -> Any:
    """``data`` (a raw scenario mapping) with each ``city.geometry`` file path made absolute
    against ``base`` (the scenario file's folder)."""
    geo = data.get("city", {}).get("geometry") if isinstance(data, dict) and isinstance(
        data.get("city"), dict) else None
    if not isinstance(geo, dict):
        return data

    def fix(node: dict, keys: tuple[str, ...]) -> None:
        *head, last = keys
        for k in head:
            node = node.get(k) if isinstance(node, dict) else None  # type: ignore[assignment]
        if isinstance(node, dict) and isinstance(node.get(last), str) and node[last]:
            p = Path(node[last]).expanduser()
            node[last] = str(p if p.is_absolute() else (base / p).resolve())

    geo = dict(geo)
    for key in ("population", "points", "depots", "stations"):
        if isinstance(geo.get(key), dict):
            geo[key] = dict(geo[key])
    if isinstance(geo.get("parents"), dict):
        geo["parents"] = {k: dict(v) if isinstance(v, dict) else v
                          for k, v in geo["parents"].items()}
        for v in geo["parents"].values():
            if isinstance(v, dict):
                fix(v, ("file",))
    for keys in _FILE_KEYS:
        fix(geo, keys)
    return {**data, "city": {**data["city"], "geometry": geo}}


#: map files larger than this are refused (a district's boundary file is a few MB; the largest
#: city's unit grids, 40,000 polygons, about 100 MB as GeoJSON)
MAX_MB = 500.0


def check_file(path: str, field: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ScenarioRefError(field, f"no such file: {path}")
    mb = p.stat().st_size / 1e6
    if mb > MAX_MB:
        raise ScenarioRefError(field, f"{path} is {mb:,.1f} MB; at most {MAX_MB:g} MB are read")
    return p


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256(path: str) -> str:
    """The file's sha256 (cached while its size and modification time stay)."""
    st = Path(path).stat()
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime)


def gdal_path(path: str) -> str:
    """The path GDAL reads: a zipped Shapefile is read inside the zip."""
    if path.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            shp = sorted(n for n in z.namelist() if n.lower().endswith(".shp"))
        inner = "/" + shp[0] if shp else ""
        return f"/vsizip/{Path(path).resolve()}{inner}"
    return path


def _recode(values: np.ndarray, encoding: str | None) -> np.ndarray:
    """Text that GDAL decoded as Latin-1 but was written in GBK/GB18030 (or UTF-8), decoded
    again; other text is returned as it is."""
    out = []
    for v in values:
        if isinstance(v, str) and any("\x80" <= ch <= "\xff" for ch in v):
            try:
                raw = v.encode("latin-1")
            except UnicodeEncodeError:
                out.append(v)
                continue
            for enc in ((encoding,) if encoding else ("utf-8", "gb18030")):
                try:
                    v = raw.decode(enc)
                    break
                except (UnicodeDecodeError, LookupError):
                    continue
        out.append(v)
    return np.asarray(out, dtype=object)


def read_layer(path: str, layer: str | None, field: str, encoding: str | None = None,
               read_geometry: bool = True):
    """The features of one file (a GeoDataFrame, or a DataFrame without geometry)."""
    import pyogrio

    check_file(path, field)
    kwargs: dict[str, Any] = {"read_geometry": read_geometry}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding and not path.lower().endswith((".geojson", ".json")):
        kwargs["encoding"] = encoding
    try:
        df = pyogrio.read_dataframe(gdal_path(path), **kwargs)
    except Exception as e:  # GDAL's messages are the useful part
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ScenarioRefError(field, f"cannot read {path}: {msg}") from None
    if len(df) == 0:
        raise ScenarioRefError(field, f"{path} has no features")
    names = _recode(np.asarray([str(c) for c in df.columns], dtype=object), encoding)
    df.columns = [c if c == "geometry" else n for c, n in zip(df.columns, names)]
    for col in df.columns:
        if col != "geometry" and (df[col].dtype == object or str(df[col].dtype).startswith(
                "str")):
            df[col] = _recode(df[col].to_numpy(), encoding)
    return df


def _column(df, name: str, field: str, path: str):
    if name not in df.columns:
        have = ", ".join(str(c) for c in df.columns if c != "geometry")
        raise ScenarioRefError(field, f"no attribute {name!r} in {path}; it has: {have}")
    return df[name]


def _text(values) -> np.ndarray:
    """Ids as text: 12.0 → '12', None stays None."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return np.asarray(out, dtype=object)


def unit_table(df, geo, persons_per_household: float) -> tuple[Any, list[str]]:
    """One row per unit (columns id, name, households and any of community, street, district,
    zone) from the boundary file's features ``df``, and notes for the run's report (units
    without households). ``df`` keeps its geometry column when it has one."""
    import pandas as pd

    f = geo.fields
    src = geo.file
    ids = _text(_column(df, f.id, "city.geometry.fields.id", src)) if f.id \
        else np.arange(len(df)).astype(str).astype(object)
    if any(v is None for v in ids):
        raise ScenarioRefError("city.geometry.fields.id",
                               f"feature {int(np.flatnonzero([v is None for v in ids])[0])} of "
                               f"{src} has no {f.id}")
    dup = pd.Series(ids).duplicated()
    if dup.any():
        raise ScenarioRefError("city.geometry.fields.id", f"duplicate id {ids[dup.idxmax()]!r} "
                                                          f"in {src} ({int(dup.sum())} repeats)")
    if geo.population is not None:
        pop = geo.population
        table = read_layer(pop.file, None, "city.geometry.population.file",
                           read_geometry=False)
        key = _text(_column(table, pop.id, "city.geometry.population.id", pop.file))
        _column(table, pop.column, "city.geometry.population.column", pop.file)
        table = table.assign(_key=key).drop_duplicates("_key")
        extra = [c for c in table.columns if c not in df.columns and c != "_key"]
        df = df.assign(_key=ids).merge(table[["_key"] + extra], on="_key", how="left") \
            .drop(columns="_key")
    for col, values in geo.where.items():  # on the file's attributes or the joined table's
        keep = np.isin(_text(_column(df, col, f"city.geometry.where.{col}", src)).astype(str),
                       [str(v) for v in values])
        if not keep.any():
            raise ScenarioRefError(f"city.geometry.where.{col}",
                                   f"no feature of {src} has {col} in {values}")
        df, ids = df[keep].reset_index(drop=True), ids[keep]
    out = pd.DataFrame({"id": ids})
    out["name"] = _text(_column(df, f.name, "city.geometry.fields.name", src)) if f.name else ids
    if f.households or f.population:
        name = f.households or f.population
        raw = pd.to_numeric(_column(df, name, f"city.geometry.fields."
                                    f"{'households' if f.households else 'population'}", src),
                            errors="coerce").to_numpy(dtype=float)
        field = f"city.geometry.fields.{'households' if f.households else 'population'}"
        per = 1.0 if f.households else persons_per_household
    elif geo.population is not None:
        raw = pd.to_numeric(df[geo.population.column], errors="coerce").to_numpy(dtype=float)
        field = "city.geometry.population.column"
        per = 1.0 if geo.population.households else persons_per_household
    else:
        raise ScenarioRefError("city.geometry.fields.households",
                               "a map needs households: name fields.households, "
                               "fields.population or a population table")
    if np.any(raw < 0):
        i = int(np.flatnonzero(raw < 0)[0])
        raise ScenarioRefError(field, f"unit {ids[i]!r} has {raw[i]:g} (negative)")
    hh = np.nan_to_num(raw, nan=0.0) / per
    if not np.any(hh > 0):
        raise ScenarioRefError(field, f"no unit of {src} has households")
    out["households"] = hh
    for lv in ("community", "street", "district", "zone"):
        name = getattr(f, lv)
        if name:
            vals = _text(_column(df, name, f"city.geometry.fields.{lv}", src))
            if any(v is None for v in vals):
                i = int(np.flatnonzero([v is None for v in vals])[0])
                raise ScenarioRefError(f"city.geometry.fields.{lv}",
                                       f"unit {ids[i]!r} has no {name}")
            out[lv] = vals
    empty = [str(i) for i in ids[hh == 0]]
    notes = [f"{len(empty)} of {len(ids)} units have no households and stay as land without "
             f"residents: {', '.join(empty[:12])}{' …' if len(empty) > 12 else ''}"] if empty \
        else []
    if "geometry" in df.columns:
        import geopandas as gpd

        out = gpd.GeoDataFrame(out, geometry=df.geometry.values, crs=getattr(df, "crs", None))
    return out, notes


_GEO: dict[str, object] = {}  # the map section behind each cache key


@lru_cache(maxsize=32)
def _households_cached(geo_json: str, stamps: tuple, persons: float) -> float:
    geo = _GEO.pop(geo_json)
    df = read_layer(geo.file, geo.layer, "city.geometry.file", encoding=geo.encoding,
                    read_geometry=False)
    table, _ = unit_table(df, geo, persons)
    return float(table["households"].sum())


def map_households(geo, persons_per_household: float) -> float:
    """The map's total households (before any rescaling), from its attributes only."""
    stamps = []
    for field, path in geo.files().items():
        p = check_file(path, field)
        stamps.append((path, p.stat().st_size, p.stat().st_mtime))
    key = geo.model_dump_json()
    _GEO[key] = geo
    try:
        return _households_cached(key, tuple(stamps), persons_per_household)
    finally:
        _GEO.pop(key, None)

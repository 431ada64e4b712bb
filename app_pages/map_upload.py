"""A city on its own map in the app: upload a boundary file (GeoJSON, TopoJSON, GeoPackage or a
zipped Shapefile) and, optionally, a population table; choose in widgets what the file's fields
are (``city.geometry``: level, id, name, households or residents, parents, a filter); the
baseline's policy runs on that map.

The uploaded bytes are kept under a folder named by their sha256 (the same file is one file
and one scenario hash, however often it is uploaded), written whole or not at all. Every choice
is checked by the scenario's own reader, so a bad file or a bad choice shows the map reader's
message naming the field; the app's size limits then count the map's grids.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from app_pages import limits
from app_pages.i18n import tr

#: boundary files GDAL reads from one upload (a Shapefile comes zipped with its .dbf/.shx/.prj)
MAP_TYPES = ["geojson", "json", "topojson", "gpkg", "zip"]
#: the levels a polygon of the file can be, smallest first (``city.geometry.level``)
LEVELS = ("grid", "community", "street", "district")
#: no field chosen (the widget's first option)
NONE = ""


def upload_dir() -> Path:
    """Where uploaded maps are kept (``GRIDSIM_UPLOAD_DIR``, else the system's temp folder)."""
    root = os.environ.get("GRIDSIM_UPLOAD_DIR") or os.path.join(tempfile.gettempdir(),
                                                                "gridsim-uploads")
    return Path(root)


def store(data: bytes, filename: str) -> Path:
    """The upload as a file: ``<upload dir>/<sha256[:16]>/<safe name>``, written whole (to a
    temporary name, then renamed) so no reader sees half a file."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name).strip("._") or "map"
    folder = upload_dir() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / stem
    if not path.exists() or path.stat().st_size != len(data):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path


def check_bytes(data: bytes, filename: str, lang: str, types: list[str], limit_mb: int
                ) -> str | None:
    """Why an upload cannot be read at all (empty, too large, not an allowed kind); None if
    it can."""
    if not data:
        return tr("upload_empty", lang)
    if len(data) > limit_mb * 1024 * 1024:
        return tr("upload_too_big", lang, kb=len(data) / 1024, limit=limit_mb * 1024)
    ext = Path(filename).suffix.lower().lstrip(".")
    if ext not in types:
        return tr("mu_kind", lang, ext=ext or "?", allowed=", ".join(types))
    return None


@st.cache_data(show_spinner=False, max_entries=16)
def file_table(path: str, layer: str | None, mtime: float) -> tuple[list[str], list[str], dict]:
    """The file's layers, attribute names and up to 200 distinct values of each attribute
    (for the filter). Raises the map reader's ``ScenarioRefError`` for a file GDAL cannot read."""
    import pyogrio

    from sim.scenario.mapfiles import gdal_path, read_layer

    try:
        layers = [str(x[0]) for x in pyogrio.list_layers(gdal_path(path))]
    except Exception:  # the reader below says why, naming the field
        layers = []
    df = read_layer(path, layer, "city.geometry.file", read_geometry=False)
    cols = [str(c) for c in df.columns if c != "geometry"]
    values = {c: sorted({str(v) for v in df[c].dropna().unique()})[:200] for c in cols}
    return layers, cols, values


def _pick(label: str, options: list[str], key: str, lang: str, none_label: str,
          guess: tuple[str, ...] = (), help: str | None = None) -> str:  # noqa: A002
    """A field picker: the file's attributes, the first option being "none"; a first guess
    is the attribute whose name matches one of ``guess`` (case-insensitive)."""
    from app_pages.common_ui import select

    opts = [NONE] + options
    index = 0
    low = {o.lower(): i + 1 for i, o in enumerate(options)}
    for g in guess:
        if g in low:
            index = low[g]
            break
    return select(label, opts, key, lang, index=index, help=help,
                  format_func=lambda o: none_label if o == NONE else o)


def geometry_choices(path: Path, prefix: str, lang: str) -> dict[str, Any] | None:
    """Widgets for ``city.geometry`` of the file at ``path``; the mapping they make (None
    while the file cannot be read: the message is shown)."""
    from app_pages.common_ui import select, show_problems
    from sim.scenario import ScenarioError
    from sim.scenario.errors import ScenarioRefError

    key = f"{prefix}_map"
    try:
        layers, cols, values = file_table(str(path), None, path.stat().st_mtime)
        layer = None
        if len(layers) > 1:
            layer = select(tr("mu_layer", lang), layers, f"{key}_layer", lang)
            _, cols, values = file_table(str(path), layer, path.stat().st_mtime)
    except (ScenarioError, ScenarioRefError) as err:
        show_problems(tr("mu_invalid", lang), str(err).splitlines())
        return None
    st.caption(tr("mu_fields", lang, n=len(cols), names=", ".join(cols[:12])
                  + (" …" if len(cols) > 12 else "")))
    c1, c2, c3 = st.columns(3)
    with c1:
        level = select(tr("mu_level", lang), list(LEVELS), f"{key}_level", lang,
                       index=LEVELS.index("street"),
                       format_func=lambda lv: tr(f"mu_level_{lv}", lang),
                       help=tr("mu_level_help", lang))
    with c2:
        uid = _pick(tr("mu_id", lang), cols, f"{key}_id", lang, tr("mu_row_number", lang),
                    guess=("id", "code", "geocode", "ntacode", "gridcode", "adcode"))
    with c3:
        name = _pick(tr("mu_name", lang), cols, f"{key}_name", lang, tr("mu_same_as_id", lang),
                     guess=("name", "geoname", "名称", "name_zh"))
    fields: dict[str, Any] = {"id": uid or None, "name": name or None}
    geo: dict[str, Any] = {"file": str(path), "level": level, "fields": fields}
    if layer is not None:
        geo["layer"] = layer

    st.markdown(f"**{tr('mu_people', lang)}**")
    kinds = ["population", "households", "table"]
    how = st.radio(tr("mu_people", lang), kinds, key=f"{key}_how", horizontal=True,
                   format_func=lambda k: tr(f"mu_people_{k}", lang),
                   label_visibility="collapsed")
    if how == "table":
        table = _population_table(key, lang)
        if table is None:
            return None
        geo["population"] = table
    else:
        col = _pick(tr(f"mu_people_{how}", lang), cols, f"{key}_{how}", lang,
                    tr("mu_choose", lang),
                    guess=("population", "pop", "人口") if how == "population"
                    else ("households", "hh", "户数"))
        fields[how] = col or None

    above = LEVELS[LEVELS.index(level) + 1:]
    if above:
        pcols = st.columns(len(above) + 1)
        for lv, c in zip(above, pcols):
            with c:
                fields[lv] = _pick(tr("mu_parent", lang, level=tr(f"mu_level_{lv}", lang)),
                                   cols, f"{key}_parent_{lv}", lang, tr("mu_none", lang)) or None
        with pcols[-1]:
            fields["zone"] = _pick(tr("mu_zone", lang), cols, f"{key}_zone", lang,
                                   tr("mu_zone_first", lang)) or None
    if level == "grid":
        geo["regrid"] = st.checkbox(tr("mu_regrid", lang), key=f"{key}_regrid")

    f1, f2, f3 = st.columns([1, 2, 1])
    with f1:
        where_col = _pick(tr("mu_where", lang), cols, f"{key}_where", lang, tr("mu_all", lang))
    if where_col:
        with f2:
            keep = st.multiselect(tr("mu_where_values", lang, field=where_col),
                                  values.get(where_col, []), key=f"{key}_where_{where_col}")
        if keep:
            geo["where"] = {where_col: list(keep)}
    with f3:
        crs = st.text_input(tr("mu_crs", lang), key=f"{key}_crs", help=tr("mu_crs_help", lang),
                            placeholder="EPSG:4547 / gcj02").strip()
    if crs:
        geo["crs"] = crs
    geo["fields"] = {k: v for k, v in fields.items() if v}
    return geo


def _population_table(key: str, lang: str) -> dict[str, Any] | None:
    """A CSV of residents (or households) per unit, joined on the unit id."""
    import pandas as pd

    from app_pages.common_ui import show_problems

    up = st.file_uploader(tr("mu_table", lang, mb=limits.MAX_UPLOAD_MB), type=["csv"],
                          key=f"{key}_table", max_upload_size=limits.MAX_UPLOAD_MB)
    if up is None:
        st.info(tr("mu_table_hint", lang))
        return None
    data = up.getvalue()
    problem = check_bytes(data, up.name, lang, ["csv"], limits.MAX_UPLOAD_MB)
    path = store(data, up.name) if problem is None else None
    if path is not None:
        try:
            cols = [str(c) for c in pd.read_csv(path, nrows=5).columns]
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            problem = str(e).splitlines()[0]
    if problem is not None:
        show_problems(tr("mu_invalid", lang), [f"city.geometry.population.file: {problem}"])
        return None
    t1, t2, t3 = st.columns(3)
    with t1:
        tid = _pick(tr("mu_table_id", lang), cols, f"{key}_table_id", lang, tr("mu_choose", lang),
                    guess=("id", "code", "nta_code", "geocode"))
    with t2:
        tcol = _pick(tr("mu_table_column", lang), cols, f"{key}_table_col", lang,
                     tr("mu_choose", lang), guess=("population", "pop", "households"))
    with t3:
        hh = st.checkbox(tr("mu_table_households", lang), key=f"{key}_table_hh")
    return {"file": str(path), "id": tid, "column": tcol, "households": hh}


def scenario_on_map(base: Any, geometry: dict[str, Any], name: str) -> Any:
    """``base`` on the uploaded map: ``city.geometry`` set, ``city.households`` the map's own
    total, and as many platform operators per household as ``base`` has (at least its own).
    Raises ``ScenarioError`` naming the field for a bad file or choice."""
    from sim.scenario import validate_scenario

    data = base.model_dump(mode="json", by_alias=True)
    city = {k: v for k, v in data["city"].items() if k != "households"}
    data["city"] = {**city, "geometry": geometry}
    data["name"] = name
    data["label"] = data["label_zh"] = ""
    source = Path(geometry["file"]).name
    data["description"] = f"The baseline's policy on the map uploaded from {source}."
    data["description_zh"] = f"在上传的地图 {source} 上运行基础情景的政策。"
    sc = validate_scenario(data, name)
    ops = base.platform.operators * sc.city.households / max(base.city.households, 1)
    ops = max(base.platform.operators, int(-(-ops // 1)))
    if ops != sc.platform.operators:
        data["city"]["households"] = sc.city.households
        data["platform"] = {**data["platform"], "operators": ops}
        sc = validate_scenario(data, name)
    return sc


def map_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(filename).name.split(".")[0]).strip("_")
    return f"map_{stem or 'upload'}"


def upload_map_scenario(base: Any, prefix: str, lang: str) -> Any | None:
    """The picker's "upload a boundary file" choice: the file, its field widgets, and the
    baseline on that map (None until a file is there and every choice is valid; problems are
    shown with the field they concern)."""
    from app_pages.common_ui import show_problems
    from sim.scenario import ScenarioError

    up = st.file_uploader(tr("mu_upload", lang, mb=limits.MAX_MAP_UPLOAD_MB), type=MAP_TYPES,
                          key=f"{prefix}_map_upload", max_upload_size=limits.MAX_MAP_UPLOAD_MB,
                          help=tr("mu_upload_help", lang))
    kept = st.session_state.get(f"{prefix}_map_file")
    if up is not None:
        data = up.getvalue()
        problem = check_bytes(data, up.name, lang, MAP_TYPES, limits.MAX_MAP_UPLOAD_MB)
        if problem is not None:
            st.session_state.pop(f"{prefix}_map_file", None)
            show_problems(tr("mu_invalid", lang), [f"city.geometry.file: {problem}"])
            return None
        kept = (up.name, str(store(data, up.name)))
        st.session_state[f"{prefix}_map_file"] = kept
    if kept is None:
        st.info(tr("mu_hint", lang))
        return None
    if up is None:
        st.caption(tr("upload_kept", lang, name=kept[0]))
    path = Path(kept[1])
    if not path.exists():   # the upload folder was cleared since
        st.session_state.pop(f"{prefix}_map_file", None)
        st.info(tr("mu_hint", lang))
        return None
    geo = geometry_choices(path, prefix, lang)
    if geo is None:
        return None
    if not geo["fields"].get("population") and not geo["fields"].get("households") \
            and "population" not in geo:
        st.info(tr("mu_need_people", lang))
        return None
    try:
        with st.spinner(tr("mu_reading", lang)):
            sc = scenario_on_map(base, geo, map_name(kept[0]))
    except ScenarioError as err:
        show_problems(tr("mu_invalid", lang), str(err).splitlines())
        return None
    st.caption(tr("mu_done", lang, households=sc.city.households,
                  grids=limits.grid_count(sc.city), operators=sc.platform.operators))
    return sc

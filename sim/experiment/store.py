"""The results store: one DuckDB file per experiment, written by the parent process only.

Tables (query them with DuckDB, pandas or ``gridsim report``):

- ``meta(key, value)`` — experiment name, hash, the self-contained spec (JSON), source file.
- ``points(point_id, scenario_hash, factors_json, x_json)`` — the design.
- ``runs(point_id, replication, seed, status, error, experiment_hash, scenario_hash,
  gridsim_version, git_revision, host, pid, wall_time_s, started_utc, finished_utc, session_id,
  attempt)`` — one row per run with its provenance; ``status`` is ``ok`` or ``failed``.
- ``kpis(point_id, replication, kpi, value)`` — long format; NULL where a KPI is undefined
  (e.g. no case closed).
- ``timeseries(point_id, replication, series, t_h, value)`` — the series the experiment keeps.
- ``sessions(...)`` — each ``gridsim sweep`` invocation: backend, workers, host, counts.

Each finished run is one transaction (run row, its KPIs and series together), committed as soon
as the run returns: a sweep killed at any moment loses only the runs in flight, and DuckDB's
write-ahead log replays the committed ones when the store is opened again.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sim.experiment.design import DesignPoint
from sim.experiment.spec import ResolvedExperiment, validate_experiment
from sim.experiment.worker import RunOutcome, git_revision
from sim.scenario import ScenarioError
from sim.version import __version__

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS points(point_id INTEGER PRIMARY KEY, scenario_hash VARCHAR,
    factors_json VARCHAR, x_json VARCHAR);
CREATE TABLE IF NOT EXISTS runs(point_id INTEGER, replication INTEGER, seed UBIGINT,
    status VARCHAR, error VARCHAR, experiment_hash VARCHAR, scenario_hash VARCHAR,
    gridsim_version VARCHAR, git_revision VARCHAR, host VARCHAR, pid INTEGER,
    wall_time_s DOUBLE, started_utc VARCHAR, finished_utc VARCHAR, session_id INTEGER,
    attempt INTEGER, PRIMARY KEY(point_id, replication));
CREATE TABLE IF NOT EXISTS kpis(point_id INTEGER, replication INTEGER, kpi VARCHAR,
    value DOUBLE, PRIMARY KEY(point_id, replication, kpi));
CREATE TABLE IF NOT EXISTS timeseries(point_id INTEGER, replication INTEGER, series VARCHAR,
    t_h DOUBLE, value DOUBLE);
CREATE TABLE IF NOT EXISTS sessions(session_id INTEGER PRIMARY KEY, command VARCHAR,
    backend VARCHAR, workers INTEGER, host VARCHAR, git_revision VARCHAR,
    gridsim_version VARCHAR, started_utc VARCHAR, finished_utc VARCHAR, runs_ok INTEGER,
    runs_failed INTEGER, status VARCHAR);
"""

#: the layout of the tables; stamped in ``meta.schema_version``. 1: stores before the stamp
#: (kpis without a key); 2: kpis keyed by (point_id, replication, kpi), so a KPI can never be
#: recorded twice. An older store is brought up to date when opened for writing (one
#: transaction); reading works on every version up to this one.
SCHEMA_VERSION = 2

#: provenance columns that legitimately differ between two runs of the same experiment
VOLATILE_RUN_COLUMNS = ("wall_time_s", "started_utc", "finished_utc", "host", "pid",
                        "session_id", "attempt", "git_revision")

TABLES = ("points", "runs", "kpis", "timeseries", "sessions")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction, if the connection still can (a failed write may have
    invalidated it: then nothing of the transaction is kept anyway)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ResultsStore:
    """A DuckDB results file. Use as a context manager; only one writer at a time."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise ScenarioError([("results store", "no such file")], str(path))
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as err:
            msg = str(err)
            if "lock" in msg.lower():
                msg = "in use by another process (a sweep still running?)"
            raise ScenarioError([("results store", msg)], str(path)) from None
        except duckdb.Error as err:
            raise ScenarioError([("results store", f"cannot open: {err}")], str(path)) from None
        if not read_only:
            foreign = self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name <> 'meta'"
            ).fetchone()[0] and not self._has_table("meta")
            if foreign:  # somebody else's database: never add our tables to it
                self.close()
                raise ScenarioError([("results store", "is a DuckDB file but not a gridsim "
                                                       "results store; choose another --store")],
                                    str(path))
            fresh = not self._has_table("runs")
            try:  # one transaction: a kill while the store is made leaves no half-made store
                self.con.execute("BEGIN")
                self.con.execute(SCHEMA)
                if fresh:
                    self._set_meta({"schema_version": str(SCHEMA_VERSION)})
                self.con.execute("COMMIT")
            except duckdb.Error as err:
                _rollback(self.con)
                self.close()
                raise store_write_error(err, path) from None
        elif not self._has_table("meta"):
            raise ScenarioError([("results store", "not a gridsim results store (no meta table)")],
                                str(path))
        self.version = int(self.meta().get("schema_version", "1"))
        if self.version > SCHEMA_VERSION:
            self.close()
            raise ScenarioError([("results store", f"written by a newer gridsim (store schema "
                                                   f"{self.version}; this gridsim {__version__} "
                                                   f"knows up to {SCHEMA_VERSION}); upgrade "
                                                   "gridsim to read it")], str(path))
        if not read_only and self.version < SCHEMA_VERSION:
            self._migrate()
        self.session_id: int | None = None

    def _migrate(self) -> None:
        """Bring a store of an older schema up to this one, in one transaction."""
        con = self.con
        try:
            con.execute("BEGIN")
            if self.version < 2:  # key the KPIs: a doubled row cannot be written any more
                con.execute("CREATE TABLE kpis_v2(point_id INTEGER, replication INTEGER, "
                            "kpi VARCHAR, value DOUBLE, PRIMARY KEY(point_id, replication, kpi))")
                con.execute("INSERT INTO kpis_v2 SELECT point_id, replication, kpi, value "
                            "FROM kpis")
                con.execute("DROP TABLE kpis")
                con.execute("ALTER TABLE kpis_v2 RENAME TO kpis")
            self._set_meta({"schema_version": str(SCHEMA_VERSION)})
            con.execute("COMMIT")
        except duckdb.Error as err:
            _rollback(con)
            self.close()
            if isinstance(err, duckdb.ConstraintException):
                raise ScenarioError([("results store", "holds a KPI recorded twice; it cannot "
                                                       f"be upgraded to schema {SCHEMA_VERSION} "
                                                       f"({err})")], str(self.path)) from None
            raise store_write_error(err, self.path) from None
        self.version = SCHEMA_VERSION

    # ---------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.con is not None:
            try:
                self.con.close()
            except duckdb.Error:  # a connection a failed write invalidated: nothing to keep
                pass
            self.con = None  # type: ignore[assignment]

    def _has_table(self, name: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [name]).fetchone()[0])

    # ------------------------------------------------------------------------------- meta
    def meta(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM meta").fetchall())

    def experiment(self) -> ResolvedExperiment:
        """The experiment the store was made by (rebuilt from its self-contained spec)."""
        m = self.meta()
        if "spec_json" not in m:
            raise ScenarioError([("results store", "holds no experiment yet")], str(self.path))
        return validate_experiment(json.loads(m["spec_json"]), f"{self.path} (stored spec)")

    def attach(self, exp: ResolvedExperiment, points: list[DesignPoint]) -> None:
        """Bind the store to ``exp`` (first use) or check it was made by the same experiment."""
        m = self.meta()
        if "experiment_hash" in m:
            if m["experiment_hash"] != exp.hash:
                raise ScenarioError([("results store", f"holds experiment {m.get('name')!r} "
                                          f"(hash {m['experiment_hash']}), not this one (hash "
                                          f"{exp.hash}): the base, factors, design, seed or kept "
                                          "outputs differ. Choose another --store or delete it.")],
                                    str(self.path))
            self._set_meta({"name": exp.spec.name, "spec_json": json.dumps(exp.stored_spec()),
                            "replications": str(exp.spec.replications)})
            return
        self.con.execute("BEGIN")
        self._set_meta({"experiment_hash": exp.hash, "name": exp.spec.name,
                        "description": exp.spec.description, "source": exp.source,
                        "spec_json": json.dumps(exp.stored_spec()),
                        "design": exp.spec.design.type,
                        "factors": json.dumps(exp.factor_names),
                        "replications": str(exp.spec.replications),
                        "base_scenario_hash": exp.base.hash(),
                        "created_utc": _utc(), "gridsim_version": __version__})
        rows = [(p.point_id, exp.scenario(p.values).hash(), json.dumps(p.values),
                 json.dumps(p.x)) for p in points]
        if rows:
            df = pd.DataFrame(rows, columns=["point_id", "scenario_hash", "factors_json",
                                             "x_json"])
            self.con.execute("INSERT INTO points SELECT * FROM df")
        self.con.execute("COMMIT")

    def _set_meta(self, items: dict[str, str]) -> None:
        for k, v in items.items():
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])

    # ---------------------------------------------------------------------------- sessions
    def begin_session(self, command: str, backend: str, workers: int) -> int:
        # this process holds the store's write lock, so a session still marked running is one
        # whose process was killed (kill -9, power cut) before it could record its end
        self.con.execute("UPDATE sessions SET status = 'killed' WHERE status = 'running'")
        sid = self.con.execute("SELECT coalesce(max(session_id), 0) + 1 FROM sessions"
                               ).fetchone()[0]
        self.con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, "
                         "'running')", [sid, command, backend, workers, platform.node(),
                                        git_revision(), __version__, _utc()])
        self.session_id = int(sid)
        return self.session_id

    def set_session_workers(self, workers: int) -> None:
        if self.session_id is not None:
            self.con.execute("UPDATE sessions SET workers = ? WHERE session_id = ?",
                             [workers, self.session_id])

    def end_session(self, ok: int, failed: int, status: str) -> None:
        if self.session_id is None:
            return
        self.con.execute("UPDATE sessions SET finished_utc = ?, runs_ok = ?, runs_failed = ?, "
                         "status = ? WHERE session_id = ?",
                         [_utc(), ok, failed, status, self.session_id])

    # -------------------------------------------------------------------------------- runs
    def status(self) -> dict[tuple[int, int], str]:
        """(point, replication) → 'ok' | 'failed' for every recorded run."""
        return {(int(p), int(r)): s for p, r, s in self.con.execute(
            "SELECT point_id, replication, status FROM runs").fetchall()}

    def record(self, o: RunOutcome, experiment_hash: str) -> None:
        """Write one finished run (row, KPIs, series) in one transaction."""
        key = [o.point_id, o.replication]
        con = self.con
        con.execute("BEGIN")
        try:
            attempt = con.execute("SELECT attempt FROM runs WHERE point_id = ? AND "
                                  "replication = ?", key).fetchone()
            if attempt:  # a retried run replaces the failed one (scans only in that case)
                for table in ("runs", "kpis", "timeseries"):
                    con.execute(f"DELETE FROM {table} WHERE point_id = ? AND replication = ?",
                                key)
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [o.point_id, o.replication, o.seed, o.status, o.error, experiment_hash,
                         o.scenario_hash, o.gridsim_version, o.git_revision, o.host, o.pid,
                         o.wall_time_s, o.started_utc, o.finished_utc, self.session_id,
                         (attempt[0] + 1) if attempt else 1])
            if o.kpis:  # one statement per table, values bound as lists (cheapest in DuckDB)
                con.execute("INSERT INTO kpis SELECT ?, ?, unnest(?::VARCHAR[]), "
                            "unnest(?::DOUBLE[])",
                            [o.point_id, o.replication, list(o.kpis), list(o.kpis.values())])
            if o.timeseries:
                t = o.timeseries["t_h"]
                series = [s for s in o.timeseries if s != "t_h"]
                con.execute("INSERT INTO timeseries SELECT ?, ?, unnest(?::VARCHAR[]), "
                            "unnest(?::DOUBLE[]), unnest(?::DOUBLE[])",
                            [o.point_id, o.replication, [s for s in series for _ in t],
                             [x for _ in series for x in t],
                             [x for s in series for x in o.timeseries[s]]])
            con.execute("COMMIT")
        except duckdb.Error as err:  # e.g. no space left on device: this run is not kept
            _rollback(con)
            raise store_write_error(err, self.path) from None
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------------------ reading
    def runs(self) -> pd.DataFrame:
        return self.con.execute("SELECT * FROM runs ORDER BY point_id, replication").df()

    def points(self) -> pd.DataFrame:
        """One row per design point: point_id, scenario_hash and one column per factor."""
        df = self.con.execute("SELECT * FROM points ORDER BY point_id").df()
        names = json.loads(self.meta().get("factors", "[]"))
        vals = [json.loads(s) for s in df.factors_json]
        out = df[["point_id", "scenario_hash"]].copy()
        for n in names:
            out[n] = [v.get(n) for v in vals]
        out.attrs["x"] = [json.loads(s) for s in df.x_json]
        return out

    def kpis(self, status: str = "ok") -> pd.DataFrame:
        """Wide KPI table: one row per (point, replication) of runs with ``status``."""
        long = self.con.execute(
            "SELECT k.point_id, k.replication, k.kpi, k.value FROM kpis k JOIN runs r "
            "USING (point_id, replication) WHERE r.status = ? ORDER BY 1, 2", [status]).df()
        if long.empty:
            return pd.DataFrame(columns=["point_id", "replication"])
        wide = long.pivot(index=["point_id", "replication"], columns="kpi",
                          values="value").reset_index()
        wide.columns.name = None
        order = [k for k in json.loads(self.meta()["spec_json"]).get("kpis", [])
                 if k in wide.columns]
        return wide[["point_id", "replication", *order]].astype(
            {"point_id": int, "replication": int})

    def timeseries(self) -> pd.DataFrame:
        return self.con.execute("SELECT * FROM timeseries ORDER BY point_id, replication, "
                                "series, t_h").df()

    def counts(self) -> dict[str, int]:
        rows = self.con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        return {s: int(n) for s, n in rows}

    # ------------------------------------------------------------------------------ export
    def export(self, out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
        """Write points, runs, kpis (wide), timeseries and sessions as Parquet or CSV."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        frames: dict[str, Any] = {"points": self.points(), "runs": self.runs(),
                                  "kpis": self.kpis(), "timeseries": self.timeseries(),
                                  "sessions": self.con.execute(
                                      "SELECT * FROM sessions ORDER BY session_id").df()}
        written = []
        for name, df in frames.items():
            path = out / f"{name}.{fmt}"
            tmp = path.with_name(path.name + ".partial")
            if fmt == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False)
            tmp.replace(path)
            written.append(path)
        return written


class StoreWriteError(ScenarioError):
    """The store could not be written (disk full, read-only, I/O error); committed runs stay."""


def store_write_error(err: Exception, path: str | Path) -> StoreWriteError:
    msg = str(err).splitlines()[0]
    if "No space left" in msg or "Disk full" in msg.title():
        msg = "no space left on the device"
    return StoreWriteError([("results store", f"cannot write: {msg}")], str(path))


def comparable_runs(store: ResultsStore) -> pd.DataFrame:
    """The runs table without the columns that legitimately differ between executions."""
    return store.runs().drop(columns=list(VOLATILE_RUN_COLUMNS)).reset_index(drop=True)

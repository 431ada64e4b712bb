"""The case log's buffer (``sim.engine.records``): rows logged as tuples and as whole columns give
the table that row-by-row conversion gives, in the order they were logged, in memory and in the
Parquet sink, across flushes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.records import CASE_SCHEMA, CaseLog

NAN = math.nan


def _row(i: int) -> tuple:
    """A case row whose every column depends on ``i`` (NaNs, empty strings and flags included)."""
    f = float(i) + 0.25
    return (i, i % 7, "street", f"sub{i % 3}", "sanitation", f, "patrol" if i % 2 else "resident",
            f + 1, i % 4, i % 5 - 1, bool(i % 2), bool(i % 3 == 0), f + 2,
            NAN if i % 4 == 0 else f + 3, f + 4, f + 5, NAN, f + 6, f + 7, i % 2, i % 3, i % 4,
            bool(i % 5 == 0), "closed" if i % 2 else "parked", NAN if i % 2 else f + 8,
            "" if i % 3 else "water", bool(i % 6 == 0), False, bool(i % 7 == 0), False,
            bool(i % 8 == 0), bool(i % 9 == 0), bool(i % 10 == 0), bool(i % 11 == 0), i * 10,
            NAN if i % 3 else f, float(i % 2) * 500.0)


def _columns(ids: np.ndarray) -> dict:
    """Unreported rows as ``GridModel.record_unreported`` gives them: arrays and constants."""
    return {"incident_id": ids, "grid": ids % 7, "category": np.array(["road"] * len(ids),
                                                                          dtype=object),
            "subtype": np.array([f"sub{i % 3}" for i in ids], dtype=object),
            "department": np.array(["roads"] * len(ids), dtype=object),
            "t_occur_h": ids + 0.5, "channel": "", "t_report_h": NAN, "n_reports": 0,
            "worker": -1, "on_spot": False, "complex": False, "t_filed_h": NAN,
            "t_dispatch_h": NAN, "t_due_h": NAN, "t_crew_request_h": NAN, "crew_wait_h": NAN,
            "t_handled_h": NAN, "t_closed_h": NAN, "returns": 0, "reworks": 0,
            "escalation_level": 0, "false_closure": False, "state": "vanished",
            "t_parked_h": NAN, "misrouted_to": "", "padded": False, "suppressed": False,
            "staged_verification": False, "gaming_caught": False, "joint_meeting": False,
            "reassigned": False, "mutual_aid": False, "extension": False,
            "cell": ids * 10, "t_gone_h": ids + 0.75, "harm_yuan": np.zeros(len(ids))}


def _as_rows(cols: dict, n: int) -> list[tuple]:
    def at(v, k):
        return v[k].item() if isinstance(v, np.ndarray) and v.dtype != object else (
            v[k] if isinstance(v, np.ndarray) else v)
    return [tuple(at(cols[f.name], k) for f in CASE_SCHEMA) for k in range(n)]


def _log_all(log: CaseLog) -> list[tuple]:
    """Feed ``log`` cases and unreported batches interleaved; return the same rows in order."""
    expected: list[tuple] = []
    i = 0
    for chunk in (3, 0, 11, 1, 25, 4, 0, 9):
        for _ in range(chunk):
            log.append(_row(i))
            expected.append(_row(i))
            i += 1
        ids = np.arange(1000 + i, 1000 + i + chunk % 5, dtype=np.int64)
        cols = _columns(ids)
        log.extend_columns(len(ids), cols)
        expected += _as_rows(cols, len(ids))
    log.close()
    return expected


def _reference(rows: list[tuple]) -> pd.DataFrame:
    """The table row-wise conversion gives: one Arrow array per column."""
    cols = list(zip(*rows))
    t = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, CASE_SCHEMA)],
                             schema=CASE_SCHEMA)
    return t.to_pandas()


def test_case_log_in_memory_equals_row_by_row_conversion():
    log = CaseLog(batch_rows=7)
    expected = _log_all(log)
    assert log.n_rows == len(expected)
    assert log.table().schema.equals(CASE_SCHEMA, check_metadata=True)
    pd.testing.assert_frame_equal(log.frame(), _reference(expected))
    assert log.frame()["incident_id"].tolist() == [r[0] for r in expected]  # logged order


def test_case_log_sink_equals_row_by_row_conversion(tmp_path):
    sink = tmp_path / "cases.parquet"
    log = CaseLog(sink, batch_rows=10)
    expected = _log_all(log)
    f = pq.ParquetFile(sink)
    assert f.schema_arrow.equals(CASE_SCHEMA, check_metadata=True)
    # one row group per flush of ``batch_rows`` (the last one shorter)
    sizes = [f.metadata.row_group(k).num_rows for k in range(f.metadata.num_row_groups)]
    assert sum(sizes) == len(expected) and all(s >= 10 for s in sizes[:-1])
    pd.testing.assert_frame_equal(log.frame(), _reference(expected))

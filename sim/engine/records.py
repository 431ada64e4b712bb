"""The case log: one row per incident, streamed in columnar batches.

Cases are buffered as row tuples (``append``), incidents nobody reported as whole columns
(``extend_columns``: NumPy arrays from the discovery, no Python row at all). Every ``batch_rows``
rows the buffer becomes one Arrow record batch, in the order things were logged: each run of row
tuples is converted by Arrow in one go (as a struct array, no transposition in Python) and the
pieces are joined. With a sink the batches go straight to a Parquet file (memory stays bounded
however long the run), without one they are kept as compact Arrow batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CASE_SCHEMA = pa.schema([
    ("incident_id", pa.int64()),
    ("grid", pa.int32()),
    ("category", pa.string()),
    ("subtype", pa.string()),
    ("department", pa.string()),
    ("t_occur_h", pa.float64()),
    ("channel", pa.string()),
    ("t_report_h", pa.float64()),
    ("n_reports", pa.int16()),
    ("worker", pa.int32()),
    ("on_spot", pa.bool_()),
    ("complex", pa.bool_()),
    ("t_filed_h", pa.float64()),
    ("t_dispatch_h", pa.float64()),
    ("t_due_h", pa.float64()),
    ("t_crew_request_h", pa.float64()),  # first request for a crew (NaN: none yet)
    ("crew_wait_h", pa.float64()),  # first request → crew starts (NaN: still waiting)
    ("t_handled_h", pa.float64()),
    ("t_closed_h", pa.float64()),
    ("returns", pa.int16()),
    ("reworks", pa.int16()),
    ("escalation_level", pa.int8()),
    ("false_closure", pa.bool_()),
    ("state", pa.string()),
    # parked (挂账): unsolvable, too many reworks, or past the last level; NaN if never parked
    ("t_parked_h", pa.float64()),
    ("misrouted_to", pa.string()),  # the wrong department a misrouted case went to ("": none)
    # behaviour flags (sim.policies.case_flags): staff gaming, the joint meeting, level teams
    ("padded", pa.bool_()),  # an invented or trivial report made for the appraisal score
    ("suppressed", pa.bool_()),  # a patrol found it and kept it off the record (collusion)
    ("staged_verification", pa.bool_()),  # closed without a real site check
    ("gaming_caught", pa.bool_()),  # the gaming above was caught (spot check, complaint)
    ("joint_meeting", pa.bool_()),  # resolved through the joint meeting
    # level teams' actions on the escalated case (sim.agents.levels)
    ("reassigned", pa.bool_()),  # a street team moved it to another street's free crew
    ("mutual_aid", pa.bool_()),  # a district team ordered another street's crews to take it
    ("extension", pa.bool_()),  # a district team granted an extension (延期): deferred
    # the problem itself (sim.engine.problems)
    ("cell", pa.int32()),  # the land cell it occurred on (-1: padded)
    ("t_gone_h", pa.float64()),  # when it ended: fixed (handled) or vanished; NaN: still there
    ("harm_yuan", pa.float64()),  # harm done while it was unreported (worsened)
])
CASE_COLUMNS: tuple[str, ...] = tuple(CASE_SCHEMA.names)
_ROW = pa.struct(list(CASE_SCHEMA))  # a row tuple, for Arrow's conversion of a list of rows


class CaseLog:
    def __init__(self, sink: str | Path | None = None, batch_rows: int = 20_000):
        self.batch_rows = batch_rows
        self._rows: list[tuple] = []  # row tuples logged since the last piece
        self._pieces: list[pa.RecordBatch] = []  # the rest of the buffer, in order
        self._buffered = 0  # rows in the pieces
        self._batches: list[pa.RecordBatch] = []
        self.sink = Path(sink) if sink else None
        self._partial = self.sink.with_name(self.sink.name + ".partial") if self.sink else None
        self._writer: pq.ParquetWriter | None = None
        self.n_rows = 0

    def append(self, row: tuple) -> None:
        """One row: a tuple of the ``CASE_SCHEMA`` columns' values."""
        rows = self._rows
        rows.append(row)
        if len(rows) + self._buffered >= self.batch_rows:
            self._flush()

    def extend_columns(self, n: int, columns: Mapping[str, Any]) -> None:
        """``n`` rows given by column: every ``CASE_SCHEMA`` column, each an array of ``n``
        values or one value for all of them."""
        if not n:
            return
        self._cut()
        arrays = []
        for f in CASE_SCHEMA:
            v = columns[f.name]
            if np.ndim(v) == 0:
                v = np.full(n, v, dtype=object if isinstance(v, str) else None)
            arrays.append(pa.array(v, type=f.type))
        self._pieces.append(pa.RecordBatch.from_arrays(arrays, schema=CASE_SCHEMA))
        self._buffered += n
        if self._buffered >= self.batch_rows:
            self._flush()

    def _cut(self) -> None:
        """The row tuples so far become a piece of the buffer."""
        if self._rows:
            self._pieces.append(pa.RecordBatch.from_struct_array(pa.array(self._rows, type=_ROW)))
            self._buffered += len(self._rows)
            self._rows = []

    def _flush(self) -> None:
        self._cut()
        if not self._pieces:
            return
        if len(self._pieces) == 1:
            batch = self._pieces[0]
        else:
            batch = pa.Table.from_batches(self._pieces).combine_chunks().to_batches()[0]
        self.n_rows += self._buffered
        self._pieces, self._buffered = [], 0
        if self._partial is not None:
            if self._writer is None:
                self._partial.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self._partial, CASE_SCHEMA, compression="zstd")
            self._writer.write_batch(batch)
        else:
            self._batches.append(batch)

    def close(self) -> None:
        """Flush what is buffered; with a sink, finish the file and move it into place."""
        self._flush()
        if self._partial is not None:
            if self._writer is None:
                pq.write_table(CASE_SCHEMA.empty_table(), self._partial)
            else:
                self._writer.close()
                self._writer = None
            os.replace(self._partial, self.sink)

    def discard(self) -> None:
        """Drop a half-written sink (on error)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._partial is not None and self._partial.exists():
            self._partial.unlink()

    def table(self, columns: list[str] | None = None) -> pa.Table:
        if self.sink is not None and self.sink.exists():
            # memory-mapped: the file is not also copied into a read buffer
            return pq.read_table(self.sink, columns=columns, memory_map=True)
        t = pa.Table.from_batches(self._batches, schema=CASE_SCHEMA)
        return t.select(columns) if columns else t

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        # self_destruct frees each Arrow column as it is converted: the peak is one copy, not two
        return self.table(columns).to_pandas(self_destruct=True, split_blocks=True)

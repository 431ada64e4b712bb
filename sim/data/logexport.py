"""Writing a gridsim case log as a city's service-request log (NYC 311 or Open311 form): the
export that calibration reads back (:mod:`sim.data.servicelog` reads any city's log)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.data.logtimes import US_FORMAT

if TYPE_CHECKING:
    import pandas as pd


EXPORT_FORMATS = ("open311", "nyc311")


def cases_to_log(cases: "pd.DataFrame", fmt: str, start: str = "2024-01-01",
                 codes: dict[str, str] | None = None, subtypes: bool = False) -> "pd.DataFrame":
    """Turn a gridsim case log into an Open311- or NYC-311-style request log.

    One row per reported case (its first report is the request); a closed case carries its
    closing time, an open or parked one is "Open". ``codes`` maps a category (or, with
    ``subtypes``, a ``category.subtype``) to the service code / complaint type written (default:
    that name itself). Times are ``start`` + model hours (t = 0 is a Monday in the model: choose
    a Monday to keep weekdays aligned).
    """
    import pandas as pd

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(EXPORT_FORMATS)}")
    c = cases[cases.t_report_h.notna()].sort_values("t_report_h")
    t0 = pd.Timestamp(start)
    created = t0 + pd.to_timedelta(c.t_report_h.to_numpy(), unit="h")
    closed_h = c.t_closed_h.where(c.state == "closed")
    closed = t0 + pd.to_timedelta(closed_h.to_numpy(), unit="h")
    names = (c.category + "." + c.subtype) if subtypes else c.category
    code = names.map(lambda x: (codes or {}).get(x, x)).to_numpy()
    is_closed = closed_h.notna().to_numpy()
    if fmt == "open311":
        iso = lambda ts: ts.strftime("%Y-%m-%dT%H:%M:%S+08:00")  # noqa: E731
        return pd.DataFrame({
            "service_request_id": c.incident_id.astype(str).to_numpy(),
            "status": ["closed" if x else "open" for x in is_closed],
            "service_code": code, "service_name": code,
            "requested_datetime": iso(created),
            "updated_datetime": [iso(pd.DatetimeIndex([t]))[0] if k else ""
                                 for t, k in zip(closed, is_closed)],
        })
    us = lambda ts: ts.strftime(US_FORMAT)  # noqa: E731
    return pd.DataFrame({
        "Unique Key": c.incident_id.astype(str).to_numpy(),
        "Created Date": us(created),
        "Closed Date": [us(pd.DatetimeIndex([t]))[0] if k else ""
                        for t, k in zip(closed, is_closed)],
        "Agency": c.department.to_numpy(), "Complaint Type": code,
        "Status": ["Closed" if x else "Open" for x in is_closed],
    })

"""Chinese web-map coordinates to WGS84: GCJ-02 (高德, 腾讯, Google China) and BD-09 (百度).

GCJ-02 is WGS84 lon/lat shifted by a published, non-invertible offset function (the form used
by the open implementations coordtransform and eviltransform, Krasovsky ellipsoid a = 6,378,245
m); BD-09 is GCJ-02 rotated and shifted once more. The offset is a few hundred metres in China
and zero outside it. :func:`gcj02_to_wgs84` inverts the offset by fixed-point iteration (to
1e-10°, about 0.01 mm), not the one-step approximation (off by up to a few metres).
"""

from __future__ import annotations

import numpy as np

A = 6378245.0
EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0


def out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    s = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + s + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + s + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = dlat * 180.0 / ((A * (1 - EE)) / (magic * sq) * np.pi)
    dlon = dlon * 180.0 / (A / sq * np.cos(rad) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The WGS84 point whose GCJ-02 offset lands on (lon, lat)."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        elon, elat = wgs84_to_gcj02(wlon, wlat)
        rlon, rlat = glon - elon, glat - elat
        wlon, wlat = wlon + rlon, wlat + rlat
        if np.all(np.abs(rlon) < tol) and np.all(np.abs(rlat) < tol):
            break
    return wlon, wlat


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(lon, dtype=float) - 0.0065, np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(kind: str, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """``kind`` 'gcj02' or 'bd09' lon/lat to WGS84 lon/lat."""
    return gcj02_to_wgs84(lon, lat) if kind == "gcj02" else bd09_to_wgs84(lon, lat)

"""Shared helpers of the app's AppTest tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def open_app(page: str = "lab", lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.radio(key="lang").set_value(lang).run()
    if page != "lab":
        at.sidebar.radio(key="page").set_value(page).run()
    return at


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def widget(at: AppTest, kind: str, path: str):
    """The generated lever widget of a scenario field (its key ends with ``:<path>``)."""
    found = [w for w in getattr(at, kind) if w.key and w.key.endswith(":" + path)]
    assert len(found) == 1, (path, [w.key for w in getattr(at, kind)])
    return found[0]


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    """Metric cards by label: (value, change)."""
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def cards(at: AppTest) -> dict[str, str]:
    """The drill's KPI cards (HTML in a markdown element) by label: value."""
    import html
    import re

    out: dict[str, str] = {}
    for m in at.markdown:
        for label, value in re.findall(r'<div class="gs-card-label">(.*?)</div>'
                                       r'<div class="gs-card-value">(.*?)</div>', m.value):
            out[html.unescape(label)] = html.unescape(value)
    return out

"""The app's shell: every page opens in both languages without an error, headed by its name."""

from __future__ import annotations

import pytest

from app_pages.i18n import LANGS, tr
from tests.apptest_util import assert_ok, open_app

PAGES = ("lab", "compare", "sweeps", "drill", "model")


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_opens_in_each_language(lang):
    at = open_app(lang=lang)
    for page in PAGES:
        at.sidebar.radio(key="page").set_value(page).run()
        assert_ok(at)
        assert at.header[0].value == tr(f"page_{page}", lang)
        assert at.sidebar.radio(key="page").options == [tr(f"page_{p}", lang) for p in PAGES]

"""The app in a deployment: stores only under the results folder, upload limits enforced by the
server, an empty upload refused, and neither a traceback nor a server path in the browser."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app_pages import deploy, limits
from tests.apptest_util import ROOT, assert_ok, open_app
from tests.conftest import write_tiny_sweep_store


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    (root / "sweeps").mkdir()
    write_tiny_sweep_store(root / "sweeps")
    return root


def test_resolve_store_keeps_to_the_results_folder(results, tmp_path):
    store = results / "sweeps" / "tiny.duckdb"
    assert deploy.resolve_store("sweeps/tiny.duckdb", results) == store.resolve()
    assert deploy.resolve_store(str(store), results) == store.resolve()
    outside = tmp_path / "elsewhere.duckdb"
    outside.write_bytes(store.read_bytes())
    for text, key in [(str(outside), "dp_outside"), ("../" * 12 + "etc/passwd", "dp_outside"),
                      ("sweeps/../../" + outside.name, "dp_outside"),
                      ("sweeps/tiny.parquet", "dp_not_duckdb"), ("nope.duckdb", "dp_missing"),
                      ("x" * 400 + ".duckdb", "dp_path_long"), ("a\x00b.duckdb", "dp_path_long")]:
        with pytest.raises(deploy.Refused) as err:
            deploy.resolve_store(text, results)
        assert err.value.key == key, text
    link = results / "link.duckdb"       # a symlink inside that points outside is outside
    link.symlink_to(outside)
    with pytest.raises(deploy.Refused) as err:
        deploy.resolve_store("link.duckdb", results)
    assert err.value.key == "dp_outside"
    assert deploy.find_stores(results) == [store.resolve()]


def test_scrub_hides_server_paths(results):
    text = (f"cannot open {results}/sweeps/x.duckdb; see {ROOT}/app_pages/lab_page.py and "
            f"{Path.home()}/secret.txt or /var/lib/thing/db.duckdb")
    out = deploy.scrub(text, results)
    assert str(results) not in out and str(ROOT) not in out and "/var/lib" not in out
    assert "sweeps/x.duckdb" in out and "db.duckdb" in out


def test_explorer_opens_only_stores_under_the_results_folder(results, tmp_path, monkeypatch):
    monkeypatch.setenv(deploy.ENV_RESULTS, str(results))
    at = open_app("sweeps")
    assert_ok(at)
    assert at.selectbox(key="sw_store@en").options == ["sweeps/tiny.duckdb"]
    assert "12 runs of 6 design points" in " ".join(c.value for c in at.caption)
    outside = tmp_path / "o.duckdb"
    outside.write_bytes((results / "sweeps" / "tiny.duckdb").read_bytes())
    at.text_input(key="sw_path").set_value(str(outside)).run()
    errors = " ".join(e.value for e in at.error)
    assert "outside the results folder" in errors and str(tmp_path) not in errors
    at.text_input(key="sw_path").set_value("sweeps/missing.duckdb").run()
    assert "no results store sweeps/missing.duckdb" in " ".join(e.value for e in at.error)
    # the typed path is kept across pages
    at.sidebar.radio(key="page").set_value("model").run()
    at.sidebar.radio(key="page").set_value("sweeps").run()
    assert at.text_input(key="sw_path").value == "sweeps/missing.duckdb"


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"# only a comment\n"])
def test_an_empty_upload_is_an_error_not_the_baseline(content):
    at = open_app()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    at.file_uploader(key="lab_upload").set_value(("empty.yaml", content, "text/yaml")).run()
    assert not at.exception
    assert "The file is empty" in " ".join(e.value for e in at.error)
    assert "lab_run" not in [b.key for b in at.button]


def test_upload_limits_agree_in_label_widget_and_server():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # the server takes the largest upload any widget takes, and no more
    assert cfg["server"]["maxUploadSize"] == max(limits.MAX_MAP_UPLOAD_MB, limits.MAX_UPLOAD_MB)
    at = open_app()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    up = at.file_uploader(key="lab_upload")
    assert up.proto.max_upload_size_mb * 1024 == limits.MAX_UPLOAD_KB  # hypothetical field
    assert f"{limits.MAX_UPLOAD_KB // 1024} MB" in up.label
    at.selectbox(key="lab_source@en").set_value("__map_upload__").run()
    up = at.file_uploader(key="lab_map_upload")
    assert up.proto.max_upload_size_mb == limits.MAX_MAP_UPLOAD_MB
    assert f"{limits.MAX_MAP_UPLOAD_MB} MB" in up.label


def test_a_failing_page_shows_a_reference_not_the_error(monkeypatch, caplog):
    import app_pages.model_page as model_page

    def broken(lang: str) -> None:
        raise RuntimeError(f"disk on fire at {ROOT}/secret/file.txt")

    monkeypatch.setattr(model_page, "render", broken)
    with caplog.at_level(logging.ERROR, logger="gridsim.app"):
        at = open_app("model")
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Something went wrong" in shown
    assert "disk on fire" not in shown and str(ROOT) not in shown and "Traceback" not in shown
    ref = shown.split("reference ")[1].split(")")[0]
    assert ref in caplog.text and "disk on fire" in caplog.text   # the log has the details

"""What a deployed app may touch on its server, checked on the server (plain Python, no UI).

- **The results folder** (``GRIDSIM_RESULTS_DIR``, else ``out/`` of the working directory, where
  ``gridsim sweep`` writes): the sweep explorer opens stores only under it, and the app's own
  sweeps are written there. A typed path is taken relative to it; after symlinks are resolved it
  must still lie inside it, name an existing ``.duckdb`` file and be at most
  :data:`MAX_STORE_MB`.
- **What the browser is shown**: never a traceback and never a path of the server. Error texts
  pass through :func:`scrub`, which replaces the folders of the installation, the results folder
  and the home directory with neutral names; the full text goes to the server log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ENV_RESULTS = "GRIDSIM_RESULTS_DIR"
MAX_PATH_CHARS = 300
MAX_STORE_MB = 2048
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Refused(Exception):
    """A request the server refuses: an i18n key and its fields (see ``app_pages.i18n``)."""

    key: str
    fmt: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.key} {self.fmt}"


def results_root() -> Path:
    """The results folder (not created here)."""
    raw = os.environ.get(ENV_RESULTS, "").strip()
    return Path(raw).expanduser().resolve() if raw else (Path.cwd() / "out").resolve()


def shown(path: Path, root: Path | None = None) -> str:
    """How a store under the results folder is named in the browser: relative to it."""
    root = root or results_root()
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def find_stores(root: Path | None = None) -> list[Path]:
    """Results stores under the results folder, newest first."""
    root = root or results_root()
    if not root.is_dir():
        return []
    found = {p.resolve() for p in root.rglob("*.duckdb") if p.is_file()}
    inside = [p for p in found if p.is_relative_to(root)]
    return sorted(inside, key=lambda p: p.stat().st_mtime, reverse=True)


def resolve_store(text: str, root: Path | None = None) -> Path:
    """The store a user typed, checked: inside the results folder, a ``.duckdb`` file that
    exists and is not too large. Raises :class:`Refused` naming the rule broken."""
    root = root or results_root()
    text = text.strip()
    if len(text) > MAX_PATH_CHARS or "\x00" in text:
        raise Refused("dp_path_long", {"n": MAX_PATH_CHARS})
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = root / p
    try:
        p = p.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        raise Refused("dp_outside", {}) from None
    if not p.is_relative_to(root):
        raise Refused("dp_outside", {})
    if p.suffix != ".duckdb":
        raise Refused("dp_not_duckdb", {})
    if not p.is_file():
        raise Refused("dp_missing", {"name": shown(p, root)})
    mb = p.stat().st_size / 2**20
    if mb > MAX_STORE_MB:
        raise Refused("dp_store_big", {"mb": mb, "limit": MAX_STORE_MB})
    return p


def _prefixes(root: Path | None = None) -> list[tuple[str, str]]:
    out = [(str(root or results_root()), "<results>"), (str(ROOT), "<gridsim>"),
           (str(Path.home()), "~")]
    return sorted({(a, b) for a, b in out if len(a) > 1}, key=lambda ab: -len(ab[0]))


_ABS = re.compile(r"(?<![\w.>~])/(?:[\w.\-]+/)+[\w.\-]+")


def scrub(text: str, root: Path | None = None) -> str:
    """``text`` without any path of the server: known folders by name, any other absolute path
    by its last part."""
    for prefix, name in _prefixes(root):
        text = text.replace(prefix, name)
    return _ABS.sub(lambda m: "…/" + m.group(0).rsplit("/", 1)[-1], text)

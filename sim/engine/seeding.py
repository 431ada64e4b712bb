"""One root seed per run, split into named, independent random streams.

Each stream is ``SeedSequence(seed, spawn_key=(crc32(name),))``: independent of every other
stream and of which streams exist, so adding a process never shifts the draws of the others, and
two policies run at the same seed see the same incidents (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_seed(seed: int, name: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),))


class Streams:
    """Named generators for one run: ``streams["arrivals"]`` is a ``numpy.random.Generator``."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        g = self._cache.get(name)
        if g is None:
            g = np.random.default_rng(stream_seed(self.seed, name))
            self._cache[name] = g
        return g

    def int_seed(self, name: str) -> int:
        """A plain integer seed for third-party code that wants one (Mesa, networkx)."""
        return int(stream_seed(self.seed, name).generate_state(1, dtype=np.uint64)[0] >> 1)

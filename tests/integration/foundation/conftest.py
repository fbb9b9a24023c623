"""Fixtures: a running appliance with real Kamailio and pjsua2 workers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appliance import Appliance, make_appliance


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for a test module: 6 workers (24 legs with the PyPI wheel)."""
    app = make_appliance(Path(tmp_path_factory.mktemp("box")), workers=6)
    app.start()
    try:
        yield app
    finally:
        app.stop()

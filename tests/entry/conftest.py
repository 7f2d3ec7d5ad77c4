"""Fixtures of the entry-point tests."""

from __future__ import annotations

import pytest

from tests.browser import find_chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's headless Chromium; the test is skipped, saying so, without it."""
    binary, how = find_chromium()
    if binary is None:
        pytest.skip(f"chromium not installed: {how}")
    return binary

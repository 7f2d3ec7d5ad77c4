"""The README's Quick start runs verbatim, as a new user would paste it."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support import ROOT


def quick_start() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Quick start") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_quick_start_runs_verbatim(tmp_path) -> None:
    code = quick_start()
    assert "localhost:6379" not in code  # needs no Redis of the reader's
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = int(done.stdout.split()[0])
    assert records > 0 and "p95" in done.stdout

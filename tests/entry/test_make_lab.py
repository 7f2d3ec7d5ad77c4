"""``make lab`` starts JupyterLab at the notebooks, also as root (as containers run)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from rp_toolkit.local import free_port
from tests.support import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_serves_the_notebooks() -> None:
    port = free_port()
    lab = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS=--no-browser --port {port} --ServerApp.token=t"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        listing = None
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token=t"
                with urllib.request.urlopen(url, timeout=2) as reply:
                    listing = json.load(reply)
                break
            except OSError:
                time.sleep(0.5)
        output = b"" if lab.poll() is None else lab.stdout.read()
        assert listing is not None, output.decode(errors="replace")[-2000:]
        names = {item["name"] for item in listing["content"]}
        assert {"request_performance.ipynb", "scan_benchmark.ipynb"} <= names
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
    checkpoints = subprocess.run(
        ["git", "check-ignore", "-q", "notebooks/.ipynb_checkpoints/x.ipynb"], cwd=ROOT
    )
    assert checkpoints.returncode == 0  # git ignores what Jupyter leaves behind

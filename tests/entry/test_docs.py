"""docs/SCAN_MIGRATION.md: its figures are what `rp-toolkit docs` generates from the committed
benchmark results, and it has the sections a rollout guide needs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rp_toolkit import bench
from rp_toolkit.docs import blocks, render_guide

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "SCAN_MIGRATION.md"
RESULTS = ROOT / "docs" / "bench"


def test_guide_figures_are_the_generated_ones() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert render_guide(GUIDE, RESULTS, images=None) == text, "run: rp-toolkit docs"
    table = bench.to_markdown(bench.load_results(RESULTS))
    assert table in text


def test_generated_blocks_say_something() -> None:
    generated = blocks(bench.load_results(RESULTS))
    assert "KEYS" in generated["key-figures"] and "SCAN" in generated["key-figures"]
    assert "Redis 6.2" in generated["environment"] or "Redis 7" in generated["environment"]
    assert generated["bench-table"].count("\n| 1,000,000 |") >= 3


def test_docs_check_command_fails_on_a_stale_guide(tmp_path) -> None:
    stale = tmp_path / "guide.md"
    stale.write_text(
        GUIDE.read_text(encoding="utf-8").replace("| 1,000,000 | day |", "| 1 | day |")
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rp_toolkit",
            "docs",
            "--check",
            "--guide",
            str(stale),
            "--results",
            str(RESULTS),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1 and "out of date" in run.stderr
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rp_toolkit",
            "docs",
            "--guide",
            str(stale),
            "--results",
            str(RESULTS),
            "--images",
            str(tmp_path / "images"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert stale.read_text(encoding="utf-8") == GUIDE.read_text(encoding="utf-8")
    assert {p.name for p in (tmp_path / "images").iterdir()} == {
        "overhead_vs_size.png",
        "overhead_vs_count.png",
        "blocking.png",
    }


def test_guide_has_the_sections_of_a_rollout_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Redis SCAN Migration Guide"
    assert len(lines) >= 150
    sections = [line[3:] for line in lines if line.startswith("## ")]
    assert len(sections) >= 10 or len(sections) + text.count("\n### ") >= 10
    for name in (
        "Overview",
        "Feature Flags",
        "Production Rollout",
        "Troubleshooting",
        "Performance Characteristics",
        "Rollback",
        "FAQs",
        "Additional Resources",
    ):
        assert name in sections
    troubleshooting = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    assert troubleshooting.count("\n### ") >= 5
    faqs = text.split("## FAQs", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"^\*\*.+\?\*\*$", faqs, flags=re.MULTILINE)) >= 8
    for image in re.findall(r"\]\((images/[\w.]+)\)", text):
        assert (GUIDE.parent / image).is_file(), image


@pytest.mark.parametrize("flag", ["use_scan", "scan_count", "scan_count_auto_tune"])
def test_every_flag_has_python_environment_and_gem_examples(flag: str) -> None:
    section = GUIDE.read_text(encoding="utf-8").split(f"### `{flag}`", 1)[1].split("\n### ", 1)[0]
    assert "rp.setup(" in section
    assert "export RP_" in section
    assert "RailsPerformance." in section

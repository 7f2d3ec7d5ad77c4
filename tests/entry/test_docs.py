"""docs/SCAN_MIGRATION.md: its figures are what `rp-toolkit docs` generates from the committed
benchmark results, and it has the sections a rollout guide needs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rp_toolkit import bench, synth
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


# ------------------------------------------------------------ rollout and rollback, as written


def guide_section(name: str) -> str:
    return GUIDE.read_text(encoding="utf-8").split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def shell_script(section: str) -> str:
    """The section's ```sh blocks (list items' indented ones too), in order, as one script."""
    blocks = re.findall(r"^([ \t]*)```sh\n(.*?)^\1```", section, re.MULTILINE | re.DOTALL)
    return "".join(textwrap.dedent(body) for _, body in blocks)


def run_as_written(script: str, redis_url: str, cwd: Path, **variables: str):
    """``script`` in bash, as a user's shell would run it: ``rp-toolkit`` on the PATH,
    ``REDIS_URL`` pointing at the test's server, no RP_* but ``variables``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name == "RP_REDIS_SERVER" or not (name.startswith("RP_") or name == "REDIS_URL")
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(REDIS_URL=redis_url, **variables)
    return subprocess.run(
        ["bash", "-euc", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


MEASURED = re.compile(r"\d[\d,.]*\s*(?:%|×|x\b|ms\b|µs\b|s\b|seconds?\b|GiB\b|MiB\b)|percent")


@pytest.fixture
def seeded(redis_url: str) -> str:
    synth.write(redis_url, hours=0.25, rps=1, seed=4, kinds=("requests",), progress=False)
    return redis_url


def test_the_rollback_runs_as_written_and_brings_keys_back(seeded, tmp_path) -> None:
    section = guide_section("Rollback")
    script = shell_script(section)
    assert "export RP_USE_SCAN=false\n" in script and "rp-toolkit export" in script
    assert not MEASURED.search(section), MEASURED.search(section)
    # From a rolled-out environment (RP_USE_SCAN=true), the section's commands as they are:
    done = run_as_written(script, seeded, tmp_path, RP_USE_SCAN="true")
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"method": "KEYS"' in done.stdout and '"method": "KEYS"' in section
    assert json.loads(done.stdout)["records"] > 0
    assert "[DEPRECATION] Using KEYS command" in done.stderr
    # What the section says is not a rollback: without RP_USE_SCAN, the check shows SCAN.
    assert "Removing `RP_USE_SCAN` is not a rollback" in section
    check = script.split("rp-toolkit export", 1)[1]
    done = run_as_written("rp-toolkit export" + check, seeded, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["method"] == "SCAN"


def test_the_rollout_runs_as_written_and_lists_keys_with_scan(seeded, tmp_path) -> None:
    section = guide_section("Production Rollout")
    script = shell_script(section)
    assert "export RP_USE_SCAN=true\n" in script and "rp-toolkit export" in script
    assert "rp-toolkit bench" not in script  # a benchmark is measured by hand, never here
    assert not MEASURED.search(section), MEASURED.search(section)
    assert "(#performance-characteristics)" in section
    done = run_as_written(script, seeded, tmp_path, RP_USE_SCAN="false")  # from the gem's KEYS
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout)
    assert (info["method"], info["scan_count_rule"]) == ("SCAN", "auto-tune")
    assert info["scan_count"] > 0 and info["records"] > 0
    assert "[DEPRECATION]" not in done.stderr

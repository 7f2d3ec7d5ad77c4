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

import rp_toolkit as rp
from rp_toolkit import bench, docs, synth

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "SCAN_MIGRATION.md"
RESULTS = ROOT / "docs" / "bench"


GUIDES = [ROOT / guide for guide in docs.GUIDES]
FIGURE = re.compile(
    r"(?<![\w.`$/=-])\d[\d,._]*\s?(?:ms|s|seconds?|milliseconds?|minutes?|hours?|×|x|%|GiB|MiB"
    r"|KiB|GB|MB)(?![\w`])|few percent|near idle|as long as KEYS|within \d"
)
"""A measured figure or relation: a number with a unit of time, size or ratio, or the words the
guides once used for relations the data did not show."""
SETTINGS_NOT_MEASUREMENTS = (
    "default 1 ms",  # scan_budget_ms's default
    "after 4 hours",  # the gem's TTLs
    "after 60 minutes",
    "the last 60 minutes",
    "fails within 5 s",  # the connect timeout rp_toolkit sets
)


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docs.blocks(RESULTS)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_guide_figures_are_the_generated_ones(guide: Path, generated: dict[str, str]) -> None:
    text = guide.read_text(encoding="utf-8")
    assert docs.render_guide(guide, RESULTS, None, generated) == text, "run: rp-toolkit docs"
    assert docs.block_names(text), f"{guide.name} quotes no measured figure"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_no_figure_outside_the_generated_blocks(guide: Path) -> None:
    """Every measured figure in a guide comes from the committed results: the text typed by
    hand states none (no number with a unit of time, size or ratio; no "near idle")."""
    typed = " ".join(docs.outside_blocks(guide.read_text(encoding="utf-8")).split())
    for allowed in SETTINGS_NOT_MEASUREMENTS:
        typed = typed.replace(allowed, "")
    assert FIGURE.findall(typed) == []


def test_the_guard_catches_a_typed_figure() -> None:
    for typed in ("SCAN took 1.3× KEYS", "waits 7.8 ms", "within a few percent of KEYS",
                  "a probe maximum that stays near idle", "0.76 GiB", "54.4 s"):  # fmt: skip
        assert FIGURE.search(typed), typed
    for setting in ("`mget_chunk` (1,000)", "COUNT 1000", "Redis 7.0", "RDB 5 to 13"):
        assert not FIGURE.search(setting), setting


def test_every_table_is_every_servers_run(generated: dict[str, str]) -> None:
    """Both server families, each named by what it is, with its own table."""
    runs = docs.load_runs(RESULTS)
    assert list(runs) == ["valkey", "redis"]
    for family, results in runs.items():
        name = results.attrs["environment"]["server_software"]
        assert name.startswith(family + " ")
        assert f"#### {name}\n\n" + bench.to_markdown(results) in generated["bench-table"]
        assert name in generated["environment"] and name in generated["key-figures"]
        assert generated["bench-table"].count("\n| 1,000,000 |") >= 6
    assert "Redis 7.2.4" not in "".join(generated.values())  # Valkey's compatibility version


def test_the_request_id_count_is_the_one_the_data_favour() -> None:
    """Auto-tune's COUNT for request-id lookups beat the gem's COUNT 10 on every server."""
    for results in docs.load_runs(RESULTS).values():
        size = int(results["size"].max())
        lookups = results[(results["size"] == size) & (results["query"] == "request_id")]
        scan = lookups[lookups["method"] == "SCAN"].set_index("count")
        assert int(scan.loc["auto", "scan_count"]) == rp.determine_scan_count(
            "performance|*|request_id|abc|*"
        )
        assert scan.loc["auto", "wall_median_s"] < scan.loc["10", "wall_median_s"]


def test_no_gem_figure_is_a_constant() -> None:
    """The gem's read path is measured in the run that quotes it, never typed in."""
    from rp_toolkit.bench import _speed as speed

    assert not hasattr(speed, "GEM_RUBY_READ_1M_S")
    assert "54.4" not in "".join(docs.blocks(RESULTS).values())


def test_docs_check_command_fails_on_a_stale_guide(tmp_path) -> None:
    stale = tmp_path / "guide.md"
    stale.write_text(
        GUIDE.read_text(encoding="utf-8").replace("| 1,000,000 | day |", "| 1 | day |")
    )
    run = subprocess.run(
        [sys.executable, "-m", "rp_toolkit", "docs", "--check", "--guide", str(stale),
         "--results", str(RESULTS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1 and "out of date" in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "rp_toolkit", "docs", "--guide", str(stale), "--results",
         str(RESULTS), "--images", str(tmp_path / "images")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )  # fmt: skip
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

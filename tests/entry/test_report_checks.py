"""``rp-toolkit report`` checks its parameters and the server before any kernel starts: an
unknown ``-p`` name, a value of the wrong type or an unreachable server is a one-line error,
and each notebook gets only its own parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rp_toolkit.cli import parse_notebook_parameters
from rp_toolkit.config import check_setting
from rp_toolkit.exceptions import SettingsError
from rp_toolkit.notebooks import NOTEBOOKS, SETTING_NAMES, notebook_parameters, route_parameters
from tests.support import run_cli


def no_kernel_ran(out: Path) -> bool:
    return not list(out.rglob("*.ipynb"))


def test_every_notebook_declares_its_parameters() -> None:
    request = notebook_parameters("request_performance")
    assert request["hours"] == 4.0 and request["end"] is None
    # The fetching flags: None, "not given" (the environment variable, else the default).
    for name in ("use_scan", "scan_count", "scan_count_auto_tune", "scan_budget_ms"):
        assert request[name] is None, name
    bench = notebook_parameters("scan_benchmark")
    assert bench["sizes"] == [1_000, 10_000, 100_000] and bench["cluster"] is False
    assert bench["scan_budget_ms"] is None


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (["-p", "hour", "8"], ["Unknown notebook parameter 'hour'", "hours"]),
        (["-p", "hours", "abc"], ['-p hours "abc"', "expects a number", "4.0"]),
        (["-p", "use_scan", "1"], ["use_scan must be True or False", "$RP_USE_SCAN, else True"]),
        (["-p", "scan_count", "lots"], ["scan_count must be an integer or 'adaptive'"]),
        (["-p", "scan_count_auto_tune", '"no"'], ["must be True or False"]),
        (["-p", "use_scan", "true", "--use-scan"], ["--use-scan or -p use_scan, not both"]),
        (["-p", "slow_threshold_ms", "2.5"], ["expects a whole number"]),
        (["-p", "sizes", "[100]"], ["'sizes'", "scan_benchmark takes it"]),
    ],
)
def test_bad_parameters_stop_the_report_before_a_kernel(tmp_path, args, phrases) -> None:
    out = tmp_path / "out"
    done = run_cli("report", "--out", str(out), "--no-progress", *args, timeout=60)
    assert done.returncode == 2
    message = done.stderr.strip().splitlines()[-1]
    for phrase in phrases:
        assert phrase in message
    assert no_kernel_ran(out)


def test_an_unreachable_server_stops_the_report_before_a_kernel(tmp_path) -> None:
    out = tmp_path / "out"
    done = run_cli("report", "--redis-url", "redis://127.0.0.1:1/0", "--out", str(out),
                   "--no-progress", timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "Could not talk to Redis at 127.0.0.1:1/0" in done.stderr
    assert ".." not in done.stderr
    assert no_kernel_ran(out)


def test_the_flags_parameters_take_what_their_setting_takes() -> None:
    values = {"use_scan": False, "scan_count": "adaptive", "scan_count_auto_tune": True,
              "scan_budget_ms": 2}  # fmt: skip
    routed = route_parameters(list(NOTEBOOKS), values)
    assert routed["request_performance"] == values
    assert routed["scan_benchmark"] == {"scan_budget_ms": 2}  # its adaptive COUNT's budget


def test_each_notebook_gets_only_its_own_parameters() -> None:
    routed = route_parameters(
        list(NOTEBOOKS), {"hours": 2, "sizes": [100], "output_dir": "x", "repeats": 1}
    )
    assert routed["request_performance"] == {"hours": 2, "output_dir": "x"}
    assert routed["scan_benchmark"] == {"sizes": [100], "output_dir": "x", "repeats": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=300, derandomize=True)
@given(
    parameters=st.dictionaries(
        st.sampled_from(
            ["hours", "end", "use_scan", "scan_count", "scan_budget_ms", "sizes", "nope", "repeats"]
        ),
        json_values,
        max_size=4,
    ),
    names=st.sampled_from([["request_performance"], ["scan_benchmark"], list(NOTEBOOKS)]),
)
def test_any_parameters_are_routed_or_refused_clearly(parameters, names) -> None:
    """Whatever the names and JSON values, the result is a routing in which every value fits
    its notebook's default, or a SettingsError naming the parameter."""
    try:
        routed = route_parameters(names, parameters)
    except SettingsError as error:
        assert any(repr(name) in str(error) or f"-p {name} " in str(error) for name in parameters)
        assert "\n" not in str(error)
        return
    for name, own in routed.items():
        cell = notebook_parameters(name)
        for key, value in own.items():
            assert key in cell
            default = cell[key]
            if default is None and key in SETTING_NAMES and value is not None:
                check_setting(key, value)  # what rp.setup takes
            if isinstance(default, bool):
                assert isinstance(value, bool) or value is None
            elif isinstance(default, (int, float)) and value is not None:
                assert isinstance(value, (int, float)) and not isinstance(value, bool)
    assert set().union(*(own.keys() for own in routed.values())) == set(parameters)
    json.dumps(routed)  # still what papermill can write into a notebook


@pytest.mark.parametrize(
    ("text", "value"),
    [("False", False), ("false", False), ("True", True), ("None", None), ("null", None),
     ("4", 4), ("2.5", 2.5), ("[10, \"auto\"]", [10, "auto"]), ("abc", "abc"),
     ("Falsey", "Falsey")],
)  # fmt: skip
def test_parameter_values_read_as_the_parameters_cell_writes_them(text, value) -> None:
    assert parse_notebook_parameters([("name", text)]) == {"name": value}

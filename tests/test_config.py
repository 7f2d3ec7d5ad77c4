"""Settings and flags: defaults, rp.setup (plain and as a context manager), validation,
environment overrides, and the SCAN COUNT rules (validation and the auto-tune table)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rp_toolkit as rp
import rp_toolkit.config as settings_module  # noqa: E402

Settings = settings_module.Settings
settings_from_environment = settings_module.settings_from_environment

ROOT = Path(__file__).resolve().parents[1]

# The gem's defaults, except use_scan: rp_toolkit lists keys with SCAN unless told otherwise (the
# gem keeps KEYS so that upgrading changes nothing in a running app; an analysis tool pointed at
# production has no such reason to block the server).
EXPECTED_DEFAULTS = {
    "use_scan": True,
    "scan_count": 10,
    "scan_count_auto_tune": True,
    "debug": False,
    "redis_url": None,
    "mget_chunk": 1000,
    "pipeline_depth": 8,
    "progress": True,
    "retries": 3,
    "scan_budget_ms": 1.0,
    "allow_stale_replica": False,
}


def clean_environment(**extra: str) -> dict[str, str]:
    """os.environ without any RP_* / REDIS_URL, plus ``extra``, importing this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RP_") and k != "REDIS_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# --------------------------------------------------------------------------------- defaults


def test_defaults_match_the_gem_except_scan():
    assert Settings().as_dict() == EXPECTED_DEFAULTS
    assert Settings().use_scan is True


def test_environment_without_variables_gives_the_defaults():
    assert settings_from_environment({}).as_dict() == EXPECTED_DEFAULTS


def test_settings_object_is_exported_as_rp_settings():
    assert rp.settings is settings_module.settings
    assert isinstance(rp.settings, Settings)


# ------------------------------------------------------------------------------------ setup


def test_plain_setup_persists():
    assert rp.settings.use_scan is True
    rp.setup(use_scan=False, scan_count=250, debug=True)
    assert rp.settings.use_scan is False
    assert rp.settings.scan_count == 250
    assert rp.settings.debug is True
    # still there later, nothing restored it
    assert rp.settings.as_dict()["scan_count"] == 250


def test_setup_as_context_manager_restores_old_values():
    rp.setup(scan_count=42)
    with rp.setup(use_scan=False, scan_count=7) as inside:
        assert inside is rp.settings
        assert rp.settings.use_scan is False
        assert rp.settings.scan_count == 7
    assert rp.settings.use_scan is True
    assert rp.settings.scan_count == 42


def test_setup_context_manager_restores_when_the_block_raises():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), rp.setup(use_scan=False, mget_chunk=3):
        assert rp.settings.use_scan is False
        raise Boom
    assert rp.settings.use_scan is True
    assert rp.settings.mget_chunk == 1000


def test_nested_setup_blocks_unwind_in_order():
    with rp.setup(scan_count=20):
        with rp.setup(scan_count=30):
            assert rp.settings.scan_count == 30
        assert rp.settings.scan_count == 20
    assert rp.settings.scan_count == 10


def test_unknown_setting_is_named_and_nothing_changes():
    before = rp.settings.as_dict()
    with pytest.raises(rp.SettingsError, match="use_scna"):
        rp.setup(use_scan=True, use_scna=True)
    assert rp.settings.as_dict() == before


def test_unknown_attribute_assignment_is_refused():
    with pytest.raises(rp.SettingsError, match="nonsense"):
        rp.settings.nonsense = 1


@pytest.mark.parametrize("bad", [0, -1, "10", 1.5, True, None])
def test_bad_scan_count_is_refused_and_nothing_changes(bad):
    before = rp.settings.as_dict()
    with pytest.raises(rp.SettingsError, match="scan_count"):
        rp.setup(use_scan=True, scan_count=bad)
    assert rp.settings.as_dict() == before


@pytest.mark.parametrize(
    "name, bad",
    [
        ("use_scan", "true"),
        ("use_scan", 1),
        ("scan_count_auto_tune", None),
        ("debug", "yes"),
        ("progress", 0),
        ("mget_chunk", 0),
        ("mget_chunk", "1000"),
        ("pipeline_depth", 0),
        ("retries", -1),
        ("retries", True),
        ("redis_url", 6379),
    ],
)
def test_bad_values_are_refused(name, bad):
    before = rp.settings.as_dict()
    with pytest.raises(rp.SettingsError, match=name):
        rp.setup(**{name: bad})
    assert rp.settings.as_dict() == before


def test_settings_error_is_a_value_error():
    assert issubclass(rp.SettingsError, ValueError)
    assert issubclass(rp.SettingsError, rp.RPToolkitError)


# ------------------------------------------------------------------------------ environment


@pytest.mark.parametrize(
    "text, expected",
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("YES", True),
        ("on", True),
        (" true ", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("No", False),
        ("off", False),
    ],
)
@pytest.mark.parametrize(
    "variable, name",
    [
        ("RP_USE_SCAN", "use_scan"),
        ("RP_SCAN_COUNT_AUTO_TUNE", "scan_count_auto_tune"),
        ("RP_DEBUG", "debug"),
    ],
)
def test_boolean_environment_variables(variable, name, text, expected):
    result = settings_from_environment({variable: text})
    assert getattr(result, name) is expected
    # the others keep their defaults
    others = {k: v for k, v in result.as_dict().items() if k != name}
    assert others == {k: v for k, v in EXPECTED_DEFAULTS.items() if k != name}


@pytest.mark.parametrize("text, expected", [("500", 500), (" 25 ", 25), ("1", 1), ("10000", 10000)])
def test_scan_count_from_environment(text, expected):
    assert settings_from_environment({"RP_SCAN_COUNT": text}).scan_count == expected


def test_redis_url_from_environment():
    url = "redis://:pw@example.com:6380/2"
    assert settings_from_environment({"REDIS_URL": url}).redis_url == url
    assert settings_from_environment({"REDIS_URL": ""}).redis_url is None


def test_several_environment_variables_together():
    result = settings_from_environment(
        {
            "RP_USE_SCAN": "yes",
            "RP_SCAN_COUNT": "300",
            "RP_SCAN_COUNT_AUTO_TUNE": "no",
            "RP_DEBUG": "1",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "UNRELATED": "ignored",
        }
    )
    assert (result.use_scan, result.scan_count, result.scan_count_auto_tune, result.debug) == (
        True,
        300,
        False,
        True,
    )
    assert result.redis_url == "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    "variable, text",
    [
        ("RP_USE_SCAN", "maybe"),
        ("RP_USE_SCAN", ""),
        ("RP_SCAN_COUNT", "ten"),
        ("RP_SCAN_COUNT", "1.5"),
        ("RP_SCAN_COUNT", "0"),
        ("RP_SCAN_COUNT_AUTO_TUNE", "2"),
        ("RP_DEBUG", "verbose"),
    ],
)
def test_malformed_environment_value_names_the_variable(variable, text):
    with pytest.raises(rp.SettingsError, match=variable):
        settings_from_environment({variable: text})


def test_environment_does_not_touch_the_settings_in_force():
    before = rp.settings.as_dict()
    settings_from_environment({"RP_USE_SCAN": "true", "RP_SCAN_COUNT": "77"})
    assert rp.settings.as_dict() == before


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean_environment(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"RP_USE_SCAN": "true"}, "True 10"),
        ({"RP_USE_SCAN": "TRUE", "RP_SCAN_COUNT": "500"}, "True 500"),
        ({"RP_USE_SCAN": "off"}, "False 10"),
        ({}, "True 10"),
    ],
)
def test_environment_is_read_at_import(env, expected):
    done = _python(
        "import rp_toolkit; print(rp_toolkit.settings.use_scan, rp_toolkit.settings.scan_count)",
        **env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_malformed_environment_fails_at_first_use_naming_the_variable():
    code = "import rp_toolkit as rp; rp.fetch_keys('x', 'redis://127.0.0.1:1/0')"
    done = _python(code, RP_USE_SCAN="maybe")
    assert done.returncode != 0
    assert "SettingsError" in done.stderr
    assert "RP_USE_SCAN" in done.stderr
    assert "'maybe'" in done.stderr
    assert "ConnectionError" not in done.stderr  # stopped before connecting


@pytest.mark.parametrize(
    "command",
    [
        ["export", "requests", "--out", "x.csv", "--redis-url", "redis://127.0.0.1:1/0"],
        ["seed", "--redis-url", "redis://127.0.0.1:1/0"],
        ["docs", "--check"],
    ],
    ids=["export", "seed", "docs"],
)
def test_malformed_environment_is_one_line_from_every_command(command):
    done = subprocess.run(
        [sys.executable, "-m", "rp_toolkit", *command],
        env=clean_environment(RP_SCAN_COUNT="lots"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "RP_SCAN_COUNT" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------- validate_scan_count


@pytest.mark.parametrize("count", [1, 10, 999, 10_000])
def test_valid_scan_counts_are_returned_without_warning(count):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rp.validate_scan_count(count) == count


@pytest.mark.parametrize("count", [0, -5])
def test_scan_count_below_one_is_a_value_error(count):
    with pytest.raises(ValueError, match="at least 1"):
        rp.validate_scan_count(count)


@pytest.mark.parametrize("count", ["10", 1.5, 10.0, True, False, None, [10]])
def test_non_integer_scan_count_is_a_value_error(count):
    with pytest.raises(ValueError, match="integer"):
        rp.validate_scan_count(count)


def test_scan_count_accepts_integer_likes():
    np = pytest.importorskip("numpy")
    assert rp.validate_scan_count(np.int64(50)) == 50
    assert type(rp.validate_scan_count(np.int64(50))) is int


@pytest.mark.parametrize("count", [10_001, 50_000])
def test_scan_count_above_ten_thousand_warns(count):
    with pytest.warns(rp.ScanCountWarning, match="10,000"):
        assert rp.validate_scan_count(count) == count


def _reset_scan_count() -> None:
    # setup() re-validates the values in force, so leaving 20,000 behind would warn again.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.ScanCountWarning)
        rp.setup(scan_count=10)


def test_setup_with_huge_scan_count_warns_but_applies():
    with pytest.warns(rp.ScanCountWarning):
        rp.setup(scan_count=20_000)
    assert rp.settings.scan_count == 20_000
    _reset_scan_count()


# -------------------------------------------------------------------- determine_scan_count


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("performance|*datetime|20261127*|*|END|1.0.2", 1000),
        ("performance|*|datetime|20261127*|*|END|1.0.2", 1000),
        ("sidekiq|*datetime|20261127T1530*|*|END|1.0.2", 1000),
        ("performance|*|request_id|abc|*", 1000),
        ("performance|*|request_id|12345678ab|*", 1000),
        ("performance|*|request_id|20261127|*", 1000),
        ("performance|*|request_id|abc*|*datetime|20261127*", 1000),
        ("request_id|abc|*", 1000),
        ("performance|*controller|Home|*|END|1.0.2", 100),
        ("performance|*|request_id|*", 100),
        ("request_id|*", 100),
        ("performance|*|request_id||*", 100),
        ("performance|*datetime|2026*|*|END|1.0.2", 100),
        ("performance|*mydatetime|20261127*", 100),
        ("*", 100),
        ("", 100),
    ],
)
def test_auto_tune_table(pattern, expected):
    assert rp.settings.scan_count_auto_tune is True
    assert rp.determine_scan_count(pattern) == expected


def test_auto_tune_covers_an_escaped_request_id():
    pattern = "performance|*|request_id|" + rp.escape_glob("id*with?glob") + "|*"
    assert rp.determine_scan_count(pattern) == 1000


@pytest.mark.parametrize(
    "pattern",
    [
        "performance|*datetime|20261127*|*|END|1.0.2",
        "performance|*|request_id|abc|*",
        "performance|*controller|Home|*|END|1.0.2",
    ],
)
def test_without_auto_tune_the_setting_is_used(pattern):
    with rp.setup(scan_count_auto_tune=False, scan_count=37):
        assert rp.determine_scan_count(pattern) == 37
    with rp.setup(scan_count_auto_tune=False):
        assert rp.determine_scan_count(pattern) == 10


def test_without_auto_tune_a_huge_count_warns():
    with pytest.warns(rp.ScanCountWarning):
        rp.setup(scan_count_auto_tune=False, scan_count=12_000)
    with pytest.warns(rp.ScanCountWarning):
        assert rp.determine_scan_count("x|*") == 12_000
    _reset_scan_count()


# ------------------------------------------------------------------------------ precedence


def test_setup_given_skips_none_and_applies_the_rest():
    rp.setup(use_scan=False, scan_count=250)
    with settings_module.setup_given(use_scan=None, scan_count=None, scan_count_auto_tune=False):
        assert (rp.settings.use_scan, rp.settings.scan_count) == (False, 250)  # kept
        assert rp.settings.scan_count_auto_tune is False  # given
    assert rp.settings.scan_count_auto_tune is True
    with pytest.raises(rp.SettingsError, match="use_scan"):
        settings_module.setup_given(use_scan="no")
    assert rp.settings.use_scan is False


flag_values = st.fixed_dictionaries(
    {},
    optional={
        "use_scan": st.booleans(),
        "scan_count": st.integers(1, 10_000) | st.just("adaptive"),
        "scan_count_auto_tune": st.booleans(),
        "scan_budget_ms": st.floats(min_value=1e-6, max_value=1e6),
        "mget_chunk": st.integers(1, 10**9),
        "debug": st.booleans(),
    },
)


@given(values=flag_values)
def test_as_environment_gives_another_process_the_same_values(values):
    """What the CLI hands a notebook's kernel is read back there as exactly those values."""
    environment = settings_module.as_environment(**values, progress=None)
    assert all(name.startswith("RP_") for name in environment)
    read = settings_from_environment(environment).as_dict()
    assert {name: read[name] for name in values} == values
    untouched = {name: v for name, v in EXPECTED_DEFAULTS.items() if name not in values}
    assert {name: read[name] for name in untouched} == untouched


@pytest.mark.parametrize(
    "values, phrase",
    [({"use_scan": "yes"}, "use_scan"), ({"scan_count": 0}, "at least 1"),
     ({"retries": 2}, "no environment variable")],
)  # fmt: skip
def test_as_environment_refuses_what_the_setting_refuses(values, phrase):
    with pytest.raises(rp.SettingsError, match=phrase):
        settings_module.as_environment(**values)


LIBRARY_PRECEDENCE = """
import json, sys
import rp_toolkit as rp

def method():
    summary = rp.load("requests", sys.argv[1]).attrs["rp"].summary()
    return [summary["method"], summary["scan_count"], summary["scan_count_rule"]]

seen = {"environment": method()}
with rp.config.setup_given(use_scan=None, scan_count=None):   # not given: the environment's
    seen["none"] = method()
with rp.setup(use_scan=True):                                 # given: wins over RP_USE_SCAN
    seen["explicit"] = method()
with rp.setup(use_scan=True, scan_count_auto_tune=True):
    seen["explicit_auto_tune"] = method()
print(json.dumps(seen))
"""


def test_library_explicit_wins_over_environment_over_default(redis_url):
    rp.synth.write(redis_url, hours=0.1, rps=1, seed=2, kinds=("requests",), progress=False)
    env = {"RP_USE_SCAN": "false", "RP_SCAN_COUNT": "500", "RP_SCAN_COUNT_AUTO_TUNE": "false"}
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_PRECEDENCE, redis_url],
        env=clean_environment(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["environment"] == seen["none"] == ["KEYS", None, None]
    assert seen["explicit"] == ["SCAN", 500, "fixed"]  # RP_SCAN_COUNT still applies
    assert seen["explicit_auto_tune"] == ["SCAN", 1000, "auto-tune"]
    done = _python(LIBRARY_PRECEDENCE.replace("sys.argv[1]", repr(redis_url)))  # no variables
    assert json.loads(done.stdout)["environment"] == ["SCAN", 1000, "auto-tune"]  # the default

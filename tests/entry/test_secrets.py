"""No password in any output: every command and the report notebook run with a password in
each form a Redis URL can carry it, and every output, file and error is searched for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.local import RedisServer
from rp_toolkit.store import PASSWORD_ON_COMMAND_LINE
from tests.support import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

SECRET = "Pw-7f3a-not/in#any@output"
ENCODED = "Pw-7f3a-not%2Fin%23any%40output"
END = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer({"requirepass": SECRET}) as started:
        admin = redis.Redis(host="127.0.0.1", port=started.port, password=SECRET)
        admin.execute_command("ACL", "SETUSER", "reader", "on", f">{SECRET}", "~*", "+@all")
        admin.close()
        url = f"redis://:{ENCODED}@127.0.0.1:{started.port}/0"
        rp.synth.write(url, hours=1, rps=2, end=END, progress=False)
        yield started


def forms(port: int, password_file: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each way to hand over the password: ``(command-line arguments, environment)``."""
    base = f"127.0.0.1:{port}/0"
    return {
        "userinfo": (["--redis-url", f"redis://:{ENCODED}@{base}"], {}),
        "acl user": (["--redis-url", f"redis://reader:{ENCODED}@{base}"], {}),
        "query": (["--redis-url", f"redis://{base}?password={ENCODED}"], {}),
        "environment": ([], {"REDIS_URL": f"redis://:{ENCODED}@{base}"}),
        "environment query": ([], {"REDIS_URL": f"redis://{base}?password={ENCODED}"}),
        "password file": (
            ["--redis-url", f"redis://{base}", "--password-file", str(password_file)],
            {},
        ),
    }


def leaks(*texts: str, folder: Path | None = None) -> list[str]:
    """Where the password (plain or percent-encoded) shows: texts and every file in folder."""
    found = [f"text {i}" for i, text in enumerate(texts) if SECRET in text or ENCODED in text]
    for path in sorted(folder.rglob("*")) if folder else []:
        if path.is_file():
            data = path.read_bytes()
            if SECRET.encode() in data or ENCODED.encode() in data:
                found.append(str(path))
    return found


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RP_") and k != "REDIS_URL"}
    return {**env, "RP_PROGRESS": "false", **extra}


FORMS = ["userinfo", "acl user", "query", "environment", "environment query", "password file"]


@pytest.mark.parametrize("form", FORMS)
def test_export_and_seed_show_no_password(server: RedisServer, form: str, tmp_path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")
    args, env = forms(server.port, secret_file)[form]
    out = tmp_path / "out"
    export = run_cli(
        *["export", "requests", "--report", "requests", "--out", str(out / "t.csv")],
        *["--start", "2026-11-27T11:00:00Z", "--end", END.isoformat(), "--use-scan", *args],
        env=clean_env(env),
        timeout=120,
    )
    assert export.returncode == 0, export.stderr
    assert (out / "t.csv").stat().st_size > 0
    seed = run_cli("seed", "--hours", "0.1", "--rps", "1", "--kinds", "custom", *args,
                   env=clean_env(env), timeout=120)  # fmt: skip
    assert seed.returncode == 0, seed.stderr
    assert leaks(export.stdout, export.stderr, seed.stdout, seed.stderr, folder=out) == []
    on_command_line = "--redis-url" in args and "--password-file" not in args
    assert (PASSWORD_ON_COMMAND_LINE in export.stderr) == on_command_line


@pytest.mark.parametrize("form", ["query", "environment query", "password file"])
def test_report_notebook_shows_no_password(server: RedisServer, form: str, tmp_path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET)
    args, env = forms(server.port, secret_file)[form]
    out = tmp_path / "report"
    done = run_cli(
        *["report", "--out", str(out), "--notebooks", "request_performance", "--no-progress"],
        *["-p", "end", END.isoformat(), "-p", "hours", "1", *args],
        env=clean_env(env),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "request_performance.html").stat().st_size > 0
    assert leaks(done.stdout, done.stderr, folder=out) == []


@pytest.mark.parametrize("form", FORMS)
def test_errors_show_no_password(server: RedisServer, form: str, tmp_path) -> None:
    """The wrong database, a wrong port and a malformed port: each error names the problem
    and never the password."""
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET)
    args, env = forms(server.port, secret_file)[form]
    for wrong in ("/0", "/99"), (f":{server.port}/", ":1/"), (f":{server.port}/", ":x/"):
        bad_args = [a.replace(*wrong) for a in args]
        bad_env = {k: v.replace(*wrong) for k, v in env.items()}
        done = run_cli("export", "requests", "--out", str(tmp_path / "x.csv"), *bad_args,
                       env=clean_env(bad_env), timeout=60)  # fmt: skip
        assert done.returncode == 2, (wrong, done.stderr)
        assert "rp-toolkit: error:" in done.stderr
        assert "Traceback" not in done.stderr
        assert leaks(done.stdout, done.stderr) == [], done.stderr


def test_benchmark_on_an_existing_server_shows_no_password(server: RedisServer, tmp_path):
    url = f"redis://127.0.0.1:{server.port}/2?password={ENCODED}"
    done = run_cli(
        *["bench", "--redis-url", url, "--allow-existing-server", "--sizes", "100"],
        *["--counts", "10", "--repeats", "1", "--no-probe", "--queries", "day"],
        *["--out", str(tmp_path / "bench"), "--markdown", "--no-full-fetch"],
        env=clean_env({}),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert leaks(done.stdout, done.stderr, folder=tmp_path / "bench") == []
    assert PASSWORD_ON_COMMAND_LINE in done.stderr


def test_python_errors_and_reprs_show_no_password(server: RedisServer) -> None:
    for url in (
        f"redis://:{ENCODED}@127.0.0.1:1/0",
        f"redis://127.0.0.1:{server.port}/99?password={ENCODED}",
        f"redis://:{SECRET}@127.0.0.1:{server.port}/0",  # unencoded: malformed
        f"rediss://127.0.0.1:{server.port}/0?password={ENCODED}",
    ):
        with pytest.raises(rp.RPToolkitError) as caught:
            rp.fetch_keys("x", url)
        assert leaks(str(caught.value), repr(caught.value)) == [], str(caught.value)

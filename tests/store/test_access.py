"""Least privilege and TLS: everything rp_toolkit reads works as a read-only ACL user that
Redis refuses every write, and over TLS with the server's CA; a wrong CA is a clear error."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import access, reports, synth
from rp_toolkit.exceptions import RedisServerNotFoundError, RedisUnavailableError
from rp_toolkit.local import RedisServer, TLSFiles, find_tls_redis_server
from rp_toolkit.store import get_client

ROOT = Path(__file__).resolve().parents[2]
END = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
HOURS = 0.5
READER = "rp_reader"
PASSWORD = "acl-reader-pw-not-in-outputs-51c9"
OTHER_KINDS = ("sidekiq", "delayed_job", "grape", "rake", "custom", "resources")


@pytest.fixture(scope="module")
def acl_server() -> Iterator[tuple[str, str]]:
    """A server holding half an hour of synthetic records of every kind (written by the
    default user) and the analysis user; yields (admin URL, reader URL)."""
    with RedisServer() as server:
        synth.write(server.url, hours=HOURS, rps=2, seed=1, end=END, progress=False)
        admin = redis.Redis.from_url(server.url)
        assert admin.execute_command(*access.acl_setuser_args(READER, PASSWORD)) == b"OK"
        admin.close()
        yield server.url, f"redis://{READER}:{PASSWORD}@127.0.0.1:{server.port}/0"


def window() -> dict[str, pd.Timestamp]:
    return {"start": pd.Timestamp(END) - pd.Timedelta(hours=HOURS), "end": pd.Timestamp(END)}


def test_the_rules_grant_only_read_commands_on_the_gems_keys() -> None:
    rules = access.analysis_acl_rules()
    assert rules[:3] == ["resetkeys", "resetchannels", "-@all"]
    granted = {rule[1:] for rule in rules if rule.startswith("+")}
    assert granted == {"scan", "keys", "mget", "get", "type", "ping", "info", "dbsize", "select",
                       "memory|usage"}  # fmt: skip
    assert not [rule for rule in rules if rule.startswith(("+@", "allkeys", "~*", "%"))]
    assert {rule[1:] for rule in rules if rule.startswith("~")} == set(access.ANALYSIS_KEY_PATTERNS)


def test_the_production_guide_shows_the_same_rules() -> None:
    guide = (ROOT / "docs" / "PRODUCTION.md").read_text()
    assert " ".join(access.analysis_acl_rules()) in guide


@pytest.mark.parametrize("use_scan", [True, False], ids=["scan", "keys"])
def test_everything_the_toolkit_reads_works_as_the_acl_user(acl_server, use_scan) -> None:
    admin_url, reader_url = acl_server
    rp.setup(use_scan=use_scan)
    df = rp.load("requests", reader_url, **window())
    assert len(df) == 3600 and df.attrs["rp"].problems.empty
    expected = rp.load("requests", admin_url, **window())
    pd.testing.assert_frame_equal(reports.requests(df), reports.requests(expected))
    span = {"now": END, "duration": pd.Timedelta(hours=HOURS)}
    pd.testing.assert_frame_equal(
        reports.throughput(df, **span), reports.throughput(expected, **span)
    )
    for kind in OTHER_KINDS:
        assert len(rp.load(kind, reader_url, **window())) > 0, kind
    keys = rp.fetch_keys("performance|*", reader_url)
    assert keys == rp.fetch_keys("performance|*", admin_url) and len(keys) == 3600
    traces = rp.fetch_keys("trace|*", reader_url)
    request_id = traces[0].split("|")[1]
    assert len(rp.load_trace(request_id, reader_url)) > 0
    assert len(rp.load_events(reader_url)) > 0
    reader = get_client(reader_url)
    assert reader.ping() and reader.dbsize() > 0
    assert reader.type(keys[0]) == b"string" and reader.info("server")["redis_version"]


@pytest.mark.parametrize(
    "command",
    [
        ("SET", "performance|x|END|1.0.2", "1"),
        ("SET", "elsewhere", "1"),
        ("DEL", "performance|x|END|1.0.2"),
        ("FLUSHDB",),
        ("FLUSHALL",),
        ("EXPIRE", "performance|x|END|1.0.2", "1"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("ACL", "SETUSER", READER, "+@all"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_redis_refuses_every_write_from_the_acl_user(acl_server, command) -> None:
    admin_url, reader_url = acl_server
    reader = redis.Redis.from_url(reader_url)
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.execute_command(*command)
    reader.close()
    assert redis.Redis.from_url(admin_url).dbsize() > 3600  # nothing was removed


def test_keys_outside_the_gems_prefixes_cannot_be_read(acl_server) -> None:
    admin_url, reader_url = acl_server
    redis.Redis.from_url(admin_url).set("session:secret", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(reader_url).get("session:secret")


def test_report_runs_as_the_acl_user_and_never_shows_its_password(acl_server, tmp_path) -> None:
    _, reader_url = acl_server
    run = subprocess.run(
        [sys.executable, "-m", "rp_toolkit", "report", "--redis-url", reader_url]
        + ["--notebooks", "request_performance", "-p", "end", END.isoformat()]
        + ["-p", "hours", str(HOURS), "--no-progress", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(tmp_path / "request_performance" / "requests_table.csv")
    assert table["count"].sum() == 3600
    artifacts = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(artifacts) > 3
    for text in [run.stdout, run.stderr, *(p.read_text(errors="replace") for p in artifacts)]:
        assert PASSWORD not in text


def test_a_wrong_password_is_a_clear_error_without_the_password(acl_server) -> None:
    _, reader_url = acl_server
    wrong = reader_url.replace(PASSWORD, PASSWORD + "-wrong")
    with pytest.raises(RedisUnavailableError, match="refused the credentials") as caught:
        rp.fetch_keys("performance|*", wrong)
    assert PASSWORD not in str(caught.value)


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


def make_certificates(directory: Path) -> TLSFiles:
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it (PEM files)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def certificate(subject: str, key, issuer, issuer_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rp_toolkit test CA")])
    ca = certificate(
        "rp_toolkit test CA",
        ca_key,
        ca_name,
        ca_key,
        [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = certificate(
        "localhost",
        key,
        ca_name,
        ca_key,
        [
            (x509.SubjectAlternativeName(names), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )
    pem = serialization.Encoding.PEM
    files = TLSFiles(*(str(directory / name) for name in ("server.pem", "server.key", "ca.pem")))
    Path(files.cert_file).write_bytes(server.public_bytes(pem))
    Path(files.key_file).write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    Path(files.ca_file).write_bytes(ca.public_bytes(pem))
    return files


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[RedisServer]:
    try:
        binary = find_tls_redis_server()
    except RedisServerNotFoundError as error:
        pytest.skip(f"TLS tests need a redis-server built with TLS: {error}")
    files = make_certificates(tmp_path_factory.mktemp("tls"))
    with RedisServer(binary=binary, tls=files) as server:
        synth.write(server.url, hours=HOURS, rps=2, seed=1, end=END, progress=False)
        yield server


def test_tls_urls_carry_the_certificate_options_to_redis_py() -> None:
    url = (
        "rediss://h:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem"
        "&ssl_certfile=/c.pem&ssl_keyfile=/c.key&ssl_check_hostname=false"
    )
    pool = get_client(url).connection_pool
    assert issubclass(pool.connection_class, redis.SSLConnection)  # handshake bounded in time
    passed = {
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": "/ca.pem",
        "ssl_certfile": "/c.pem",
        "ssl_keyfile": "/c.key",
        "ssl_check_hostname": False,
    }
    assert {name: pool.connection_kwargs.get(name) for name in passed} == passed


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_load_and_fetch_over_tls_with_the_servers_ca(tls_server, host) -> None:
    assert tls_server.url.startswith("rediss://")
    url = tls_server.url.replace("127.0.0.1", host) + "&ssl_cert_reqs=required"
    df = rp.load("requests", url, **window())
    assert len(df) == 3600
    with rp.setup(use_scan=True):
        assert len(rp.fetch_keys("performance|*", url)) == 3600


def test_a_client_without_the_ca_gets_a_clear_error_naming_host_and_port(
    tls_server, caplog
) -> None:
    url = f"rediss://127.0.0.1:{tls_server.port}/0?ssl_cert_reqs=required"
    rp.setup(use_scan=True, retries=3)
    with pytest.raises(RedisUnavailableError) as caught:
        rp.fetch_keys("performance|*", url)
    # a certificate that fails once fails every time: no reconnect attempts
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    message = str(caught.value)
    assert f"127.0.0.1:{tls_server.port}" in message
    assert "TLS" in message and "CERTIFICATE_VERIFY_FAILED" in message
    assert "ssl_ca_certs" in message
    assert caught.value.__suppress_context__  # no ssl traceback chained to it


def test_a_plain_client_on_the_tls_port_gets_a_clear_error(tls_server) -> None:
    with pytest.raises(RedisUnavailableError, match=f"127.0.0.1:{tls_server.port}"):
        rp.fetch_keys("performance|*", f"redis://127.0.0.1:{tls_server.port}/0")


def test_tls_and_the_acl_user_together(tls_server) -> None:
    admin = redis.Redis.from_url(tls_server.url)
    admin.execute_command(*access.acl_setuser_args(READER, PASSWORD))
    admin.close()
    url = tls_server.url.replace("rediss://", f"rediss://{READER}:{PASSWORD}@")
    assert len(rp.load("requests", url, **window())) == 3600
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(url).set("performance|x|END|1.0.2", "1")

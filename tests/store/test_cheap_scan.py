"""SCAN sends a cheap pattern (its head and ``*``) and filters its keys exactly on the client.

The references are Redis's matcher as :mod:`tests.test_glob` holds it (the compiled
:func:`glob_matcher`, itself checked against the C transliteration and a live KEYS) and a
live server's KEYS with the gem's own pattern.
"""

from __future__ import annotations

import random
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from hypothesis import given
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit.glob import batch_filter, glob_matcher, head_pattern
from rp_toolkit.kinds import REQUESTS, decode_key, encode_key
from rp_toolkit.store import FetchStats, list_keys, scan_batches, scan_match
from rp_toolkit.synth import request_records
from tests.support import fill_keyspace
from tests.test_glob import (
    LIVE,
    OFFLINE,
    PATTERN_BYTES,
    gem_keys,
    gem_patterns,
    near_key,
    pattern_and_keys,
    tricky_keyspace,
)


def assert_cheap_is_exact(pattern: bytes, keys: list[bytes]) -> None:
    """The head lets through every key the pattern matches; the batch filter keeps exactly
    those, with or without the head checked again, in the batch's order."""
    matches = glob_matcher(pattern)
    wanted = [key for key in keys if matches(key)]
    assert batch_filter(pattern)(keys) == wanted, pattern
    head = head_pattern(pattern)
    if head is None:
        return
    assert head.endswith(b"*") and len(head) <= len(pattern)
    through = [key for key in keys if glob_matcher(head)(key)]
    assert set(wanted) <= set(through), (pattern, head)
    assert batch_filter(pattern)(through) == wanted, (pattern, head)


@OFFLINE
@given(case=pattern_and_keys())
def test_head_and_filter_equal_the_pattern_on_random_patterns(
    case: tuple[bytes, list[bytes]],
) -> None:
    pattern, keys = case
    assert_cheap_is_exact(pattern, keys)


@OFFLINE
@given(case=pattern_and_keys(), stars=st.integers(1, 6))
def test_head_and_filter_equal_the_pattern_with_many_stars(
    case: tuple[bytes, list[bytes]], stars: int
) -> None:
    pattern, keys = case
    pattern = b"*".join([pattern[i::stars] for i in range(stars)])
    rng = random.Random(len(pattern))
    extra = [near_key(rng, pattern) for _ in range(5)]
    assert_cheap_is_exact(pattern, [*keys, *extra, pattern, pattern.replace(b"*", b"ab")])


def test_gem_patterns_send_their_head() -> None:
    day = datetime(2026, 12, 4, tzinfo=timezone.utc).date()
    assert head_pattern(REQUESTS.pattern(day=day)) == b"performance|*"
    assert scan_match(REQUESTS.pattern(day=day)) == b"performance|*"
    assert scan_match("[ps]*|datetime|20261204*|END|1.0.2") == b"[ps]*"
    # Escapes and sets before the first '*' stay as they are; an escaped '*' is no cut.
    assert head_pattern(b"a\\*b[*]c*d") == b"a\\*b[*]c*"
    # Nothing to cut: no '*', a leading '*', only '*' after the head; a lookup keeps its
    # pattern (the head would bring back every key of the kind).
    for pattern in (b"abc", b"*abc", b"abc*", b"abc**", b"[abc*d"):
        assert head_pattern(pattern) is None, pattern
        assert scan_match(pattern) == pattern
    lookup = REQUESTS.pattern({"request_id": "abc"})
    assert scan_match(lookup) == encode_key(lookup)


class RecordingRedis(redis.Redis):
    """A client that keeps the MATCH of every SCAN it sends (the server answers them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.matches: list[bytes] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if str(args[0]).upper() == "SCAN" and b"MATCH" in args:
            self.matches.append(encode_key(args[args.index(b"MATCH") + 1]))
        return super().execute_command(*args, **options)


def keys_listed(client: redis.Redis, pattern: str | bytes) -> tuple[list[bytes], Any]:
    with rp.setup(use_scan=True, progress=False):
        return list_keys(decode_key(pattern), client, decode=False)


def test_hostile_keyspaces_list_what_keys_lists(redis_url: str) -> None:
    """The gem's patterns (and hand-made ones) on records whose free text holds glob bytes,
    ``|``, UTF-8 and bytes that are not: SCAN with the head, filtered, lists what KEYS with
    the whole pattern lists, and sends the head."""
    client = RecordingRedis.from_url(redis_url)
    keys = gem_keys() + tricky_keyspace(random_count=100)
    fill_keyspace(client, keys)
    cut = 0
    for pattern in [*gem_patterns(gem_keys()), "*|END|1.0.2", "performance|*|END|1.0.?"]:
        client.matches.clear()
        found, stats = keys_listed(client, pattern)
        assert sorted(found) == sorted(client.keys(encode_key(pattern))), pattern
        sent = scan_match(pattern)
        assert set(client.matches) == {sent}, pattern
        assert stats.pattern == pattern and stats.pattern_sent == sent.decode(
            "utf-8", "surrogateescape"
        )
        cut += sent != encode_key(pattern)
    assert cut >= 30


def test_random_patterns_list_what_keys_lists(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    fill_keyspace(client, tricky_keyspace())

    @LIVE
    @given(pattern=st.lists(st.sampled_from(PATTERN_BYTES), min_size=1, max_size=8).map(b"".join))
    def agrees(pattern: bytes) -> None:
        found, _ = keys_listed(client, pattern)
        assert sorted(found) == sorted(client.keys(pattern)), pattern

    agrees()


def test_the_filter_drops_what_the_head_let_through(redis_url: str) -> None:
    """Two days of requests: a load of one day gets the same records as the gem's KEYS of
    that day, SCAN sent ``performance|*``, and the other day's keys were dropped (counted)."""
    client = RecordingRedis.from_url(redis_url)
    end = datetime(2026, 12, 4, 20, tzinfo=timezone.utc)
    today = request_records(300, seed=2, end=end, hours=16)
    yesterday = request_records(200, seed=3, end=end - timedelta(days=1), hours=16)
    fill_keyspace(
        client, dict(zip(today.keys + yesterday.keys, today.values + yesterday.values, strict=True))
    )
    client.set(b"sidekiq|queue|q|END|1.0.2", b"{}")  # another kind: not let through at all
    start = end - timedelta(hours=16)
    with rp.setup(use_scan=True, progress=False, scan_count=10, scan_count_auto_tune=False):
        frame = rp.load("requests", client, start=start, end=end)
    fetch = frame.attrs["rp"].fetches[0]
    assert set(client.matches) == {b"performance|*"}
    assert fetch.pattern == REQUESTS.covering_pattern(start, end)
    assert fetch.pattern_sent == "performance|*"
    assert fetch.keys_filtered == 200 and fetch.keys_found == 300
    summary = frame.attrs["rp"].summary()
    assert summary["patterns_sent"] == ["performance|*"] and summary["keys_filtered"] == 200
    with rp.setup(use_scan=False, progress=False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gem = rp.load("requests", client, start=start, end=end)
    assert gem.attrs["rp"].fetches[0].pattern_sent == REQUESTS.pattern(day=end.date())
    assert gem.attrs["rp"].fetches[0].keys_filtered == 0
    by_id = ["request_id"]
    assert frame.sort_values(by_id, ignore_index=True).equals(
        gem.sort_values(by_id, ignore_index=True)
    )
    assert len(frame) == 300


def test_scan_batches_sends_a_given_match_as_it_is(redis_url: str) -> None:
    """``match=pattern``: the gem's own pattern on the wire, nothing filtered (what the
    benchmark compares against); the default sends the head and filters."""
    client = RecordingRedis.from_url(redis_url)
    keys = gem_keys()
    fill_keyspace(client, keys)
    pattern = encode_key(REQUESTS.pattern(day=datetime(2026, 11, 28).date()))
    expected = sorted(client.keys(pattern))
    for match, sent in ((pattern, pattern), (None, b"performance|*")):
        client.matches.clear()
        stats = FetchStats("SCAN", decode_key(pattern), "test")
        found = [key for batch in scan_batches(client, pattern, 50, stats, match=match)
                 for key in batch]  # fmt: skip
        assert sorted(set(found)) == expected
        assert set(client.matches) == {sent}
        assert (stats.keys_filtered > 0) is (match is None)

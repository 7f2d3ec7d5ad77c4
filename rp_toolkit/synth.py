"""Synthetic rails_performance data, in the gem's exact format, for demos, tests and benchmarks.

Every key is built by :meth:`RecordKind.format_key` and every TTL comes from
:attr:`RecordKind.ttl_seconds` (:mod:`rp_toolkit.kinds` is the only place a layout is written
down). Values are JSON as the gem writes it from a Rails app: ``Hash#to_json`` with
ActiveSupport loaded, i.e. compact, ``null`` for nil, non-ASCII text as is, and ``<``, ``>``,
``&`` escaped as ``\\u003c``, ``\\u003e``, ``\\u0026`` (Rails' default
``escape_html_entities_in_json``).

Output is deterministic for a given seed, end, span, rate and server list: every kind draws from
its own ``numpy.random.default_rng([seed, stream, chunk])``, so the same arguments give the same
keys and values byte for byte, whatever other kinds are chosen. Records are generated and written
in time slices of whole minutes (at most :data:`CHUNK_RECORDS` records each, unless a single minute
holds more), so memory stays bounded however many records are asked for.

Writing uses ``SET key value EX ttl NX``: existing keys are never modified (not even their TTL)
and nothing is ever deleted.

Entry points:

* :func:`write` -- everything a demo needs, written to one Redis;
* :func:`generate` -- the same records as batches, without writing;
* :func:`request_records` / :func:`iter_request_records` -- exactly ``n`` request records;
* :func:`write_records` -- the shared pipelined writer.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
import redis
from tqdm.auto import tqdm

from .connection import ClientLike, describe_server, get_client, translate_errors
from .fetching import encode_key
from .kinds import (
    CUSTOM,
    DELAYED_JOB,
    EVENTS,
    GRAPE,
    KINDS,
    RAKE,
    REQUESTS,
    RESOURCES,
    SIDEKIQ,
    TRACE,
    RecordKind,
    get_kind,
)

__all__ = [
    "ALL_KINDS",
    "CHUNK_RECORDS",
    "DEFAULT_SERVERS",
    "MIN_TTL_SECONDS",
    "PIPELINE_BATCH",
    "RecordBatch",
    "SynthSummary",
    "generate",
    "iter_request_records",
    "planned_counts",
    "request_records",
    "ruby_json",
    "write",
    "write_records",
]

ALL_KINDS: tuple[str, ...] = tuple(KINDS)
DEFAULT_SERVERS: tuple[str, ...] = ("web-1", "web-2", "worker-1")
CHUNK_RECORDS = 20_000
"""Records generated per time slice (a slice is whole minutes; one busy minute may hold more)."""
PIPELINE_BATCH = 10_000
"""Commands per pipeline round trip."""
MIN_TTL_SECONDS = 60
"""Floor of the TTL left to a record (the gem's TTL minus the record's age at ``end``)."""

# Records per second for each kind, as a multiple of ``rps`` (requests per second) ...
RATE_PER_RPS = {"requests": 1.0, "sidekiq": 0.25, "delayed_job": 0.05, "grape": 0.2}
# ... or a fixed number per minute.
RATE_PER_MINUTE = {"rake": 2.0, "custom": 4.0}
DEPLOYS_PER_HOUR = 0.5
ERROR_SHARE_404 = 0.015
ERROR_SHARE_500 = 0.005
AWKWARD_PATH_SHARE = 0.005
CUSTOM_DATA_SHARE = 0.05

# One random stream per kind (fixed numbers, independent of the order of kinds.KINDS).
_STREAMS = {
    "requests": 1,
    "sidekiq": 2,
    "delayed_job": 3,
    "grape": 4,
    "rake": 5,
    "custom": 6,
    "resources": 7,
    "trace": 8,
    "events": 9,
}
_COUNTS_STREAM = 0  # sub-stream for the per-minute counts; chunks use 1, 2, ...


# --------------------------------------------------------------------------------------------
# JSON as Ruby on Rails writes it
# --------------------------------------------------------------------------------------------

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_ACTIVE_SUPPORT_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def ruby_json(value: Any) -> str:
    """``value.to_json`` as a Rails app writes it: compact, UTF-8, HTML entities escaped.

    Floats use the shortest round-trip form, as Ruby's ``Float#to_s`` does for the magnitudes
    written here (Ruby switches to exponents below 1e-4 and from 1e16; none are generated).
    """
    text = _ENCODE(value)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = text.translate(_ACTIVE_SUPPORT_ESCAPES)
    return text


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class _KeysAndValues(NamedTuple):
    keys: list[str]
    values: list[str]


class RecordBatch(_KeysAndValues):
    """``(keys, values)`` of one kind, plus ``.kind`` and ``.ttls`` (seconds; ``None``: none)."""

    kind: RecordKind
    ttls: list[int] | None

    def __new__(
        cls, kind: RecordKind, keys: list[str], values: list[str], ttls: list[int] | None
    ) -> RecordBatch:
        batch = super().__new__(cls, keys, values)
        batch.kind = kind
        batch.ttls = ttls
        return batch


@dataclass
class SynthSummary:
    """What :func:`write` did."""

    counts: dict[str, int]
    """Records generated and sent, per kind name."""
    written: int
    """Keys newly set (``counts`` minus keys that already existed and were left alone)."""
    seconds: float
    end: datetime
    start: datetime
    seed: int
    server: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_keys(self) -> int:
        """Records generated and sent, all kinds."""
        return sum(self.counts.values())

    @property
    def total(self) -> int:
        """Same as :attr:`total_keys`."""
        return self.total_keys

    @property
    def skipped_existing(self) -> int:
        """Keys that existed already and were not touched."""
        return self.total_keys - self.written

    @property
    def records_per_second(self) -> float:
        return self.total_keys / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """Plain values (datetimes as ISO text), for JSON output."""
        return {
            "counts": dict(self.counts),
            "total_keys": self.total_keys,
            "written": self.written,
            "skipped_existing": self.skipped_existing,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seed": self.seed,
            "server": self.server,
            **self.extra,
        }

    def __str__(self) -> str:
        per_kind = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        skipped = f" ({self.skipped_existing:,} existed already)" if self.skipped_existing else ""
        return (
            f"{self.total_keys:,} records in {self.seconds:.1f} s "
            f"({self.records_per_second:,.0f}/s){skipped}, "
            f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC: {per_kind}"
        )


# --------------------------------------------------------------------------------------------
# Time: the window, per-minute intensities and time slices
# --------------------------------------------------------------------------------------------


def _floor_end(end: datetime | float | None) -> int:
    """``end`` (default: now) as epoch seconds, floored to the UTC minute."""
    if end is None:
        epoch = time.time()
    elif isinstance(end, datetime):
        aware = end if end.tzinfo is not None else end.replace(tzinfo=timezone.utc)
        epoch = aware.timestamp()
    elif isinstance(end, (int, float)) and not isinstance(end, bool):
        epoch = float(end)
    else:
        raise TypeError(f"end must be a datetime, epoch seconds or None, not {type(end).__name__}.")
    return int(math.floor(epoch / 60.0)) * 60


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _minute_text(epochs: np.ndarray) -> list[str]:
    """The gem's ``YYYYMMDDTHHMM`` for each epoch (computed once per distinct minute)."""
    minutes = epochs // 60
    distinct = np.unique(minutes)
    text = {int(m): _utc(int(m) * 60).strftime("%Y%m%dT%H%M") for m in distinct}
    return [text[m] for m in minutes.tolist()]


def _rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream], *more])


@dataclass(frozen=True)
class _Window:
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive, on a minute

    @classmethod
    def of(cls, end: datetime | float | None, hours: float) -> _Window:
        if not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
            raise ValueError(f"hours must be a positive number, not {hours!r}.")
        stop = _floor_end(end)
        return cls(stop - max(1, round(hours * 3600)), stop)

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass
class _Timeline:
    """``n`` records spread over a window: how many fall into each minute, and slices."""

    lo: np.ndarray  # first second of each minute's overlap with the window
    length: np.ndarray  # seconds of that overlap
    counts: np.ndarray  # records per minute

    @classmethod
    def build(cls, n: int, window: _Window, rng: np.random.Generator, spiky: bool) -> _Timeline:
        first = window.start - window.start % 60
        minute = np.arange(first, window.end, 60, dtype=np.int64)
        lo = np.maximum(minute, window.start)
        length = np.minimum(minute + 60, window.end) - lo
        hour = (minute % 86400) / 3600.0
        # Busier in the (UTC) afternoon, quieter at night, a little noise every minute ...
        weight = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
        weight = weight * np.exp(0.12 * rng.standard_normal(len(minute)))
        if spiky:  # ... and the odd traffic spike.
            weight = weight * np.where(rng.random(len(minute)) < 0.01, 2.5, 1.0)
        weight = weight * length
        counts = rng.multinomial(n, weight / weight.sum()) if n else np.zeros(len(minute), int)
        return cls(lo, length, counts.astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def count_since(self, epoch: int) -> int:
        """Records at or after ``epoch`` (a minute boundary)."""
        return int(self.counts[self.lo >= epoch].sum())

    def slices(self, max_records: int) -> list[tuple[int, int]]:
        """Consecutive minute ranges ``[i, j)`` of at most ``max_records`` (or one minute)."""
        out: list[tuple[int, int]] = []
        start, running = 0, 0
        for index, count in enumerate(self.counts.tolist()):
            if running and running + count > max_records:
                out.append((start, index))
                start, running = index, 0
            running += count
        if running:
            out.append((start, len(self.counts)))
        return out

    def times(self, rng: np.random.Generator, i: int, j: int, distinct: bool = False) -> np.ndarray:
        """Sorted epoch seconds of the records in minutes ``[i, j)``.

        ``distinct``: no two records share a second (while a minute has room), for kinds whose
        keys have no id and would otherwise collide (the gem would overwrite one with the other).
        """
        counts = self.counts[i:j]
        if distinct:
            parts = [
                lo + rng.choice(length, size=count, replace=count > length)
                for lo, length, count in zip(
                    self.lo[i:j].tolist(), self.length[i:j].tolist(), counts.tolist(), strict=True
                )
                if count
            ]
            return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        lo = np.repeat(self.lo[i:j], counts)
        length = np.repeat(self.length[i:j], counts)
        return np.sort(lo + (rng.random(len(lo)) * length).astype(np.int64))


def _ttls(kind: RecordKind, epochs: np.ndarray, end: int) -> list[int] | None:
    """The TTL the gem would still have left at ``end``; ``None`` when the kind never expires."""
    if not kind.ttl_seconds:
        return None
    return np.maximum(MIN_TTL_SECONDS, kind.ttl_seconds - (end - epochs)).tolist()


def _hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    """``n`` ids like Ruby's ``SecureRandom.hex(nbytes)``."""
    text = rng.bytes(n * nbytes).hex()
    width = 2 * nbytes
    return [text[i : i + width] for i in range(0, n * width, width)]


def _lognormal(rng: np.random.Generator, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(len(median)))


def _ms(values: np.ndarray, digits: int = 3) -> list[float]:
    return np.round(values, digits).tolist()


# --------------------------------------------------------------------------------------------
# The application being simulated
# --------------------------------------------------------------------------------------------


class _Endpoint(NamedTuple):
    controller: str
    action: str
    method: str
    format: str
    path: str  # str.format template: {id}, {page}, {q}
    median_ms: float
    sigma: float
    ok_status: int  # 200, 201, 204 or 302
    db_share: float  # mean share of the duration spent in the database
    view_share: float  # mean share of the rest spent rendering
    queries: float  # mean number of SQL statements
    tables: tuple[str, ...]
    template: str | None  # the rendered template (None: nothing rendered)
    partial: str | None


# In order of popularity (weights are Zipf-like by rank). Three are slow: p95 above 500 ms.
_ENDPOINTS: tuple[_Endpoint, ...] = (
    _Endpoint(
        "ProductsController",
        "show",
        "GET",
        "html",
        "/products/{id}",
        70,
        0.5,
        200,
        0.35,
        0.7,
        4,
        ("products", "reviews", "users"),
        "products/show.html.erb",
        "reviews/_review.html.erb",
    ),
    _Endpoint(
        "HomeController",
        "index",
        "GET",
        "html",
        "/",
        45,
        0.5,
        200,
        0.3,
        0.75,
        3,
        ("products", "banners"),
        "home/index.html.erb",
        "products/_card.html.erb",
    ),
    _Endpoint(
        "ProductsController",
        "index",
        "GET",
        "html",
        "/products?page={page}",
        120,
        0.6,
        200,
        0.4,
        0.7,
        5,
        ("products", "categories"),
        "products/index.html.erb",
        "products/_card.html.erb",
    ),
    _Endpoint(
        "Api::V1::ProductsController",
        "index",
        "GET",
        "json",
        "/api/v1/products?page={page}&per_page=50",
        60,
        0.7,
        200,
        0.55,
        0.5,
        3,
        ("products",),
        "api/v1/products/index.json.jbuilder",
        None,
    ),
    _Endpoint(
        "SearchController",
        "index",
        "GET",
        "html",
        "/search?q={q}",
        220,
        0.9,
        200,
        0.6,
        0.6,
        4,
        ("products", "search_terms"),
        "search/index.html.erb",
        "products/_card.html.erb",
    ),
    _Endpoint(
        "CartsController",
        "show",
        "GET",
        "html",
        "/cart",
        55,
        0.5,
        200,
        0.35,
        0.7,
        4,
        ("carts", "cart_items", "products"),
        "carts/show.html.erb",
        "cart_items/_cart_item.html.erb",
    ),
    _Endpoint(
        "CartItemsController",
        "create",
        "POST",
        "html",
        "/cart/items",
        40,
        0.4,
        302,
        0.5,
        0.0,
        4,
        ("carts", "cart_items", "products"),
        None,
        None,
    ),
    _Endpoint(
        "UsersController",
        "show",
        "GET",
        "html",
        "/users/{id}",
        50,
        0.5,
        200,
        0.3,
        0.7,
        3,
        ("users", "orders"),
        "users/show.html.erb",
        "orders/_order.html.erb",
    ),
    _Endpoint(
        "SessionsController",
        "new",
        "GET",
        "html",
        "/login",
        20,
        0.4,
        200,
        0.0,
        0.8,
        0,
        (),
        "sessions/new.html.erb",
        None,
    ),
    _Endpoint(
        "SessionsController",
        "create",
        "POST",
        "html",
        "/login",
        180,
        0.3,
        302,
        0.1,
        0.0,
        2,
        ("users",),
        None,
        None,
    ),
    _Endpoint(
        "OrdersController",
        "index",
        "GET",
        "html",
        "/orders?page={page}",
        150,
        0.6,
        200,
        0.5,
        0.6,
        6,
        ("orders", "order_items", "products"),
        "orders/index.html.erb",
        "orders/_order.html.erb",
    ),
    _Endpoint(
        "Api::V1::CartItemsController",
        "destroy",
        "DELETE",
        "json",
        "/api/v1/cart_items/{id}",
        25,
        0.4,
        204,
        0.6,
        0.0,
        3,
        ("cart_items", "carts"),
        None,
        None,
    ),
    _Endpoint(
        "Api::V1::OrdersController",
        "create",
        "POST",
        "json",
        "/api/v1/orders",
        160,
        0.45,
        201,
        0.5,
        0.3,
        9,
        ("orders", "order_items", "carts", "payments"),
        "api/v1/orders/create.json.jbuilder",
        None,
    ),
    _Endpoint(
        "UsersController",
        "update",
        "PATCH",
        "html",
        "/users/{id}",
        90,
        0.5,
        302,
        0.45,
        0.0,
        4,
        ("users",),
        None,
        None,
    ),
    _Endpoint(
        "Admin::DashboardController",
        "index",
        "GET",
        "html",
        "/admin",
        450,
        0.5,
        200,
        0.7,
        0.6,
        15,
        ("orders", "users", "payments", "products"),
        "admin/dashboard/index.html.erb",
        "admin/dashboard/_widget.html.erb",
    ),
    _Endpoint(
        "ReportsController",
        "show",
        "GET",
        "html",
        "/reports/{id}",
        900,
        0.6,
        200,
        0.75,
        0.6,
        12,
        ("orders", "order_items", "payments"),
        "reports/show.html.erb",
        "reports/_row.html.erb",
    ),
    _Endpoint(
        "Webhooks::StripeController",
        "create",
        "POST",
        "json",
        "/webhooks/stripe",
        35,
        0.6,
        200,
        0.4,
        0.0,
        3,
        ("payments", "orders"),
        None,
        None,
    ),
)
_POPULARITY = 1.0 / np.arange(1, len(_ENDPOINTS) + 1) ** 1.07
_POPULARITY /= _POPULARITY.sum()
_E_MEDIAN = np.array([e.median_ms for e in _ENDPOINTS])
_E_SIGMA = np.array([e.sigma for e in _ENDPOINTS])
_E_OK = np.array([e.ok_status for e in _ENDPOINTS])
_E_DB = np.array([e.db_share for e in _ENDPOINTS])
_E_VIEW = np.array([e.view_share for e in _ENDPOINTS])
_E_JSON = np.array([e.format == "json" for e in _ENDPOINTS])
_E_QUERIES = np.array([e.queries for e in _ENDPOINTS])

_SEARCH_TERMS = (
    "shoes",
    "red+dress",
    "laptop",
    "gift+card",
    "usb-c+cable",
    "coffee",
    "lego",
    "headphones",
    "winter+jacket",
    "running",
    "desk+lamp",
    "backpack",
)
# Full paths carry their query strings, and real ones hold characters that are special to
# glob patterns, to the gem's `|`-separated keys, or to neither ASCII nor URL encoding.
_AWKWARD_QUERIES = (
    "q=a|b*c[1] é",
    "q=shoes|boots&sort=price*",
    "filter[color]=red&filter[size][]=M",
    "q=what?&page=2",
    "q=café crème brûlée",
    "q=日本語のテスト",
    "q=50% off!",
    "q=C:\\temp\\report",
    "q=status|500|",
    "q=x|END|1.0.2",
    "ref=a||b",
    "q=red shoes ",
)
_REFERERS = (
    "https://shop.example.com/products?page=2",
    "https://shop.example.com/search?q=red+dress&sort=price",
    "https://www.google.com/",
    "https://shop.example.com/",
    "https://old.example.com/catalog/item.php?id=17&lang=en",
    "https://t.co/xYz12AbC",
)
_EXCEPTIONS = (
    "ActiveRecord::RecordNotFound: Couldn't find Product with 'id'=99999",
    "NoMethodError: undefined method `name' for nil",
    "ActionView::Template::Error: undefined local variable or method `current_usr' for "
    "#<ActionView::Base:0x000055d5c1a2b3c8>",
    "ActiveRecord::StatementInvalid: PG::QueryCanceled: ERROR:  canceling statement due to "
    "statement timeout",
    "Redis::TimeoutError: Connection timed out",
    "Stripe::APIConnectionError: Could not connect to Stripe (https://api.stripe.com)",
)
_BACKTRACE_FRAMES = (
    "app/models/product.rb:{line}:in `price_with_tax'",
    "app/services/checkout.rb:{line}:in `call'",
    "app/models/user.rb:{line}:in `display_name'",
    "app/helpers/application_helper.rb:{line}:in `money'",
    "lib/payments/gateway.rb:{line}:in `charge'",
)
_CUSTOM_DATA = (
    '{{"user_id":{n}}}',
    '{{"user_id":{n},"plan":"pro"}}',
    '{{"tenant":"acme","ab_test":"checkout_v2","user_id":{n}}}',
)
_SQL = (
    'SELECT "{t}".* FROM "{t}" WHERE "{t}"."id" = $1 LIMIT $2',
    'SELECT "{t}".* FROM "{t}" ORDER BY "{t}"."created_at" DESC LIMIT $1 OFFSET $2',
    'SELECT COUNT(*) FROM "{t}" WHERE "{t}"."deleted_at" IS NULL',
    'SELECT "{t}".* FROM "{t}" WHERE "{t}"."user_id" = $1 AND "{t}"."created_at" > $2',
    'SELECT "{t}"."id", "{t}"."name" FROM "{t}" WHERE "{t}"."id" IN ($1, $2, $3)',
    'UPDATE "{t}" SET "updated_at" = $1 WHERE "{t}"."id" = $2',
    'INSERT INTO "{t}" ("user_id", "created_at", "updated_at") VALUES ($1, $2, $3) RETURNING "id"',
)


def _controller_file(controller: str) -> str:
    parts = controller.split("::")
    snake = ["".join("_" + c.lower() if c.isupper() else c for c in p).lstrip("_") for p in parts]
    return "app/controllers/" + "/".join(snake) + ".rb"


# --------------------------------------------------------------------------------------------
# Requests and their traces
# --------------------------------------------------------------------------------------------


@dataclass
class _RequestChunk:
    keys: list[str]
    values: list[str]
    epochs: np.ndarray
    request_ids: list[str]
    endpoint: np.ndarray
    db_runtime: np.ndarray
    view_runtime: np.ndarray  # NaN where nothing was rendered


def _request_chunk(rng: np.random.Generator, epochs: np.ndarray) -> _RequestChunk:
    n = len(epochs)
    endpoint = rng.choice(len(_ENDPOINTS), size=n, p=_POPULARITY)
    duration = np.maximum(0.5, _lognormal(rng, _E_MEDIAN[endpoint], _E_SIGMA[endpoint]))

    outcome = rng.random(n)
    status = _E_OK[endpoint].copy()
    failed_form = (status == 302) & (rng.random(n) < 0.06)  # re-rendered with errors
    status[failed_form] = 422
    status[outcome < ERROR_SHARE_404 + ERROR_SHARE_500] = 404
    status[outcome < ERROR_SHARE_500] = 500
    is_404, is_500 = status == 404, status == 500
    duration[is_404] *= 0.3

    db_mean = _E_DB[endpoint]
    db_share = np.where(
        db_mean > 0,
        rng.beta(np.maximum(db_mean, 1e-3) * 20, np.maximum(1 - db_mean, 1e-3) * 20),
        0.0,
    )
    db_runtime = duration * db_share * 0.9
    view_mean = np.where(failed_form, 0.6, _E_VIEW[endpoint])
    view_share = rng.beta(np.maximum(view_mean, 1e-3) * 20, np.maximum(1 - view_mean, 1e-3) * 20)
    view_runtime = (duration - db_runtime) * view_share * 0.9
    no_view = (view_mean == 0) | is_404 | is_500 | (status == 204)
    no_view |= _E_JSON[endpoint] & (rng.random(n) < 0.3)  # `render json:` without a view
    view_runtime[no_view] = np.nan

    request_ids = _hex_ids(rng, n, 16)
    ids = rng.integers(1, 50_000, size=n).tolist()
    pages = (rng.geometric(0.45, size=n)).tolist()
    terms = rng.integers(0, len(_SEARCH_TERMS), size=n).tolist()
    awkward = np.flatnonzero(rng.random(n) < AWKWARD_PATH_SHARE)
    awkward_choice = rng.integers(0, len(_AWKWARD_QUERIES), size=len(awkward)).tolist()
    custom = rng.random(n) < CUSTOM_DATA_SHARE
    custom_choice = rng.integers(0, len(_CUSTOM_DATA), size=n).tolist()
    referer = rng.integers(0, len(_REFERERS), size=n).tolist()
    exception = rng.integers(0, len(_EXCEPTIONS), size=n).tolist()
    frames = rng.integers(0, len(_BACKTRACE_FRAMES), size=(n, 2)).tolist()
    depth = rng.integers(1, 4, size=n).tolist()
    lines = rng.integers(5, 240, size=(n, 3)).tolist()

    paths = [
        _ENDPOINTS[e].path.format(id=i, page=p, q=_SEARCH_TERMS[t])
        for e, i, p, t in zip(endpoint.tolist(), ids, pages, terms, strict=True)
    ]
    for index, choice in zip(awkward.tolist(), awkward_choice, strict=True):
        paths[index] = paths[index].split("?", 1)[0] + "?" + _AWKWARD_QUERIES[choice]

    datetimes = _minute_text(epochs)
    format_key = REQUESTS.format_key
    keys: list[str] = []
    values: list[str] = []
    rows = zip(
        endpoint.tolist(),
        status.tolist(),
        datetimes,
        epochs.tolist(),
        paths,
        request_ids,
        _ms(duration),
        _ms(db_runtime),
        _ms(view_runtime),
        custom.tolist(),
        range(n),
        strict=True,
    )
    for e, st, dt, epoch, path, rid, dur, db, view, has_custom, i in rows:
        ep = _ENDPOINTS[e]
        keys.append(
            format_key(
                {
                    "controller": ep.controller,
                    "action": ep.action,
                    "format": ep.format,
                    "status": st,
                    "datetime": dt,
                    "datetimei": epoch,
                    "method": ep.method,
                    "path": path,
                    "request_id": rid,
                }
            )
        )
        value: dict[str, Any] = {
            "view_runtime": None if view != view else view,  # NaN: nothing rendered
            "db_runtime": db,
            "duration": dur,
            "http_referer": _REFERERS[referer[i]] if st == 404 else None,
            "custom_data": (
                _CUSTOM_DATA[custom_choice[i]].format(n=ids[i]) if has_custom else "null"
            ),
        }
        if st == 500:
            value["exception"] = _EXCEPTIONS[exception[i]]
            trace = [f"{_controller_file(ep.controller)}:{lines[i][0]}:in `{ep.action}'"]
            trace += [
                _BACKTRACE_FRAMES[f].format(line=line)
                for f, line in zip(frames[i], lines[i][1:], strict=True)
            ]
            value["backtrace"] = trace[: depth[i]]
        values.append(ruby_json(value))
    return _RequestChunk(keys, values, epochs, request_ids, endpoint, db_runtime, view_runtime)


@functools.cache
def _sql_json(statement: int, table: str) -> str:
    return ruby_json(_SQL[statement].format(t=table))


def _trace_values(rng: np.random.Generator, chunk: _RequestChunk, rows: np.ndarray) -> list[str]:
    """The gem's trace for each request in ``rows``: SQL steps, then rendered views."""
    n = len(rows)
    endpoint = chunk.endpoint[rows]
    db_total = chunk.db_runtime[rows]
    view_total = chunk.view_runtime[rows]
    has_db = _E_DB[endpoint] > 0
    n_db = np.where(has_db, 1 + rng.poisson(_E_QUERIES[endpoint]), 0)
    n_db = np.minimum(n_db, 25)
    # Split each request's db_runtime over its queries.
    weights = rng.exponential(size=int(n_db.sum()))
    owner = np.repeat(np.arange(n), n_db)
    sums = np.bincount(owner, weights=weights, minlength=n)
    step_ms = np.round(weights / np.where(sums[owner] > 0, sums[owner], 1) * db_total[owner], 2)
    # GETs only read; the others may also write (the last two statements).
    reads_only = np.array([ep.method == "GET" for ep in _ENDPOINTS])[endpoint][owner]
    sql_choice = rng.integers(0, len(_SQL) - np.where(reads_only, 2, 0)).tolist()
    table_choice = rng.integers(0, 64, size=len(weights)).tolist()
    partials = rng.poisson(1.5, size=n).tolist()
    allocations = rng.integers(50, 20_000, size=(n, 6)).tolist()
    collection = rng.integers(2, 50, size=n).tolist()

    # The JSON text is assembled step by step (the same bytes as ruby_json(list of step hashes),
    # which the tests check): building dicts and encoding them took five times as long.
    values: list[str] = []
    offsets = np.concatenate([[0], np.cumsum(n_db)]).tolist()
    epochs = chunk.epochs[rows].tolist()
    step_list = step_ms.tolist()
    rows_ = zip(endpoint.tolist(), epochs, view_total.tolist(), strict=True)
    for i, (e, when, view) in enumerate(rows_):
        ep = _ENDPOINTS[e]
        steps: list[str] = []
        for s in range(offsets[i], offsets[i + 1]):
            sql = _sql_json(sql_choice[s], ep.tables[table_choice[s] % len(ep.tables)])
            steps.append(f'{{"group":"db","duration":{step_list[s]!r},"sql":{sql},"time":{when}}}')
        if view == view and ep.template is not None:  # not NaN: something was rendered
            alloc = allocations[i]
            messages = []
            if ep.partial is not None:
                for k in range(min(partials[i], 4)):
                    share = view * 0.05 * (k + 1)
                    messages.append(
                        f"Rendered {ep.partial} (Duration: {share:.1f}ms | Allocations: {alloc[k]})"
                    )
                messages.append(
                    f"Rendered collection of {ep.partial} [{collection[i]} times] "
                    f"(Duration: {view * 0.4:.1f}ms | Allocations: {alloc[4]})"
                )
            layout = " within layouts/application" if ep.format == "html" else ""
            messages.append(
                f"Rendered {ep.template}{layout} (Duration: {view:.1f}ms | Allocations: {alloc[5]})"
            )
            steps += [
                f'{{"group":"view","message":{ruby_json(message)},"time":{when}}}'
                for message in messages
            ]
        values.append("[" + ",".join(steps) + "]")
    return values


def _request_batches(
    n: int,
    window: _Window,
    seed: int,
    *,
    requests: bool = True,
    traces: bool = False,
    max_records: int = CHUNK_RECORDS,
) -> Iterator[RecordBatch]:
    timeline = _Timeline.build(n, window, _rng(seed, "requests", _COUNTS_STREAM), spiky=True)
    trace_from = window.end - TRACE.ttl_seconds
    for number, (i, j) in enumerate(timeline.slices(max_records), start=1):
        if not requests and timeline.lo[j - 1] + 60 <= trace_from:
            continue  # no traces in this slice (each slice has its own stream: skip it freely)
        rng = _rng(seed, "requests", number)
        chunk = _request_chunk(rng, timeline.times(rng, i, j))
        if requests:
            yield RecordBatch(
                REQUESTS, chunk.keys, chunk.values, _ttls(REQUESTS, chunk.epochs, window.end)
            )
        if traces:
            rows = np.flatnonzero(chunk.epochs >= trace_from)
            values = _trace_values(_rng(seed, "trace", number), chunk, rows)
            # The gem saves no empty trace (a request with neither SQL nor a rendered view).
            kept = [i for i, value in enumerate(values) if value != "[]"]
            if kept:
                rows = rows[kept]
                keys = [TRACE.format_key({"request_id": chunk.request_ids[r]}) for r in rows]
                values = [values[i] for i in kept]
                yield RecordBatch(TRACE, keys, values, _ttls(TRACE, chunk.epochs[rows], window.end))


def iter_request_records(
    n: int,
    *,
    seed: int = 1,
    end: datetime | float | None = None,
    hours: float = 4.0,
) -> Iterator[RecordBatch]:
    """Exactly ``n`` request records over ``[end - hours, end)``, in time slices of whole
    minutes (at most :data:`CHUNK_RECORDS` records each, unless one minute holds more).

    The same records :func:`write` sends for requests when ``n == round(rps * hours * 3600)``
    (same seed and end). Each batch has ``.ttls`` (seconds left at ``end``).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, not {n!r}.")
    yield from _request_batches(int(n), _Window.of(end, hours), _check_seed(seed))


def request_records(
    n: int, *, seed: int = 1, end: datetime | float | None = None, hours: float = 4.0
) -> RecordBatch:
    """``(keys, values)`` of exactly ``n`` request records (``.ttls`` holds their TTLs).

    For building benchmark datasets of exact sizes: ``write_records(client, *batch,
    ttls=batch.ttls)``. About 6 µs per record; a million records take about 0.5 GB of memory
    (use :func:`iter_request_records` to stay small).
    """
    keys: list[str] = []
    values: list[str] = []
    ttls: list[int] = []
    for batch in iter_request_records(n, seed=seed, end=end, hours=hours):
        keys += batch.keys
        values += batch.values
        ttls += batch.ttls or []
    return RecordBatch(REQUESTS, keys, values, ttls)


# --------------------------------------------------------------------------------------------
# Jobs and the other timed kinds
# --------------------------------------------------------------------------------------------

# (queue, worker, weight, median ms, sigma, failure share)
_SIDEKIQ_WORKERS = (
    ("mailers", "ActionMailer::MailDeliveryJob", 30, 120, 0.5, 0.005),
    ("default", "OrderConfirmationWorker", 15, 80, 0.6, 0.005),
    ("default", "WebhookDeliveryWorker", 12, 250, 1.0, 0.05),
    ("searchkick", "Searchkick::ReindexV2Job", 12, 40, 0.5, 0.002),
    ("default", "SyncInventoryWorker", 10, 900, 0.7, 0.01),
    ("low", "ImageResizeWorker", 10, 1500, 0.5, 0.01),
    ("critical", "PaymentCaptureWorker", 8, 350, 0.4, 0.02),
    ("low", "ReportGenerationWorker", 3, 12000, 0.6, 0.02),
)
_SIDEKIQ_ERRORS = (
    "Net::ReadTimeout with #<TCPSocket:(closed)>",
    "Faraday::ConnectionFailed: Failed to open TCP connection to hooks.example.com:443",
    "ActiveRecord::Deadlocked: PG::TRDeadlockDetected: ERROR:  deadlock detected",
    "Stripe::CardError: Your card was declined.",
    "undefined method `email' for nil",
)
# (source_type, class_name, method_name, weight, median ms, sigma)
_DELAYED_JOBS = (
    ("instance_method", "User", "send_reminder_without_delay", 40, 150, 0.6),
    ("instance_method", "Invoice", "deliver_without_delay", 25, 400, 0.5),
    ("class_method", "Report", "rebuild_cache_without_delay", 10, 5000, 0.6),
    ("instance_method", "Product", "reindex_without_delay", 25, 60, 0.5),
)
# (method, path, weight, median ms, sigma, ok status)
_GRAPE_ENDPOINTS = (
    ("GET", "/api/v2/products", 40, 30, 0.6, 200),
    ("GET", "/api/v2/products/{id}", 30, 15, 0.5, 200),
    ("GET", "/api/v2/users/{id}/orders", 15, 45, 0.6, 200),
    ("POST", "/api/v2/orders", 8, 120, 0.5, 201),
    ("DELETE", "/api/v2/sessions", 4, 8, 0.4, 204),
    ("GET", "/api/v2/search?q={q}", 10, 150, 0.9, 200),
)
# (tasks, weight, median ms, sigma)
_RAKE_TASKS = (
    (["cache:clear"], 25, 800, 0.4),
    (["sitemap:refresh"], 15, 15000, 0.5),
    (["reports:daily", "reports:email"], 10, 30000, 0.5),
    (["data:backfill[users]"], 5, 60000, 0.7),
    (["db:migrate"], 3, 5000, 0.8),
    (["tmp:clear"], 20, 200, 0.4),
    (["searchkick:reindex:all"], 6, 45000, 0.5),
)
# (tag_name, namespace_name, weight, median ms, sigma)
_CUSTOM_BLOCKS = (
    ("import_csv", "reports", 10, 2500, 0.7),
    ("geocode", "users", 30, 120, 0.6),
    ("charge_card", "billing", 20, 450, 0.4),
    ("render_pdf", "invoices", 15, 900, 0.5),
    ("warm_cache", "catalog", 25, 60, 0.5),
)


def _weights(table: Sequence[tuple[Any, ...]], column: int) -> np.ndarray:
    weights = np.array([row[column] for row in table], dtype=float)
    return weights / weights.sum()


def _timed_batches(
    kind: RecordKind,
    n: int,
    window: _Window,
    seed: int,
    build: Callable[[np.random.Generator, np.ndarray, int], tuple[list[str], list[str]]],
    max_records: int = CHUNK_RECORDS,
    distinct: bool = False,
) -> Iterator[RecordBatch]:
    """Batches of ``n`` records of ``kind`` built slice by slice by ``build(rng, epochs, done)``."""
    timeline = _Timeline.build(n, window, _rng(seed, kind.name, _COUNTS_STREAM), spiky=False)
    done = 0
    for number, (i, j) in enumerate(timeline.slices(max_records), start=1):
        rng = _rng(seed, kind.name, number)
        epochs = timeline.times(rng, i, j, distinct)
        keys, values = build(rng, epochs, done)
        done += len(keys)
        yield RecordBatch(kind, keys, values, _ttls(kind, epochs, window.end))


def _sidekiq(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    worker = rng.choice(len(_SIDEKIQ_WORKERS), size=n, p=_weights(_SIDEKIQ_WORKERS, 2))
    table = _SIDEKIQ_WORKERS
    median = np.array([row[3] for row in table])[worker]
    sigma = np.array([row[4] for row in table])[worker]
    failed = rng.random(n) < np.array([row[5] for row in table])[worker]
    duration = _ms(_lognormal(rng, median, sigma))
    # `datetimei` is when the job was created (== enqueued here); `datetime` and `start_timei`
    # when it started. The wait is kept inside the minute so that datetime and datetimei agree.
    wait = np.minimum(rng.exponential(1.5, size=n).astype(np.int64), epochs % 60)
    created = (epochs - wait).tolist()
    message = rng.integers(0, len(_SIDEKIQ_ERRORS), size=n).tolist()
    jids = _hex_ids(rng, n, 12)
    keys, values = [], []
    rows = zip(
        worker.tolist(),
        failed.tolist(),
        duration,
        _minute_text(epochs),
        epochs.tolist(),
        created,
        jids,
        message,
        strict=True,
    )
    for w, bad, dur, dt, start, made, jid, msg in rows:
        queue, name = table[w][0], table[w][1]
        keys.append(
            SIDEKIQ.format_key(
                {
                    "queue": queue,
                    "worker": name,
                    "jid": jid,
                    "datetime": dt,
                    "datetimei": made,
                    "enqueued_ati": made,
                    "start_timei": start,
                    "status": "exception" if bad else "success",
                }
            )
        )
        values.append(
            ruby_json({"message": _SIDEKIQ_ERRORS[msg] if bad else None, "duration": dur})
        )
    return keys, values


def _delayed_job(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    job = rng.choice(len(_DELAYED_JOBS), size=n, p=_weights(_DELAYED_JOBS, 3))
    median = np.array([row[4] for row in _DELAYED_JOBS])[job]
    sigma = np.array([row[5] for row in _DELAYED_JOBS])[job]
    duration = _ms(_lognormal(rng, median, sigma))
    failed = (rng.random(n) < 0.02).tolist()
    keys, values = [], []
    rows = zip(job.tolist(), failed, duration, _minute_text(epochs), epochs.tolist(), strict=True)
    for number, (j, bad, dur, dt, epoch) in enumerate(rows, start=100_001 + done):
        source_type, class_name, method_name = _DELAYED_JOBS[j][:3]
        keys.append(
            DELAYED_JOB.format_key(
                {
                    "jid": number,
                    "datetime": dt,
                    "datetimei": epoch,
                    "source_type": source_type,
                    "class_name": class_name,
                    "method_name": method_name,
                    "status": "error" if bad else "success",
                }
            )
        )
        values.append(ruby_json({"duration": dur}))
    return keys, values


def _grape(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    table = _GRAPE_ENDPOINTS
    endpoint = rng.choice(len(table), size=n, p=_weights(table, 2))
    run = _lognormal(
        rng,
        np.array([row[3] for row in table])[endpoint],
        np.array([row[4] for row in table])[endpoint],
    )
    render = _ms(rng.gamma(2.0, 0.05, size=n))
    fmt = _ms(rng.gamma(2.0, 0.4, size=n))
    outcome = rng.random(n)
    status = np.array([row[5] for row in table])[endpoint]
    status[outcome < 0.02] = 401
    status[outcome < 0.01] = 404
    status[outcome < 0.003] = 500
    ids = rng.integers(1, 50_000, size=n).tolist()
    terms = rng.integers(0, len(_SEARCH_TERMS), size=n).tolist()
    awkward = (rng.random(n) < AWKWARD_PATH_SHARE).tolist()
    awkward_choice = rng.integers(0, len(_AWKWARD_QUERIES), size=n).tolist()
    request_ids = _hex_ids(rng, n, 16)
    keys, values = [], []
    rows = zip(
        endpoint.tolist(),
        status.tolist(),
        _minute_text(epochs),
        epochs.tolist(),
        request_ids,
        _ms(run),
        render,
        fmt,
        range(n),
        strict=True,
    )
    for e, st, dt, epoch, rid, run_ms, render_ms, fmt_ms, i in rows:
        method, template = table[e][0], table[e][1]
        path = template.format(id=ids[i], q=_SEARCH_TERMS[terms[i]])
        if awkward[i]:
            path = path.split("?", 1)[0] + "?" + _AWKWARD_QUERIES[awkward_choice[i]]
        keys.append(
            GRAPE.format_key(
                {
                    "datetime": dt,
                    "datetimei": epoch,
                    "format": "json",
                    "path": path,
                    "status": st,
                    "method": method,
                    "request_id": rid,
                }
            )
        )
        values.append(
            ruby_json(
                {
                    "endpoint_render.grape": render_ms,
                    "endpoint_run.grape": run_ms,
                    "format_response.grape": fmt_ms,
                }
            )
        )
    return keys, values


def _simple_durations(
    kind: RecordKind,
    table: Sequence[tuple[Any, ...]],
    fields: Callable[[tuple[Any, ...]], dict],
    failure_share: float,
) -> Callable[[np.random.Generator, np.ndarray, int], tuple[list, list]]:
    """A builder for kinds whose value is just ``{"duration": ms}`` (rake, custom)."""

    def build(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
        n = len(epochs)
        row = rng.choice(len(table), size=n, p=_weights(table, -3))
        duration = _ms(
            _lognormal(
                rng, np.array([r[-2] for r in table])[row], np.array([r[-1] for r in table])[row]
            )
        )
        failed = (rng.random(n) < failure_share).tolist()
        keys, values = [], []
        for r, bad, dur, dt, epoch in zip(
            row.tolist(), failed, duration, _minute_text(epochs), epochs.tolist(), strict=True
        ):
            keys.append(
                kind.format_key(
                    {
                        **fields(table[r]),
                        "datetime": dt,
                        "datetimei": epoch,
                        "status": "error" if bad else "success",
                    }
                )
            )
            values.append(ruby_json({"duration": dur}))
        return keys, values

    return build


_rake = _simple_durations(RAKE, _RAKE_TASKS, lambda row: {"task": ruby_json(row[0])}, 0.03)
_custom = _simple_durations(
    CUSTOM, _CUSTOM_BLOCKS, lambda row: {"tag_name": row[0], "namespace_name": row[1]}, 0.02
)


# --------------------------------------------------------------------------------------------
# Deploy events and resource samples
# --------------------------------------------------------------------------------------------


def _deploy_times(window: _Window, seed: int) -> tuple[list[int], np.random.Generator]:
    rng = _rng(seed, "events")
    count = max(1, round(window.seconds / 3600 * DEPLOYS_PER_HOUR))
    count = min(count, window.seconds)
    chosen = rng.choice(window.seconds, size=count, replace=False)
    return sorted((window.start + chosen).tolist()), rng


def _event_batches(window: _Window, seed: int) -> Iterator[RecordBatch]:
    epochs, rng = _deploy_times(window, seed)
    keys, values = [], []
    for number, epoch in enumerate(epochs):
        sha = rng.bytes(4).hex()[:7]
        text = f"Deploy v2.{14 + number}.{int(rng.integers(0, 10))} ({sha})"
        keys.append(EVENTS.format_key({"datetimei": epoch}))
        values.append(
            ruby_json(
                {
                    "name": "deploy",
                    # Utils.from_datetimei(i) is Time.at(i, in: "+00:00"), as ActiveSupport's
                    # Time#to_json writes it.
                    "datetime": _utc(epoch).strftime("%Y-%m-%dT%H:%M:%S.000+00:00"),
                    "datetimei": epoch,
                    "options": {
                        "borderColor": "#00E396",
                        "label": {
                            "borderColor": "#00E396",
                            "orientation": "horizontal",
                            "text": text,
                        },
                    },
                }
            )
        )
    yield RecordBatch(EVENTS, keys, values, _ttls(EVENTS, np.array(epochs), window.end))


def _server_role(server: str) -> tuple[str, str]:
    """``(context, role)`` as the gem's monitors name them: rails/web or sidekiq/worker."""
    return ("sidekiq", "worker") if "worker" in server or "sidekiq" in server else ("rails", "web")


def _resource_batches(window: _Window, seed: int, servers: Sequence[str]) -> Iterator[RecordBatch]:
    first = -(-window.start // 60) * 60
    minutes = np.arange(first, window.end, 60, dtype=np.int64)
    if not len(minutes) or not servers:
        return
    deploys, _ = _deploy_times(window, seed)
    since_deploy = minutes - first
    for deploy in deploys:  # memory starts again from the base after every deploy (restart)
        since_deploy = np.where(minutes >= deploy, minutes - deploy, since_deploy)
    datetimes = _minute_text(minutes)
    hour = (minutes % 86400) / 3600.0
    diurnal = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
    gib = 1024**3
    for number, server in enumerate(servers):
        rng = _rng(seed, "resources", number + 1)
        context, role = _server_role(server)
        worker = role == "worker"
        n = len(minutes)
        noise = np.zeros(n)
        shocks = rng.standard_normal(n) * 0.15
        for m in range(1, n):
            noise[m] = 0.8 * noise[m - 1] + shocks[m]
        one = np.maximum(0.02, (1.4 if worker else 0.7) * diurnal + noise)
        five, fifteen = np.empty(n), np.empty(n)
        a5, a15 = 1 - math.exp(-1 / 5), 1 - math.exp(-1 / 15)
        five[0], fifteen[0] = one[0], one[0]
        for m in range(1, n):
            five[m] = five[m - 1] + a5 * (one[m] - five[m - 1])
            fifteen[m] = fifteen[m - 1] + a15 * (one[m] - fifteen[m - 1])
        base = (780 if worker else 520) * 1024**2
        memory = (
            base + since_deploy / 60 * 0.25 * 1024**2 + rng.normal(0, 6 * 1024**2, size=n)
        ).astype(np.int64)
        total = (200 if worker else 100) * gib
        used0 = int(total * rng.uniform(0.35, 0.6))
        used = used0 + np.cumsum(rng.integers(0, 2 * 1024**2, size=n))
        used = (used // 4096 * 4096).astype(np.int64)
        keys, values = [], []
        rows = zip(
            datetimes,
            minutes.tolist(),
            np.round(one, 2).tolist(),
            np.round(five, 2).tolist(),
            np.round(fifteen, 2).tolist(),
            memory.tolist(),
            used.tolist(),
            strict=True,
        )
        for dt, epoch, c1, c5, c15, mem, disk_used in rows:
            keys.append(
                RESOURCES.format_key(
                    {
                        "server": server,
                        "context": context,
                        "role": role,
                        "datetime": dt,
                        "datetimei": epoch,
                    }
                )
            )
            values.append(
                ruby_json(
                    {
                        "cpu": {"one_min": c1, "five_min": c5, "fifteen_min": c15},
                        "memory": mem,
                        "disk": {"available": total - disk_used, "total": total, "used": disk_used},
                    }
                )
            )
        yield RecordBatch(RESOURCES, keys, values, _ttls(RESOURCES, minutes, window.end))


# --------------------------------------------------------------------------------------------
# Planning and generation
# --------------------------------------------------------------------------------------------


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}.")
    return int(seed)


def _kind_names(kinds: Iterable[str | RecordKind]) -> tuple[str, ...]:
    if isinstance(kinds, (str, RecordKind)):
        kinds = [kinds]
    names = {get_kind(kind).name for kind in kinds}
    return tuple(name for name in ALL_KINDS if name in names)


def _totals(window: _Window, rps: float) -> dict[str, int]:
    if not (isinstance(rps, (int, float)) and math.isfinite(rps) and rps >= 0):
        raise ValueError(f"rps must be a number >= 0, not {rps!r}.")
    totals = {name: round(rps * share * window.seconds) for name, share in RATE_PER_RPS.items()}
    totals.update(
        {
            name: round(per_minute * window.seconds / 60)
            for name, per_minute in RATE_PER_MINUTE.items()
        }
    )
    return totals


def planned_counts(
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
) -> dict[str, int]:
    """How many records :func:`write` would write per kind, without generating them.

    Exact for every kind but ``trace``, which gets the number of requests in the last 60
    minutes: an upper bound, as the few requests with neither SQL nor a view get no trace.
    """
    window = _Window.of(end, hours)
    seed = _check_seed(seed)
    names = _kind_names(kinds)
    totals = _totals(window, rps)
    counts: dict[str, int] = {}
    for name in names:
        if name in totals:
            counts[name] = totals[name]
        elif name == "trace":
            timeline = _Timeline.build(
                totals["requests"], window, _rng(seed, "requests", _COUNTS_STREAM), spiky=True
            )
            counts[name] = timeline.count_since(window.end - TRACE.ttl_seconds)
        elif name == "resources":
            first = -(-window.start // 60) * 60
            counts[name] = len(range(first, window.end, 60)) * len(servers)
        elif name == "events":
            counts[name] = len(_deploy_times(window, seed)[0])
    return counts


def generate(
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
) -> Iterator[RecordBatch]:
    """The records :func:`write` writes, as :class:`RecordBatch` es (at most ~20,000 each)."""
    window = _Window.of(end, hours)
    seed = _check_seed(seed)
    names = _kind_names(kinds)
    totals = _totals(window, rps)
    if "requests" in names or "trace" in names:
        yield from _request_batches(
            totals["requests"], window, seed, requests="requests" in names, traces="trace" in names
        )
    # rake and custom keys hold no id: their records get distinct seconds so none collide.
    builders = {
        "sidekiq": (SIDEKIQ, _sidekiq, False),
        "delayed_job": (DELAYED_JOB, _delayed_job, False),
        "grape": (GRAPE, _grape, False),
        "rake": (RAKE, _rake, True),
        "custom": (CUSTOM, _custom, True),
    }
    for name, (kind, build, distinct) in builders.items():
        if name in names and totals[name]:
            yield from _timed_batches(kind, totals[name], window, seed, build, distinct=distinct)
    if "resources" in names:
        yield from _resource_batches(window, seed, tuple(servers))
    if "events" in names:
        yield from _event_batches(window, seed)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def write_records(
    client: ClientLike,
    keys: Sequence[str | bytes],
    values: Sequence[str | bytes],
    ttls: int | Sequence[int | None] | None = None,
    *,
    overwrite: bool = False,
    batch_size: int = PIPELINE_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """``SET key value [EX ttl] NX`` for every pair, pipelined ``batch_size`` commands a trip.

    ``ttls``: one TTL in seconds for all, one per key, or ``None``; ``None`` or 0 means no
    expiry. Existing keys are left alone unless ``overwrite`` (then plain ``SET``, which also
    replaces their TTL). Nothing is ever deleted. Returns how many keys were set;
    ``on_progress(n)`` is called after each round trip with the commands it carried.

    redis-py's pipeline (``execute_command``, no transaction) does about 150,000 SETs a second
    here, so the RESP is not hand-encoded.
    """
    if len(keys) != len(values):
        raise ValueError(f"{len(keys)} keys but {len(values)} values.")
    if ttls is None or isinstance(ttls, (int, np.integer)):
        ttl_list: Sequence[int | None] = [ttls] * len(keys)
    else:
        ttl_list = ttls
        if len(ttl_list) != len(keys):
            raise ValueError(f"{len(keys)} keys but {len(ttl_list)} TTLs.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
    redis_client = get_client(client)
    tail = () if overwrite else (b"NX",)
    written = 0
    with translate_errors(redis_client, "writing synthetic records"):
        for offset in range(0, len(keys), batch_size):
            pipe = redis_client.pipeline(transaction=False)
            stop = min(offset + batch_size, len(keys))
            for index in range(offset, stop):
                ttl = ttl_list[index]
                if ttl:
                    pipe.execute_command(
                        "SET",  # str: a cluster pipeline routes by command name
                        encode_key(keys[index]),
                        _as_bytes(values[index]),
                        b"EX",
                        int(ttl),
                        *tail,
                    )
                else:
                    pipe.execute_command(
                        "SET", encode_key(keys[index]), _as_bytes(values[index]), *tail
                    )
            written += sum(1 for reply in pipe.execute() if reply)
            if on_progress is not None:
                on_progress(stop - offset)
    return written


def write(
    client: redis.Redis | str,
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthSummary:
    """Write synthetic rails_performance data spanning ``[end - hours, end)`` to ``client``.

    ``client``: a ``redis.Redis`` or a URL (required: this writes, so it never falls back to
    a configured default). ``end``: a datetime (naive means UTC) or epoch seconds, default now;
    floored to the minute. Rates: ``rps`` requests a second, sidekiq ``rps/4``, delayed_job
    ``rps/20``, grape ``rps/5``, rake 2 and custom 4 a minute, one resource sample a minute per
    server, traces for the requests of the last 60 minutes, a deploy event every 2 hours.

    Every record gets the TTL the gem would still leave it at ``end`` (at least 60 s); events
    never expire. Existing keys are never modified and nothing is deleted (see
    :func:`write_records`). Same arguments, same keys and values, byte for byte.
    """
    if client is None:
        raise ValueError("write() needs a client: a redis.Redis or a redis:// URL to write to.")
    redis_client = get_client(client)
    window = _Window.of(end, hours)
    seed = _check_seed(seed)
    names = _kind_names(kinds)
    planned = planned_counts(
        hours=hours, rps=rps, seed=seed, kinds=names, end=window.end, servers=servers
    )
    counts = dict.fromkeys(names, 0)
    written = 0
    started = time.perf_counter()
    with tqdm(
        total=sum(planned.values()),
        desc="synthetic records",
        unit="records",
        unit_scale=True,
        disable=not progress,
        leave=False,
    ) as bar:
        for batch in generate(
            hours=hours, rps=rps, seed=seed, kinds=names, end=window.end, servers=servers
        ):
            counts[batch.kind.name] += len(batch.keys)
            written += write_records(
                redis_client,
                batch.keys,
                batch.values,
                batch.ttls,
                overwrite=overwrite,
                on_progress=bar.update,
            )
    return SynthSummary(
        counts=counts,
        written=written,
        seconds=time.perf_counter() - started,
        end=_utc(window.end),
        start=_utc(window.start),
        seed=seed,
        server=describe_server(redis_client),
        extra={"hours": hours, "rps": rps, "servers": list(servers)},
    )

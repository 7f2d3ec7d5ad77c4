"""The application being simulated, as data: an online shop's endpoints, jobs and tasks.

Tables only (plus arrays derived from them); the generators that draw from them live in
:mod:`._requests`, :mod:`._jobs`, :mod:`._events` and :mod:`._resources`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..kinds import SCHEMA_VERSION

DEFAULT_SERVERS: tuple[str, ...] = ("web-1", "web-2", "worker-1")
"""Servers that get resource samples unless told otherwise."""

# Records per second for each kind, as a multiple of ``rps`` (requests per second) ...
RATE_PER_RPS = {"requests": 1.0, "sidekiq": 0.25, "delayed_job": 0.05, "grape": 0.2}
# ... or a fixed number per minute.
RATE_PER_MINUTE = {"rake": 2.0, "custom": 4.0}
DEPLOYS_PER_HOUR = 0.5
REGRESSION = ("ProductsController", "show", 1.8)
"""A regression for the reports to find: from the first deploy of the window on, this endpoint
(controller, action) takes this many times as long (an N+1 query shipped with that deploy)."""
ERROR_SHARE_404 = 0.015
ERROR_SHARE_500 = 0.005
AWKWARD_PATH_SHARE = 0.005
CUSTOM_DATA_SHARE = 0.05


class Endpoint(NamedTuple):
    """One controller action of the simulated app."""

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
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
    Endpoint(
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
POPULARITY = 1.0 / np.arange(1, len(ENDPOINTS) + 1) ** 1.07
POPULARITY /= POPULARITY.sum()
ENDPOINT_MEDIAN = np.array([e.median_ms for e in ENDPOINTS])
ENDPOINT_SIGMA = np.array([e.sigma for e in ENDPOINTS])
ENDPOINT_OK = np.array([e.ok_status for e in ENDPOINTS])
ENDPOINT_DB = np.array([e.db_share for e in ENDPOINTS])
ENDPOINT_VIEW = np.array([e.view_share for e in ENDPOINTS])
ENDPOINT_JSON = np.array([e.format == "json" for e in ENDPOINTS])
ENDPOINT_QUERIES = np.array([e.queries for e in ENDPOINTS])

SEARCH_TERMS = (
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
AWKWARD_QUERIES = (
    "q=a|b*c[1] é",
    "q=shoes|boots&sort=price*",
    "filter[color]=red&filter[size][]=M",
    "q=what?&page=2",
    "q=café crème brûlée",
    "q=日本語のテスト",
    "q=50% off!",
    "q=C:\\temp\\report",
    "q=status|500|",
    "q=x|END|" + SCHEMA_VERSION,
    "ref=a||b",
    "q=red shoes ",
)
REFERERS = (
    "https://shop.example.com/products?page=2",
    "https://shop.example.com/search?q=red+dress&sort=price",
    "https://www.google.com/",
    "https://shop.example.com/",
    "https://old.example.com/catalog/item.php?id=17&lang=en",
    "https://t.co/xYz12AbC",
)
EXCEPTIONS = (
    "ActiveRecord::RecordNotFound: Couldn't find Product with 'id'=99999",
    "NoMethodError: undefined method `name' for nil",
    "ActionView::Template::Error: undefined local variable or method `current_usr' for "
    "#<ActionView::Base:0x000055d5c1a2b3c8>",
    "ActiveRecord::StatementInvalid: PG::QueryCanceled: ERROR:  canceling statement due to "
    "statement timeout",
    "Redis::TimeoutError: Connection timed out",
    "Stripe::APIConnectionError: Could not connect to Stripe (https://api.stripe.com)",
)
BACKTRACE_FRAMES = (
    "app/models/product.rb:{line}:in `price_with_tax'",
    "app/services/checkout.rb:{line}:in `call'",
    "app/models/user.rb:{line}:in `display_name'",
    "app/helpers/application_helper.rb:{line}:in `money'",
    "lib/payments/gateway.rb:{line}:in `charge'",
)
CUSTOM_DATA = (
    '{{"user_id":{n}}}',
    '{{"user_id":{n},"plan":"pro"}}',
    '{{"tenant":"acme","ab_test":"checkout_v2","user_id":{n}}}',
)
SQL = (
    'SELECT "{t}".* FROM "{t}" WHERE "{t}"."id" = $1 LIMIT $2',
    'SELECT "{t}".* FROM "{t}" ORDER BY "{t}"."created_at" DESC LIMIT $1 OFFSET $2',
    'SELECT COUNT(*) FROM "{t}" WHERE "{t}"."deleted_at" IS NULL',
    'SELECT "{t}".* FROM "{t}" WHERE "{t}"."user_id" = $1 AND "{t}"."created_at" > $2',
    'SELECT "{t}"."id", "{t}"."name" FROM "{t}" WHERE "{t}"."id" IN ($1, $2, $3)',
    'UPDATE "{t}" SET "updated_at" = $1 WHERE "{t}"."id" = $2',
    'INSERT INTO "{t}" ("user_id", "created_at", "updated_at") VALUES ($1, $2, $3) RETURNING "id"',
)

# Sidekiq workers: (queue, worker, weight, median ms, sigma, failure share)
SIDEKIQ_WORKERS = (
    ("mailers", "ActionMailer::MailDeliveryJob", 30, 120, 0.5, 0.005),
    ("default", "OrderConfirmationWorker", 15, 80, 0.6, 0.005),
    ("default", "WebhookDeliveryWorker", 12, 250, 1.0, 0.05),
    ("searchkick", "Searchkick::ReindexV2Job", 12, 40, 0.5, 0.002),
    ("default", "SyncInventoryWorker", 10, 900, 0.7, 0.01),
    ("low", "ImageResizeWorker", 10, 1500, 0.5, 0.01),
    ("critical", "PaymentCaptureWorker", 8, 350, 0.4, 0.02),
    ("low", "ReportGenerationWorker", 3, 12000, 0.6, 0.02),
)
SIDEKIQ_ERRORS = (
    "Net::ReadTimeout with #<TCPSocket:(closed)>",
    "Faraday::ConnectionFailed: Failed to open TCP connection to hooks.example.com:443",
    "ActiveRecord::Deadlocked: PG::TRDeadlockDetected: ERROR:  deadlock detected",
    "Stripe::CardError: Your card was declined.",
    "undefined method `email' for nil",
)
# (source_type, class_name, method_name, weight, median ms, sigma)
DELAYED_JOBS = (
    ("instance_method", "User", "send_reminder_without_delay", 40, 150, 0.6),
    ("instance_method", "Invoice", "deliver_without_delay", 25, 400, 0.5),
    ("class_method", "Report", "rebuild_cache_without_delay", 10, 5000, 0.6),
    ("instance_method", "Product", "reindex_without_delay", 25, 60, 0.5),
)
# (method, path, weight, median ms, sigma, ok status)
GRAPE_ENDPOINTS = (
    ("GET", "/api/v2/products", 40, 30, 0.6, 200),
    ("GET", "/api/v2/products/{id}", 30, 15, 0.5, 200),
    ("GET", "/api/v2/users/{id}/orders", 15, 45, 0.6, 200),
    ("POST", "/api/v2/orders", 8, 120, 0.5, 201),
    ("DELETE", "/api/v2/sessions", 4, 8, 0.4, 204),
    ("GET", "/api/v2/search?q={q}", 10, 150, 0.9, 200),
)
# (tasks, weight, median ms, sigma)
RAKE_TASKS = (
    (["cache:clear"], 25, 800, 0.4),
    (["sitemap:refresh"], 15, 15000, 0.5),
    (["reports:daily", "reports:email"], 10, 30000, 0.5),
    (["data:backfill[users]"], 5, 60000, 0.7),
    (["db:migrate"], 3, 5000, 0.8),
    (["tmp:clear"], 20, 200, 0.4),
    (["searchkick:reindex:all"], 6, 45000, 0.5),
)
# (tag_name, namespace_name, weight, median ms, sigma)
CUSTOM_BLOCKS = (
    ("import_csv", "reports", 10, 2500, 0.7),
    ("geocode", "users", 30, 120, 0.6),
    ("charge_card", "billing", 20, 450, 0.4),
    ("render_pdf", "invoices", 15, 900, 0.5),
    ("warm_cache", "catalog", 25, 60, 0.5),
)

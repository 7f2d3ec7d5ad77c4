"""Nothing from the data becomes markup (issue 19), end to end: records of every kind whose every
text field holds a script, an image with an error handler, a ``javascript:`` link, an attribute
break-out, math, backticks and pipes are written to a real server; ``rp-toolkit report`` runs
the request notebook on it; headless Chromium opens the HTML. No payload runs, none is an
element or an attribute of one, and the report does show each hostile text, as text. Skips,
saying why, without Chromium."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from rp_toolkit import markup, synth
from rp_toolkit.kinds import KINDS
from rp_toolkit.local import RedisServer
from tests.browser import MARKER, check_page
from tests.support import run_cli

PWN = "window.__pwned=1"
SCRIPT = f"<script>{PWN}</script>"
IMG = f'<img src=x onerror="{PWN}">'
LINK = f"[x](javascript:{PWN})"
SVG = f'"><svg onload={PWN}>'
MATH = "$\\alpha$ $\\nosuchcommand{x}$"  # mathtext would fail to draw the second
TICKS = "`a` ``b``"
PIPES = "a|b|c"

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
DEPLOY_AT = NOW - timedelta(minutes=25)

# What the report shows of them (each must be visible, as text, somewhere in the page).
CONTROLLER = f"{SCRIPT}Ctl"
ACTION = SVG
FORMAT = "$x$"
ENDPOINT = f"{CONTROLLER}#{ACTION}|{FORMAT}"  # the requests table's group; in the sentences
SHORT_PATH = f"/<svg onload={PWN}>"  # fits the path columns (32 and 36 characters)
LONG_PATH = f"/{IMG}|{LINK}?q={PIPES}"  # cut in the tables, its full text the tooltip
EXCEPTION = f"{LINK} {MATH} {PIPES} {TICKS}"
SLOWEST_ID = f"0{SCRIPT}{TICKS}"
SQL = f"SELECT '{SCRIPT}' FROM t WHERE a = $1 AND b = '{PIPES}'"
LABEL = f"{SCRIPT} {LINK} {MATH} {TICKS} {PIPES}"
TARGET = (IMG, MATH, TICKS)  # server, context, role of the resource samples


def minute(at: datetime) -> dict[str, Any]:
    return {"datetime": f"{at:%Y%m%dT%H%M}", "datetimei": int(at.timestamp())}


def hostile_records() -> dict[str, tuple[list[str], list[str]]]:
    """Keys and values of every kind, each text field hostile (``|`` only where the gem's key
    allows it: the free field and the values)."""
    records: dict[str, tuple[list[str], list[str]]] = {name: ([], []) for name in KINDS}

    def add(kind: str, fields: dict[str, Any], value: Any) -> None:
        keys, values = records[kind]
        keys.append(KINDS[kind].format_key(fields))
        values.append(value if isinstance(value, str) else synth.ruby_json(value))

    for n in range(24):  # 12 requests on each side of the deploy, all slow, every 4th a crash
        at = DEPLOY_AT + timedelta(minutes=(n - 12) + (1 if n >= 12 else 0))
        crash = n % 4 == 0
        request_id = SLOWEST_ID if n == 23 else f"{n}{IMG}{TICKS}"
        fields = {
            "controller": CONTROLLER,
            "action": ACTION,
            "format": FORMAT,
            "status": 500 if crash else 200,
            **minute(at),
            "method": IMG,
            # One path ends in a byte that is not UTF-8 (the frames show it as \xff).
            "path": (SHORT_PATH if n % 2 else LONG_PATH) + ("\udcff" if n == 21 else ""),
            "request_id": request_id,
        }
        value = {
            "view_runtime": 10.0,
            "db_runtime": 5.0,
            "duration": 900.0 + n * 10 + (5000 if n == 23 else 0),
            "http_referer": LINK,
            "custom_data": json.dumps({"note": SCRIPT}),
        }
        if crash:
            value |= {"exception": EXCEPTION, "backtrace": [SCRIPT, IMG, MATH]}
        add("requests", fields, value)
    add(
        "trace",
        {"request_id": SLOWEST_ID},
        [
            {"group": "db", "duration": 5.0, "sql": SQL, "time": minute(NOW)["datetimei"]},
            {"group": "view", "message": f"Rendered {IMG}", "time": minute(NOW)["datetimei"]},
        ],
    )
    add(
        "events",
        {"datetimei": int(DEPLOY_AT.timestamp())},
        {
            "name": SVG,
            "datetime": DEPLOY_AT.strftime("%Y-%m-%dT%H:%M:%S.000+00:00"),
            "datetimei": int(DEPLOY_AT.timestamp()),
            "options": {"label": {"text": LABEL}, "borderColor": SVG},
        },
    )
    for n in range(3):
        at = NOW - timedelta(minutes=10 + n)
        add(
            "resources",
            dict(zip(("server", "context", "role"), TARGET, strict=True)) | minute(at),
            {
                "cpu": {"one_min": 0.5 + n, "five_min": 0.4, "fifteen_min": 0.3},
                "memory": 2.0e9,
                "disk": {"available": 5.0e10, "total": 1.0e11, "used": 5.0e10},
            },
        )
        epoch = minute(at)["datetimei"]
        add(
            "sidekiq",
            {"queue": SCRIPT, "worker": IMG, "jid": f"{n}{LINK}", **minute(at),
             "enqueued_ati": epoch, "start_timei": epoch, "status": SVG},
            {"duration": 120.0, "message": f"{SCRIPT} {PIPES}"},
        )  # fmt: skip
        add(
            "delayed_job",
            {"jid": f"{n}{SVG}", **minute(at), "source_type": SCRIPT, "class_name": IMG,
             "method_name": LINK, "status": MATH},
            {"duration": 80.0},
        )  # fmt: skip
        add(
            "grape",
            {**minute(at), "format": SCRIPT, "path": f"/{IMG}|{PIPES}", "status": 200,
             "method": LINK, "request_id": f"{n}{TICKS}"},
            {"endpoint_render.grape": 1.0, "endpoint_run.grape": 20.0,
             "format_response.grape": 0.5},
        )  # fmt: skip
        add(
            "rake",
            {"task": json.dumps([SCRIPT, f"{IMG}|{PIPES}"]), **minute(at), "status": SVG},
            {"duration": 3000.0},
        )
        add(
            "custom",
            {"tag_name": SCRIPT, "namespace_name": IMG, **minute(at), "status": LINK},
            {"duration": 50.0},
        )
    return records


class Dom(HTMLParser):
    """What the page Chromium left holds: its text nodes (with the elements around them),
    every attribute, and the text of every script but the check's own."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}  # fmt: skip

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, list[tuple[str, dict[str, str | None]]]]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs) -> None:
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_endtag(self, tag) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                break

    def handle_data(self, data) -> None:
        inside = [tag for tag, _ in self.stack]
        if "script" in inside:
            if MARKER not in data:
                self.scripts.append(data)
        elif "style" not in inside:
            self.texts.append((data, list(self.stack)))

    def shown(self, text: str) -> list[list[tuple[str, dict[str, str | None]]]]:
        """The elements around each text node that holds ``text``."""
        return [stack for data, stack in self.texts if text in data]


def math_free(stack: list[tuple[str, dict[str, str | None]]]) -> bool:
    """Whether MathJax leaves text in these elements alone: code, pre, or an ignore class."""
    classes = set(markup.NO_MATH_CLASSES.split())
    return any(
        tag in ("code", "pre") or classes & set((attrs.get("class") or "").split())
        for tag, attrs in stack
    )


@pytest.fixture(scope="module")
def page(chromium, tmp_path_factory) -> dict[str, Any]:
    """Headless Chromium's view of the request report (``rp-toolkit report``) of the hostile
    records on a server of its own: the last hour, a 15-minute deploy window."""
    out = tmp_path_factory.mktemp("hostile")
    with RedisServer() as server:
        for kind, (keys, values) in hostile_records().items():
            assert keys, f"no {kind} record"
            ttl = KINDS[kind].ttl_seconds or None
            synth.write_records(server.url, keys, values, ttl, overwrite=True)
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        run = run_cli(
            "report", "--redis-url", server.url, "--out", str(out),
            "--notebooks", "request_performance",
            "-p", "hours", "1", "-p", "end", (NOW + timedelta(minutes=1)).isoformat(),
            "-p", "deploy_window_minutes", "15", "-p", "deploy_min_requests", "3",
            "--no-progress", env=env,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return check_page(chromium, out / "request_performance.html", watch=["__pwned"], dom=True)


@pytest.mark.slow
def test_no_recorded_text_runs_or_becomes_an_element_in_the_report(page) -> None:
    assert page["watched"] == {"__pwned": None}  # no payload ran
    assert page["errors"] == []  # no cell failed, no chart failed to draw
    assert page["images"] and all(image["loaded"] for image in page["images"])
    dom = Dom(page["dom"])
    assert not [s for s in dom.scripts if "__pwned" in s]  # no script of the data's
    smuggled = [(tag, name) for tag, name, value in dom.attributes if "__pwned" in value]
    assert {name for _, name in smuggled} <= {"title"}, smuggled  # only a cut text's tooltip
    assert not [a for a in dom.attributes if a[2].strip().lower().startswith("javascript:")]
    assert not [a for a in dom.attributes if a[1].startswith("on")]  # no handler at all
    assert not [a for a in dom.attributes if a[0] == "svg" or (a[0] == "img" and a[2] == "x")]
    # Every hostile text node is one MathJax leaves alone ($\alpha$ stays $\alpha$).
    for stack in dom.shown("$"):
        assert math_free(stack), [tag for tag, _ in stack]


@pytest.mark.slow
def test_the_report_shows_every_hostile_text_as_text(page) -> None:
    """Otherwise the test above proves nothing: each payload reached the page, as text."""
    dom = Dom(page["dom"])
    shown = {
        "the endpoint (sentences)": ENDPOINT,
        "the deploy label (its sentence)": LABEL,
        "the exception (crashes)": EXCEPTION,
        "a path (slow requests)": SHORT_PATH,
        "a path ending in a byte that is not UTF-8": SHORT_PATH + "\\xff",
        "the slowest request's id (trace)": SLOWEST_ID,
        "its longest SQL (trace)": SQL,
        "a server / context / role (resources)": " / ".join(TARGET),
    }
    missing = [what for what, text in shown.items() if not dom.shown(text)]
    assert not missing, f"not shown as text: {missing}"
    tooltips = [value for tag, name, value in dom.attributes if name == "title"]
    assert LONG_PATH in tooltips and LABEL in tooltips  # cut in a table: the full text on hover
    assert any(text.startswith(LONG_PATH[:20]) for text, _ in dom.texts)
    # In the sentences they are code: shown as they are, and left alone by MathJax.
    for text in (ENDPOINT, LABEL, EXCEPTION, SLOWEST_ID, SQL):
        assert any(stack and stack[-1][0] == "code" for stack in dom.shown(text)), text

"""A page checked in a real browser: headless Chromium lays out an HTML report at a given window
size and a script injected into the page reports what a reader would see. No Python browser
driver: Chromium's ``--dump-dom`` prints the page after the script has written its findings
into it.

What the script finds (:func:`check_page` returns it, :func:`problems` phrases the failures):

* ``images``: every ``<img>`` that did not load (not complete, or no natural width);
* ``errors``: every output a notebook wrote to stderr, which nbconvert renders as
  ``data-mime-type="application/vnd.jupyter.stderr"`` (prints to stderr, warnings such as a
  DeprecationWarning, and a failed cell's traceback alike), and any other output holding a
  traceback;
* ``tables``: every ``<table>`` with its rendered width, its ``scrollWidth`` and its right
  edge, the heading above it and its column names; one is too wide (:func:`too_wide`) when
  its width passes the window's, or its right edge the window's visible width;
* ``watched``: the value (as text, ``null`` when unset) of each window global named in
  ``check_page``'s ``watch``, e.g. one a script smuggled into the page would set;
* ``title`` (the page's), ``prompts`` (whether an ``In [n]:``/``Out[n]:`` prompt is shown) and
  ``glance``: where the "At a glance" heading and the list after it start and end (px from the
  page's top) and the list's items, or null.

With ``dom=True`` the result also holds ``dom``: the page as Chromium dumped it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

VIEWPORT = (1280, 900)
"""The window the reports must fit: 1280 px wide (a laptop), 900 px high."""

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MARKER = "rp-browser-check"

# Runs in the window's load handler: every image has loaded or failed by then, reading a size
# lays the page out, and Chromium's --dump-dom, which follows the load event, always sees the
# findings (a timer or an animation frame after the load event can miss the dump). Writes them
# as JSON into <pre id="rp-browser-check">.
CHECK_SCRIPT = r"""
<script>
(function () {
  const MARKER = "__MARKER__";
  const WATCH = __WATCH__;
  const text = (node, limit) => (node.textContent || "").replace(/\s+/g, " ").trim()
    .slice(0, limit);
  const headingBefore = (node) => {
    const all = Array.from(document.querySelectorAll("h1, h2, h3, h4"));
    let last = null;
    for (const h of all) {
      if (h.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING) last = h;
    }
    return last ? text(last, 80).replace(/\u00b6$/, "").trim() : "";
  };
  const visible = (node) => node.getClientRects().length > 0;
  function check() {
    const viewport = document.documentElement.clientWidth;
    const images = Array.from(document.images).map((img, index) => ({
      index: index,
      src: (img.getAttribute("src") || "").slice(0, 60),
      loaded: img.complete && img.naturalWidth > 0,
      width: img.getBoundingClientRect().width,
    }));
    const seen = new Set();
    const errors = [];
    const add = (node, kind) => {
      if (seen.has(node)) return;
      seen.add(node);
      errors.push({kind: kind, visible: visible(node), heading: headingBefore(node),
                   text: text(node, 600)});
    };
    document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')
      .forEach((node) => add(node, "stderr"));
    document.querySelectorAll(".jp-OutputArea-output").forEach((node) => {
      if (/Traceback \(most recent call last\)/.test(node.textContent || "")) {
        add(node, "traceback");
      }
    });
    const tables = Array.from(document.querySelectorAll("table")).map((table, index) => {
      const rect = table.getBoundingClientRect();
      const row = table.querySelector("thead tr") || table.querySelector("tr");
      const columns = row ? Array.from(row.children).map((c) => text(c, 40)) : [];
      return {
        index: index,
        heading: headingBefore(table),
        columns: columns,
        rows: table.rows.length,
        width: Math.round(rect.width * 10) / 10,
        scroll_width: table.scrollWidth,
        left: Math.round(rect.left * 10) / 10,
        right: Math.round(rect.right * 10) / 10,
      };
    });
    const glanceHeading = Array.from(document.querySelectorAll("h2"))
      .find((h) => text(h, 80).startsWith("At a glance"));
    let glance = null;
    if (glanceHeading) {  // the first list after the heading: the first screen's lines
      const lists = Array.from(document.querySelectorAll("ul"))
        .filter((ul) => glanceHeading.compareDocumentPosition(ul) &
                        Node.DOCUMENT_POSITION_FOLLOWING);
      if (lists.length) {
        glance = {top: glanceHeading.getBoundingClientRect().top + window.scrollY,
                  bottom: lists[0].getBoundingClientRect().bottom + window.scrollY,
                  items: lists[0].children.length};
      }
    }
    const result = {
      title: document.title,
      prompts: /(^|\s)(Out|In)\s?\[\d*\]:/.test(document.body.innerText),
      glance: glance,
      viewport: {inner_width: window.innerWidth, client_width: viewport,
                 page_scroll_width: document.documentElement.scrollWidth},
      images: images, errors: errors, tables: tables,
      watched: Object.fromEntries(WATCH.map((name) =>
        [name, name in window ? String(window[name]) : null])),
    };
    let out = document.getElementById(MARKER);
    if (!out) {
      out = document.createElement("pre");
      out.id = MARKER;
      out.style.display = "none";
      document.body.appendChild(out);
    }
    out.textContent = JSON.stringify(result);
  }
  window.addEventListener("load", check);
})();
</script>
""".replace("__MARKER__", MARKER)


def find_chromium() -> tuple[str | None, str]:
    """The Chromium to use and how it was found, or ``None`` and why not: ``$RP_CHROMIUM``
    when set (a path or a name on PATH), else the first of :data:`CANDIDATES` on PATH."""
    chosen = os.environ.get("RP_CHROMIUM")
    if chosen:
        found = shutil.which(chosen)
        if found:
            return found, f"RP_CHROMIUM={chosen}"
        return None, f"RP_CHROMIUM={chosen} is not an executable"
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found, f"{name} on PATH"
    return None, (
        f"none of {', '.join(CANDIDATES)} on PATH (apt-get install chromium, as .ci/run does, "
        "or set RP_CHROMIUM to a Chromium or Chrome binary)"
    )


def inject(page: str, watch: Sequence[str] = ()) -> str:
    """``page`` with the check script (watching the globals ``watch``) added at the end of its
    body."""
    script = CHECK_SCRIPT.replace("__WATCH__", json.dumps(list(watch)))
    at = page.lower().rfind("</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def check_page(
    chromium: str,
    page: str | Path,
    *,
    viewport: tuple[int, int] = VIEWPORT,
    budget_ms: int = 10_000,
    timeout: float = 180,
    watch: Sequence[str] = (),
    dom: bool = False,
) -> dict[str, Any]:
    """What a reader of ``page`` (HTML text, or the path of an HTML file) sees in headless
    Chromium at ``viewport``: the findings of :data:`CHECK_SCRIPT` (see the module's doc),
    with the globals named in ``watch`` and, with ``dom``, the page as Chromium left it.

    The page is copied, with the script, beside the original (so relative image paths resolve
    as they would for the reader). The network is off, so every run is alike: the reports embed
    their images, and the CDN scripts nbconvert links (require.js, MathJax) fail to load, as
    they would for a reader offline."""
    if isinstance(page, Path):
        folder, text = page.resolve().parent, page.read_text(encoding="utf-8")
    else:
        folder, text = None, page
    with tempfile.TemporaryDirectory(prefix="rp-browser-") as work:
        handle, name = tempfile.mkstemp(suffix=".html", prefix=".rp-browser-", dir=folder or work)
        os.close(handle)
        copy = Path(name)
        try:
            copy.write_text(inject(text, watch), encoding="utf-8")
            done = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--host-resolver-rules=MAP * ~NOTFOUND",
                    f"--user-data-dir={work}/profile",
                    f"--window-size={viewport[0]},{viewport[1]}",
                    f"--virtual-time-budget={budget_ms}",
                    "--dump-dom",
                    copy.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        finally:
            copy.unlink(missing_ok=True)
    found = re.search(rf'<pre id="{MARKER}"[^>]*>(.*?)</pre>', done.stdout, re.DOTALL)
    if found is None:
        raise RuntimeError(
            f"Chromium (exit {done.returncode}) printed no findings; its stderr ends: "
            f"{done.stderr[-2000:]}"
        )
    result = json.loads(html.unescape(found.group(1)))
    result["window"] = list(viewport)
    if dom:
        result["dom"] = done.stdout
    return result


def too_wide(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The tables of ``result`` a reader must scroll sideways to see: wider than the window
    (rendered or scroll width), or reaching past the visible width (the window less its
    vertical scroll bar)."""
    limit, visible = result["window"][0], result["viewport"]["client_width"]
    return [
        table
        for table in result["tables"]
        if max(table["width"], table["scroll_width"]) > limit or table["right"] > visible
    ]


def problems(result: dict[str, Any]) -> list[str]:
    """What a reader would notice in ``result``, one line each; empty when the page is fine."""
    lines = [
        f"image {image['index']} did not load (src {image['src']!r})"
        for image in result["images"]
        if not image["loaded"]
    ]
    lines += [
        f"{error['kind']} output under {error['heading']!r}: {error['text'][:300]}"
        for error in result["errors"]
    ]
    limit, visible = result["window"][0], result["viewport"]["client_width"]
    lines += [
        f"table {table['index']} under {table['heading']!r} ({table['rows']} rows; columns "
        f"{', '.join(filter(None, table['columns']))}) is {table['width']:g} px wide "
        f"(scrollWidth {table['scroll_width']}) and ends at {table['right']:g} px: the window is "
        f"{limit} px, {visible} px of it visible beside the scroll bar"
        for table in too_wide(result)
    ]
    return lines

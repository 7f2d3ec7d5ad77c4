"""Text from records, shown to people as text: one escaping for each place it is rendered.

Paths, controllers, exceptions, deploy labels, job names, SQL, request ids and host names come
from the internet. Whatever shows them goes through this module, so none of it becomes markup:

* **Markdown** (the report's sentences, :mod:`rp_toolkit.reports.findings`, displayed with
  ``IPython.display.Markdown``; nbconvert's mistune renderer passes raw HTML and
  ``javascript:`` links through and reads ``$...$`` as math): :func:`code_span` shows any text
  as it is and is what recorded text in a sentence should be (MathJax leaves code alone);
  :func:`markdown_text` escapes text for running text and table cells.
* **HTML** (the tables' cells and tooltips, :mod:`rp_toolkit.reports.tables`):
  :func:`html_text`, for element content and quoted attribute values alike;
  :data:`NO_MATH_CLASSES` on an element keeps MathJax (the HTML report's and JupyterLab's)
  from typesetting ``$...$`` in it.
* **Charts** (:mod:`rp_toolkit.reports.plots`): :func:`chart_text`, so matplotlib draws
  ``$x$`` as it is rather than as mathtext.

Each first makes the text :func:`visible`: line breaks become spaces (a label stays on its
line), other control characters and lone surrogates (bytes that were not UTF-8) the
replacement character. Pure: no I/O.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = [
    "NO_MATH_CLASSES",
    "chart_text",
    "code_span",
    "html_text",
    "markdown_text",
    "visible",
]

NO_MATH_CLASSES = "tex2jax_ignore mathjax_ignore"
"""The classes MathJax 2 (nbconvert's HTML) and MathJax 3 (JupyterLab) skip an element by."""

_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_BACKTICKS = re.compile("`+")

# Markdown: characters that are syntax wherever they stand. The five that also mean something
# to HTML, to a backslash escape or to the math extension become character references (the
# renderer shows those as text, never as structure); the rest get a backslash.
_MARKDOWN_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "&#92;", "$": "&#36;"}
_MARKDOWN_ESCAPED = {char: "\\" + char for char in "`*_~[]|"}
_MARKDOWN_INLINE = str.maketrans({**_MARKDOWN_REFERENCES, **_MARKDOWN_ESCAPED})
# Syntax only at the start of a line: headings, list items, breaks, definitions, block quotes
# (">" is a reference already), an ordered item's "1. " or "1)" (not a version's "6.2");
# leading blanks (indented code).
_LINE_START = re.compile(r"^(?:[#+\-=:]|\d{1,9}[.)](?=[ \t]|$))")
_LEADING_SPACE = re.compile(r"^[ \t]+")


def visible(text: Any) -> str:
    """``text`` as one line of visible characters: line breaks (``\\n``, ``\\r``, the Unicode
    separators) become spaces; other control characters (tab stays) and lone surrogates become
    ``\\ufffd``."""
    return _INVISIBLE.sub("\ufffd", _LINE_BREAK.sub(" ", str(text)))


def code_span(text: Any) -> str:
    """``text`` as a Markdown code span: shown exactly as it is, whatever it holds.

    The fence is one backtick longer than the longest run of backticks in ``text``, and a
    space pads it where Markdown would otherwise eat one (a backtick at either end, or a space
    at both). Empty text is a code span of one space. Keep two spans apart by other text
    (adjacent fences would join)."""
    text = visible(text) or " "
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    both_spaces = text.startswith(" ") and text.endswith(" ") and text.strip(" ")
    pad = " " if text[0] == "`" or text[-1] == "`" or both_spaces else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_text(text: Any) -> str:
    """``text`` escaped for running Markdown text or a table cell: it renders as these very
    characters, never as HTML, a link, emphasis, code, math, a table column or a block.

    ``& < > \\ $`` become character references; `` ` * _ ~ [ ] | `` a backslash escape, and
    so do a ``:`` before ``/`` (no bare URL becomes a link) and a first character that would
    start a heading, list item, rule or definition; leading spaces and tabs become
    references (no indented code). MathJax in a browser may still read ``$...$`` in running
    text: for recorded text in a sentence prefer :func:`code_span`."""
    escaped = visible(text).translate(_MARKDOWN_INLINE).replace(":/", "\\:/")
    escaped = _LINE_START.sub(lambda m: m[0][:-1] + "\\" + m[0][-1], escaped)
    return _LEADING_SPACE.sub(lambda m: "".join(f"&#{ord(c)};" for c in m[0]), escaped)


def html_text(text: Any) -> str:
    """``text`` escaped for HTML element content or a quoted attribute value (``& < > " '``
    as references)."""
    return html.escape(visible(text), quote=True)


def chart_text(text: Any) -> str:
    """``text`` for a matplotlib label (a title, tick, legend entry, annotation) drawn as it
    is: every ``$`` escaped, so mathtext never starts (matplotlib shows ``\\$`` as ``$``)."""
    return visible(text).replace("$", r"\$")

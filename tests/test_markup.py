"""Text from records stays text wherever it is shown: rendered by the Markdown renderer the HTML
report uses (nbconvert's mistune, with its math, table and URL extensions), any text comes back
as those characters only, with no element, attribute or link of its own; HTML escaping holds in
content and attributes; matplotlib never reads a label as mathtext."""

from __future__ import annotations

import html

from hypothesis import example, given
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cbook import is_math_text
from matplotlib.figure import Figure
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from rp_toolkit.markup import (
    NO_MATH_CLASSES,
    chart_text,
    code_span,
    html_text,
    markdown_text,
    visible,
)
from tests.support import Page

# Characters that mean something to Markdown, HTML, the math extension or a URL, often enough
# that hypothesis combines them; then any text at all (surrogates too: undecodable key bytes).
SYNTAX = list("<>&\"'`*_~[]()|#+-=:!.\\$/{}^@ \t\n\r") + [
    "$$", "\\(", "\\[", "\\begin{x}", "\\end{x}", "](", "javascript:", "http://", "www.",
    "&amp;", "&#36;", "<script>", "<img src=x onerror=1>", "    ", "1.", "---", "```", "@@1@@",
]  # fmt: skip
UNDECODABLE = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF, categories=["Cs"])
ANY_TEXT = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.text(max_size=5), UNDECODABLE), max_size=12
).map("".join)


def rendered(markdown: str) -> Page:
    return Page(markdown2html_mistune(markdown))


def strings() -> st.SearchStrategy[str]:
    return st.one_of(ANY_TEXT, st.text(max_size=30))


@given(strings())
@example("<script>window.__pwned=1</script>")
@example("[x](javascript:window.__pwned=1)")
@example('<img src=x onerror="window.__pwned=1">')
@example("$\\alpha$ and $$x$$ and \\(y\\) \\begin{eq}z\\end{eq}")
@example("    indented")
@example("# heading | a | b")
@example("1. item")
@example("https://evil.example/x www.evil.example")
@example("&amp; &#60; &lt")
@example("\ud800 \x00 \x1b")
def test_markdown_text_renders_as_its_characters_only(text: str) -> None:
    for markdown in (markdown_text(text), f"At {markdown_text(text)} (deploy)."):
        page = rendered(markdown)
        assert set(page.tags) <= {"p"}, (text, markdown2html_mistune(markdown))
        assert page.attrs == []
    page = rendered(f"At {markdown_text(text)} (deploy).")
    assert page.text.strip("\n") == f"At {visible(text)} (deploy)."


@given(strings(), strings(), strings())
def test_escaped_text_and_code_spans_in_one_sentence_stay_apart(a: str, b: str, c: str) -> None:
    """Math or a link cannot pair a ``$`` or a bracket of one value with another's."""
    page = rendered(f"**{markdown_text(a)}** then {code_span(b)} and {markdown_text(c)} $.")
    assert set(page.tags) <= {"p", "strong", "code"}
    assert page.attrs == []
    assert page.by_tag.get("code") == (visible(b) or " ")
    assert page.text.strip("\n").endswith(f" then {visible(b) or ' '} and {visible(c)} $.")


@given(strings())
@example("`a` ``b``")
@example(" a ")
@example("")
@example("$x$ <b>")
def test_code_spans_show_any_text_as_it_is(text: str) -> None:
    page = rendered(f"At **{code_span(text)}** (x).")
    assert page.tags == ["p", "strong", "code"]
    assert page.attrs == []
    assert page.by_tag["code"] == (visible(text) or " ")


@given(strings())
def test_markdown_text_in_a_table_cell_is_one_cell_of_that_text(text: str) -> None:
    page = rendered(f"| a | b |\n|---|---|\n| {markdown_text(text)} | x |\n")
    assert page.tags == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert page.attrs == []
    assert page.by_tag["td"].strip() == visible(text).strip() + "x"


@given(strings())
def test_html_text_is_text_in_content_and_in_attributes(text: str) -> None:
    page = Page(f'<span title="{html_text(text)}">{html_text(text)}</span>')
    assert page.tags == ["span"]
    assert page.attrs == [("title", visible(text))]
    assert page.text == visible(text)
    single = Page(f"<span title='{html_text(text)}'></span>")
    assert single.attrs == [("title", visible(text))]


def test_visible_keeps_a_label_on_one_line_of_characters() -> None:
    assert visible("a\r\nb\nc\u2028d") == "a b c d"
    assert visible("x\x00y\x1b\ud800\t") == "x\ufffdy\ufffd\ufffd\t"
    assert visible(12) == "12"
    assert NO_MATH_CLASSES.split() == ["tex2jax_ignore", "mathjax_ignore"]


@given(strings())
@example("$\\alpha$")
@example("\\$x$")
@example("cost $5 and $6")
def test_chart_text_is_never_mathtext_and_reads_as_the_text(text: str) -> None:
    label = chart_text(text)
    assert not is_math_text(label)
    assert label.replace("\\$", "$") == visible(text)


def test_a_chart_draws_escaped_text_as_the_plain_text_would_be_drawn() -> None:
    figure = Figure()
    axes = figure.subplots()
    escaped = axes.text(0, 0, chart_text("deploy $\\alpha$ at $x^2$"))
    plain = axes.text(0, 0.5, "deploy $\\alpha$ at $x^2$", parse_math=False)
    mathtext = axes.text(0, 0.8, "deploy $\\alpha$ at $x^2$")
    renderer = FigureCanvasAgg(figure).get_renderer()
    width = [t.get_window_extent(renderer).width for t in (escaped, plain, mathtext)]
    assert width[0] == width[1] != width[2]


def test_html_text_escapes_quotes_and_markup() -> None:
    assert html_text('"><svg onload=x>') == "&quot;&gt;&lt;svg onload=x&gt;"
    assert html.unescape(html_text("a & 'b'")) == "a & 'b'"

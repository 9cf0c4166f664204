"""Support for the stored-XSS tests: payloads that fit each field, a browser-like form filler,
a crawler that opens every page a user can reach by links, and readers of the PDFs.

The form filler posts a form the way a browser does — every field the page rendered, with
its shown value (hidden fields, the lock the user saw, selected options, checked boxes), plus
the values the test types — so the tests store their payloads through the real forms without
knowing each form's hidden plumbing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import BytesIO
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from flask.testing import FlaskClient
from markupsafe import escape
from pypdf import PdfReader
from werkzeug.test import TestResponse

# -- payloads ---------------------------------------------------------------------------------

#: What a payload is made of, most important first; each field gets as many as its length
#: limit allows. HTML: a script, an attribute break-out with an event handler, a textarea
#: break-out. ReportLab's paragraph markup: bold, a link, an image of a local file, entities.
#: A ``javascript:`` URL, in case a page ever builds a link from typed text.
PIECES = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><b>fet</b>",
    " & &lt;",
    ' <a href="https://evil.example">x</a>',
    ' <img src="/etc/passwd"/>',
    " javascript:alert(1)",
    " <font color=red>r</font> <link href='https://evil.example'>l</link>",
)

#: Template injection: shown as typed, never evaluated (to 49).
TEMPLATE = "{{7*7}}"

#: What no page may contain: a payload's markup taken as markup.
RAW_MARKERS = (
    "<script>alert(1)",
    "<img src=x",
    "onerror=alert(1)>",
    "<b>fet</b>",
    '<a href="https://evil.example"',
    '<img src="/etc/passwd"',
    'href="javascript:',
    "<font color=red>",
)

#: A tag whose template part was evaluated: ``q07q{{7*7}}`` rendered as ``q07q49``.
_EVALUATED = re.compile(r"q\d\dq49")


def payload(tag: str, limit: int) -> str:
    """``tag``, the template expression, and as many :data:`PIECES` as fit in ``limit``
    characters, in order (a piece that does not fit is skipped, a later shorter one may fit)."""
    text = tag + TEMPLATE
    for piece in PIECES:
        if len(text) + len(piece) <= limit:
            text += piece
    assert len(text) >= len(tag) + len(TEMPLATE) + len(PIECES[0]), f"{tag}: limit too small"
    return text


def escaped(value: str) -> str:
    """``value`` as a Jinja template with autoescaping renders it."""
    return str(escape(value))


def raw_markup(page: str) -> list[str]:
    """The payload markup a page contains as markup (none, when everything is escaped)."""
    found = [marker for marker in RAW_MARKERS if marker in page]
    found += _EVALUATED.findall(page)
    return found


# -- forms ------------------------------------------------------------------------------------


@dataclass
class Form:
    """One ``<form>`` of a page: where it posts, and what a browser would send unchanged."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: Submit buttons (name, value), in page order.
    buttons: list[tuple[str, str]] = field(default_factory=list)
    #: Every field's name, unchecked boxes included: what the user can type into or tick.
    names: set[str] = field(default_factory=set)


class _FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        #: The select's options so far: value (None: the text), text, selected.
        self._options: list[list[object]] = []
        self._in_option = False
        self._multiple = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            self._form = Form(action, (a.get("method") or "get").lower())
            self.forms.append(self._form)
        if self._form is None or "disabled" in a:
            return
        if tag in ("input", "textarea", "select") and a.get("name"):
            self._form.names.add(a["name"])
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._form.buttons.append((a["name"], a.get("value", "")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self._form.fields.append((a["name"], a.get("value", "on")))
        elif tag == "button" and a.get("name"):
            self._form.buttons.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "select" and a.get("name"):
            self._select, self._options, self._multiple = a["name"], [], "multiple" in a
        elif tag == "option" and self._select is not None:
            self._options.append([a.get("value"), "", "selected" in a])
            self._in_option = True

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)
        elif self._in_option:
            self._options[-1][1] = f"{self._options[-1][1]}{data}"

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # A browser drops the newline right after <textarea>.
            text = text[2:] if text.startswith("\r\n") else text[1:] if text[:1] == "\n" else text
            self._form.fields.append((self._textarea, text))
            self._textarea = None
        elif tag == "option":
            self._in_option = False
        elif tag == "select" and self._select is not None:
            values = [(str(text) if value is None else str(value), bool(selected))
                      for value, text, selected in self._options]  # fmt: skip
            chosen = [value for value, selected in values if selected]
            if not chosen and not self._multiple:
                chosen = [value for value, _selected in values[:1]]
            self._form.fields.extend((self._select, value) for value in chosen)
            self._select = None
        elif tag == "form":
            self._form = None


def forms_of(page: str, page_url: str) -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(page)
    return parser.forms


def form_on(page: str, page_url: str, action: str, index: int = 0) -> Form:
    """The ``index``-th form on ``page`` that posts to ``action`` (a path)."""
    found = [f for f in forms_of(page, page_url) if urlsplit(f.action).path == action]
    assert len(found) > index, f"no form posting to {action} on {page_url}"
    return found[index]


def fill(
    client: FlaskClient,
    page_url: str,
    action: str,
    values: Mapping[str, str | Iterable[str]],
    *,
    press: str | None = None,
    index: int = 0,
    post_to: str | None = None,
) -> TestResponse:
    """Open ``page_url``, fill in its form posting to ``action`` with ``values`` (a list for a
    field with several values, e.g. checkboxes) and press ``press`` (default the first button).
    Posts to ``post_to`` instead when the button has a ``formaction`` of its own."""
    page = client.get(page_url)
    assert page.status_code == 200, f"{page_url}: {page.status_code}"
    form = form_on(page.text, page_url, action, index)
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    for name, value in values.items():
        assert name in form.names, f"no field {name} in the form posting to {action}"
        data[name] = [value] if isinstance(value, str) else list(value)
    buttons = dict(form.buttons)
    if press is not None:
        assert press in buttons, f"no button {press} on the form posting to {action}"
        data[press] = [buttons[press]]
    elif form.buttons:
        name, value = form.buttons[0]
        data[name] = [value]
    return client.post(post_to or form.action, data=data)


# -- crawling ---------------------------------------------------------------------------------

_HREF = re.compile(r'href="([^"]*)"')
#: Files, not pages: opened by the PDF and CSV tests.
FILE_SUFFIXES = (".pdf", ".csv")
#: Links that lead to a file though their path does not say so (the plan's print view).
FILE_PATHS = re.compile(r"/plan/print$|/consents/summary$")


#: More pages than this means the crawl is walking an endless list of filter links.
PAGE_LIMIT = 400


@dataclass
class Crawl:
    """The pages one user reached by following links: HTML by URL, the file links seen, and
    the views that answered."""

    pages: dict[str, str] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)


def links(page: str, base: str) -> list[str]:
    """The same-site links of ``page`` (no static files, no fragments), without the ``next``
    parameter (where to return to: the same page whichever page links to it)."""
    found = []
    for href in _HREF.findall(page):
        url = urljoin(base, html.unescape(href)).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("/static/"):
            continue
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "next"]
        found.append(parts.path + (f"?{urlencode(query)}" if query else ""))
    return found


def crawl(
    client: FlaskClient,
    starts: Mapping[str, str],
    endpoint_of: Callable[[str], str],
    skip: Callable[[str], bool] = lambda url: False,
) -> Crawl:
    """Every page reachable from ``starts`` (url → its HTML, already fetched) by links, each
    opened once; every link must open (200). A page is one view with one set of query
    parameters: ``?kind=employer`` and ``?kind=municipality`` preselect a choice on the same
    form, so only the first is opened. ``skip`` leaves out links not worth following (pages of
    other records that show nothing typed here)."""
    result = Crawl()
    queue = list(starts)
    result.pages.update(starts)
    seen = {_page_key(url) for url in starts}
    result.endpoints.update(endpoint_of(url) for url in starts)
    while queue:
        base = queue.pop(0)
        for url in links(result.pages[base], base):
            path = urlsplit(url).path
            if path.endswith(FILE_SUFFIXES) or FILE_PATHS.search(path):
                if not skip(url):
                    result.files.add(url)
                continue
            if _page_key(url) in seen or skip(url):
                continue
            seen.add(_page_key(url))
            assert len(result.pages) < PAGE_LIMIT, f"more than {PAGE_LIMIT} pages: {sorted(seen)}"
            response = client.get(url)
            assert response.status_code == 200, f"{url} (linked from {base}): {response.status}"
            assert response.mimetype == "text/html", url
            result.pages[url] = response.text
            result.endpoints.add(endpoint_of(url))
            queue.append(url)
    return result


def _page_key(url: str) -> tuple[str, frozenset[str]]:
    parts = urlsplit(url)
    return parts.path, frozenset(name for name, _value in parse_qsl(parts.query))


# -- PDFs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pdf:
    """What a PDF shows and carries: its text, link annotations and images."""

    text: str
    uris: list[str]
    images: int

    def shows(self, value: str) -> bool:
        """Whether ``value`` appears as typed (whitespace aside: cells wrap lines)."""
        return _squeezed(value) in _squeezed(self.text)


def _squeezed(value: str) -> str:
    return "".join(value.split())


def read_pdf(data: bytes) -> Pdf:
    assert data.startswith(b"%PDF-"), data[:40]
    reader = PdfReader(BytesIO(data))
    text, uris, images = [], [], 0
    for page in reader.pages:
        text.append(page.extract_text())
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            uris.append(str(action.get("/URI", annotation.get_object().get("/Subtype"))))
        images += len(page.images)
    return Pdf("\n".join(text), uris, images)

"""Check that every link between the pages of a built HTML site resolves.

Sphinx warns about references it cannot resolve while it builds; this checks the result:
every ``href`` and ``src`` of every page that points inside the site must name a file
that exists and, with a ``#fragment``, an element with that ``id`` in it. Links to other
sites are not followed (the build machine has no network).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    """The links and the element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif (name == "href" and tag in ("a", "link")) or (name == "src" and tag == "img"):
                self.links.append(value)


def _parsed(pages: dict[Path, _Page], path: Path) -> _Page:
    """The page at ``path``, parsed once."""
    if path not in pages:
        pages[path] = _Page()
        pages[path].feed(path.read_text(encoding="utf-8"))
    return pages[path]


def broken_links(site: str | Path) -> list[str]:
    """Every link inside the built site ``site`` that does not resolve, as
    ``page: link (reason)``; empty when all resolve."""
    site = Path(site).resolve()
    pages: dict[Path, _Page] = {}
    broken = []
    for path in sorted(site.rglob("*.html")):
        page = _parsed(pages, path)
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            where = f"{path.relative_to(site)}: {link}"
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(site):
                broken.append(f"{where} (outside the site)")
            elif not target.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parsed(pages, target).ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken

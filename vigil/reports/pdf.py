"""HTML to PDF with WeasyPrint (pango does the text layout: Debian's libpango-1.0-0 and
libpangoft2-1.0-0). The documents load nothing from outside: no URL fetcher is allowed, so a
link in an incident's text can never be fetched while printing."""

from typing import Any


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"documents load nothing from outside ({url[:80]})")


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads pango

    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()

"""Printable documents as PDF (WeasyPrint), from the same HTML as their pages.

The CJK font (Debian fonts-noto-cjk, installed by the set-up) is asked for by name in the
stylesheets; without it the PDF still renders with whatever font fontconfig falls back to.
Nothing is fetched over the network: only ``data:`` URIs (a QR code) are allowed."""

from __future__ import annotations

from django.contrib.staticfiles import finders


def render_pdf(html: str, stylesheets: tuple[str, ...] = ()) -> bytes:
    """``stylesheets``: static paths (``app/file.css``) applied in order."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    sheets = []
    for name in stylesheets:
        path = finders.find(name)
        if path:
            with open(path, encoding="utf-8") as f:
                sheets.append(CSS(string=f.read(), url_fetcher=fetcher))
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=sheets)

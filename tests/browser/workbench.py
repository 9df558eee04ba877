"""What every workbench browser test checks on a page a caseworker sees (issue 12): plain
Chinese (no English codes, no tracebacks, no raw JSON), no console errors, no 4xx/5xx besides
the expected ones, and a screenshot of the page kept under var/screenshots/ for CI."""

from __future__ import annotations

import re
from pathlib import Path

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# What a person must never read on a page: codes of the models and the rules, tracebacks,
# JSON.  (Words such as "XLSX" or "CSV" are names of formats, not codes.)
CODES = re.compile(
    r"\b(?:[a-z]+_[a-z_]+|resident|adult|infant|student|window|late|exempt|newborn|registered|paid|"
    r"cancelled|community|online|channel|assistance|insert|update|None|True|False)\b")
LEAKS = ("Traceback", "Exception", "Error:", '{"', "PGH", "Select all", "pgh_")


class Watcher:
    """Collects console errors and failed responses of a page from the moment it is made."""

    def __init__(self, page, expected_statuses: tuple[int, ...] = ()):
        self.page = page
        self.console: list[str] = []
        self.failed: list[str] = []
        self.expected = expected_statuses
        page.on("console", lambda m: self.console.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console.append(f"{page.url}: {e}"))
        page.on("response", self._response)

    def _response(self, response):
        if response.status >= 400 and response.status not in self.expected:
            self.failed.append(f"{response.status} {response.url}")

    def assert_clean(self):
        assert self.console == [], self.console
        assert self.failed == [], self.failed


def visible_text(page, selector: str = "#content") -> str:
    return page.inner_text(selector)


def assert_plain_chinese(text: str, *, allow: tuple[str, ...] = ()) -> None:
    """No code, traceback or JSON in what the page shows (``allow``: words the page may show)."""
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} shown: {text[:2000]}"
    found = [m for m in CODES.findall(text) if m not in allow]
    assert found == [], f"codes shown: {found}"


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Domain errors of the quote, with the codes of INTERFACES.md section 2."""

# In order of precedence: when several apply, the first wins.
ERROR_CODES = (
    "invalid_input",
    "policy_missing",
    "not_eligible",
    "payment_day_not_allowed",
    "window_not_open",
    "window_closed",
    "value_not_in_source",
)


# Codes added beside the contract's table (INTERFACES.md: "add freely"): a flexible-employment
# quote for a region and year whose policy has no such scheme (decided right after policy_missing).
ADDED_CODES = ("scheme_not_offered",)


class QuoteError(Exception):
    """A request that cannot be answered; ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str, *, figure: str | None = None):
        assert code in ERROR_CODES or code in ADDED_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.figure = figure

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"QuoteError({self.code!r}, {self.message!r})"


def not_in_source(spec, figure_zh: str, figure_en: str) -> QuoteError:
    """The error for a figure the policy leaves unset (naming region, year, figure), in plain
    Chinese for the caseworker (INTERFACES.md §2); the English name stays on ``figure`` for logs."""
    return QuoteError(
        "value_not_in_source",
        f"{spec.region_name} {spec.year} 年度{figure_zh}，来源文件未给出",
        figure=figure_en,
    )

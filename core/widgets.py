"""Form widgets the screens share."""

from django import forms


class DateInput(forms.DateInput):
    """A browser date picker (``<input type="date">``).  Its value must be ISO 8601
    (1980-05-01): the zh-hans input format 1980/05/01 leaves the field blank (issue 12, item 2)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")

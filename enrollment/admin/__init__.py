"""Admin for residents and enrollments (region-scoped; writes go through services).

One module per concern; importing them registers the ModelAdmins on autodiscover.
"""

from .common import (
    ACTION_LIMIT,
    IdSearchMixin,
    MaskedIdColumnMixin,
    can_view_full_id,
    form_action,
    id_column,
    id_search,
    refusal,
    report_action,
    too_many_for_an_action,
)
from .enrollments import CancelForm, EnrollmentAdmin, PaidFilter, YearFilter
from .imports import ServiceImportMixin
from .lists import EmployeeCoverageAdmin, ReasonRegionFilter, ReregistrationNoticeAdmin
from .residents import EnrollmentInline, RegisterForm, ResidentAdmin, ResidentForm, resident_fields
from .zero_claims import ZeroClaimYearAdmin

__all__ = [
    "ACTION_LIMIT", "CancelForm", "EmployeeCoverageAdmin", "EnrollmentAdmin", "EnrollmentInline",
    "IdSearchMixin", "MaskedIdColumnMixin", "PaidFilter", "ReasonRegionFilter", "RegisterForm",
    "ReregistrationNoticeAdmin", "ResidentAdmin", "ResidentForm", "ServiceImportMixin", "YearFilter", "ZeroClaimYearAdmin",
    "can_view_full_id", "form_action", "id_column", "id_search", "refusal", "report_action", "resident_fields",
    "too_many_for_an_action",
]

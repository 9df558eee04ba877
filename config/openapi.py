"""The OpenAPI 3.1 document served at /api/v1/openapi.json."""

from django.views.decorators.csrf import csrf_exempt

from core.api import error_response, json_response
from family_pool import openapi as pool_openapi

MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["780.00"]}
DATE = {"type": "string", "format": "date"}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}},
}

QUOTE_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region", "year", "paid_on", "person"],
    "properties": {
        "region": {"type": "string", "pattern": r"^\d{6}$", "description": "GB/T 2260 code"},
        "year": {"type": "integer", "description": "benefit year"},
        "paid_on": DATE,
        "person": {
            "type": "object",
            "additionalProperties": False,
            "required": ["birth_date"],
            "properties": {
                "birth_date": DATE,
                "hukou": {"type": "string", "enum": ["local", "nonlocal"], "default": "local"},
                "residence_permit": {"type": "boolean", "default": False},
                "student": {"type": ["string", "null"], "enum": ["primary_secondary", "college", None]},
                "employee_insured": {"type": "boolean", "default": False},
                "parent_insured_locally": {"type": "boolean", "default": False},
            },
        },
        "identities": {"type": "array", "items": {
            "type": "object", "required": ["code"], "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "certified_on": {"type": ["string", "null"], "format": "date"},
                           "assessed_on": {"type": ["string", "null"], "format": "date",
                                           "description": "disability assessment (残疾评定) date; a certificate "
                                                          "new in the deadline's year must be assessed by it"}}}},
        "history": {"type": "object", "additionalProperties": {
            "type": "string", "enum": ["resident", "resident_zero_claim", "employee", "none"]}},
        "repaired_years": {"type": "array", "items": {"type": "integer"}},
        "left_other_scheme_on": {"type": ["string", "null"], "format": "date"},
        "scheme": {"type": "string", "enum": ["resident"], "default": "resident",
                   "description": "resident (城乡居民医保, the default); a flexible-employment quote is a "
                                  "FlexibleQuoteRequest with scheme flexible_employment"},
    },
}
FLEXIBLE_QUOTE_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "description": "灵活就业人员医疗保险 (Xianyang 610400 2025); other regions answer 404 scheme_not_offered",
    "required": ["region", "year", "paid_on", "scheme", "flexible"],
    "properties": {
        "region": {"type": "string", "pattern": r"^\d{6}$"},
        "year": {"type": "integer"},
        "paid_on": DATE,
        "scheme": {"type": "string", "enum": ["flexible_employment"]},
        "flexible": {
            "type": "object", "additionalProperties": False,
            "required": ["status", "file_held_at", "paid_previous_year"],
            "properties": {
                "status": {"type": "string", "enum": ["in_service", "retired"]},
                "file_held_at": {"type": "string", "enum": ["reemployment_centre", "other_agency", "county"],
                                 "description": "where the person's files (档案) are held"},
                "paid_previous_year": {"type": "boolean"},
                "special_group": {"type": "boolean", "default": False,
                                  "description": "特殊群体、困难军转干部、对越作战、涉核退休人员 (referred to the service window)"},
                "retirement_age_reached_on": {"type": ["string", "null"], "format": "date",
                                              "description": "in service: the day the legal retirement age is reached"},
            },
        },
    },
}
FLEXIBLE_QUOTE_RESULT = {
    "type": "object",
    "required": ["region", "year", "scheme", "status", "parts", "amount_due", "timing",
                 "interruption_months", "makeup_basic", "benefit_start", "benefit_end",
                 "waiting_months", "certificate_from", "retired_from"],
    "properties": {
        "region": {"type": "string"},
        "year": {"type": "integer"},
        "scheme": {"type": "string", "enum": ["flexible_employment"]},
        "status": {"type": "string", "enum": ["in_service", "retired"]},
        "parts": {"type": "array", "items": {"type": "object", "required": ["component", "name", "amount"],
                                             "properties": {
            "component": {"type": "string", "enum": ["basic", "large_medical", "critical_illness"]},
            "name": {"type": "string"}, "amount": MONEY}}},
        "amount_due": MONEY,
        "timing": {"type": "string", "enum": ["on_time", "interrupted", "first_enrolment"]},
        "interruption_months": {"type": "integer"},
        "makeup_basic": {**MONEY, "description": "missed basic contributions, included in amount_due"},
        "benefit_start": DATE,
        "benefit_end": DATE,
        "waiting_months": {"type": "integer"},
        "certificate_from": {"type": ["string", "null"], "format": "date"},
        "retired_from": {"type": ["string", "null"], "format": "date"},
        "explanation": {"type": "array", "items": {"type": "string"}, "description": "only with ?explain=1"},
    },
}
QUOTE_RESULT = {
    "type": "object",
    "required": ["region", "year", "category", "personal_standard", "fiscal_subsidy", "assistance",
                 "amount_due", "timing", "benefit_start", "benefit_end", "waiting_months",
                 "waiting_days", "cap_adjustment"],
    "properties": {
        "region": {"type": "string"},
        "year": {"type": "integer"},
        "category": {"type": "string", "enum": ["adult", "infant", "minor", "student", "college", "resident"]},
        "personal_standard": {**MONEY, "type": ["string", "null"]},
        "fiscal_subsidy": {**MONEY, "type": ["string", "null"]},
        "assistance": {"type": ["object", "null"], "properties": {
            "identity": {"type": "string"}, "amount": MONEY}},
        "amount_due": MONEY,
        "timing": {"type": "string", "enum": ["window", "supplementary", "late", "exempt", "newborn"]},
        "benefit_start": DATE,
        "benefit_end": DATE,
        "waiting_months": {"type": "integer"},
        "waiting_days": {"type": "integer"},
        "cap_adjustment": {"type": ["integer", "null"]},
        "explanation": {"type": "array", "items": {"type": "string"},
                        "description": "only with ?explain=1"},
        "cap_detail": {"type": ["object", "null"], "description": "only with ?cap_detail=1: the critical-illness cap "
                       "incentives (continuous years, zero-claim year, break years; an amount the source "
                       "does not give is null and named in unset)"},
    },
}


ENROLLMENT_CREATE = {
    "type": "object",
    "required": ["id_number", "name", "region", "year", "registered_via"],
    "properties": {
        "id_number": {"type": "string", "description": "18-character resident ID number"},
        "name": {"type": "string"},
        "region": {"type": "string", "pattern": r"^\d{6}$"},
        "year": {"type": "integer"},
        "registered_via": {"type": "string", "enum": ["school", "community", "online", "counter"]},
    },
}
ENROLLMENT = {
    "type": "object",
    "required": ["status", "amount_due", "paid_amount", "paid_via", "benefit_start", "benefit_end"],
    "properties": {
        "id_number": {"type": "string"},
        "name": {"type": "string"},
        "region": {"type": "string"},
        "year": {"type": "integer"},
        "category": {"type": "string"},
        "status": {"type": "string", "enum": ["registered", "paid", "cancelled"]},
        "registered_via": {"type": "string"},
        "amount_due": MONEY,
        "paid_amount": {**MONEY, "type": ["string", "null"]},
        "paid_via": {"type": ["string", "null"],
                     "enum": [None, "channel", "family_pool", "assistance", "collective"]},
        "benefit_start": {"type": ["string", "null"], "format": "date"},
        "benefit_end": {"type": ["string", "null"], "format": "date"},
        "waiting_months": {"type": "integer"},
        "waiting_days": {"type": "integer"},
        "assistance": {"type": ["object", "null"]},
    },
}


SCHEME = {"type": ["string", "null"], "enum": ["resident", "flexible_employment", None], "default": "resident",
          "description": "the scheme paid for: resident (城乡居民医保, the default) or flexible_employment "
                         "(灵活就业人员医疗保险, where the region runs it)"}
DUES = {
    "type": "object",
    "required": ["name", "region", "year", "category", "amount_due", "status"],
    "properties": {
        "name": {"type": "string"}, "region": {"type": "string"}, "year": {"type": "integer"},
        "scheme": {"type": "string", "description": "only in another scheme's answer"},
        "category": {"type": "string"}, "amount_due": MONEY,
        "status": {"type": "string", "enum": ["unpaid", "paid"]},
    },
}
PAYMENT_CREATE = {
    "type": "object",
    "required": ["channel", "txn_id", "id_number", "name", "year", "amount", "paid_at"],
    "additionalProperties": False,
    "properties": {
        "channel": {"type": "string", "enum": ["tax_hall", "etax", "wechat", "alipay", "bank", "cash",
                                               "collective", "assistance", "family_pool"]},
        "txn_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "id_number": {"type": "string"},
        "name": {"type": "string"},
        "year": {"type": "integer"},
        "amount": MONEY,
        "paid_at": {"type": "string", "format": "date-time"},
        "scheme": SCHEME,
        "course_years": {"type": "integer", "minimum": 1, "maximum": 8, "default": 1,
                         "description": "a college student paying the whole course at once where the policy "
                                        "allows it (吕梁); amount = years × this year's amount due"},
        "payer": {"type": "object", "description": "who paid, when not the person (代缴)", "properties": {
            "kind": {"type": "string", "enum": ["self", "other_person", "collector", "department", "pool"]},
            "id": {"type": "string"}, "name": {"type": "string"}}},
    },
}
PAYMENT = {
    "type": "object",
    "required": ["payment_id", "status", "benefit_start"],
    "properties": {"payment_id": {"type": "integer"}, "status": {"type": "string", "enum": ["paid"]},
                   "scheme": {"type": "string", "description": "only in another scheme's answer"},
                   "certificate_from": {**DATE, "description": "another scheme's: the certificate's first day"},
                   "course_years": {"type": "array", "items": {"type": "integer"}},
                   "benefit_start": {**DATE, "type": ["string", "null"]}},
}


def _error(description):
    return {"description": description, **_json({"$ref": "#/components/schemas/Error"})}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def schema() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "城乡居民医保经办系统 API", "version": "1",
                 "description": "Resident medical insurance back office. Money is a string with two "
                                "decimals; dates are ISO YYYY-MM-DD. Errors: {\"error\": {\"code\", \"message\"}}."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "manage.py create_api_token NAME --scope channel|pool|staff"}},
            "schemas": {"Error": ERROR, "QuoteRequest": QUOTE_REQUEST, "QuoteResult": QUOTE_RESULT,
                        "FlexibleQuoteRequest": FLEXIBLE_QUOTE_REQUEST,
                        "FlexibleQuoteResult": FLEXIBLE_QUOTE_RESULT,
                        "EnrollmentCreate": ENROLLMENT_CREATE, "Enrollment": ENROLLMENT, "Dues": DUES,
                        "PaymentCreate": PAYMENT_CREATE, "Payment": PAYMENT, **pool_openapi.SCHEMAS},
        },
        "security": [{"bearer": []}],
        "paths": {
            **pool_openapi.PATHS,
            "/enrollments": {"post": {
                "summary": "Register a resident for a benefit year (scope staff)",
                "operationId": "enrollment_create",
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/EnrollmentCreate"})},
                "responses": {
                    "201": {"description": "registered, priced by the rules",
                            **_json({"$ref": "#/components/schemas/Enrollment"})},
                    "401": _error("no or bad token"),
                    "403": _error("token scope or permission"),
                    "404": _error("resident_not_found, policy_missing"),
                    "409": _error("already_enrolled"),
                    "413": _error("payload_too_large: body over the cap (API_MAX_BODY_BYTES, 1 MB)"),
                    "422": _error("invalid_input, name_mismatch, region_mismatch, not_eligible, "
                                  "window_closed, value_not_in_source, …"),
                },
            }},
            "/enrollments/{id_number}/{year}": {"get": {
                "summary": "One resident's enrollment for a year (scope staff)",
                "operationId": "enrollment_detail",
                "parameters": [
                    {"name": "id_number", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "year", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "the enrollment", **_json({"$ref": "#/components/schemas/Enrollment"})},
                    "401": _error("no or bad token"),
                    "403": _error("token scope or permission"),
                    "404": _error("not_registered"),
                    "422": _error("invalid_input: not the shape of an ID number, or not a year"),
                },
            }},
            "/dues": {"get": {
                "summary": "What a person owes for a benefit year, priced today (scope channel)",
                "operationId": "dues",
                "parameters": [
                    {"name": "id_number", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "scheme", "in": "query", "required": False, "schema": SCHEME}],
                "responses": {
                    "200": {"description": "the amount due today, or the amount paid",
                            **_json({"$ref": "#/components/schemas/Dues"})},
                    "401": _error("no or bad token"),
                    "403": _error("token scope"),
                    "404": _error("not_registered, policy_missing, scheme_not_offered"),
                    "422": _error("invalid_input, name_mismatch, payment_day_not_allowed, window_closed, "
                                  "value_not_in_source, …"),
                },
            }},
            "/payments": {"post": {
                "summary": "Post a payment; idempotent on channel + txn_id (scope channel)",
                "operationId": "payment_create",
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/PaymentCreate"})},
                "responses": {
                    "200": {"description": "the same channel + txn_id and body again: the first answer",
                            **_json({"$ref": "#/components/schemas/Payment"})},
                    "201": {"description": "recorded; the enrollment is paid",
                            **_json({"$ref": "#/components/schemas/Payment"})},
                    "401": _error("no or bad token"),
                    "403": _error("token scope"),
                    "404": _error("not_registered, policy_missing, scheme_not_offered"),
                    "409": _error("already_paid (the money is recorded and queued for refund), "
                                  "idempotency_conflict (same channel + txn_id, another body)"),
                    "413": _error("payload_too_large"),
                    "422": _error("invalid_input, name_mismatch, amount_mismatch, payment_day_not_allowed, "
                                  "window_closed, value_not_in_source, workday_unknown, …"),
                },
            }},
            "/payment-records": {"get": {
                "summary": "A resident's payment records: deposit time, never the amount; bank records "
                           "after the region's delay in working days (scope channel or pool)",
                "operationId": "payment_records",
                "parameters": [
                    {"name": "id_number", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "the records", **_json({"type": "object", "properties": {
                        "name": {"type": "string"}, "year": {"type": "integer"},
                        "records": {"type": "array", "items": {"type": "object", "properties": {
                            "channel": {"type": "string"}, "deposited_at": {"type": "string"},
                            "status": {"type": "string"}}}},
                        "not_yet_visible": {"type": "integer"}, "note": {"type": "string"}}})},
                    "401": _error("no or bad token"),
                    "403": _error("token scope"),
                    "404": _error("not_registered"),
                    "422": _error("invalid_input, name_mismatch (a bank record whose visible day falls in a "
                                  "year without a holiday calendar is counted in not_yet_visible, with a note)"),
                },
            }},
            "/back-payments": {
                "get": {
                    "summary": "What making up a break year costs (断保补缴; regions with variable waiting)",
                    "operationId": "back_payment_dues",
                    "parameters": [
                        {"name": "id_number", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {"description": "the amount", **_json({"type": "object", "properties": {
                            "name": {"type": "string"}, "year": {"type": "integer"}, "amount_due": MONEY,
                            "status": {"type": "string"}}})},
                        "401": _error("no or bad token"), "403": _error("token scope"),
                        "404": _error("not_registered, policy_missing"),
                        "409": _error("already_paid (the year is repaired already)"),
                        "422": _error("invalid_input, name_mismatch, not_a_break_year, "
                                      "back_payment_not_applicable, value_not_in_source"),
                    }},
                "post": {
                    "summary": "Record the back-payment of a break year; idempotent on channel + txn_id",
                    "operationId": "back_payment_create",
                    "requestBody": {"required": True, **_json({
                        "type": "object", "additionalProperties": False,
                        "required": ["channel", "txn_id", "id_number", "name", "year", "amount", "paid_at"],
                        "properties": {k: v for k, v in PAYMENT_CREATE["properties"].items()
                                       if k not in ("payer", "course_years")}})},
                    "responses": {
                        "200": {"description": "the same request again: the first answer", **_json(
                            {"type": "object"})},
                        "201": {"description": "recorded; the year repaired", **_json({"type": "object", "properties": {
                            "payment_id": {"type": "integer"}, "status": {"type": "string", "enum": ["repaired"]},
                            "year": {"type": "integer"}}})},
                        "401": _error("no or bad token"), "403": _error("token scope"),
                        "404": _error("not_registered, policy_missing"),
                        "409": _error("already_paid, idempotency_conflict"),
                        "413": _error("payload_too_large"),
                        "422": _error("invalid_input, name_mismatch, amount_mismatch, not_a_break_year, "
                                      "back_payment_not_applicable, value_not_in_source"),
                    }},
            },
            "/quote": {"post": {
                "summary": "Contribution quote (one request or an array)",
                "operationId": "quote",
                "parameters": [{"name": "explain", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["0", "1"]},
                                "description": "1 adds the steps of the calculation in Chinese"},
                               {"name": "cap_detail", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["0", "1"]},
                                "description": "1 adds cap_detail: the critical-illness cap incentives "
                                               "(null where the region has no cap rule)"}],
                "requestBody": {"required": True, **_json({"oneOf": [
                    {"$ref": "#/components/schemas/QuoteRequest"},
                    {"$ref": "#/components/schemas/FlexibleQuoteRequest"},
                    {"type": "array", "items": {"oneOf": [
                        {"$ref": "#/components/schemas/QuoteRequest"},
                        {"$ref": "#/components/schemas/FlexibleQuoteRequest"}]}}]})},
                "responses": {
                    "200": {"description": "result, or an array of results and errors", **_json({"oneOf": [
                        {"$ref": "#/components/schemas/QuoteResult"},
                        {"$ref": "#/components/schemas/FlexibleQuoteResult"},
                        {"type": "array", "items": {"oneOf": [
                            {"$ref": "#/components/schemas/QuoteResult"},
                            {"$ref": "#/components/schemas/FlexibleQuoteResult"},
                            {"$ref": "#/components/schemas/Error"}]}}]})},
                    "401": _error("no or bad token"),
                    "403": _error("a staff session without the permission to read policies"),
                    "404": _error("policy_missing, scheme_not_offered (no flexible-employment scheme there)"),
                    "413": _error("payload_too_large: body over the cap (API_MAX_BODY_BYTES, 1 MB)"),
                    "422": {"description": "invalid_input (also an array over API_QUOTE_MAX_ITEMS, 1000), "
                                           "not_eligible, payment_day_not_allowed, "
                                           "window_not_open, window_closed, value_not_in_source",
                            **_json({"$ref": "#/components/schemas/Error"})},
                },
            }},
        },
    }


@csrf_exempt  # a POST gets the API's 405, not the browser's CSRF page
def openapi_view(request):
    """The schema: GET (and HEAD) only, as every other endpoint answers 405 to a method it has not."""
    if request.method not in ("GET", "HEAD"):
        resp = error_response(405, "method_not_allowed", f"不支持 {request.method} 方法")
        resp["Allow"] = "GET, HEAD"
        return resp
    return json_response(schema())


def not_found_view(request, *args, **kwargs):
    return error_response(404, "not_found", f"没有这个接口：{request.path}")

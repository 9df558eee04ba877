"""The family pool's part of the OpenAPI document (INTERFACES.md §5, scope pool); merged into
config/openapi.py's paths and schemas."""

from policy.rules.types import RELATIONS

MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["780.00"]}
ERR = {"$ref": "#/components/schemas/Error"}
RELATION = {"type": "string", "enum": list(RELATIONS)}
# a request may name the relation by its code or by its Chinese name (配偶, 子女, …); answers give the code
RELATION_IN = {"type": "string", "enum": [*RELATIONS, *RELATIONS.values()]}
MODES = {"type": "object", "required": ["medical", "premium"], "additionalProperties": False,
         "properties": {"medical": {"type": "boolean", "description": "共济支付"},
                        "premium": {"type": "boolean", "description": "共济缴费"}}}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _e(description):
    return {"description": description, **_json(ERR)}


COMMON = {"401": _e("no or bad token"), "403": _e("token scope (pool)")}
NETWORK_ID = {"name": "network_id", "in": "path", "required": True, "schema": {"type": "integer"}}
ID_NUMBER = {"name": "id_number", "in": "path", "required": True, "schema": {"type": "string"}}

SCHEMAS = {
    "PoolNetwork": {
        "type": "object", "description": "The organizer's view",
        "required": ["network_id", "region", "status", "organizer", "members", "modes", "pool_balance"],
        "properties": {
            "network_id": {"type": "integer"}, "region": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "dissolved"]},
            "organizer": {"type": "object", "properties": {"id_number": {"type": "string"}, "name": {"type": "string"}}},
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "id_number": {"type": "string"}, "name": {"type": "string"}, "relation": RELATION,
                "registered_via": {"type": ["string", "null"], "enum": ["school", "community", "online", "counter", None]},
                "registered_on": {"type": ["string", "null"], "format": "date"},
                "joined_at": {"type": "string", "format": "date-time"}}}},
            "modes": MODES,
            "pool_balance": {**MONEY, "description": "the organizer's historical balance"},
        }},
    "PoolMembership": {
        "type": "object", "description": "A member's view: the organizer and self, never other members",
        "required": ["network_id", "region", "organizer", "self", "modes", "deduction"],
        "properties": {
            "network_id": {"type": "integer"}, "region": {"type": "string"},
            "organizer": {"type": "object", "properties": {
                "name": {"type": "string"}, "id_number": {"type": "string", "description": "masked"}}},
            "self": {"type": "object", "properties": {
                "id_number": {"type": "string"}, "name": {"type": "string"}, "relation": RELATION,
                "joined_at": {"type": "string", "format": "date-time"}}},
            "modes": MODES,
            "deduction": {"type": ["object", "null"], "description": "the December deduction for the current "
                          "benefit year (December: the coming one); status processing before the results date",
                          "properties": {"status": {"type": "string"}, "amount": MONEY,
                                         "decided_at": {"type": ["string", "null"], "format": "date-time",
                                                        "description": "null while processing"}}},
        }},
    "PoolSettlement": {
        "type": "object", "description": "共济支付 settlement: cost = from_own + from_pool + unpaid",
        "required": ["settlement_id", "request_id", "network_id", "id_number", "purpose", "cost", "from_own",
                     "from_pool", "unpaid", "excluded_from_other_schemes"],
        "properties": {
            "settlement_id": {"type": "integer"}, "request_id": {"type": "string"},
            "network_id": {"type": "integer"}, "id_number": {"type": "string"},
            "purpose": {"type": "string", "enum": ["medical", "commercial"]},
            "cost": MONEY, "from_own": MONEY, "from_pool": MONEY, "unpaid": MONEY,
            "excluded_from_other_schemes": {"type": "boolean"}}},
}

PATHS = {
    "/pool/networks": {"post": {
        "summary": "Create a family pool network (scope pool)", "operationId": "pool_network_create",
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["organizer_id_number"], "additionalProperties": False,
            "properties": {"organizer_id_number": {"type": "string"},
                           "region": {"type": "string", "pattern": r"^\d{6}$",
                                      "description": "optional: the region, where the organizer is insured "
                                                     "elsewhere in a province-scope region's province"}}})},
        "responses": {
            "201": {"description": "created", **_json({"type": "object", "properties": {
                "network_id": {"type": "integer"}, "region": {"type": "string"}}})},
            **COMMON,
            "404": _e("policy_missing"),
            "409": _e("already_organizer"),
            "422": _e("organizer_not_eligible (the message says why: no account, frozen, no historical "
                      "balance, insured outside the region/province, a member elsewhere), invalid_input"),
        }}},
    "/pool/networks/{network_id}": {"get": {
        "summary": "The organizer's view: members, modes, pool balance (scope pool)",
        "operationId": "pool_network_detail", "parameters": [NETWORK_ID],
        "responses": {"200": {"description": "the network", **_json({"$ref": "#/components/schemas/PoolNetwork"})},
                      **COMMON, "404": _e("network_not_found")}},
        "delete": {
        "summary": "The organizer dissolves the network: every member leaves now, rows are kept (scope pool)",
        "operationId": "pool_network_dissolve", "parameters": [NETWORK_ID],
        "responses": {"204": {"description": "dissolved"}, **COMMON, "404": _e("network_not_found"),
                      "409": _e("network_dissolved")}}},
    "/pool/networks/{network_id}/members": {"post": {
        "summary": "Add a member (scope pool)", "operationId": "pool_member_add", "parameters": [NETWORK_ID],
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["id_number", "relation"], "additionalProperties": False,
            "properties": {"id_number": {"type": "string"}, "relation": RELATION_IN}})},
        "responses": {
            "201": {"description": "added", **_json({"type": "object", "properties": {
                "network_id": {"type": "integer"}, "id_number": {"type": "string"}, "name": {"type": "string"},
                "relation": RELATION}})},
            **COMMON, "404": _e("network_not_found, policy_missing"),
            "409": _e("already_in_network, network_dissolved"),
            "422": _e("relation_not_allowed, not_insured_in_region, organizer_cannot_be_member, invalid_input"),
        }}},
    "/pool/networks/{network_id}/members/{id_number}": {"delete": {
        "summary": "A member leaves (scope pool)", "operationId": "pool_member_leave",
        "parameters": [NETWORK_ID, ID_NUMBER],
        "responses": {"204": {"description": "left"}, **COMMON, "404": _e("network_not_found, not_a_member"),
                      "409": _e("network_dissolved"), "422": _e("invalid_input")}},
        "patch": {
        "summary": "The organizer corrects a member's relation (scope pool)", "operationId": "pool_member_edit",
        "parameters": [NETWORK_ID, ID_NUMBER],
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["relation"], "additionalProperties": False,
            "properties": {"relation": RELATION_IN}})},
        "responses": {
            "200": {"description": "edited", **_json({"type": "object", "properties": {
                "network_id": {"type": "integer"}, "id_number": {"type": "string"}, "name": {"type": "string"},
                "relation": RELATION}})},
            **COMMON, "404": _e("network_not_found, not_a_member, policy_missing"),
            "409": _e("network_dissolved"), "422": _e("relation_not_allowed, invalid_input")}}},
    "/pool/networks/{network_id}/settlements": {"post": {
        "summary": "共济支付: a member's self-paid cost met from the member's own historical balance "
                   "(an employee member), then the pool (scope staff: the medical settlement system)",
        "operationId": "pool_settlement", "parameters": [NETWORK_ID],
        "requestBody": {"required": True, **_json({
            "type": "object", "required": ["id_number", "request_id", "cost"], "additionalProperties": False,
            "properties": {"id_number": {"type": "string"}, "request_id": {"type": "string", "maxLength": 64},
                           "cost": {**MONEY, "description": "the self-paid cost"},
                           "purpose": {"type": "string", "enum": ["medical", "commercial"],
                                       "description": "medical (共济支付 mode) or commercial: 沪惠保 and the "
                                                      "like (共济缴费 mode); medical by default"}}})},
        "responses": {
            "201": {"description": "settled", **_json({"$ref": "#/components/schemas/PoolSettlement"})},
            "200": {"description": "the same request again: the first settlement",
                    **_json({"$ref": "#/components/schemas/PoolSettlement"})},
            **COMMON, "404": _e("network_not_found, not_a_member"),
            "409": _e("idempotency_conflict"), "422": _e("mode_not_chosen, invalid_input")}}},
    "/pool/networks/{network_id}/modes": {"put": {
        "summary": "Choose 共济支付 / 共济缴费 (scope pool)", "operationId": "pool_modes_set",
        "parameters": [NETWORK_ID], "requestBody": {"required": True, **_json(MODES)},
        "responses": {
            "200": {"description": "the modes", **_json({"type": "object", "properties": {
                "network_id": {"type": "integer"}, "modes": MODES}})},
            **COMMON, "404": _e("network_not_found, policy_missing"), "409": _e("network_dissolved"),
            "422": _e("cutoff_passed (turning premium off after the cancellation deadline: a school-registered "
                      "child 12-20 17:00, a community-registered child the registration day, else the "
                      "region's cut-off), mode_not_allowed, invalid_input"),
        }}},
    "/pool/memberships/{id_number}": {"get": {
        "summary": "A member's view: the organizer and self only (scope pool)",
        "operationId": "pool_membership", "parameters": [ID_NUMBER],
        "responses": {"200": {"description": "the membership",
                              **_json({"$ref": "#/components/schemas/PoolMembership"})},
                      **COMMON, "404": _e("not_a_member"), "422": _e("invalid_input")}}},
}

"""The error-code catalogues (``oms``/``ems``/``rfq``/``tca``/``fix`` ``error_codes``): every code the code base refuses
with comes from one, codes are unique, and none changes (clients branch on them; risk codes are stored)."""

from __future__ import annotations

import ast
import pathlib
from enum import StrEnum

import pytest

from ems import error_codes as ems_codes
from fix import error_codes as fix_codes
from oms import error_codes as oms_codes
from rfq import error_codes as rfq_codes
from tca import error_codes as tca_codes

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("oms", "ems", "rfq", "tca", "fix", "config")
CATALOGUE_MODULES = [oms_codes, ems_codes, rfq_codes, tca_codes, fix_codes]
CATALOGUES: list[type[StrEnum]] = [
    obj for module in CATALOGUE_MODULES for obj in vars(module).values()
    if isinstance(obj, type) and issubclass(obj, StrEnum) and obj is not StrEnum and obj.__module__ == module.__name__
]
ALL_CODES = [member.value for catalogue in CATALOGUES for member in catalogue]

# The contract, written out: a change here is a change of the API (add lines; never edit or remove one).
SNAPSHOT = {
    "ApiErrorCode": [
        "bad_request", "error", "malformed_multipart", "method_not_allowed", "not_acceptable", "not_found", "parse_error",
        "request_too_large", "server_error", "service_unavailable", "throttled", "too_many_parts", "unsupported_media_type",
        "validation_error",
    ],
    "FieldErrorCode": [
        "before_start", "blank", "invalid", "invalid_characters", "invalid_choice", "lot_size", "max_decimals", "max_value",
        "not_allowed", "required", "tick_size", "too_many", "unknown", "unknown_field",
    ],
    "AuthErrorCode": [
        "auth.failed", "auth.invalid_credentials", "auth.locked_out", "auth.no_token", "auth.not_authenticated",
        "auth.token_expired",
    ],
    "PermissionErrorCode": [
        "permission.compliance_only", "permission.denied", "permission.desk_only", "permission.no_role",
        "permission.portfolio_not_granted", "permission.read_only", "permission.trader_only",
    ],
    "OrderErrorCode": [
        "order.bad_close_status", "order.duplicate_client_order_id", "order.illegal_transition", "order.not_cancellable",
        "order.not_found", "order.not_open", "order.not_pending_cancel", "order.not_replaceable", "order.not_working",
        "order.overfill", "order.replace_below_working", "order.replace_in_parent", "order.through_limit",
    ],
    "RiskErrorCode": [
        "risk.credit_limit", "risk.delta_limit", "risk.duplicate_order", "risk.kill_switch", "risk.max_contracts", "risk.max_notional",
        "risk.max_quantity", "risk.price_collar", "risk.rate_limit", "risk.restricted_instrument", "risk.vega_limit",
    ],
    "FillErrorCode": [
        "fill.bad_exec_id", "fill.bad_fee", "fill.bad_liquidity", "fill.bad_price", "fill.bad_quantity", "fill.bad_side",
        "fill.unallocatable",
    ],
    "AuditErrorCode": ["audit.event_not_found", "audit.not_sealed", "audit.proof_unavailable", "audit.xlsx_too_large"],
    "AuditProblemCode": [
        "audit.checkpoint_forged", "audit.checkpoint_missing", "audit.event_altered", "audit.event_missing", "audit.event_unsealed",
        "audit.high_water_lowered", "audit.leaf_altered", "audit.leaf_event_missing", "audit.leaf_missing", "audit.link_broken",
        "audit.orphan_object", "audit.tail_rewritten", "audit.tail_truncated", "audit.tree_head_forged", "audit.tree_head_mismatch",
        "audit.tree_head_missing", "audit.tree_node_altered", "audit.tree_node_missing",
    ],
    "ParentOrderErrorCode": [
        "constituent.not_found", "parent_control.illegal_transition", "parent_order.bad_close_status",
        "parent_order.bad_strategy", "parent_order.bad_urgency", "parent_order.children_open",
        "parent_order.illegal_transition", "parent_order.not_carried", "parent_order.not_filled", "parent_order.not_found",
        "parent_order.not_open",
        "parent_order.overfill",
    ],
    "ChildOrderErrorCode": [
        "child_order.illegal_transition", "child_order.not_found", "child_order.overfill", "child_report.bad_kind",
        "venue.not_found",
    ],
    "InternalCrossErrorCode": [
        "internal_cross.bad_leg", "internal_cross.bad_price", "internal_cross.bad_quantity", "internal_cross.duplicate_order",
        "internal_cross.empty", "internal_cross.unbalanced",
    ],
    "KillSwitchErrorCode": ["kill_switch.bad_scope", "kill_switch.not_engaged", "kill_switch.unknown_target"],
    "RfqErrorCode": [
        "rfq.already_executed", "rfq.bad_direction", "rfq.bad_execute_at", "rfq.bad_legs", "rfq.bad_mode",
        "rfq.bad_portfolio", "rfq.bad_providers", "rfq.bad_quantity", "rfq.bad_source", "rfq.bad_threshold",
        "rfq.bad_window", "rfq.illegal_transition", "rfq.last_look_rejected", "rfq.leg_bad_ratio", "rfq.leg_bad_side",
        "rfq.leg_duplicate", "rfq.leg_expired", "rfq.leg_no_market", "rfq.leg_unknown_instrument", "rfq.no_legs",
        "rfq.no_providers", "rfq.not_executed", "rfq.not_found", "rfq.not_open", "rfq.package_unsplittable",
        "rfq.parent_not_working", "rfq.quantity_unavailable", "rfq.quote_expired", "rfq.quote_not_found",
        "rfq.quote_through_limit", "rfq.reference_not_found", "rfq.threshold_required", "rfq.too_many_legs",
        "rfq.window_closed",
    ],
    "QuoteErrorCode": [
        "quote.already_declined", "quote.bad_leg_values", "quote.bad_life", "quote.bad_mid", "quote.bad_price",
        "quote.bad_size", "quote.illegal_transition", "quote.missing_side",
    ],
    "TcaErrorCode": [
        "tca.bad_filter", "tca.bad_group_by", "tca.bad_params", "tca.bad_strategy", "tca.export_too_large",
        "tca.import_bad_header", "tca.import_empty", "tca.import_encoding", "tca.import_invalid",
        "tca.import_not_permitted", "tca.import_too_large", "tca.nothing_executed", "tca.parent_not_closed",
        "tca.what_if_busy",
        "tca.what_if_cancelled", "tca.what_if_over_budget", "tca.what_if_too_large", "tca.xlsx_too_large",
    ],
    "ImportRowErrorCode": [
        "bad_csv", "bad_side", "bad_timestamp", "column_count", "not_a_number", "not_integer", "not_positive", "nul_byte",
        "out_of_range", "timestamp_no_offset", "too_large", "too_long", "too_many_decimals", "total_out_of_range",
    ],
    "ReconciliationBreakCode": [
        "recon.constituent_alloc_qty", "recon.cross_unallocated", "recon.cross_unbalanced", "recon.fill_alloc_qty",
        "recon.order_avg_price", "recon.order_filled_qty", "recon.parent_alloc_qty", "recon.parent_alloc_value",
        "recon.parent_fill_qty",
    ],
    "FixErrorCode": [
        "fix.bad_comp_id", "fix.internal_error", "fix.not_order_entry", "fix.session_exists", "fix.session_not_found",
        "fix.unsupported_message", "fix.unsupported_value", "fix.user_not_found",
    ],
}

# Where a code is written: the first argument of these (the application errors and what carries a code) ...
CODE_FIRST = {"DomainError", "Conflict", "NotFound", "NotPermitted", "RiskDenied", "ControlInvalid", "ImportRejected",
              "Problem", "_brk"}
# ... the n-th argument of these ...
CODE_AT = {"api_error": 1, "field_error": 1, "_error": 2}
# ... the ``code=`` of these, a ``{"code": ...}`` dict, ``default_code`` of an API exception, the values of
# ``oms.api.errors._CODES`` (exception -> code) and the default of ``getattr(error, "code", default)``.
CODE_KEYWORD = {"ErrorDetail", "ValidationError", "_flash"}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_literal(node: ast.expr | None) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _code_positions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            at = 0 if name in CODE_FIRST else CODE_AT.get(name)
            if name == "add" and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "errors":
                at = 1  # order_parse's per-field error list
            if name == "getattr" and len(node.args) == 3 and getattr(node.args[1], "value", None) == "code":
                at = 2
            if at is not None and len(node.args) > at:
                yield node.args[at]
            if name in CODE_FIRST or name in CODE_AT or name in CODE_KEYWORD:
                yield from (kw.value for kw in node.keywords if kw.arg == "code")
        elif isinstance(node, ast.Dict):
            yield from (v for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "code")
        elif isinstance(node, ast.Assign):
            if any(getattr(t, "id", "") == "default_code" for t in node.targets):
                yield node.value
            elif isinstance(node.value, ast.Dict) and any(getattr(t, "id", "") == "_CODES" for t in node.targets):
                yield from node.value.values


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and path.name not in ("error_codes.py", "audit_events.py"):
                yield path, ast.parse(path.read_text(), filename=str(path))


SOURCES = list(_sources())


def test_the_catalogues_are_the_snapshot():
    assert {c.__name__: sorted(m.value for m in c) for c in CATALOGUES} == SNAPSHOT


def test_every_code_is_unique():
    assert len(ALL_CODES) == len(set(ALL_CODES))


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda c: c.__name__)
def test_a_dotted_code_is_named_domain_dot_reason(catalogue):
    for member in catalogue:
        assert member.value == member.value.lower() and " " not in member.value, member
        assert member.value.count(".") <= 1, member


def test_no_code_is_written_as_a_literal():
    literals = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for path, tree in SOURCES for node in _code_positions(tree) if _is_literal(node)
    ]
    assert literals == [], "use a member of an error_codes catalogue"


def test_no_dotted_code_value_is_spelled_out_anywhere():
    dotted = {code for code in ALL_CODES if "." in code}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
        for path, tree in SOURCES for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in dotted
    ]
    assert found == []


def test_the_scan_sees_the_code_positions():
    # Guard the guard: a literal in each kind of position is found.
    tree = ast.parse(
        'raise Conflict("x.y", "d")\napi_error(400, "bad", "d")\n_flash(r, "error", "t", code="c")\n'
        'm = {"code": "p.q", "detail": "d"}\nerrors.add("f", "required", "d")\ndefault_code = "z"\n'
        '_CODES = {KeyError: "k"}\ngetattr(e, "code", "invalid")\n'
    )
    assert len([n for n in _code_positions(tree) if _is_literal(n)]) == 8

"""Exports over the REST API: ``?format=csv|xlsx`` (or the Accept header) answers a file written by
``oms.exports`` instead of JSON; any error stays JSON, and an unknown ``format`` is a 400 naming it. Shared
by every app's exportable endpoints (the audit trail, the TCA reports).

``?header=full`` (the default) starts each file with its header block (the report, period, filters, who
and when: ``oms.exports.ExportMeta``); ``?header=none`` answers the bare table for machine loaders. A report
of several tables takes ``?table=<name>`` for its CSV (:func:`query_choice`). A bad value of either is a 400
``validation_error`` naming the parameter, as for ``format``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from oms import exports, roles
from oms.api.errors import field_error
from oms.api.serializers import ErrorSerializer
from oms.error_codes import FieldErrorCode

FORMAT_PARAM = "format"  # settings URL_FORMAT_OVERRIDE (DRF's default)
HEADER_PARAM = "header"
HEADER_FULL, HEADER_NONE = "full", "none"
HEADER_CHOICES = (HEADER_FULL, HEADER_NONE)
TABLE_PARAM = "table"


def query_choice(request, param: str, choices, default: str | None = None) -> str | None:
    """``param`` from the query string, one of ``choices`` (absent: ``default``), or a 400 naming it. The
    refusal never echoes the value (it may be huge or hold a NUL)."""
    value = request.query_params.get(param)
    if value is None:
        return default
    if value not in choices:
        raise ValidationError(field_error(param, FieldErrorCode.INVALID_CHOICE, f"{param} must be one of {', '.join(choices)}"))
    return value


class CSVRenderer(BaseRenderer):
    """``text/csv``: the view hands over the file (oms.exports); errors are JSON (ExportMixin)."""

    media_type = "text/csv"
    format = exports.CSV
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class XLSXRenderer(BaseRenderer):
    media_type = exports.CONTENT_TYPES[exports.XLSX]
    format = exports.XLSX
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ExportNegotiation(DefaultContentNegotiation):
    """``?format=`` outside json|csv|xlsx is not a 404 (DRF's answer): JSON is chosen and the view refuses
    the parameter with a 400 once the caller is authenticated."""

    def select_renderer(self, request, renderers, format_suffix=None):
        fmt = request.query_params.get(FORMAT_PARAM)
        if fmt is not None and fmt not in {r.format for r in renderers}:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


FORMAT_PARAMETER = OpenApiParameter(
    FORMAT_PARAM, str, enum=["json", *exports.FORMATS], required=False,
    description="json (default), or a file: csv (RFC 4180, UTF-8, one table) or xlsx (one worksheet per table)")
HEADER_PARAMETER = OpenApiParameter(
    HEADER_PARAM, str, enum=list(HEADER_CHOICES), required=False,
    description=("A file's header block: full (default: report, period, filters, who and when; in a CSV `# ` lines and an "
                 "empty line before the table, the first line saying how many to skip) or none (the bare table)"))
EXPORT_PARAMETERS = [FORMAT_PARAMETER, HEADER_PARAMETER]


def export_responses(json_serializer, *, extra: dict | None = None) -> dict:
    """The 200 answers of an exportable report: JSON, CSV and XLSX."""
    return {
        (200, "application/json"): json_serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="`?format=csv`: the report as a CSV file (attachment)"),
        (200, exports.CONTENT_TYPES[exports.XLSX]): OpenApiResponse(OpenApiTypes.BINARY, description="`?format=xlsx`: an XLSX workbook"),
        400: OpenApiResponse(ErrorSerializer, description="`validation_error`: a parameter (`field` names it: `format`, `header`, a filter) is not valid"),
        **(extra or {}),
    }


class ExportMixin:
    """JSON by default; ``?format=csv|xlsx`` (or the Accept header) answers a file from oms.exports."""

    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    content_negotiation_class = ExportNegotiation
    export_actions: frozenset[str] | None = None  # a viewset's actions that export (None: every handler)

    def get_renderers(self):
        action_name = getattr(self, "action", None)
        if self.export_actions is not None and action_name is not None and action_name not in self.export_actions:
            return [JSONRenderer()]
        return super().get_renderers()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles first
        fmt = request.query_params.get(FORMAT_PARAM)
        bad = fmt is not None and fmt not in {r.format for r in self.get_renderers()}
        # A method the view does not serve is a 405 whatever its query string says.
        served = request.method.lower() in self.http_method_names and hasattr(self, request.method.lower())
        if bad and served:
            raise ValidationError(field_error(FORMAT_PARAM, FieldErrorCode.INVALID_CHOICE, f"format must be one of json, {', '.join(exports.FORMATS)}"))
        if served and len(self.get_renderers()) > 1:
            query_choice(request, HEADER_PARAM, HEADER_CHOICES)

    def export_format(self) -> str | None:
        fmt = getattr(getattr(self.request, "accepted_renderer", None), "format", None)
        return fmt if fmt in exports.FORMATS else None

    def export_file(self, tables, *, report: str, stem: str, period: exports.Period = exports.ALL, filters: dict | None = None,
                    table: str | None = None, stream: bool = False):
        """The tables as the requested file (``export_format``), with the header block unless ``?header=none``:
        exported by the request's user (username and role), now."""
        user = self.request.user
        meta = exports.ExportMeta(report=report, stem=stem, user=user.get_username(), role=roles.role_of(user), period=period,
                                  filters=filters or {})
        preamble = query_choice(self.request, HEADER_PARAM, HEADER_CHOICES, HEADER_FULL) == HEADER_FULL
        return exports.export_response(tables, self.export_format(), meta, table=table, preamble=preamble, stream=stream)

    def finalize_response(self, request, response, *args, **kwargs):
        # A Response here is JSON data (an error, or a JSON answer): never hand it to the file renderers.
        if isinstance(response, Response) and getattr(getattr(request, "accepted_renderer", None), "format", None) in exports.FORMATS:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

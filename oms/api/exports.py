"""Exports over the REST API: ``?format=csv|xlsx`` (or the Accept header) answers a file written by
``oms.exports`` instead of JSON; any error stays JSON, and an unknown ``format`` is a 400 naming it. Shared
by every app's exportable endpoints (the audit trail, the TCA reports)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from oms import exports
from oms.api.errors import field_error
from oms.api.serializers import ErrorSerializer
from oms.error_codes import FieldErrorCode

FORMAT_PARAM = "format"  # settings URL_FORMAT_OVERRIDE (DRF's default)


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
    description="json (default), or a file: csv (RFC 4180, UTF-8) or xlsx (one worksheet per table)")


def export_responses(json_serializer, *, extra: dict | None = None) -> dict:
    """The 200 answers of an exportable report: JSON, CSV and XLSX."""
    return {
        (200, "application/json"): json_serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="`?format=csv`: the report as a CSV file (attachment)"),
        (200, exports.CONTENT_TYPES[exports.XLSX]): OpenApiResponse(OpenApiTypes.BINARY, description="`?format=xlsx`: an XLSX workbook"),
        400: OpenApiResponse(ErrorSerializer, description="`validation_error`: a parameter (`field` names it: `format`, a filter) is not valid"),
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

    def export_format(self) -> str | None:
        fmt = getattr(getattr(self.request, "accepted_renderer", None), "format", None)
        return fmt if fmt in exports.FORMATS else None

    def finalize_response(self, request, response, *args, **kwargs):
        # A Response here is JSON data (an error, or a JSON answer): never hand it to the file renderers.
        if isinstance(response, Response) and getattr(getattr(request, "accepted_renderer", None), "format", None) in exports.FORMATS:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

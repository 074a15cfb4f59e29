"""REST endpoints of transaction cost analysis (DESIGN.md §7, issue 10), under ``/api/tca/``. Thin: parse and
validate, call one ``tca.selectors`` read or ``tca.services`` verb, serialize or export.

| endpoint | what |
|---|---|
| ``GET parent-orders/{id}/`` | one closed parent's TCA: benchmarks, slippage, IS waterfall, fills, venues, markouts, orders |
| ``POST parent-orders/{id}/what-if/`` | replay it with another algorithm / parameters on the same market path |
| ``GET what-ifs/``, ``GET what-ifs/{id}/`` | replays (``?parent=``), one replay side by side with the actual execution |
| ``GET summary/?group_by=venue|algorithm|portfolio|period`` | costs grouped, filtered (instrument, strategy, portfolio, side, day_from, day_to) |
| ``GET best-execution/`` | per venue: volume, orders, passive / aggressive / midpoint share, spread, cost, markout, fill rate |
| ``GET fills/`` | our fills with their benchmarks at the fill |
| ``POST executions/import/`` | outside executions as CSV (``text/csv`` body or multipart ``file``) -> per-row and total slippage |
| ``GET executions/imports/``, ``GET executions/imports/{id}/`` | imported sets, reopened |
| ``GET reconciliation/`` | the latest reconciliation runs and their breaks |

Exports: the parent report, the summary, the best-execution report, an imported set and the fills answer
``?format=csv`` or ``?format=xlsx`` (or ``Accept: text/csv`` / the XLSX type) with a file
(``tca.exports``, conventions in ``oms.exports``); any error stays JSON. Unknown ``format`` values are a 400
naming ``format``; so are a bad ``header`` (full | none: the file's header block) and, on the parent report, a
bad ``table`` (the one table a CSV holds).

Roles: every role reads TCA; what each sees is the selectors' business: a PM or an API client sees the TCA
of parents holding an order of a portfolio of theirs (another parent is a 404), and the summary, the
best-execution report and the fills of their portfolios only; traders, compliance and admins see all.
The reconciliation is the desk's (trader, compliance, admin; others 403 ``permission.desk_only``).
A what-if replay changes no order, parent, fill or allocation (it stores the replay and its audit row):
traders, compliance and admins may run one; a PM or an API client gets 403 ``permission.desk_only`` (a
parent pools several PMs' orders; replaying it is the desk's analysis). Importing outside executions is
for any role that may write (compliance: 403 ``permission.read_only``).
"""

from __future__ import annotations

import codecs

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from ems import selectors as ems_selectors
from oms import roles
from oms.api.constants import ID_REGEX
from oms.api.exports import EXPORT_PARAMETERS, FORMAT_PARAM, TABLE_PARAM, ExportMixin, export_responses, query_choice
from oms.api.pagination import StandardPagination
from oms.api.permissions import HasRole
from oms.api.serializers import ErrorSerializer
from oms.api.validation import ClosedBodySchema, validated_body
from oms.client_gone import client_gone
from oms.error_codes import ApiErrorCode, FieldErrorCode, PermissionErrorCode
from oms.errors import DomainError, NotFound, ValidationFailed
from oms.exports import market_days
from oms.roles import Actor
from oms.services.order_parse import has_invalid_characters
from tca import exports, reports, selectors, services
from tca.api import serializers as s
from tca.api.filters import (
    FillsQuerySerializer,
    ReportFiltersSerializer,
    SummaryQuerySerializer,
    WhatIfQuerySerializer,
    report_filters,
    validated_query,
)
from tca.error_codes import TcaErrorCode
from tca.models import ReconciliationRun
from tca.services.imports import MAX_BYTES  # an upload over it is refused before it is read

MAX_EXPORT_FILLS = 200_000  # a fills export over this asks for narrower filters (a day, an instrument, a parent)


# --- permissions ----------------------------------------------------------------------------------------


class HasAnyRole(BasePermission):
    """An authenticated user with an OMS role (compliance included, for a write that changes no order)."""

    message = {"code": PermissionErrorCode.NO_ROLE, "detail": "Your account has no OMS role"}

    def has_permission(self, request, view):
        return roles.role_of(request.user) is not None


class IsDeskRole(BasePermission):
    """Traders, compliance and admins."""

    message = {"code": PermissionErrorCode.DESK_ONLY, "detail": "This is for the trading desk (traders, compliance, admins)"}

    def has_permission(self, request, view):
        return roles.role_of(request.user) in roles.DESK_WIDE


# --- one parent's report and its what-if replays ---------------------------------------------------------


_PARENT_404 = OpenApiResponse(ErrorSerializer, description="`not_found`: no such parent order among those you may see")


def _report_or_404(user, parent_id: int) -> dict:
    # A parent still working (or closed moments ago) gets a provisional report computed now (`provisional`).
    report = reports.parent_report(user=user, parent_id=parent_id)
    if report is None:
        raise NotFound(ApiErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    return report


@extend_schema_view(retrieve=extend_schema(
    summary="One parent's TCA: benchmarks, slippage (bps and currency), IS waterfall, fills, venues, markouts, orders",
    parameters=[*EXPORT_PARAMETERS, OpenApiParameter(
        TABLE_PARAM, str, enum=list(exports.PARENT_TABLES), required=False,
        description="`?format=csv`: which table of the report the file holds (default summary); an XLSX holds them all, a sheet each")],
    responses=export_responses(s.ParentReportSerializer, extra={404: _PARENT_404}),
))
class ParentTCAViewSet(ExportMixin, viewsets.ViewSet):
    """TCA of one closed parent order, and what-if replays of it."""

    export_actions = frozenset({"retrieve"})
    permission_classes = [HasRole]
    lookup_value_regex = ID_REGEX
    parser_classes = [JSONParser]
    schema = ClosedBodySchema()

    def get_permissions(self):
        if self.action == "what_if":
            return [HasAnyRole(), IsDeskRole()]
        return super().get_permissions()

    def retrieve(self, request, pk=None):
        fmt = self.export_format()
        table = query_choice(request, TABLE_PARAM, exports.PARENT_TABLES) if fmt else None
        report = _report_or_404(request.user, int(pk))
        if fmt:
            day = report["parent"]["market_day"]
            return self.export_file(exports.parent_report_tables(report), report=f"TCA of parent order {int(pk)}",
                                    stem=f"tca-parent-{int(pk)}", period=market_days(day, day), table=table)
        return Response(s.ParentReportSerializer(report).data)

    @extend_schema(
        summary="Replay a completed parent with another algorithm or parameters on the same market path",
        description=(
            "Runs the algorithm on the simulated venues over the market rebuilt exactly as it was (deterministic), without "
            "this parent's own fills (other parents' kept), and answers the replay with the actual execution side by side. "
            "It changes no order, parent, fill or allocation: the replay is stored (GET /api/tca/what-ifs/{id}/) and audited. "
            "Traders, compliance and admins."),
        request=s.WhatIfInputSerializer,
        responses={
            201: s.WhatIfSerializer,
            400: OpenApiResponse(ErrorSerializer, description=(
                "`validation_error` (`field`: strategy or params; the detail names the parameter) or `tca.bad_params` "
                "(a parameter of another algorithm, min_child over max_child, a window the algorithm refuses) or "
                "`tca.what_if_too_large` (`field`: params.interval_s or params.max_child: the estimated events pass the budget)")),
            403: OpenApiResponse(ErrorSerializer, description="`permission.desk_only`: replays are the desk's (a PM or an API client may not)"),
            404: _PARENT_404,
            409: OpenApiResponse(ErrorSerializer, description="`tca.parent_not_closed`: only a completed parent is replayed"),
            422: OpenApiResponse(ErrorSerializer, description=(
                "`tca.what_if_over_budget`: the replay passed its budget of events or seconds and was stopped (nothing stored)")),
            429: OpenApiResponse(ErrorSerializer, description="`tca.what_if_busy`: your what-if replays already running (WHAT_IF_MAX_PER_USER)"),
        },
    )
    @action(detail=True, methods=["post"], url_path="what-if")
    def what_if(self, request, pk=None):
        data = validated_body(s.WhatIfInputSerializer, request, closed=True)
        params = data.get("params") or {}
        if ems_selectors.parent_get(user=request.user, parent_id=int(pk)) is None:
            raise NotFound(ApiErrorCode.NOT_FOUND, f"No parent order {int(pk)}")
        run = services.what_if_run(parent_id=int(pk), strategy=data["strategy"], params=params, user=request.user,
                                   actor=Actor.for_user(request.user, "api"), cancelled=client_gone(request._request))
        return Response(s.WhatIfSerializer(reports.what_if_report(run)).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="What-if replays of the parents you may see whole, newest first", parameters=[WhatIfQuerySerializer],
                       responses={200: s.WhatIfListSerializer(many=True)}),
    retrieve=extend_schema(summary="One what-if replay: the actual execution and the replay side by side",
                           responses={200: s.WhatIfSerializer, 404: OpenApiResponse(ErrorSerializer, description="`not_found`")}),
)
class WhatIfViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Stored what-if replays; a PM reads those of the parents holding only their orders (a replay is the whole parent)."""

    serializer_class = s.WhatIfListSerializer
    permission_classes = [HasRole]
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        # A PM's: the replays of the parents wholly theirs (tca.selectors.what_ifs), never of a shared one.
        qs = selectors.what_ifs(user=self.request.user).select_related("requested_by")
        parent = validated_query(WhatIfQuerySerializer, self.request).get("parent")
        return qs if parent is None else qs.filter(parent_id=parent)

    def retrieve(self, request, pk=None):
        what_if = selectors.what_if_get(user=request.user, what_if_id=int(pk))
        if what_if is None:
            raise NotFound(ApiErrorCode.NOT_FOUND, f"No what-if replay {int(pk)}")
        return Response(s.WhatIfSerializer(reports.what_if_report(what_if)).data)


# --- summary, best execution, fills ---------------------------------------------------------------------


def _symbols(filters: dict) -> list[str] | None:
    return [filters["instrument"]] if filters.get("instrument") else None


def _scope(filters: dict) -> dict:
    """An export's period (its market days) and the filters applied, for its header block and file name."""
    return {"period": market_days(filters.get("day_from"), filters.get("day_to")), "filters": filters}


class SummaryApi(ExportMixin, APIView):
    """Closed parents' costs grouped by venue, algorithm, portfolio or period (market day), with filters."""

    permission_classes = [HasRole]

    @extend_schema(
        summary="TCA summary: costs grouped by venue, algorithm, portfolio or period (quantity-weighted)",
        parameters=[SummaryQuerySerializer, *EXPORT_PARAMETERS], responses=export_responses(s.SummarySerializer),
    )
    def get(self, request):
        query = validated_query(SummaryQuerySerializer, request)
        filters = report_filters(query)
        rows = selectors.summary(user=request.user, group_by=query["group_by"], filters=filters)
        fmt = self.export_format()
        if fmt:
            table = exports.summary_table(rows, query["group_by"], currency=exports.currency_of(_symbols(filters)))
            return self.export_file([table], report=f"TCA summary by {query['group_by']}", stem=f"tca-summary-{query['group_by']}",
                                    **_scope(filters))
        return Response(s.SummarySerializer({"group_by": query["group_by"], "filters": filters,
                                             "rows": [s.summary_row(r) for r in rows]}).data)


class BestExecutionApi(ExportMixin, APIView):
    """Best-execution report per venue (MiFID II RTS 28 / SEC Rule 606 in spirit)."""

    permission_classes = [HasRole]

    @extend_schema(
        summary="Best-execution report per venue: volume, orders, passive / aggressive / midpoint share, spread, cost, markout",
        parameters=[ReportFiltersSerializer, *EXPORT_PARAMETERS], responses=export_responses(s.BestExecutionSerializer),
    )
    def get(self, request):
        filters = report_filters(validated_query(ReportFiltersSerializer, request))
        rows = selectors.best_execution(user=request.user, filters=filters)
        fmt = self.export_format()
        if fmt:
            table = exports.best_execution_table(rows, currency=exports.currency_of(_symbols(filters)))
            return self.export_file([table], report="Best execution by venue", stem="tca-best-execution", **_scope(filters))
        return Response(s.BestExecutionSerializer({"filters": filters, "rows": rows}).data)


@extend_schema_view(list=extend_schema(
    summary="Our fills with their benchmarks at the fill (mid, spread, markouts, slippage vs arrival and interval VWAP)",
    parameters=[FillsQuerySerializer, *EXPORT_PARAMETERS],
    responses=export_responses(s.FillTCASerializer(many=True), extra={
        400: OpenApiResponse(ErrorSerializer, description=(
            f"`validation_error` (a filter or `format`) or `tca.export_too_large` (over {MAX_EXPORT_FILLS:,} fills: narrow the filters)")),
    }),
))
class FillTCAViewSet(ExportMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The fills under the reports, filtered like them (and by parent or venue); paginated as JSON, whole as a file."""

    permission_classes = [HasRole]
    serializer_class = s.FillTCASerializer

    def get_queryset(self):
        query = validated_query(FillsQuerySerializer, self.request)
        qs = selectors.fills_for_export(user=self.request.user, filters=report_filters(query))
        # parent and venue narrow the selector's set (they are no grouping filters of the reports).
        if query.get("parent") is not None:
            qs = qs.filter(parent_id=query["parent"])
        if query.get("venue"):
            qs = qs.filter(venue__code__iexact=query["venue"])
        return qs

    def list(self, request, *args, **kwargs):
        qs = self.get_queryset()
        fmt = self.export_format()
        if fmt:
            rows = list(qs[: MAX_EXPORT_FILLS + 1])
            if len(rows) > MAX_EXPORT_FILLS:
                raise DomainError(TcaErrorCode.EXPORT_TOO_LARGE, f"More than {MAX_EXPORT_FILLS:,} fills: narrow the filters (days, instrument, parent)")
            query = validated_query(FillsQuerySerializer, request)
            scope = _scope({**report_filters(query), **{k: query[k] for k in ("parent", "venue") if query.get(k) is not None}})
            return self.export_file([exports.fills_table(rows)], report="TCA fills", stem="tca-fills", **scope)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.FillTCASerializer([exports.fill_row(f) for f in page], many=True).data)


# --- imports of outside executions ----------------------------------------------------------------------


class CSVTextParser(BaseParser):
    """A ``text/csv`` body as text: UTF-8 (a byte-order mark is dropped) unless ``charset=`` names another text
    encoding. A codec that is not one (``rot13``, ``zlib``, ``base64``, ``hex``...) is ``tca.import_encoding``,
    as is a body its charset cannot decode; characters it decodes to that no text may hold (a lone surrogate from
    ``utf-7``, a control character) are refused by row and field (``tca.services.imports``)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        params = {}
        for part in (media_type or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            params[key.lower()] = value.strip('"')
        charset = params.get("charset", "utf-8")
        try:
            info = codecs.lookup(charset)
        except LookupError as exc:
            raise ParseError({"code": TcaErrorCode.IMPORT_ENCODING, "detail": f"Unknown charset {charset[:40]!r}: send UTF-8"}) from exc
        codec = info.name
        if not getattr(info, "_is_text_encoding", True):  # bytes-to-bytes (zlib, base64) or str-to-str (rot13) codecs
            raise ParseError({"code": TcaErrorCode.IMPORT_ENCODING, "detail": f"{charset[:40]!r} is not a text encoding: send UTF-8"})
        try:
            return stream.read().decode("utf-8-sig" if codec == "utf-8" else codec)
        except (UnicodeError, LookupError) as exc:  # UnicodeError: also idna's and punycode's own failures
            raise ParseError({"code": TcaErrorCode.IMPORT_ENCODING, "detail": f"The body is not {codec} text (save the file as CSV UTF-8)"}) from exc


_IMPORT_HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"


class ImportApi(APIView):
    """Import a CSV of outside executions and answer each row's slippage against its benchmark price and the
    quantity-weighted totals. One bad row refuses the whole file: nothing is stored."""

    permission_classes = [HasRole]
    parser_classes = [CSVTextParser, MultiPartParser]
    schema = ClosedBodySchema()  # the multipart body has the fields file and name, no other

    @extend_schema(
        operation_id="tca_executions_import_create",
        summary="Import outside executions (CSV) for TCA: per-row slippage and quantity-weighted totals",
        description=(
            f"The CSV's header is exactly `{_IMPORT_HEADER}`; timestamps are ISO 8601 with an offset; side buy|sell; quantity a "
            "whole number; prices positive. Send it as the body (`Content-Type: text/csv`, UTF-8, at most 10 MiB; `?name=` "
            "names the set) or as the multipart field `file` (at most 20 MB, up to 100,000 rows) with an optional field `name`. "
            "Slippage bps = s (benchmark - price) / benchmark x 1e4, s = +1 buy / -1 sell: positive = better than the benchmark."),
        parameters=[OpenApiParameter("name", str, required=False, description="text/csv body: a name for the set (at most 200 characters)")],
        request={
            "text/csv": {"type": "string", "description": f"The CSV file; first line `{_IMPORT_HEADER}`"},
            "multipart/form-data": s.ImportUploadSerializer,
        },
        responses={
            201: s.ImportSetDetailSerializer,
            400: OpenApiResponse(s.ImportErrorResponseSerializer, description=(
                "Nothing stored. `tca.import_invalid` (`errors`: each bad row's line, field, code and detail), `tca.import_empty`, "
                "`tca.import_bad_header`, `tca.import_encoding` (not UTF-8), `tca.import_too_large` (over 100,000 rows), "
                "`validation_error` (the multipart `file` or `name`), `parse_error` (a malformed multipart body)")),
            403: OpenApiResponse(ErrorSerializer, description="`permission.read_only`: compliance imports nothing"),
            413: OpenApiResponse(ErrorSerializer, description=(
                "`tca.import_too_large` (an upload over 20 MB) or `request_too_large` (a text/csv body over 10 MiB: upload it as multipart)")),
            415: OpenApiResponse(ErrorSerializer, description="`unsupported_media_type`: send text/csv or multipart/form-data"),
        },
    )
    def post(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BYTES + 64 * 1024:  # refused before the upload is read
            raise DomainError(TcaErrorCode.IMPORT_TOO_LARGE, f"The file is over {MAX_BYTES // (1024 * 1024)} MB: split it", status=413)
        if request.content_type.startswith("multipart/"):
            text, name = self._multipart(request)
        else:
            text = request.data if isinstance(request.data, str) else ""  # an empty body parses to {}
            name = request.query_params.get("name", "")
            self._check_name(name)
        import_set = services.executions_import(name=name.strip() or "API import", text=text, user=request.user,
                                                actor=Actor.for_user(request.user, "api"))
        # The first page of rows; ``next`` pages on at the set's own URL.
        report = reports.import_set_report(import_set)
        size = StandardPagination.page_size
        detail = request.build_absolute_uri(reverse("tca-import-set-detail", args=[import_set.pk]))
        page = {"rows": list(report["rows"][:size]), "count": import_set.rows, "previous": None,
                "next": replace_query_param(detail, "page", 2) if import_set.rows > size else None}
        return Response(s.ImportSetDetailSerializer({**report, **page}).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _check_name(name) -> None:
        if not isinstance(name, str) or has_invalid_characters(name) or len(name) > s.IMPORT_NAME_MAX:
            raise ValidationFailed({"name": [{"code": FieldErrorCode.INVALID, "detail": f"name: at most {s.IMPORT_NAME_MAX} characters, no control characters"}]})

    def _multipart(self, request) -> tuple[str, str]:
        for key in request.data:
            if key not in ("file", "name"):
                raise ValidationFailed({"non_field_errors": [{"code": FieldErrorCode.UNKNOWN_FIELD, "detail": "Send the fields file and (optionally) name"}]})
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed({"file": [{"code": FieldErrorCode.REQUIRED, "detail": "Attach the CSV as the multipart field file"}]})
        if upload.size > MAX_BYTES:
            raise DomainError(TcaErrorCode.IMPORT_TOO_LARGE, f"The file is over {MAX_BYTES // (1024 * 1024)} MB: split it",
                              field="file", status=413)
        name = request.data.get("name", "")
        self._check_name(name)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DomainError(TcaErrorCode.IMPORT_ENCODING, "The file is not UTF-8 text (save it as CSV UTF-8)", field="file") from exc
        return text, name or (upload.name or "")[: s.IMPORT_NAME_MAX]


@extend_schema_view(
    list=extend_schema(summary="Imported sets of outside executions you may see, newest first",
                       responses={200: s.ImportSetSerializer(many=True)}),
    retrieve=extend_schema(
        summary="One imported set: the totals and a page of its rows' slippage (the whole set: ?format=csv, streamed)",
        parameters=[*EXPORT_PARAMETERS,
                    OpenApiParameter("page", int, required=False, description="JSON: the page of rows (from 1)"),
                    OpenApiParameter("page_size", int, required=False, description="JSON: rows per page, 1 to 500 (default 50)")],
        responses=export_responses(s.ImportSetDetailSerializer, extra={
            400: OpenApiResponse(ErrorSerializer, description=(
                "`validation_error` (`format`, `page`, `page_size`) or `tca.xlsx_too_large` (an XLSX of more rows than "
                "EXPORT_XLSX_MAX_ROWS: use ?format=csv)")),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: no such set among those you may see, or a page past the last")})),
)
class ImportSetViewSet(ExportMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Imported sets, kept whole and reopened here (a PM: their own; the desk: all)."""

    export_actions = frozenset({"retrieve"})
    permission_classes = [HasRole]
    lookup_value_regex = ID_REGEX

    def get_serializer_class(self):
        return s.ImportSetDetailSerializer if self.action == "retrieve" else s.ImportSetSerializer

    def get_queryset(self):
        return selectors.import_sets(user=self.request.user)

    def retrieve(self, request, pk=None):
        import_set = selectors.import_set_get(user=request.user, set_id=int(pk))
        if import_set is None:
            raise NotFound(ApiErrorCode.NOT_FOUND, f"No imported set {int(pk)}")
        report = reports.import_set_report(import_set)
        fmt = self.export_format()
        if fmt == exports.XLSX and import_set.rows > settings.EXPORT_XLSX_MAX_ROWS:
            raise DomainError(TcaErrorCode.XLSX_TOO_LARGE, f"The set has {import_set.rows:,} rows: an XLSX export takes at most "
                              f"{settings.EXPORT_XLSX_MAX_ROWS:,}; export it as CSV (?format=csv) or import a narrower set",
                              field=FORMAT_PARAM)
        if fmt:  # a CSV streams its rows as they are read
            report = {**report, "rows": report["rows"].iterator(chunk_size=exports.CSV_CHUNK_ROWS)}
            table = exports.import_set_table(report, count=import_set.rows + 1)  # its rows and the TOTAL line
            return self.export_file([table], report=f"Imported executions: {import_set.name}", stem=f"tca-import-{import_set.pk}",
                                    stream=True)
        rows = self.paginate_queryset(report["rows"])
        page = {"rows": rows, "count": self.paginator.page.paginator.count, "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link()}
        return Response(s.ImportSetDetailSerializer({**report, **page}).data)


# --- reconciliation -------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(
    summary="Reconciliation runs, newest first: fills vs allocations vs orders vs internal crosses, and the breaks found",
    responses={200: s.ReconciliationRunSerializer(many=True),
               403: OpenApiResponse(ErrorSerializer, description="`permission.desk_only`: for traders, compliance and admins")},
))
class ReconciliationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The books reconciled every 5 minutes (tca.tasks.reconciliation_run); each run is also in the audit trail."""

    serializer_class = s.ReconciliationRunSerializer
    permission_classes = [HasRole, IsDeskRole]

    def get_queryset(self):
        return ReconciliationRun.objects.order_by("-id")

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from oms.api.errors import field_error
from oms.error_codes import FieldErrorCode

_DIGITS = frozenset("0123456789")


BEYOND = 10**18  # any longer number is past the last page, and past int()'s digit limit


def whole_number(value: str) -> int | None:
    """A query parameter's whole number (ASCII digits only; BEYOND for more than 18 digits), None if it is not one."""
    # int() would also take " 7", "+7", "7_0" and non-ASCII digits.
    if not value or not set(value) <= _DIGITS:
        return None
    return int(value) if len(value) <= 18 else BEYOND


class StandardPagination(PageNumberPagination):
    """``?page=N&page_size=M`` (M from 1 to 500); the body carries count, next, previous, results.

    Both are validated strictly, as the schema declares them: a value that is not a whole number in range
    (``page=``, ``page_size=null``, ``page_size=0``, ``page_size=501``) answers 400, never a silent default.
    A page past the last answers 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # "page=last" is not in the schema's integer

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise ValidationError(field_error(self.page_size_query_param, FieldErrorCode.INVALID, f"page_size must be a whole number from 1 to {self.max_page_size}"))
        return size

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        number = whole_number(raw)
        if number is None or number < 1:
            raise ValidationError(field_error(self.page_query_param, FieldErrorCode.INVALID, "page must be a whole number from 1"))
        return number

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_query_param:
                param["schema"] = {"type": "integer", "minimum": 1}
            elif param["name"] == self.page_size_query_param:
                param["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return params

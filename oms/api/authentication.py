from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from oms.error_codes import AuthErrorCode
from oms.refdata import refdata
from oms.services.tokens import token_is_expired


class CachedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, answered from the stamped reference-data cache (oms.refdata).

    A new, deleted or regenerated token, or a deactivated user, is seen by the next request, exactly as
    with DRF's TokenAuthentication, without a query per request. A token older than
    ``settings.API_TOKEN_TTL`` is refused with ``auth.token_expired``; ``POST /api/auth/token/`` issues
    a fresh one.
    """

    def authenticate_credentials(self, key):
        token = refdata().tokens.get(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed(
                {"code": AuthErrorCode.TOKEN_EXPIRED, "detail": "This API token has expired: ask POST /api/auth/token/ for a new one."}
            )
        return token.user, token


class SignInLocked(exceptions.APIException):
    """A sign-in refused because the username or the address is locked out (oms.signin)."""

    status_code = 429
    default_code = AuthErrorCode.LOCKED_OUT

    def __init__(self, detail: str, wait: int):
        super().__init__({"code": AuthErrorCode.LOCKED_OUT, "detail": detail})
        self.wait = wait  # seconds; the exception handler sends it as Retry-After

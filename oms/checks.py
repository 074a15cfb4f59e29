"""Deployment checks of our own (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_hmac_key_is_set(app_configs, **kwargs):
    """In production the audit checkpoints must be signed with a key of their own, not one derived from
    SECRET_KEY: rotating the secret key would otherwise orphan every checkpoint signed before."""
    if settings.AUDIT_HMAC_KEY:
        return []
    return [
        Warning(
            "AUDIT_HMAC_KEY is not set: audit checkpoints are signed with a key derived from SECRET_KEY.",
            hint="Set AUDIT_HMAC_KEY (and AUDIT_HMAC_KEY_ID) from a secret store readable only by the app.",
            id="oms.W001",
        )
    ]

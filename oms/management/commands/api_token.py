import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oms.errors import DomainError
from oms.roles import Actor
from oms.services.tokens import api_token_revoke, api_token_rotate, token_expires_at


class Command(BaseCommand):
    help = (
        "Rotate (new key, printed once) or revoke a user's API token. Audited as auth.token_rotated / "
        "auth.token_revoked; the old key is refused by every process from the next request on."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate", "revoke"])
        parser.add_argument("username")
        parser.add_argument("--reason", default="", help="why (kept in the audit trail)")

    def handle(self, *args, action, username, reason, **options):
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}")
        # The operator is who ran the command on the server (the OS account), as the audit trail records it.
        operator = getpass.getuser()
        actor = Actor(name=operator, type="system", source=f"system:api_token:{operator}")
        reason = reason or f"{action}d with manage.py api_token by {operator}"
        if action == "rotate":
            token = api_token_rotate(user=user, actor=actor, reason=reason)
            expires = token_expires_at(token)
            self.stdout.write(f"New API token for {username}: {token.key}")
            self.stdout.write(f"Expires at: {expires.isoformat() if expires else 'never'}")
            return
        try:
            api_token_revoke(user=user, actor=actor, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.detail)
        self.stdout.write(f"Revoked the API token of {username}")

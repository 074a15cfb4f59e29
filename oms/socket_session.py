"""Websockets live no longer than the session that opened them, and forward only what their user may see now.

A socket is authorised when it connects, but it stays open for hours. So every consumer (the blotter, the
desk and parent pages, the RFQ ladder) derives from ``SessionBoundConsumer``, which

* before forwarding any message, reads the session again from the session store (``django.contrib.auth``'s
  own ``get_user``: the session still exists and has not expired, it maps to the same user, the user is still
  active and the password hash it was signed with is still current) and asks the consumer whether that fresh
  user may see the message (``may_see``: portfolio membership and role looked up now, never cached);
  a message the user may no longer see is dropped, and a socket whose session has ended is closed (4401);
* joins the per-user group ``user_group(user.pk)``: a logout, a change of the user (password, active flag),
  of their roles or of their portfolios sends ``session.check`` there after commit, so the socket closes at
  once when its session ended and the blotter re-joins the portfolio groups it may see now;
* re-checks the session when it is due to expire, and closes it then.

Messages reach the consumers through ``oms.broadcast.publisher``, which tags each with the group it was sent
to (``"group"``); the tag is removed before the message goes to the browser.
"""

from __future__ import annotations

import asyncio
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver
from django.utils import timezone

SESSION_ENDED = 4401  # the close code a page reads as "signed out": it stops reconnecting

# Longest wait between two checks of a session's expiry (the expiry can move when the session is used).
MAX_EXPIRY_RECHECK_S = 60


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _session_store(session_key: str | None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def current_user(user_id: int, session_key: str | None, *, has_session: bool):
    """The user as the session store says now, or None when the session has ended (logged out, expired,
    password changed, deactivated) or belongs to somebody else. A scope composed without a session (the
    in-process tests build the scope by hand) is checked against the user row alone."""
    if has_session:
        user = get_user(SimpleNamespace(session=_session_store(session_key)))
        return user if user.is_authenticated and user.pk == user_id else None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


@database_sync_to_async
def _fresh_user_and_permission(consumer: SessionBoundConsumer, event: dict | None):
    user = current_user(consumer.user_id, consumer.session_key, has_session=consumer.has_session)
    if user is None:
        return None, False
    return user, (event is None or consumer.may_see(user, event.get("group"), event))


@database_sync_to_async
def _seconds_left(consumer: SessionBoundConsumer) -> float | None:
    """Seconds until the session expires as stored now, or None when it has ended already."""
    if current_user(consumer.user_id, consumer.session_key, has_session=True) is None:
        return None
    store = _session_store(consumer.session_key)
    model = getattr(store, "model", None)  # the database-backed stores keep the expiry on the row
    if model is not None:
        expire = model.objects.filter(session_key=consumer.session_key).values_list("expire_date", flat=True).first()
        if expire is None:
            return None
        return (expire - timezone.now()).total_seconds()
    return store.get_expiry_age()


class SessionBoundConsumer(AsyncJsonWebsocketConsumer):
    """A consumer that forwards a message only while its session lives and its user may see it.

    Subclasses call ``bind_session(user)`` once they accept the socket, implement ``may_see(user, group,
    event)`` (sync, runs in a thread with database access) and forward with ``forward(event)``.
    """

    user_id: int | None = None

    async def bind_session(self, user) -> None:
        session = self.scope.get("session")
        self.user_id = user.pk
        self.has_session = session is not None
        self.session_key = None if session is None else session.session_key
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        if self.has_session:
            self._expiry_task = asyncio.ensure_future(self._close_at_expiry())

    async def unbind_session(self) -> None:
        if self.user_id is not None:
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
        task = getattr(self, "_expiry_task", None)
        if task is not None:
            task.cancel()

    def may_see(self, user, group: str | None, event: dict) -> bool:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    async def access_changed(self, user) -> None:
        """Called after a ``session.check`` while the session still lives (the blotter re-joins its groups)."""

    async def forward(self, event: dict) -> None:
        if self.user_id is None:
            return
        user, allowed = await _fresh_user_and_permission(self, event)
        if user is None:
            await self.end_session()
        elif allowed:
            try:
                await self.send_json({k: v for k, v in event.items() if k != "group"})
            except RuntimeError:
                # The client left while its access was being checked (a page navigating away mid-push): uvicorn
                # refuses a send after the close, and the disconnect that follows unbinds this consumer.
                return

    async def end_session(self, code: int = SESSION_ENDED) -> None:
        await self.unbind_session()
        self.user_id = None
        await self.close(code=code)

    async def session_check(self, event: dict) -> None:
        if self.user_id is None:
            return
        if self.has_session and event.get("ended") == self.session_key:
            await self.end_session()
            return
        user, _ = await _fresh_user_and_permission(self, None)
        if user is None:
            await self.end_session()
        else:
            await self.access_changed(user)

    async def _close_at_expiry(self) -> None:
        while True:
            left = await _seconds_left(self)
            if left is None or left <= 0:
                await self.end_session()
                return
            await asyncio.sleep(min(left, MAX_EXPIRY_RECHECK_S) + 0.1)


# --- who is told to check: after commit, the users whose session or access changed ---------------------------


def _check_on_commit(user_ids, **extra) -> None:
    from oms.broadcast import publisher

    messages = [(user_group(uid), {"type": "session.check", **extra}) for uid in set(user_ids) if uid is not None]
    if messages:
        transaction.on_commit(lambda: publisher.publish(messages))


@receiver(user_logged_out, dispatch_uid="oms_socket_logout")
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        session = getattr(request, "session", None)
        _check_on_commit([user.pk], ended=None if session is None else session.session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="oms_socket_user_saved")
def _on_user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no socket; a sign-in changes nothing an open socket depends on
    _check_on_commit([instance.pk])


def _users_of(instance) -> list[int]:
    related = instance.members if hasattr(instance, "members") else instance.user_set  # a Portfolio or a Group
    return list(related.values_list("pk", flat=True))


def _on_membership_changed(sender, instance, action, pk_set, **kwargs):
    """A user's portfolios or roles changed (from either side of the relation)."""
    if isinstance(instance, get_user_model()):
        if action.startswith("post_"):
            _check_on_commit([instance.pk])
    elif action == "pre_clear":  # the users are gone by post_clear
        _check_on_commit(_users_of(instance))
    elif action in ("post_add", "post_remove"):
        _check_on_commit(pk_set or [])


def connect_signals() -> None:
    from oms.models import Portfolio

    m2m_changed.connect(_on_membership_changed, sender=Portfolio.members.through, dispatch_uid="oms_socket_members")
    m2m_changed.connect(_on_membership_changed, sender=get_user_model().groups.through, dispatch_uid="oms_socket_roles")

"""Group commit for single orders: one order per request, many requests at once, one transaction for them all.

A single-order submission (``POST /api/orders/``, the browser ticket, a FIX gateway's session threads) costs
a handful of database and Redis round trips and a commit; a bulk of a thousand costs about the same handful.
``order_submit`` lets the single orders that concurrent requests of this process submit at the same moment
share them: the orders are written by ``intake.submissions_submit``, the bulk's set-based path, in one
transaction, and each request gets the answer it would have got alone (201, 200 resend, 409, 422 with its
risk code, 400), with the same audit events and the same websocket pushes after the commit.

Leader and followers, no thread of its own: the first request to arrive while no group is being written
writes its own order at once (a lone request never waits for company); requests arriving meanwhile queue,
and when the group is committed the first of them writes everything queued (up to
``INTAKE_GROUP_MAX_ORDERS``) as the next group. Under load the groups are as large as the requests that
arrived while the previous one was written; no timer is involved.

A group that loses a client_order_id race to another process, or fails as a whole (a database error, a
refused commit), commits nothing, and each of its orders is submitted again on its own by its own request
(``intake.SubmitAgain``): one order's failure stays that order's, and no order is ever answered as
written when it was not.

Under uvicorn (``config.server``) every request runs its sync code in a thread of its own (Django's
per-request ``ThreadSensitiveContext``), so concurrent requests of one process meet here; under a
one-thread-per-process WSGI worker each group is one order. ``INTAKE_GROUP_COMMIT=0`` turns it off; a
caller inside a transaction of its own always submits directly, inside that transaction.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import connection, transaction

from oms.roles import Actor
from oms.services.intake import IntakeResult, Submission, SubmitAgain, orders_submit, submission_resubmit, submissions_submit

log = logging.getLogger(__name__)


def order_submit(*, user, actor: Actor, data) -> IntakeResult:
    """Submit one order (see ``intake.orders_submit``), in a group with the orders other requests of this
    process submit at the same moment (see the module's docstring)."""
    if not settings.INTAKE_GROUP_COMMIT or transaction.get_connection().in_atomic_block or intake_group.writing_here():
        return orders_submit(user=user, actor=actor, items=[data])[0]
    return intake_group.submit(Submission(user, actor, data))


@dataclass
class _Waiter:
    """A request waiting in the queue: woken with its answer, or to write the next group itself."""

    submission: Submission
    woken: threading.Event = field(default_factory=threading.Event)
    answer: IntakeResult | SubmitAgain | BaseException | None = None
    leads: bool = False


@dataclass
class GroupStats:
    """What this process's group commit has written so far (tests and the bench read it)."""

    groups: int = 0
    orders: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # group size -> how many groups had it
    # Groups that committed nothing (a lost client_order_id race, a failure): their orders went again alone.
    resubmitted: int = 0


class IntakeGroup:
    """The queue of single orders of one process and the hand-over of the writer's role (see the module)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()
        self._writing = False
        self._writer = threading.local()  # .active: this thread is writing a group
        self.stats = GroupStats()

    def writing_here(self) -> bool:
        """Whether this thread is writing a group: an order it submits meanwhile (from a hook called while the
        group is written) cannot wait for that group, and is written on its own."""
        return getattr(self._writer, "active", False)

    def submit(self, submission: Submission) -> IntakeResult:
        """Submit one order in the next group; block until it is answered."""
        me = _Waiter(submission)
        with self._lock:
            self._queue.append(me)
            me.leads = not self._writing
            self._writing = True
        if not me.leads:
            log.debug("an order of %s waits for the intake group being written", submission.source)
            _lend_connection()
            me.woken.wait()
        if me.leads:  # first in the queue: write everything queued, this order first
            self._write_group()
        answer = me.answer
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, SubmitAgain):
            return submission_resubmit(submission, answer.throttled)
        return replace(answer, index=0)

    def pending(self) -> int:
        """Orders queued for the next group."""
        with self._lock:
            return len(self._queue)

    def _write_group(self) -> None:
        with self._lock:
            group = [self._queue.popleft() for _ in range(min(len(self._queue), settings.INTAKE_GROUP_MAX_ORDERS))]
        self._writer.active = True
        try:
            subs = [replace(w.submission, request=k) for k, w in enumerate(group)]
            answers = submissions_submit(subs)
        except BaseException as exc:  # noqa: BLE001 - handed to every request of the group, raised there
            answers = [exc] * len(group)
        finally:
            self._writer.active = False
            self._hand_over()
        self._count(len(group), resubmitted=isinstance(answers[0], SubmitAgain))
        for waiter, answer in zip(group, answers, strict=True):
            waiter.answer = answer
            waiter.woken.set()

    def _hand_over(self) -> None:
        """Wake the first queued request to write the next group (before answering this one's: its database
        work then overlaps their responses), or stand down."""
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.leads = True
                successor.woken.set()
            else:
                self._writing = False

    def _count(self, size: int, *, resubmitted: bool) -> None:
        stats = self.stats
        with self._lock:
            stats.groups += 1
            stats.resubmitted += resubmitted
            stats.orders += size
            stats.largest = max(stats.largest, size)
            stats.sizes[size] = stats.sizes.get(size, 0) + 1
        log.debug("intake group of %d order(s) written", size)


def _lend_connection() -> None:
    """Give this request's pooled database connection back while it waits (it takes another if it writes the
    next group, or its order again), so that the pool, not the queue, bounds the requests a process takes."""
    if connection.pool is not None:
        connection.close()


intake_group = IntakeGroup()

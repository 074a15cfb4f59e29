"""The FIX gateway on the QuickFIX engine: its settings, its callbacks, the thread that drives it.

The session layer (logon, heartbeats and test requests, sequence numbers, resends and gap fills, sequence
resets, PossDup, validation against the FIX 4.4 data dictionary with session-level Rejects) is the
engine's; nothing here writes any of it. What is ours, and why it is shaped this way (the engine's facts,
from its issue tracker):

- Callbacks run on the engine's thread while it holds the session lock. They do no database work and take
  no lock of ours: they copy the message and put it on a queue. One worker thread takes the queue in
  order, does the database work (``handler``, ``journal``) and answers with ``Session.sendToTarget``,
  which is thread-safe.
- A Python exception other than the engine's own escaping a callback ends the process (``Py_Exit(1)``):
  every callback catches everything and logs it; only the engine's own exceptions raised on purpose
  (``RejectLogon``) go through.
- ``SocketAcceptor.stop()`` after ``start()`` can crash (a race in the C++ acceptor): one thread, the
  pump, creates the acceptor, drives it with ``poll()``, does every other engine call (logout, reset,
  sequence numbers) and stops it. ``stop()`` here waits for that thread and the worker before it returns,
  so the interpreter never exits with an engine thread running.

The engine has no host setting for its acceptor (QuickFIX 1.16 binds INADDR_ANY). To listen on one address
only (``host``, default 127.0.0.1 in ``fix_gateway``), the engine is given an internal port of its own, and
right after its first poll has opened that listening socket (before it accepts anything), the pump puts a
socket of ours bound to (host, port) in its place with ``os.dup2``: the engine keys its listening sockets by
file descriptor, so it accepts on ours from then on, and its own one is closed (``_bind_host``).

A session is served by one gateway at a time (``Lease``, ``fix.lease``: PostgreSQL advisory locks): ``start``
takes every session's lease before it touches the session's store or journal, and refuses to start when another
gateway holds one; ``stop`` releases them once both threads are gone; the worker checks every ``SEQNUM_SAVE_S``
that they are still held, and stops the gateway when they are not.

Execution reports leave from the outbox (``fix.outbox``): the handler's ``idle`` runs on the worker after
every unit of work and at least every ``WORKER_IDLE_S``; ``send_counted`` tells it the MsgSeqNum each went
out with (the engine calls ``toApp`` on the sending thread with the header filled in).
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import socket
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import _quickfix
import quickfix as qf
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

BEGIN_STRING = "FIX.4.4"
# The wheel installs the engine's data dictionaries under <prefix>/share/quickfix.
DATA_DICTIONARY = Path(sysconfig.get_path("data")) / "share" / "quickfix" / "FIX44.xml"
# The pump sleeps this long between polls when the engine had nothing to do: the ceiling on the latency it adds.
POLL_IDLE_S = 0.001
SEQNUM_SAVE_S = 1.0  # how often the pump hands the engine's sequence numbers to the journal
LOGOUT_GRACE_S = 2.0  # on stop: how long logged-on clients get to answer our Logout
STOP_TIMEOUT_S = 15.0
WORKER_IDLE_S = 0.05  # the worker looks at the outbox at least this often (a fill booked by another process)
ANY_HOST = ("0.0.0.0", "")  # the engine's own binding: no socket of ours put in its place

SessionKey = tuple[str, str]  # (our SenderCompID, their TargetCompID)


@dataclass(frozen=True)
class SessionConfig:
    """One session as the engine is told about it."""

    ours: str
    theirs: str
    heartbeat_seconds: int = 30
    reset_on_logon: bool = False
    # Further engine settings for this session (the conformance test's ValidateFieldsHaveValues=N).
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> SessionKey:
        return (self.ours, self.theirs)


@dataclass(frozen=True)
class Restored:
    """A session's state as the journal kept it: the engine's store is filled with it before the first poll."""

    next_sender_seq: int
    next_target_seq: int
    sent: list[tuple[int, str]]  # (MsgSeqNum, message) of what we sent in the current sequence
    reset: bool = False  # an operator reset it while the gateway was stopped: start the sequence at 1


@dataclass(frozen=True)
class Logged:
    """One message as it went over a session, for the journal."""

    key: SessionKey
    direction: str  # "in" | "out"
    raw: str
    seq_num: int
    msg_type: str
    cl_ord_id: str
    poss_dup: bool
    at: float


class Journal(Protocol):
    """Where the sessions' messages and sequence numbers are kept (``fix.store``: PostgreSQL)."""

    def restore(self, key: SessionKey) -> Restored: ...
    def append(self, logged: list[Logged]) -> None: ...
    def save_seqnums(self, seqnums: dict[SessionKey, tuple[int, int]]) -> None: ...
    def reset_done(self, key: SessionKey) -> None: ...
    def refresh(self) -> tuple[dict[SessionKey, bool], set[SessionKey]]:
        """(enabled per session, sessions an operator reset since the last call)."""
        ...


class Lease(Protocol):
    """Who serves a session: one gateway at a time (``fix.lease``: PostgreSQL advisory locks)."""

    def acquire(self, keys: list[SessionKey]) -> None:
        """Take every session's lease, or none and raise ``GatewayError`` naming those another gateway holds."""
        ...
    def held(self) -> bool:
        """Whether every lease taken is still held (False once its connection is lost)."""
        ...
    def release(self) -> None: ...


class Handler(Protocol):
    """The application: what a session's application messages mean (order entry, or the conformance echo)."""

    # The application message types (FIX 35) it takes; the gateway answers any other with a
    # BusinessMessageReject (35=j, 380=3), as the engine would if the callback raised UnsupportedMessageType.
    msg_types: frozenset[str]

    def handle(self, gateway: Gateway, key: SessionKey, messages: list[qf.Message]) -> None:
        """Application messages of one session that arrived together, in order."""
        ...
    def on_logon(self, gateway: Gateway, key: SessionKey) -> None:
        """A session logged on (its sequence may have started again)."""
        ...
    def idle(self, gateway: Gateway) -> None:
        """After every unit of work, and at least every ``WORKER_IDLE_S``: send what is waiting to be sent."""
        ...


def session_id(key: SessionKey) -> qf.SessionID:
    return qf.SessionID(BEGIN_STRING, key[0], key[1])


def key_of(sid: qf.SessionID) -> SessionKey:
    return (sid.getSenderCompID().getValue(), sid.getTargetCompID().getValue())


def engine_settings(sessions: list[SessionConfig], port: int, *, store_dir: Path, log_dir: Path | None = None) -> qf.SessionSettings:
    """The engine's settings: one acceptor port, FIX 4.4 sessions validated against the shipped dictionary."""
    if not DATA_DICTIONARY.is_file():
        raise qf.ConfigError(f"The FIX 4.4 data dictionary is not at {DATA_DICTIONARY} (is quickfix-py installed?)")
    settings = qf.SessionSettings()
    defaults = qf.Dictionary()
    for name, value in {
        "ConnectionType": "acceptor",
        "SocketAcceptPort": str(port),
        "SocketReuseAddress": "Y",
        "SocketNodelay": "Y",
        # A FIX day runs 00:00-00:00 UTC: the engine resets a session's sequence numbers when a new one begins.
        "StartTime": "00:00:00",
        "EndTime": "00:00:00",
        "UseDataDictionary": "Y",
        "DataDictionary": str(DATA_DICTIONARY),
        # The engine's defaults, written out because the conformance scripts depend on them.
        "CheckLatency": "Y",
        "MaxLatency": "120",
        "ValidateFieldsOutOfOrder": "Y",
        "ValidateUserDefinedFields": "Y",
        "PersistMessages": "Y",
        "FileStorePath": str(store_dir),
        **({"FileLogPath": str(log_dir)} if log_dir else {}),
    }.items():
        defaults.setString(name, value)
    settings.set(defaults)
    for s in sessions:
        d = qf.Dictionary()
        d.setString("BeginString", BEGIN_STRING)
        d.setString("SenderCompID", s.ours)
        d.setString("TargetCompID", s.theirs)
        d.setString("HeartBtInt", str(s.heartbeat_seconds))
        d.setString("ResetOnLogon", "Y" if s.reset_on_logon else "N")
        for name, value in s.extra.items():
            d.setString(name, value)
        settings.set(session_id(s.key), d)
    return settings


def field_or(message: qf.FieldMap, tag: int, default: str = "") -> str:
    """A field's value as text, or ``default`` when the message does not carry it."""
    return message.getField(tag) if message.isSetField(tag) else default


def _logged(key: SessionKey, direction: str, message: qf.Message) -> Logged:
    header = message.getHeader()
    return Logged(
        key=key, direction=direction, raw=message.toString(),
        seq_num=int(field_or(header, 34, "0") or 0),  # FIX 34 MsgSeqNum
        msg_type=field_or(header, 35),  # FIX 35 MsgType
        cl_ord_id=field_or(message, 11).replace("\x00", "")[:64],  # FIX 11 ClOrdID (a text column: no NUL)
        poss_dup=field_or(header, 43) == "Y",  # FIX 43 PossDupFlag
        at=time.time(),
    )


class _Callbacks(qf.Application):
    """The engine's callbacks: copy, queue, return. Nothing escapes but the engine's own exceptions."""

    def __init__(self, gateway: Gateway):
        super().__init__()
        self._gw = gateway

    def onCreate(self, sid):
        pass

    def onLogon(self, sid):
        try:
            log.info("FIX session %s logged on", sid.toString())
            self._gw._logged_on.add(key_of(sid))
            self._gw._inbox.put(("logon", key_of(sid)))
        except Exception:
            log.exception("onLogon")

    def onLogout(self, sid):
        try:
            log.info("FIX session %s logged out", sid.toString())
            self._gw._logged_on.discard(key_of(sid))
        except Exception:
            log.exception("onLogout")

    def toAdmin(self, message, sid):
        try:
            self._gw._inbox.put(("log", _logged(key_of(sid), "out", message)))
        except Exception:
            log.exception("toAdmin")

    def toApp(self, message, sid):
        try:
            logged = _logged(key_of(sid), "out", message)
            self._gw._sent.seq = logged.seq_num  # on the sending thread: send_counted reads it back
            self._gw._inbox.put(("log", logged))
        except Exception:
            log.exception("toApp")

    def fromAdmin(self, message, sid):
        refusal = None
        try:
            key = key_of(sid)
            self._gw._inbox.put(("log", _logged(key, "in", message)))
            if field_or(message.getHeader(), 35) == "A":  # Logon
                refusal = self._gw._logon_refusal(key, message)
        except Exception:
            log.exception("fromAdmin")
            refusal = "internal error"
        if refusal:
            raise qf.RejectLogon(refusal)  # the engine answers with a Logout carrying this text

    def fromApp(self, message, sid):
        try:
            key = key_of(sid)
            self._gw._inbox.put(("log", _logged(key, "in", message)))
            self._gw._inbox.put(("app", key, qf.Message(message)))
        except Exception:
            log.exception("fromApp")


def _runs(work: list[tuple], msg_types: frozenset[str]):
    """(kind, entries) in order: consecutive supported application messages of one session form one run
    (the handler takes them together); every other entry is a run of its own."""
    run: list[tuple] = []
    for entry in work:
        kind = entry[0]
        if kind == "app" and field_or(entry[2].getHeader(), 35) not in msg_types:
            kind = "unsupported"
        if kind == "app" and run and run[0][1] == entry[1]:
            run.append(entry)
            continue
        if run:
            yield "app", run
            run = []
        if kind == "app":
            run = [entry]
        else:
            yield kind, [entry]
    if run:
        yield "app", run


class GatewayError(Exception):
    """The gateway could not start (the port is taken, the settings are wrong)."""


class Gateway:
    """A FIX acceptor for ``sessions`` on ``port``, with ``handler`` as its application.

    ``start()`` returns once the port is listening; ``stop()`` logs the sessions out, stops the engine
    from its own thread, drains the worker and returns only when both threads are gone.
    """

    def __init__(self, *, sessions: list[SessionConfig], port: int, handler: Handler, journal: Journal,
                 store_dir: Path, log_dir: Path | None = None, host: str = "127.0.0.1", lease: Lease | None = None):
        self.port = port
        self._lease = lease
        self.lease_lost = False  # it stopped itself: its lease on its sessions was lost
        self.host = host
        self._sessions = list(sessions)
        self._handler = handler
        self._journal = journal
        self._store_dir = Path(store_dir)
        # Bound to one address: the engine listens on an internal port until _bind_host puts ours in its place.
        self._engine_port = port if host in ANY_HOST else _free_port()
        self._settings = engine_settings(self._sessions, self._engine_port, store_dir=self._store_dir, log_dir=log_dir)
        self._logged_on: set[SessionKey] = set()  # kept by the engine's onLogon / onLogout
        self._sent = threading.local()  # the MsgSeqNum toApp saw on this thread
        self._log_factory = qf.FileLogFactory(self._settings) if log_dir else None
        self._inbox: queue.Queue = queue.Queue()
        self._control: queue.Queue = queue.Queue()
        # What the worker last told the pump (set from the journal at start).
        self._enabled: dict[SessionKey, bool] = {s.key: True for s in self._sessions}
        self._resetting: set[SessionKey] = set()  # resets handed to the pump, not done yet (worker only)
        self._acceptor = None  # the pump's only (see _pump_run)
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._start_error: BaseException | None = None
        self._pump = threading.Thread(target=self._pump_run, name="fix-pump", daemon=False)
        self._worker = threading.Thread(target=self._worker_run, name="fix-worker", daemon=False)

    # --- the public face ---------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> None:
        # Here, on the caller's thread, before the engine runs: the pump thread does no database work.
        # The leases first: nothing of a session (its store, its journal) is touched while another gateway serves it.
        if self._lease is not None:
            self._lease.acquire([s.key for s in self._sessions])
        try:
            self._store_dir.mkdir(parents=True, exist_ok=True)
            for s in self._sessions:
                self._prepare_store(s.key, self._journal.restore(s.key))
            self._apply_refresh()  # sessions disabled now are disabled in the engine before it takes a connection
            self._pump.start()
            if not self._started.wait(timeout) or self._start_error is not None:
                self._stopping.set()
                self._pump.join(STOP_TIMEOUT_S)
                raise GatewayError(f"The FIX gateway did not start on port {self.port}: {self._start_error or 'timeout'}")
        except BaseException:
            if not self._pump.is_alive() and self._lease is not None:
                self._lease.release()
            raise
        self._worker.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in (self._pump, self._worker):
            if thread.is_alive():
                thread.join(STOP_TIMEOUT_S)
        if self._pump.is_alive() or self._worker.is_alive():
            # The leases stay held: an engine still running must not have its sessions served by another gateway
            # too. The process's exit releases them.
            log.error("FIX gateway threads still running after %s s", STOP_TIMEOUT_S)
        elif self._lease is not None:
            self._lease.release()

    def send(self, message: qf.Message, key: SessionKey) -> bool:
        """Send an application message on a session (any thread). False when the session is not logged on."""
        try:
            return bool(qf.Session.sendToTarget(message, session_id(key)))
        except qf.SessionNotFound:
            return False

    def send_counted(self, message: qf.Message, key: SessionKey) -> int | None:
        """Send on a logged-on session; return the MsgSeqNum it went out with, None when it is not logged on.

        Not sent while logged out: the engine would store it under a number the client then asks to be resent,
        PossDup, though it never saw it. (A logout in between still leaves it in the store, for that resend.)"""
        if key not in self._logged_on:
            return None
        self._sent.seq = None
        if not self.send(message, key):
            return None
        return self._sent.seq

    def logged_on(self) -> set[SessionKey]:
        """The sessions logged on now."""
        return set(self._logged_on)

    @property
    def store_dir(self) -> Path:
        return self._store_dir

    @property
    def sessions(self) -> list[SessionConfig]:
        return list(self._sessions)

    def is_running(self) -> bool:
        return self._pump.is_alive()

    # --- the engine's side: the pump thread ------------------------------------------------------

    def _logon_refusal(self, key: SessionKey, logon: qf.Message) -> str | None:
        # A disabled session is disabled in the engine (Session.logout), which drops its Logons without
        # calling us: a RejectLogon raised here costs a frame the binding never frees, once per attempt,
        # and a client retrying every few seconds would grow the process without end. Only a Logon the
        # engine should not take but does is refused here: rare, from a misbehaving client.
        # The engine takes a negative HeartBtInt(108); a strict client never sends one.
        heartbeat = field_or(logon, 108, "0")
        if not heartbeat.isdigit():
            return "HeartBtInt(108) must be a whole number of seconds, 0 or more"
        return None

    def _pump_run(self) -> None:
        # The acceptor lives in self._acceptor only, never in a local or an argument: the binding keeps an
        # exception raised in a callback (our RejectLogon) alive with the frames it went through, and a frame
        # holding the acceptor would keep it, and every session of this gateway registered in the engine,
        # after stop: the next gateway's sessions could not take their place. Clearing the attribute at the
        # end drops the last reference whatever frames are kept.
        try:
            # The wrapper keeps the application and factories referenced: the engine holds pointers only.
            self._acceptor = qf.SocketAcceptor(_Callbacks(self), qf.FileStoreFactory(self._settings), self._settings, self._log_factory)
            self._do_control()
            _quickfix.Acceptor_poll(self._acceptor)  # binds the port: an error here is a start error
            if self.host not in ANY_HOST:
                _bind_host(self._engine_port, self.host, self.port)
        except Exception as exc:  # noqa: BLE001 - reported to start()'s caller
            self._start_error = exc
            if self._acceptor is not None:
                try:
                    self._acceptor.stop(True)  # its sessions leave the engine's registry: a next gateway takes them
                except Exception:
                    log.exception("FIX acceptor stop after a start error")
            self._acceptor = None
            self._started.set()
            return
        self._started.set()
        last_save = time.monotonic()
        try:
            while not self._stopping.is_set():
                _quickfix.Acceptor_poll(self._acceptor)
                self._do_control()
                if time.monotonic() - last_save >= SEQNUM_SAVE_S:
                    self._inbox.put(("seqnums", self._seqnums()))
                    last_save = time.monotonic()
                time.sleep(POLL_IDLE_S)
            self._logout_all()
        except Exception:
            log.exception("FIX pump")
        finally:
            try:
                self._inbox.put(("seqnums", self._seqnums()))
                self._acceptor.stop(True)
            except Exception:
                log.exception("FIX acceptor stop")
            self._acceptor = None
            self._inbox.put(("stop",))

    def _prepare_store(self, key: SessionKey, restored: Restored) -> None:
        """Bring the engine's file store of a session up to what the journal kept, if it is behind."""
        store = qf.FileStore(qf.UtcTimeStamp(), str(self._store_dir), session_id(key))
        try:
            if restored.reset:
                store.reset(qf.UtcTimeStamp())
                self._journal.reset_done(key)
            elif store.getNextSenderMsgSeqNum() < restored.next_sender_seq:
                log.warning("FIX store of %s rebuilt from the database (next out %s, in %s)", key,
                            restored.next_sender_seq, restored.next_target_seq)
                store.reset(qf.UtcTimeStamp())
                for seq, raw in restored.sent:
                    store.set(seq, raw)
                store.setNextSenderMsgSeqNum(restored.next_sender_seq)
                store.setNextTargetMsgSeqNum(restored.next_target_seq)
        finally:
            del store  # closes its files before the engine opens them

    def _seqnums(self) -> dict[SessionKey, tuple[int, int]]:
        out = {}
        for s in self._sessions:
            session = qf.Session.lookupSession(session_id(s.key))
            if session is not None:
                out[s.key] = (session.getExpectedSenderNum(), session.getExpectedTargetNum())
        return out

    def _do_control(self) -> None:
        while True:
            try:
                action, key = self._control.get_nowait()
            except queue.Empty:
                return
            session = qf.Session.lookupSession(session_id(key))
            if session is None:
                continue
            if action == "disable":
                # Logs it out if it is logged on ("session disabled" in the Logout); from then on the engine
                # drops its Logons (the connection closes without a Logon back) until it is enabled again.
                session.logout("session disabled")
            elif action == "enable":
                session.logon()
            elif action == "reset":
                session.reset()  # logs out, disconnects, sequence numbers back to 1, store emptied
                self._inbox.put(("reset_done", key))

    def _logout_all(self) -> None:
        for s in self._sessions:
            session = qf.Session.lookupSession(session_id(s.key))
            if session is not None and session.isLoggedOn():
                session.logout("gateway stopping")
        deadline = time.monotonic() + LOGOUT_GRACE_S
        while self._acceptor.isLoggedOn() and time.monotonic() < deadline:
            _quickfix.Acceptor_poll(self._acceptor)
            time.sleep(0.01)

    # --- our side: the worker thread ---------------------------------------------------------------

    def _worker_run(self) -> None:
        try:
            self._work()
        finally:
            connections.close_all()  # this thread's connection: the process may live on (tests, restarts)

    def _work(self) -> None:
        last_refresh = 0.0
        running = True
        while running:
            try:
                item = self._inbox.get(timeout=WORKER_IDLE_S)
            except queue.Empty:
                item = None
            pending = [item] if item else []
            # Whatever else is waiting goes in the same unit of work: one journal write for a burst, and
            # one intake call for a session's orders that arrived together.
            while len(pending) < 500:
                try:
                    pending.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            close_old_connections()
            # The work first, in arrival order, then the message log of the cycle: an answer does not wait for
            # the log's INSERT (measured: 1.7 ms of a 10 ms round trip). The engine's own store has them already.
            work = [entry for entry in pending if entry[0] != "log"]
            for kind, group in _runs(work, self._handler.msg_types):
                if kind == "app":
                    self._guarded(self._handler.handle, self, group[0][1], [entry[2] for entry in group])
                elif kind == "unsupported":
                    self._guarded(self._unsupported, group[0][1], group[0][2])
                elif kind == "logon":
                    self._guarded(self._handler.on_logon, self, group[0][1])
                elif kind == "reset_done":
                    self._resetting.discard(group[0][1])
                    self._guarded(self._journal.reset_done, group[0][1])
                elif kind == "seqnums":
                    self._guarded(self._journal.save_seqnums, group[0][1])
                elif kind == "stop":
                    running = False
            if running:
                self._guarded(self._handler.idle, self)
            self._append([entry[1] for entry in pending if entry[0] == "log"])
            if time.monotonic() - last_refresh >= SEQNUM_SAVE_S and running:
                self._guarded(self._apply_refresh)
                self._check_lease()
                last_refresh = time.monotonic()
            close_old_connections()

    def _check_lease(self) -> None:
        if self._lease is None or self.lease_lost or self._lease.held():
            return
        # Another gateway may have taken the sessions since: stop serving them (the pump logs them out and ends).
        log.error("FIX gateway on port %s lost its lease on its sessions (its database connection): stopping", self.port)
        self.lease_lost = True
        self._stopping.set()

    def _append(self, batch: list[Logged]) -> None:
        if batch:
            self._guarded(self._journal.append, batch)

    def _guarded(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("FIX worker: %s", getattr(fn, "__qualname__", fn))

    def _unsupported(self, key: SessionKey, message: qf.Message) -> None:
        # The engine's own answer, word for word (Session::generateBusinessReject). Not raised from fromApp:
        # the binding keeps a raised exception, and with it the pump's frame and the acceptor, alive.
        reject = qf.Message()
        reject.getHeader().setField(qf.MsgType("j"))
        reject.setField(qf.RefSeqNum(int(field_or(message.getHeader(), 34, "0") or 0)))  # FIX 45
        reject.setField(qf.Text("Unsupported Message Type"))  # FIX 58
        reject.setField(qf.RefMsgType(field_or(message.getHeader(), 35)))  # FIX 372
        reject.setField(qf.BusinessRejectReason(3))  # FIX 380: 3 Unsupported Message Type
        self.send(reject, key)

    def _apply_refresh(self) -> None:
        enabled, resets = self._journal.refresh()
        for key, on in enabled.items():
            if key in self._enabled and self._enabled[key] != on:
                self._enabled[key] = on
                self._control.put(("enable" if on else "disable", key))
        for key in (resets & self._enabled.keys()) - self._resetting:  # only the sessions it serves
            self._resetting.add(key)
            self._control.put(("reset", key))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_fd(port: int) -> int:
    """The file descriptor of this process's socket listening on ``port`` (the engine's)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue  # gone meanwhile
        try:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) and s.family in (socket.AF_INET, socket.AF_INET6) \
                    and s.getsockname()[1] == port:
                return fd
        finally:
            s.close()
    raise GatewayError(f"The engine's listening socket on port {port} was not found")


def _bind_host(engine_port: int, host: str, port: int) -> None:
    """Put a socket listening on (host, port) in place of the engine's listening socket on ``engine_port``."""
    fd = _listening_fd(engine_port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ours = socket.socket(family, socket.SOCK_STREAM)
    try:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ours.bind((host, port))
        ours.listen(socket.SOMAXCONN)
        ours.setblocking(not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)  # as the engine left its own
        os.dup2(ours.fileno(), fd)  # closes the engine's socket; fd now listens on (host, port)
    finally:
        ours.close()  # fd keeps the socket open

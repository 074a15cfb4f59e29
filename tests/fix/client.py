"""A FIX client for the tests: a real QuickFIX initiator, driven by poll() from its own thread (as the
gateway drives its acceptor), with every wait bounded."""

from __future__ import annotations

import queue
import threading
import time

import quickfix as qf

from fix.engine import DATA_DICTIONARY, field_or

WAIT_S = 15.0


class _App(qf.Application):
    def __init__(self, client: FixClient):
        super().__init__()
        self._client = client

    def onCreate(self, sid):
        pass

    def onLogon(self, sid):
        self._client.logged_on.set()

    def onLogout(self, sid):
        self._client.logged_on.clear()
        self._client.logged_out.set()

    def toAdmin(self, message, sid):
        pass

    def fromAdmin(self, message, sid):
        try:
            if field_or(message.getHeader(), 35) in ("3", "5"):  # session Reject, Logout
                self._client.admin.put(qf.Message(message))
        except Exception:  # noqa: BLE001 - an exception escaping a callback ends the process
            pass

    def toApp(self, message, sid):
        pass

    def fromApp(self, message, sid):
        try:
            self._client.received.put(qf.Message(message))
        except Exception:  # noqa: BLE001
            pass


class FixClient:
    """``with FixClient(port, "CLIENT1", "SMART") as c: c.send(order); c.expect("8")``."""

    def __init__(self, port: int, ours: str, theirs: str, *, heartbeat: int = 30, reset: bool = True, reconnect_s: int = 1):
        self.sid = qf.SessionID("FIX.4.4", ours, theirs)
        settings = qf.SessionSettings()
        d = qf.Dictionary()
        for name, value in {
            "ConnectionType": "initiator", "SocketConnectHost": "127.0.0.1", "SocketConnectPort": str(port),
            "ReconnectInterval": str(reconnect_s), "HeartBtInt": str(heartbeat), "StartTime": "00:00:00", "EndTime": "00:00:00",
            "UseDataDictionary": "Y", "DataDictionary": str(DATA_DICTIONARY),
            "ResetOnLogon": "Y" if reset else "N",
        }.items():
            d.setString(name, value)
        settings.set(d)
        settings.set(self.sid, qf.Dictionary())
        self._settings = settings
        self.received: queue.Queue = queue.Queue()
        self.admin: queue.Queue = queue.Queue()
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"fix-client-{ours}", daemon=False)

    def __enter__(self) -> FixClient:
        self._thread.start()
        self._ready.wait(WAIT_S)
        if self._error:
            raise self._error
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_logon(self, timeout: float = WAIT_S) -> bool:
        return self.logged_on.wait(timeout)

    def send(self, message: qf.Message) -> None:
        assert qf.Session.sendToTarget(message, self.sid)

    def expect(self, msg_type: str, timeout: float = WAIT_S) -> qf.Message:
        """The next application message received; it must be of ``msg_type`` (FIX 35)."""
        try:
            message = self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message 35={msg_type} within {timeout} s") from None
        got = field_or(message.getHeader(), 35)
        assert got == msg_type, f"expected 35={msg_type}, got {message.toString().replace(chr(1), '|')}"
        return message

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the initiator's thread did not stop"

    def _run(self) -> None:
        try:
            initiator = qf.SocketInitiator(_App(self), qf.MemoryStoreFactory(), self._settings)
            initiator.poll()
        except Exception as exc:  # noqa: BLE001 - raised in __enter__
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stop.is_set():
            initiator.poll()
            time.sleep(0.001)
        session = qf.Session.lookupSession(self.sid)
        if session is not None and session.isLoggedOn():
            session.logout()
            deadline = time.monotonic() + 2
            while initiator.isLoggedOn() and time.monotonic() < deadline:
                initiator.poll()
                time.sleep(0.005)
        initiator.stop(True)

"""The application the engine's own FIX 4.4 server tests expect (quickfix/quickfix test/atApplication.h), in
place of order entry: echo each NewOrderSingle to its sender (a PossResend=Y one whose ClOrdID the session
sent before is dropped) and each SecurityDefinition; anything else gets the engine's BusinessMessageReject."""

from __future__ import annotations

import quickfix as qf

from fix.engine import Gateway, SessionKey, field_or


class EchoApplication:
    msg_types = frozenset({"D", "d"})  # NewOrderSingle, SecurityDefinition

    def __init__(self):
        self._seen: set[tuple[str, SessionKey]] = set()

    def on_logon(self, gateway: Gateway, key: SessionKey) -> None:
        # Each script logs on with ResetOnLogon: a new session, whose ClOrdIDs have not been seen.
        self._seen = {pair for pair in self._seen if pair[1] != key}

    def handle(self, gateway: Gateway, key: SessionKey, messages: list[qf.Message]) -> None:
        for message in messages:
            if field_or(message.getHeader(), 35) == "D":
                pair = (field_or(message, 11), key)
                if field_or(message.getHeader(), 97) == "Y" and pair in self._seen:  # FIX 97 PossResend
                    continue
                self._seen.add(pair)
            gateway.send(qf.Message(message), key)

    def idle(self, gateway: Gateway) -> None:
        pass

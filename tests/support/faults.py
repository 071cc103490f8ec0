"""Faults on loopback for the reliability tests: mail servers whose answer after a message's end
goes missing or comes late, a database server that accepts TCP and never answers, and a TCP
proxy in front of a real database that can be cut (the server "goes away") or silenced.

Everything binds 127.0.0.1 on a free port, runs in daemon threads and stops with ``close``.
"""
from __future__ import annotations

import asyncio
import select
import socket
import threading
import time

from tests.support.smtp import RecordingHandler


class LostReplyHandler(RecordingHandler):
    """Stores message number ``lose`` (1-based, counted over the server's life) and drops the
    connection before its 250: the sender saw the end go out and no answer come."""

    def __init__(self, lose: int):
        super().__init__()
        self.lose = lose
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        reply = await super().handle_DATA(server, session, envelope)  # stored: it will be delivered
        if self.seen == self.lose:
            server.transport.close()
        return reply


class LateReplyHandler(RecordingHandler):
    """Stores message number ``late`` and answers its 250 only after ``delay`` seconds."""

    def __init__(self, late: int, delay: float):
        super().__init__()
        self.late, self.delay = late, delay
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        reply = await super().handle_DATA(server, session, envelope)
        if self.seen == self.late:
            await asyncio.sleep(self.delay)
        return reply


def message_ids(handler: RecordingHandler) -> dict[str, list[str]]:
    """Message-ID headers the server received, per recipient."""
    found: dict[str, list[str]] = {}
    with handler.lock:
        for delivered in handler.messages:
            for address in delivered["to"]:
                found.setdefault(address.lower(), []).append(delivered["message"]["Message-ID"])
    return found


class SilentServer:
    """Accepts TCP connections and never sends a byte: a database server that hangs."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for conn in self.accepted:
            conn.close()


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target`` until told otherwise:

    * :meth:`cut` — every connection is closed and new ones are refused (the server went away);
    * :meth:`silence` — connections stay open but nothing passes any more (the server hangs);
    * ``cut_when`` — bytes which, once a client sends them (e.g. a table name in a query),
      cut everything at that moment, before the query reaches the server.
    """

    def __init__(self, target: tuple[str, int], cut_when: bytes | None = None):
        self.target = target
        self.cut_when = cut_when
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.state = "pass"  # pass, silent, cut
        self.cut_at: float | None = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.state == "cut":
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        ends = {client: server, server: client}
        try:
            while self.state != "cut":
                ready, _, _ = select.select(list(ends), [], [], 0.05)
                if self.state == "silent":
                    continue  # hold everything: neither side hears from the other
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self.cut_when is not None and self.cut_when in data:
                        self.cut()
                        return
                    ends[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, server):
                try:
                    sock.close()
                except OSError:
                    pass

    def silence(self) -> None:
        self.state = "silent"

    def resume(self) -> None:
        self.state = "pass"

    def cut(self) -> None:
        """Close every connection at once (the clients see them drop) and refuse new ones."""
        if self.state == "cut":
            return
        self.state = "cut"
        self.cut_at = time.monotonic()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.listener.close()

    def close(self) -> None:
        self.cut()

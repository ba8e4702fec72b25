"""The emulators' HTTP request handler: quiet, its own Date header, connections kept alive.

Salesforce and Dotdigital keep HTTP/1.1 connections open between requests; werkzeug's
development server answers every request with `Connection: close`, because Python's
http.server "doesn't know how to drain the stream before the next request line". This handler
does that draining itself, so connections stay open the way the real services keep them: each
request body is read through a stream bounded by its Content-Length, and whatever the app left
unread is read (and dropped) before the next request line. A request whose body cannot be
bounded that way (chunked) still closes its connection, as does anything that goes wrong.

Without keep-alive every request paid a TCP and TLS handshake on both sides, which made the
clients, and the emulator serving them, look busier than they are against a real org.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

_DRAIN_CHUNK = 64 * 1024


class ConnectionSet:
    """The connections a server has open, so stopping it can end the idle ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    def add(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)

    def discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def end_reading(self) -> None:
        """Stop reading on every open connection: one waiting for its next request line sees
        the end and closes; a request being answered still writes its answer. The plain socket
        call: ssl.SSLSocket.shutdown() would drop the TLS layer under a response being written."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(conn, socket.SHUT_RD)


class QuietHandler(WSGIRequestHandler):
    """No access log on stderr (tests and `make demo` would drown in it); errors still show."""

    protocol_version = "HTTP/1.1"
    _date_sent = True
    _in_wsgi = False
    _body: LimitedStream | None = None
    _socket_rfile: Any = None

    def setup(self) -> None:
        super().setup()
        # An answer goes out in several writes (headers, chunks, the last chunk); on a kept
        # connection Nagle would hold the last one until the client's delayed ACK (~40 ms).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections = getattr(self.server, "leadsync_connections", None)
        if connections is not None:
            connections.add(self.connection)

    def finish(self) -> None:
        connections = getattr(self.server, "leadsync_connections", None)
        if connections is not None:
            connections.discard(self.connection)
        super().finish()

    def make_environ(self) -> dict[str, Any]:
        """As werkzeug's, with a body bounded by its Content-Length (so the rest can be read)."""
        environ = super().make_environ()
        self._body = None
        if "wsgi.input_terminated" not in environ:  # not chunked
            length = _content_length(environ.get("CONTENT_LENGTH"))
            if length is None:
                self.close_connection = True  # a body we cannot bound: no next request
            else:
                self._body = LimitedStream(self.rfile, length)
                environ["wsgi.input"] = self._body
        if self._body is not None and not self.close_connection:
            # werkzeug reads whatever else the socket has after each answer (it closes every
            # connection, so that is only an unread body); on a kept connection that would be
            # the next request: its read finds nothing here, and _drain_body reads the body.
            self._socket_rfile = self.rfile
            self.rfile = io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        self._in_wsgi = True
        self._socket_rfile = None
        try:
            super().run_wsgi()
        finally:
            self._in_wsgi = False
            if self._socket_rfile is not None:
                self.rfile = self._socket_rfile
        if not self.close_connection:
            self._drain_body()

    def _drain_body(self) -> None:
        """Read what the app left of the body, so the next request line starts where it must."""
        body = self._body
        if body is None:
            self.close_connection = True
            return
        try:
            while not body.is_exhausted:
                if not body.read(_DRAIN_CHUNK):
                    break
        except Exception:  # a client gone or a short body: close, as before
            self.close_connection = True
            return
        if not body.is_exhausted:
            self.close_connection = True

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True  # an injected drop, or the client went away

    def send_response(self, code: int, message: str | None = None) -> None:
        """As the standard handler, but the `Date` header waits for the service's own: an
        emulator whose clock can be moved states its time, and an answer has one Date."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        self._date_sent = False

    def send_header(self, keyword: str, value: str) -> None:
        lowered = keyword.lower()
        if lowered == "date":
            self._date_sent = True
        if lowered == "connection" and value.lower() == "close" and self._keeps_alive():
            return  # werkzeug's blanket close: this handler drains bodies itself
        super().send_header(keyword, value)

    def _keeps_alive(self) -> bool:
        """An app's answer on a connection the client keeps and whose body is bounded."""
        return self._in_wsgi and not self.close_connection and self._body is not None

    def end_headers(self) -> None:
        if not self._date_sent:
            self.send_header("Date", self.date_time_string())
        super().end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


def _content_length(raw: str | None) -> int | None:
    """0 for no header (HTTP/1.1: no body), the length when valid, None when it is not."""
    if raw is None or raw == "":
        return 0
    text = raw.strip()
    return int(text) if text.isdigit() else None

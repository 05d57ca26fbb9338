"""The live page's HTTP server: its own assets, ``/api/view`` and ``/api/events``, nothing else.

* Threaded stdlib server (:class:`http.server.ThreadingHTTPServer`), one daemon thread a request.
* Only the files of :data:`ASSETS`, read from the package once at start, are served: no path is
  ever mapped to the disk.
* With a token, every request needs it: ``Authorization: Bearer TOKEN``, ``?token=TOKEN`` (which
  also sets an HttpOnly cookie, so the page's own requests carry it) or that cookie; compared in
  constant time; 401 otherwise. Without a token (loopback only, see :func:`needs_token`) the
  ``Host`` header must name the loopback, so a page elsewhere cannot read the data through DNS
  rebinding.
* Server-Sent Events go through a :class:`Broadcaster`: each client has a bounded queue, filled
  without ever waiting; a client whose queue is full is dropped (its browser reconnects and
  reloads the view), so a slow or stuck client cannot stall monitoring.
"""

from __future__ import annotations

import hmac
import ipaddress
import queue
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No inline script, handler or style, nothing from elsewhere."""

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
"""URL path → (file in ``monilog/web/assets``, content type): everything the server serves from files."""

QUEUE_MESSAGES = 256
"""Messages an event-stream client may have waiting before it is dropped."""

MAX_CLIENTS = 32
"""Event-stream clients at once; more get 503."""

KEEPALIVE_SECONDS = 15.0
"""A comment line on an idle event stream this often, so proxies keep it open and a gone client is noticed."""

SEND_TIMEOUT = 10.0
"""Seconds a write to a client may block before the client is dropped."""

COOKIE = "monilog_token"

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def asset(name: str) -> bytes:
    """One of the page's files, from the installed package."""
    return resources.files("monilog.web").joinpath("assets", name).read_bytes()


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,}")


def check_token(token: str) -> None:
    """Refuse a token that is too short or would not survive a header, a cookie or a URL.

    :raises ValueError: with the rule.
    """
    if not _TOKEN.fullmatch(token):
        raise ValueError("a token is at least 8 characters among letters, digits and . _ ~ + / = -")


def needs_token(host: str, token: Optional[str]) -> Optional[str]:
    """Why ``host`` cannot be bound without a token (None when it can)."""
    if token or is_loopback(host):
        return None
    return (f"--web {host}: a page reachable from other machines needs --web-token TOKEN "
            "(or bind to 127.0.0.1 and use an SSH tunnel)")


class Client:
    """One event-stream connection: a bounded queue, dropped when it fills up."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Optional[bytes]] = queue.Queue(QUEUE_MESSAGES)
        self.dropped = False

    def offer(self, message: bytes) -> bool:
        """Queue ``message`` without waiting; False (and the client dropped) when the queue is full."""
        try:
            self.queue.put_nowait(message)
            return True
        except queue.Full:
            self.close()
            return False

    def close(self) -> None:
        """End the connection: its thread stops at the next message it takes."""
        self.dropped = True
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass  # the thread sees ``dropped`` after its current message


class Broadcaster:
    """Hands every message to every connected client, never waiting for any."""

    def __init__(self, max_clients: int = MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._clients: List[Client] = []
        self._lock = threading.Lock()
        self.dropped = 0
        """Clients dropped for falling behind."""

    @property
    def clients(self) -> int:
        return len(self._clients)

    def join(self) -> Optional[Client]:
        """A new client, or None when there are too many already."""
        with self._lock:
            if len(self._clients) >= self.max_clients:
                return None
            client = Client()
            self._clients.append(client)
            return client

    def leave(self, client: Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def send(self, message: bytes) -> None:
        """Queue one event-stream message for every client; drop those that fell behind."""
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            if not client.offer(message):
                self.dropped += 1
                self.leave(client)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def event_message(data: str, event: Optional[str] = None) -> bytes:
    """One Server-Sent Events message carrying ``data`` (one line of JSON)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode("utf-8")


class WebServer:
    """Serves the page, ``/api/view`` (``view()``'s bytes) and ``/api/events`` (``broadcaster``'s messages).

    :raises OSError: the address cannot be bound (in use, not local...).
    """

    def __init__(self, host: str, port: int, view: Callable[[], bytes], broadcaster: Broadcaster,
                 token: Optional[str] = None) -> None:
        self.view = view
        self.broadcaster = broadcaster
        self.token = token.encode("utf-8") if token else None
        self.files: Dict[str, Tuple[bytes, str]] = {path: (asset(name), kind) for path, (name, kind) in ASSETS.items()}
        server_class = _IPv6Server if ":" in host else _Server
        self.httpd = server_class((host, port), _handler(self))
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="monilog-web", daemon=True)

    @property
    def address(self) -> Tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.broadcaster.close()
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self.httpd.shutdown()
            self._thread.join(5.0)
        self.httpd.server_close()

    def authorized(self, handler: BaseHTTPRequestHandler, query: Dict[str, List[str]]) -> Tuple[bool, bool]:
        """(allowed, set the cookie) for a request."""
        if self.token is None:
            host = (handler.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
            return host in _LOOPBACK_NAMES, False
        header = handler.headers.get("Authorization") or ""
        if header[:7].lower() == "bearer " and self._matches(header[7:].strip()):
            return True, False
        for given in query.get("token", []):
            if self._matches(given):
                return True, True
        for part in (handler.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and self._matches(value):
                return True, False
        return False, False

    def _matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def _handler(server: WebServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        server_version = "monilog"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            allowed, cookie = server.authorized(self, query)
            if not allowed:
                self._send(401, b"unauthorized\n", "text/plain; charset=utf-8",
                           {"WWW-Authenticate": 'Bearer realm="monilog"'})
                return
            token = (server.token or b"").decode("ascii")
            extra = {"Set-Cookie": f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"} if cookie else {}
            if url.path == "/api/events":
                self._events()
            elif url.path == "/api/view":
                self._send(200, server.view(), "application/json", extra)
            elif url.path in server.files:
                body, kind = server.files[url.path]
                self._send(200, body, kind, extra)
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _headers(self, status: int, kind: str, extra: Dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            for name, value in extra.items():
                self.send_header(name, value)

        def _send(self, status: int, body: bytes, kind: str, extra: Optional[Dict[str, str]] = None) -> None:
            self._headers(status, kind, extra or {})
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            client = server.broadcaster.join()
            if client is None:
                self._send(503, b"too many clients\n", "text/plain; charset=utf-8", {"Retry-After": "5"})
                return
            try:
                self.connection.settimeout(SEND_TIMEOUT)
                self._headers(200, "text/event-stream; charset=utf-8", {})
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.wfile.write(b"retry: 1000\n\n")
                self.wfile.flush()
                while not client.dropped:
                    try:
                        message = client.queue.get(timeout=KEEPALIVE_SECONDS)
                    except queue.Empty:
                        message = b": keepalive\n\n"
                    if message is None:
                        break
                    self.wfile.write(message)
                    self.wfile.flush()
            except OSError:
                pass  # the client went away or stopped reading
            finally:
                server.broadcaster.leave(client)

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are not monitoring's output

    return Handler

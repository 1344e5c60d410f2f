"""One request on one accepted connection, as a uWSGI worker serves it, and its log line.

The seam a worker loop calls: a codec reads one request from a connection (``--http-socket``:
HTTP/1.x; ``--socket``: a uwsgi packet whose vars are the request), runs the WSGI app, writes
its answer, and returns a :class:`RequestRecord` with what uWSGI's request log line tells. No
keep-alive: one request per connection, as uWSGI's ``--http-socket`` (reference
uwsgi-workers.md §1.1). Two HTTP codecs give the same answers and records: the default one
parses with the standard library's ``http.client``, the other with ``httptools`` when it is
installed (``muletui[fast]``).

Every codec turns a request into uWSGI's vars first, as uWSGI's HTTP parser does (those are
what the log line counts: ``{20 vars in 202 bytes}`` is 10 pairs in a 202-byte block), and the
app's environ is those vars plus the keys uWSGI's Python plugin adds. The answer is what uWSGI
sends: the app's status line, in the request's protocol, and the app's headers only (no Date,
Server, Content-Length or Connection added), then the body; an app that raises before its
headers went out gets nothing sent and a 500 in the log.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.client import HTTPException, parse_headers
from types import TracebackType
from typing import Any, Final
from urllib.parse import unquote_to_bytes
from wsgiref.util import FileWrapper

from muletui.ipc import uwsgi_packet
from muletui.stack.tracebacks import strip

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A request's uWSGI vars, (key, value) in order, latin-1 strings.
Vars = list[tuple[str, str]]

#: uWSGI's ``--buffer-size`` default: the largest request head (HTTP) or vars block (uwsgi).
BUFFER_SIZE: Final = uwsgi_packet.BUFFER_SIZE
#: uWSGI's ``SERVER_NAME`` and ``uwsgi.node``: the host's name.
HOSTNAME: Final = socket.gethostname()

#: What a read or write past a connection's timeout raises: ``TimeoutError`` for a socket with
#: Python's ``settimeout``, ``BlockingIOError`` for one with kernel timeouts (the stack's
#: listeners give their connections those: ``muletui.engine.listeners.set_timeouts``).
TIMED_OUT: Final = (TimeoutError, BlockingIOError)

try:
    _httptools: Any = importlib.import_module("httptools")
except ImportError:  # the optional extra muletui[fast]
    _httptools = None


class RequestRefusedError(Exception):
    """A connection uWSGI drops without running the app; :attr:`log_line` is its line."""

    def __init__(self, log_line: str) -> None:
        super().__init__(log_line)
        self.log_line = log_line


@dataclass(slots=True)
class RequestRecord:
    """One served request, with every figure of uWSGI's request log line (not frozen: one is
    made per request, and a frozen dataclass's ``__init__`` costs three times as much)."""

    method: str
    uri: str
    protocol: str
    remote_addr: str
    remote_user: str
    #: The status code sent (500 when the app raised before its headers went out).
    status: int
    #: Body bytes written ("generated N bytes").
    body_bytes: int
    headers_count: int
    #: Status line, headers and the blank line, as far as they were written.
    headers_bytes: int
    #: Keys and values: uWSGI counts both, so 2 per var.
    vars_count: int
    #: The vars block's size (a uwsgi packet's size).
    vars_bytes: int
    #: Items of the app's iterable written (uWSGI's "switches").
    switches: int
    #: Wall-clock start (``time.time()``), for the line's date.
    started: float
    #: How long the request took, in microseconds (uWSGI's stats count these; its line, msecs).
    micros: int
    #: The app raised (uWSGI's per-worker ``exceptions`` count).
    raised: bool
    #: 0, or -1 for a uwsgi request no app was asked to serve (uWSGI's ``app: -1``).
    app_id: int = 0
    #: uWSGI's lines that come before the request line: a traceback, a write error.
    lines: tuple[str, ...] = ()

    @property
    def msecs(self) -> int:
        """The request's time as uWSGI's request line gives it: whole milliseconds."""
        return self.micros // 1000


def base_environ(multiprocess: bool) -> dict[str, Any]:
    """The keys uWSGI 2.0.30's Python plugin adds to every request's vars (one thread per
    worker; ``multiprocess`` is true with more than one worker)."""
    return {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "uwsgi.version": b"2.0.30",
        "uwsgi.node": HOSTNAME.encode(),
    }


def http_vars(
    method: str, target: str, protocol: str, headers: Iterable[tuple[str, str]], server_port: str, remote_addr: str
) -> Vars:
    """The vars uWSGI's HTTP parser makes of a request: the request line's (``PATH_INFO``
    %-decoded), ``SCRIPT_NAME`` (empty), ``SERVER_NAME`` (the host name), ``SERVER_PORT``,
    ``REMOTE_ADDR``, then a var per header (``HTTP_`` + the name upper-cased with ``-`` as
    ``_``; ``CONTENT_LENGTH`` and ``CONTENT_TYPE`` bare), repeated headers joined by ``, ``."""
    path, _, query = target.partition("?")
    pairs: Vars = [
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", target),
        ("PATH_INFO", unquote_to_bytes(path).decode("latin-1")),
        ("QUERY_STRING", query),
        ("SERVER_PROTOCOL", protocol),
        ("SCRIPT_NAME", ""),
        ("SERVER_NAME", HOSTNAME),
        ("SERVER_PORT", server_port),
        ("REMOTE_ADDR", remote_addr),
    ]
    seen: dict[str, int] = {}
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            key = "HTTP_" + key
        if key in seen:
            pairs[seen[key]] = (key, f"{pairs[seen[key]][1]}, {value}")
        else:
            seen[key] = len(pairs)
            pairs.append((key, value))
    return pairs


def _content_length(pairs: Vars) -> int:
    """``CONTENT_LENGTH``'s leading digits, as uWSGI reads it (0 if none)."""
    value = next((value for key, value in pairs if key == "CONTENT_LENGTH"), "")
    digits = len(value) - len(value.lstrip("0123456789"))
    return int(value[:digits]) if digits else 0


def _local_port(conn: socket.socket) -> str:
    """``SERVER_PORT``: the listening socket's port, "80" for a unix socket (as uWSGI)."""
    name = conn.getsockname()
    return str(name[1]) if isinstance(name, tuple) else "80"


def _remote_addr(addr: Any) -> str:
    return addr[0] if isinstance(addr, tuple) else ""


def _recv_body(conn: socket.socket, received: bytes, length: int) -> bytes:
    """The request body: ``length`` bytes, ``received`` first; shorter if the client ends it."""
    body = bytearray(received[:length])
    while len(body) < length:
        chunk = conn.recv(min(length - len(body), 65536))
        if not chunk:
            break
        body += chunk
    return bytes(body)


# -- reading requests --------------------------------------------------------------------------


def _read_head(conn: socket.socket, limit: int) -> tuple[bytes, bytes] | None:
    """(request head up to its blank line, the body bytes read with it); None if the client
    ends the connection without a byte. uWSGI's lines for a head over ``limit`` or cut short."""
    data = bytearray()
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return bytes(data[: end + 2]), bytes(data[end + 4 :])
        if len(data) >= limit:
            raise RequestRefusedError(f"invalid HTTP request size (max {limit})...skip")
        chunk = conn.recv(limit - len(data))
        if not chunk:
            if data:
                raise RequestRefusedError("uwsgi_proto_http_parser() -> client closed connection")
            return None
        data += chunk


def _stdlib_request(conn: socket.socket, addr: Any, limit: int) -> tuple[Vars, bytes] | None:
    """One request read by the standard library: the request line split on spaces (as
    uWSGI: any method, any ``HTTP/x.y``), the headers by ``http.client.parse_headers``."""
    read = _read_head(conn, limit)
    if read is None:
        return None
    head, received = read
    line, _, header_block = head.partition(b"\r\n")
    words = line.decode("latin-1").split(" ")
    if len(words) != 3 or not words[1] or not words[2].startswith("HTTP/"):
        return None  # not HTTP/1.x (HTTP/0.9 included): uWSGI closes without a word
    try:
        headers = parse_headers(io.BytesIO(header_block + b"\r\n"))
    except HTTPException:
        return None
    method, target, protocol = words
    pairs = http_vars(method, target, protocol, headers.items(), _local_port(conn), _remote_addr(addr))
    return pairs, _recv_body(conn, received, _content_length(pairs))


class _HttptoolsRequest:
    """httptools' callbacks, collecting one request."""

    def __init__(self) -> None:
        self.url = bytearray()
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.head_done = False
        self.done = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


def _httptools_request(conn: socket.socket, addr: Any, limit: int) -> tuple[Vars, bytes] | None:
    """One request read by httptools (llhttp), with the stdlib reader's outcomes."""
    request = _HttptoolsRequest()
    parser = _httptools.HttpRequestParser(request)
    received = 0
    while not request.done:
        if not request.head_done and received >= limit:
            raise RequestRefusedError(f"invalid HTTP request size (max {limit})...skip")
        chunk = conn.recv(65536 if request.head_done else limit - received)
        if not chunk:
            if request.head_done:
                break  # a body cut short: the app gets what came, as from the stdlib reader
            if received:
                raise RequestRefusedError("uwsgi_proto_http_parser() -> client closed connection")
            return None
        received += len(chunk)
        try:
            parser.feed_data(chunk)
        except _httptools.HttpParserError:
            return None
    version = parser.get_http_version()
    if version == "0.9":
        return None  # as the stdlib reader: uWSGI closes without a word
    method = parser.get_method().decode("latin-1")
    protocol = "HTTP/" + version
    pairs = http_vars(method, request.url.decode("latin-1"), protocol, request.headers, _local_port(conn), _remote_addr(addr))
    return pairs, bytes(request.body[: _content_length(pairs)])


# -- answering -------------------------------------------------------------------------------


class _ClientGoneError(OSError):
    """A write to the client failed; what the app sees if it writes itself (uWSGI's error)."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno, "write error")

    def __str__(self) -> str:
        return "write error"


def _check_text(value: object, what: str) -> None:
    """WSGI wants a ``str`` here (wsgiref's check, and its message)."""
    if type(value) is not str:
        raise AssertionError(f"{what} must be of type str (got {value!r})")


class _Answer:
    """PEP 3333's ``start_response`` and ``write`` over one connection, with wsgiref's checks,
    answering as uWSGI's Python plugin: the app's status line (in ``protocol``) and headers only,
    hop-by-hop ones included, sent with the first body chunk (or at the end, if none comes)."""

    __slots__ = ("body_sent", "conn", "head_sent", "headers", "headers_sent", "pending", "protocol", "status", "switches")

    def __init__(self, conn: socket.socket, protocol: str) -> None:
        self.conn = conn
        self.protocol = protocol
        self.status: str | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.headers_sent = False
        self.pending = b""  # the status line and headers, sent with the next write
        self.head_sent = 0
        self.body_sent = 0
        self.switches = 0

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None] | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None and exc_info[1] is not None and self.headers_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        _check_text(status, "Status")
        for name, value in headers:
            _check_text(name, "Header name")
            _check_text(value, "Header value")
        self.status = status
        self.headers = list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        """The app's ``write()``, and each item of its iterable: the headers go with the first."""
        if type(data) is not bytes:
            raise AssertionError("write() argument must be a bytes instance")
        if self.status is None:
            raise AssertionError("write() before start_response()")
        if not self.headers_sent:
            self._send_headers()
        self._send(data)

    def _send_headers(self) -> None:
        self.headers_sent = True
        lines = "".join(f"{name}: {value}\r\n" for name, value in self.headers or ())
        self.pending = f"{self.protocol} {self.status}\r\n{lines}\r\n".encode("latin-1")

    def _send(self, data: bytes) -> None:
        try:
            self.conn.sendall(self.pending + data)
        except OSError as error:
            raise _ClientGoneError(error.errno or 0) from None
        self.head_sent += len(self.pending)
        self.body_sent += len(data)
        self.pending = b""

    def finish_content(self) -> None:
        """Send the headers if no body chunk took them."""
        if self.status is not None and not self.headers_sent:
            self._send_headers()
        if self.pending:
            self._send(b"")

    def run_app(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        """Call ``app`` and write its answer; the result's ``close()`` is called in any case."""
        result = app(environ, self.start_response)
        try:
            for data in result:
                self.write(data)
                self.switches += 1
            self.finish_content()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _status_code(status: str | None) -> int:
    code = (status or "").split(" ", 1)[0]
    return int(code) if code.isdigit() else 0


def _answer(
    conn: socket.socket, pairs: Vars, body: bytes, app: WSGIApp, environ_base: Mapping[str, Any], started: float, clock: float
) -> RequestRecord:
    """Run ``app`` on the request and write its answer, as uWSGI's Python plugin."""
    environ: dict[str, Any] = dict(pairs)
    environ.update(environ_base)
    environ["wsgi.input"] = io.BytesIO(body)
    if environ.get("UWSGI_SCHEME") or environ.get("HTTPS") in ("on", "1"):
        environ["wsgi.url_scheme"] = environ.get("UWSGI_SCHEME") or "https"
    method = environ.get("REQUEST_METHOD", "")
    uri = environ.get("REQUEST_URI", "")
    remote_addr = environ.get("REMOTE_ADDR", "")
    answer = _Answer(conn, environ.get("SERVER_PROTOCOL") or "HTTP/1.0")
    lines: list[str] = []
    raised = False
    try:
        answer.run_app(app, environ)
    except _ClientGoneError as error:
        lines.append(
            f"{time.ctime()} - uwsgi_response_writev_headers_and_body_do(): {os.strerror(error.errno or 0)} "
            f"[core/writer.c line 306] during {method} {uri} ({remote_addr})"
        )
        lines.append("OSError: write error")
    except Exception as error:  # noqa: BLE001 - the app's, whatever it is: logged as uWSGI logs it
        raised = True
        strip(error)
        lines += "".join(traceback.format_exception(error)).rstrip("\n").split("\n")
        if answer.status is not None:  # as uWSGI: the headers of a started response go out
            with contextlib.suppress(_ClientGoneError):
                answer.finish_content()
    return RequestRecord(
        method=method,
        uri=uri,
        protocol=environ.get("SERVER_PROTOCOL", ""),
        remote_addr=remote_addr,
        remote_user=environ.get("REMOTE_USER", ""),
        status=500 if answer.status is None and raised else _status_code(answer.status),
        body_bytes=answer.body_sent,
        headers_count=len(answer.headers) if answer.headers is not None else 0,
        headers_bytes=answer.head_sent,
        vars_count=2 * len(pairs),
        vars_bytes=uwsgi_packet.vars_size(pairs),
        switches=answer.switches,
        started=started,
        micros=int((time.perf_counter() - clock) * 1_000_000),
        raised=raised,
        lines=tuple(lines),
    )


# -- the codecs --------------------------------------------------------------------------------


def _serve_http(
    reader: Callable[[socket.socket, Any, int], tuple[Vars, bytes] | None],
    conn: socket.socket,
    addr: Any,
    app: WSGIApp,
    environ_base: Mapping[str, Any],
    buffer_size: int,
) -> RequestRecord | None:
    started, clock = time.time(), time.perf_counter()
    try:
        request = reader(conn, addr, buffer_size)
    except (*TIMED_OUT, ConnectionError):
        return None
    if request is None:
        return None
    return _answer(conn, *request, app, environ_base, started, clock)


def serve_connection(
    conn: socket.socket,
    addr: Any,
    app: WSGIApp,
    environ_base: Mapping[str, Any],
    buffer_size: int = BUFFER_SIZE,
) -> RequestRecord | None:
    """Serve one HTTP/1.x request on ``conn`` (an ``--http-socket`` connection with its
    timeouts set; the caller closes it) with the standard library's
    parser. None when no request came (the client left, timed out, or sent something that is
    not HTTP/1.x: uWSGI logs nothing); :class:`RequestRefusedError` for a head over
    ``buffer_size`` or cut short."""
    return _serve_http(_stdlib_request, conn, addr, app, environ_base, buffer_size)


def serve_connection_httptools(
    conn: socket.socket,
    addr: Any,
    app: WSGIApp,
    environ_base: Mapping[str, Any],
    buffer_size: int = BUFFER_SIZE,
) -> RequestRecord | None:
    """:func:`serve_connection` with httptools as the parser (``muletui[fast]``); the same
    answers and records. Only when :data:`HTTPTOOLS` is true."""
    return _serve_http(_httptools_request, conn, addr, app, environ_base, buffer_size)


#: httptools is importable: :func:`serve_connection_httptools` can run.
HTTPTOOLS: Final = _httptools is not None

ServeConnection = Callable[[socket.socket, Any, WSGIApp, Mapping[str, Any]], RequestRecord | None]


def best_codec() -> ServeConnection:
    """The HTTP codec a worker uses: httptools' when installed, else the standard library's."""
    return serve_connection_httptools if HTTPTOOLS else serve_connection


def serve_uwsgi_request(
    conn: socket.socket,
    packet: uwsgi_packet.Packet,
    app: WSGIApp,
    environ_base: Mapping[str, Any],
) -> RequestRecord:
    """Serve a ``--socket`` WSGI request (modifier1 0; ``conn`` with its timeouts set): its
    environ is ``packet``'s vars, its body the ``CONTENT_LENGTH`` bytes after the packet. A
    packet uWSGI would not pass to the app (no vars, broken vars) gets uWSGI's record for it:
    ``app_id`` -1 and its line."""
    started, clock = time.time(), time.perf_counter()
    try:
        pairs = uwsgi_packet.decode_vars(packet.body)
    except uwsgi_packet.PacketError as error:
        return _unserved(len(packet.body), 500, error.log_line, started)
    if not pairs:
        return _unserved(0, 0, "Empty python request. skip.", started)
    try:
        body = _recv_body(conn, b"", _content_length(pairs))
    except (*TIMED_OUT, ConnectionError):
        body = b""
    return _answer(conn, pairs, body, app, environ_base, started, clock)


def _unserved(vars_bytes: int, status: int, line: str, started: float) -> RequestRecord:
    return RequestRecord(
        method="", uri="", protocol="", remote_addr="", remote_user="", status=status, body_bytes=0,
        headers_count=0, headers_bytes=0, vars_count=0, vars_bytes=vars_bytes, switches=0,
        started=started, micros=0, raised=False, app_id=-1, lines=(line,),
    )  # fmt: skip


@functools.lru_cache(maxsize=2)
def _ctime(second: int) -> str:
    """``time.ctime`` of a whole second, once per second however many lines carry it."""
    return time.ctime(second)


def format_request_line(record: RequestRecord, pid: int, worker_requests: int, total_requests: int) -> str:
    """uWSGI's request log line. ``worker_requests``: this worker's app requests so far,
    this one included; ``total_requests``: the stack's requests (remote signals included)."""
    requests = worker_requests if record.app_id >= 0 else -1
    return (
        f"[pid: {pid}|app: {record.app_id}|req: {requests}/{total_requests}] {record.remote_addr} "
        f"({record.remote_user}) {{{record.vars_count} vars in {record.vars_bytes} bytes}} "
        f"[{_ctime(int(record.started))}] {record.method} {record.uri} => generated {record.body_bytes} bytes "
        f"in {record.msecs} msecs ({record.protocol} {record.status}) {record.headers_count} headers in "
        f"{record.headers_bytes} bytes ({record.switches} switches on core 0)"
    )

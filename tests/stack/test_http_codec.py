"""The request codecs on loopback sockets, against what real uWSGI 2.0.30 sent and logged.

Measured on pyuwsgi 2.0.30 (``--master --processes 1 --http-socket 127.0.0.1:0 --socket
127.0.0.1:0``, host name ``vm``, 5-digit ports) for the same requests:

* ``GET /hello HTTP/1.1`` + ``Host: localhost`` → ``HTTP/1.1 200 OK\\r\\nContent-Type:
  text/plain\\r\\n\\r\\nhi\\n`` and ``{20 vars in 202 bytes} ... GET /hello => generated 3 bytes in 0
  msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)``;
* the same in HTTP/1.0 without Host → ``HTTP/1.0 200 OK``, ``{18 vars in 180 bytes}``;
* ``POST /post`` with Host, ``Content-Type: text/plain``, 5 bytes → ``{24 vars in 246 bytes}``,
  ``generated 5 bytes``, ``2 headers in 64 bytes``;
* an app raising before ``start_response`` → 0 bytes sent, the traceback (the app's frames
  only), ``generated 0 bytes ... (HTTP/1.1 500) 0 headers in 0 bytes (0 switches on core 0)``;
  raising after it → the headers sent, ``(HTTP/1.1 200) 2 headers in 53 bytes (0 switches``;
* a generator raising after ``b"a"`` → ``generated 1 bytes ... (HTTP/1.1 200) 1 headers in 45
  bytes (1 switches``; ``[b"a", b"bb", b"ccc"]`` → ``3 switches``; ``write(b"xyz")`` + ``[b"12"]``
  with ``201 Created`` and 2 headers → ``generated 5 bytes ... 2 headers in 40 bytes (1
  switches``; ``204 No Content`` with no header and ``[]`` → ``0 headers in 27 bytes (0
  switches``; a ``Connection: close`` header from the app is sent (``1 headers in 38 bytes``);
* a client that reset the connection before the answer → ``DATE - uwsgi_response_writev_
  headers_and_body_do(): Connection reset by peer [core/writer.c line 306] during GET /slow
  (127.0.0.1)``, ``OSError: write error``, ``generated 0 bytes ... 1 headers in 0 bytes (0
  switches``; a head cut short → ``uwsgi_proto_http_parser() -> client closed connection``;
* ``--socket``: 4 vars (method, URI, path, ``HTTP/1.0``) → ``HTTP/1.0 200 OK``, ``{8 vars in
  84 bytes}``, no ``REMOTE_ADDR`` → `` () ``; an empty vars block → ``Empty python request.
  skip.`` and ``[pid: P|app: -1|req: -1/14]  () {0 vars in 0 bytes} [DATE]   => generated 0
  bytes in 0 msecs ( 0) 0 headers in 0 bytes (0 switches on core 0)``.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from muletui.engine.listeners import set_timeouts
from muletui.ipc import uwsgi_packet
from muletui.stack import http_codec
from muletui.stack.http_codec import RequestRecord, RequestRefusedError

CODECS = [
    pytest.param(http_codec.serve_connection, id="stdlib"),
    pytest.param(
        http_codec.serve_connection_httptools,
        id="httptools",
        marks=pytest.mark.skipif(not http_codec.HTTPTOOLS, reason="httptools is not installed"),
    ),
]
Outcome = RequestRecord | str | None  # a record, a refusal's line, or None (nothing served)


def adjusted(measured: int, port: int) -> int:
    """A vars size measured with host name ``vm`` and a 5-digit port, for this host and port."""
    return measured - len("vm") - 5 + len(http_codec.HOSTNAME) + len(str(port))


def read_all(client: socket.socket) -> bytes:
    """Everything until the server closes (a reset, after a request it left unread, included)."""
    answer = bytearray()
    try:
        while chunk := client.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return bytes(answer)


class Server:
    """A loopback listener whose next connection is served by ``serve`` in a thread, with the
    kernel timeouts a worker gives its listeners."""

    def __init__(self, serve: Callable[[socket.socket, Any], Outcome], timeout: float = 4.0) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        set_timeouts(self.listener, timeout)  # as the stack's listeners (its connections inherit them)
        self.port = self.listener.getsockname()[1]
        self.outcome: Outcome = None
        self._serve = serve
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn, addr = self.listener.accept()
        with conn:
            try:
                self.outcome = self._serve(conn, addr)
            except RequestRefusedError as refused:
                self.outcome = refused.log_line

    def result(self) -> Outcome:
        self._thread.join(10)
        assert not self._thread.is_alive()
        self.listener.close()
        return self.outcome


def http_server(codec: http_codec.ServeConnection, app: http_codec.WSGIApp) -> Server:
    return Server(lambda conn, addr: codec(conn, addr, app, http_codec.base_environ(False)))


def exchange(codec: http_codec.ServeConnection, app: http_codec.WSGIApp, sent: bytes) -> tuple[bytes, Server, Outcome]:
    server = http_server(codec, app)
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        try:
            client.sendall(sent)
            client.shutdown(socket.SHUT_WR)
        except OSError:  # the server refused the request and reset the connection first
            pass
        answer = read_all(client)
    return answer, server, server.result()


def record_of(outcome: Outcome) -> RequestRecord:
    assert isinstance(outcome, RequestRecord), outcome
    return outcome


def figures(record: RequestRecord) -> tuple[int, int, int, int, int, int, int]:
    """(status, body bytes, headers, header bytes, vars, vars bytes, switches)."""
    return (
        record.status, record.body_bytes, record.headers_count, record.headers_bytes,
        record.vars_count, record.vars_bytes, record.switches,
    )  # fmt: skip


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """The app real uWSGI served for the measurements."""
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise RuntimeError("boom")
    if path == "/post":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/sr_raise":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-A", "1")])
        raise RuntimeError("after start_response")
    if path == "/late":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def late() -> Iterator[bytes]:
            yield b"a"
            raise ValueError("late")

        return late()
    if path == "/three":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"a", b"bb", b"ccc"]
    if path == "/write":
        write = start_response("201 Created", [("X-A", "1"), ("X-B", "2")])
        write(b"xyz")
        return [b"12"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/hop":
        start_response("200 OK", [("Connection", "close")])
        return [b"ok"]
    if path == "/env":
        start_response("200 OK", [("Content-Type", "text/plain")])
        shown = {key: value if isinstance(value, str | bytes | bool | tuple) else type(value) for key, value in environ.items()}
        return ["\n".join(f"{key}={shown[key]}" for key in sorted(environ)).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi\n"]


def get(path: str, protocol: str = "HTTP/1.1", headers: str = "Host: localhost\r\n") -> bytes:
    return f"GET {path} {protocol}\r\n{headers}\r\n".encode()


POST = (
    b"POST /post HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
)


# --- HTTP, both codecs ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_get_in_http_1_1_and_1_0(codec: http_codec.ServeConnection) -> None:
    answer, server, outcome = exchange(codec, app, get("/hello"))
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi\n"
    record = record_of(outcome)
    assert figures(record) == (200, 3, 1, 45, 20, adjusted(202, server.port), 1)
    assert (record.method, record.uri, record.protocol, record.remote_addr) == ("GET", "/hello", "HTTP/1.1", "127.0.0.1")
    assert not record.raised and record.lines == ()

    answer, server, outcome = exchange(codec, app, get("/hello", "HTTP/1.0", headers=""))
    assert answer == b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhi\n"
    assert figures(record_of(outcome)) == (200, 3, 1, 45, 18, adjusted(180, server.port), 1)


@pytest.mark.parametrize("codec", CODECS)
def test_post_with_a_body(codec: http_codec.ServeConnection) -> None:
    answer, server, outcome = exchange(codec, app, POST)
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    record = record_of(outcome)
    assert figures(record) == (200, 5, 2, 64, 24, adjusted(246, server.port), 1)
    assert record.method == "POST"


@pytest.mark.parametrize("codec", CODECS)
def test_an_app_that_raises_gets_nothing_sent_and_a_500(codec: http_codec.ServeConnection) -> None:
    answer, _server, outcome = exchange(codec, app, get("/raise"))
    assert answer == b""
    record = record_of(outcome)
    assert figures(record)[:4] + figures(record)[6:] == (500, 0, 0, 0, 0)
    assert record.raised
    assert record.lines[0] == "Traceback (most recent call last):"
    assert record.lines[-1] == "RuntimeError: boom"
    frames = [line for line in record.lines if line.startswith("  File ")]
    assert len(frames) == 1 and frames[0].endswith(", in app")  # the app's frame only


@pytest.mark.parametrize("codec", CODECS)
def test_raising_after_start_response_or_after_a_chunk(codec: http_codec.ServeConnection) -> None:
    answer, _server, outcome = exchange(codec, app, get("/sr_raise"))
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\n"
    record = record_of(outcome)
    assert figures(record)[:4] + figures(record)[6:] == (200, 0, 2, 53, 0)
    assert record.raised and record.lines[-1] == "RuntimeError: after start_response"

    answer, _server, outcome = exchange(codec, app, get("/late"))
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\na"
    record = record_of(outcome)
    assert figures(record)[:4] + figures(record)[6:] == (200, 1, 1, 45, 1)
    assert record.lines[-1] == "ValueError: late"
    frames = [line for line in record.lines if line.startswith("  File ")]
    assert len(frames) == 1 and frames[0].endswith(", in late")


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("path", "answer", "figures_without_vars"),
    [
        ("/three", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabbccc", (200, 6, 1, 45, 3)),
        ("/write", b"HTTP/1.1 201 Created\r\nX-A: 1\r\nX-B: 2\r\n\r\nxyz12", (201, 5, 2, 40, 1)),
        ("/empty", b"HTTP/1.1 204 No Content\r\n\r\n", (204, 0, 0, 27, 0)),
        ("/hop", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok", (200, 2, 1, 38, 1)),
    ],
)
def test_answers_byte_for_byte(
    codec: http_codec.ServeConnection, path: str, answer: bytes, figures_without_vars: tuple[int, ...]
) -> None:
    sent, _server, outcome = exchange(codec, app, get(path))
    assert sent == answer
    record = record_of(outcome)
    assert figures(record)[:4] + figures(record)[6:] == figures_without_vars


@pytest.mark.parametrize("codec", CODECS)
def test_the_environ_is_uwsgis(codec: http_codec.ServeConnection) -> None:
    answer, server, _outcome = exchange(codec, app, get("/env?a=1", headers="Host: localhost\r\nX-A: 1\r\nX-A: 2\r\n"))
    body = dict(line.split("=", 1) for line in answer.split(b"\r\n\r\n", 1)[1].decode().split("\n"))
    assert sorted(body) == [
        "HTTP_HOST", "HTTP_X_A", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "REQUEST_METHOD", "REQUEST_URI",
        "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
        "uwsgi.node", "uwsgi.version", "wsgi.errors", "wsgi.file_wrapper", "wsgi.input", "wsgi.multiprocess",
        "wsgi.multithread", "wsgi.run_once", "wsgi.url_scheme", "wsgi.version",
    ]  # fmt: skip
    assert body["HTTP_X_A"] == "1, 2"  # repeated headers are joined, as uWSGI's parser does
    assert (body["PATH_INFO"], body["QUERY_STRING"], body["REQUEST_URI"]) == ("/env", "a=1", "/env?a=1")
    assert (body["SERVER_NAME"], body["SERVER_PORT"]) == (http_codec.HOSTNAME, str(server.port))
    assert body["uwsgi.version"] == "b'2.0.30'"


@pytest.mark.parametrize("codec", CODECS)
def test_wsgiref_validator_accepts_the_server_side(codec: http_codec.ServeConnection) -> None:
    answer, _server, outcome = exchange(codec, validator(app), POST)
    assert answer.endswith(b"\r\n\r\nhello")
    assert record_of(outcome).status == 200


@pytest.mark.parametrize("codec", CODECS)
def test_path_info_is_percent_decoded(codec: http_codec.ServeConnection) -> None:
    seen: list[str] = []

    def path_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return []

    exchange(codec, path_app, get("/a%20b/caf%C3%A9?x=%20"))
    assert seen == ["/a b/caf\xc3\xa9"]  # latin-1 decoded bytes, as PEP 3333 wants


@pytest.mark.parametrize("codec", CODECS)
def test_client_that_resets_before_the_answer(codec: http_codec.ServeConnection) -> None:
    may_answer = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        assert may_answer.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * 100_000]

    server = http_server(codec, slow_app)
    client = socket.create_connection(("127.0.0.1", server.port))
    client.sendall(get("/slow"))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, not a goodbye
    may_answer.set()
    record = record_of(server.result())
    assert figures(record)[:4] + figures(record)[6:] == (200, 0, 1, 0, 0)
    assert not record.raised
    writer, error = record.lines
    assert writer.endswith("[core/writer.c line 306] during GET /slow (127.0.0.1)")
    assert "uwsgi_response_writev_headers_and_body_do(): " in writer
    assert ("Connection reset by peer" in writer) or ("Broken pipe" in writer)
    assert error == "OSError: write error"


@pytest.mark.parametrize("codec", CODECS)
def test_connections_without_a_whole_request(codec: http_codec.ServeConnection) -> None:
    assert exchange(codec, app, b"")[2] is None  # connect, close: uWSGI says nothing
    assert exchange(codec, app, b"HELLO\r\n\r\n")[2] is None  # not HTTP: closed, nothing logged
    assert exchange(codec, app, b"GET /hello\r\n\r\n")[2] is None  # HTTP/0.9 too
    answer, _server, outcome = exchange(codec, app, b"GET /hel")
    assert (answer, outcome) == (b"", "uwsgi_proto_http_parser() -> client closed connection")
    answer, _server, outcome = exchange(codec, app, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n")
    assert (answer, outcome) == (b"", "invalid HTTP request size (max 4096)...skip")


def test_a_silent_client_times_out() -> None:
    server = Server(lambda conn, addr: http_codec.serve_connection(conn, addr, app, {}), timeout=0.2)
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        assert read_all(client) == b""  # the server gave up and closed
    assert server.result() is None


def test_both_codecs_give_the_same_answers_and_records() -> None:
    if not http_codec.HTTPTOOLS:
        pytest.skip("httptools is not installed")
    requests = [get("/hello"), get("/hello", "HTTP/1.0", ""), POST, get("/raise"), get("/late"), get("/write"),
                get("/env?q=1", headers="Host: x\r\nUser-Agent: t\r\nContent-Type: a/b\r\n")]  # fmt: skip
    for sent in requests:
        results = []
        for codec in (http_codec.serve_connection, http_codec.serve_connection_httptools):
            answer, server, outcome = exchange(codec, app, sent)
            record = record_of(outcome)
            stable = dataclasses.replace(record, started=0, micros=0, vars_bytes=record.vars_bytes - len(str(server.port)))
            results.append((answer.replace(str(server.port).encode(), b"PORT"), stable))
        assert results[0] == results[1], sent


def test_best_codec() -> None:
    expected = http_codec.serve_connection_httptools if http_codec.HTTPTOOLS else http_codec.serve_connection
    assert http_codec.best_codec() is expected


# --- --socket: WSGI over uwsgi vars ---------------------------------------------------------------


def uwsgi_exchange(pairs: list[tuple[str, str]], body: bytes = b"") -> tuple[bytes, Outcome]:
    def serve(conn: socket.socket, addr: Any) -> Outcome:
        packet = uwsgi_packet.read_packet(conn)
        return http_codec.serve_uwsgi_request(conn, packet, app, http_codec.base_environ(False))

    server = Server(serve)
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(uwsgi_packet.pack_packet(0, uwsgi_packet.encode_vars(pairs)) + body)
        client.shutdown(socket.SHUT_WR)
        answer = read_all(client)
    return answer, server.result()


def test_uwsgi_request_from_its_vars() -> None:
    pairs = [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/hello"), ("PATH_INFO", "/hello"), ("SERVER_PROTOCOL", "HTTP/1.0")]
    answer, outcome = uwsgi_exchange(pairs)
    assert answer == b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhi\n"
    record = record_of(outcome)
    assert figures(record) == (200, 3, 1, 45, 8, 88, 1)
    assert (record.remote_addr, record.protocol, record.app_id) == ("", "HTTP/1.0", 0)


def test_uwsgi_post_and_a_missing_protocol() -> None:
    pairs = [("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/post"), ("PATH_INFO", "/post"), ("CONTENT_LENGTH", "5")]
    answer, outcome = uwsgi_exchange(pairs, b"hello")
    # no SERVER_PROTOCOL: uWSGI answers in HTTP/1.0 and logs an empty protocol ("( 200)")
    assert answer == b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    assert record_of(outcome).protocol == ""


def test_uwsgi_requests_no_app_is_asked_to_serve() -> None:
    answer, outcome = uwsgi_exchange([])
    record = record_of(outcome)
    assert (answer, record.app_id, record.lines, record.status) == (b"", -1, ("Empty python request. skip.",), 0)
    line = http_codec.format_request_line(record, 23699, 13, 14)
    assert line == (
        f"[pid: 23699|app: -1|req: -1/14]  () {{0 vars in 0 bytes}} [{time.ctime(record.started)}]   => "
        "generated 0 bytes in 0 msecs ( 0) 0 headers in 0 bytes (0 switches on core 0)"
    )
    with socket.socket() as unused:  # nothing is read or written
        broken = http_codec.serve_uwsgi_request(unused, uwsgi_packet.Packet(0, 0, b"\x05\x00ab\x00\x00"), app, {})
    assert (broken.app_id, broken.status, broken.vars_bytes) == (-1, 500, 6)
    assert broken.lines == ("invalid uwsgi request (current strsize: 5). skip.",)


# --- the log line ---------------------------------------------------------------------------------


def test_request_line_is_uwsgis() -> None:
    started = time.mktime((2026, 12, 5, 7, 53, 2, 0, 0, -1))
    record = RequestRecord(
        method="GET", uri="/hello", protocol="HTTP/1.1", remote_addr="127.0.0.1", remote_user="", status=200,
        body_bytes=3, headers_count=1, headers_bytes=45, vars_count=20, vars_bytes=202, switches=1,
        started=started, micros=0, raised=False,
    )  # fmt: skip
    assert http_codec.format_request_line(record, 21960, 1, 3) == (
        "[pid: 21960|app: 0|req: 1/3] 127.0.0.1 () {20 vars in 202 bytes} [Sat Dec  5 07:53:02 2026] GET /hello "
        "=> generated 3 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)"
    )

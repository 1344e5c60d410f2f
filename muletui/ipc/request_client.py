"""A client for the stack's own sockets: one request to a ``--http-socket`` (HTTP/1.1) or a
``--socket`` (the uwsgi protocol, modifier1 0), as a browser or a web server in front of uWSGI
would send it; the console's request key uses it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from muletui.ipc.uwsgi_packet import MODIFIER_WSGI, encode_vars, pack_packet

TIMEOUT = 10.0
PREVIEW = 200  # characters of the answer's body kept


@dataclass(frozen=True)
class Answer:
    """What the stack answered: its status line (``HTTP/1.1 200 OK``), the start of its body,
    and the seconds from connect to the end of the answer."""

    status: str
    body: str
    seconds: float


async def send_request(protocol: str, address: str, method: str, path: str) -> Answer:
    """Send one request to ``address`` (``host:port`` or a unix path; ``protocol`` ``http`` or
    ``uwsgi``) and read the whole answer.

    Raises:
        OSError: the connection failed; TimeoutError: no whole answer in :data:`TIMEOUT` s.
    """
    started = time.monotonic()
    if ":" in address and not address.startswith(("/", "@")):
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), TIMEOUT)
    else:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(address.replace("@", "\0", 1)), TIMEOUT)
    try:
        writer.write(_http(method, path) if protocol == "http" else _uwsgi(method, path, address))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1") or "(no answer: the connection was closed)"
    return Answer(status, body[:PREVIEW].decode("utf-8", "replace"), time.monotonic() - started)


def _http(method: str, path: str) -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: muletui\r\n\r\n".encode("latin-1")


def _uwsgi(method: str, path: str, address: str) -> bytes:
    """The vars a web server in front of uWSGI sends for the request (nginx's ``uwsgi_params``)."""
    path_info, _, query = path.partition("?")
    port = address.rpartition(":")[2] if ":" in address else "0"
    pairs = (
        ("REQUEST_METHOD", method), ("REQUEST_URI", path), ("PATH_INFO", path_info), ("QUERY_STRING", query),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("SERVER_NAME", "localhost"), ("SERVER_PORT", port),
        ("REMOTE_ADDR", "127.0.0.1"), ("HTTP_HOST", "localhost"), ("HTTP_USER_AGENT", "muletui"),
    )
    return pack_packet(MODIFIER_WSGI, encode_vars(pairs))

"""The uwsgi binary protocol of a ``--socket``: packets, vars blocks, ping and remote signals.

A packet is a 4-byte header (modifier1, a little-endian 16-bit body size, modifier2) and its body.
uWSGI reads one packet per connection, whole, before it dispatches on modifier1: 0 is a WSGI
request whose body is a vars block (the request's body follows the packet), 100 a ping, 110 a
remote signal (modifier2 is the signal number). The answers below are the bytes uWSGI 2.0.30
sends (reference: shared/reference/uwsgi-workers.md §2); the clients are what ``uwsgi --ping``
and ``uwsgi --signal ADDR,N`` (or ``uwsgi.signal(n, node)``) do.
"""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

HEADER: Final = struct.Struct("<BHB")
_LENGTH: Final = struct.Struct("<H")

#: uWSGI's default ``--buffer-size``: the largest packet body it reads.
BUFFER_SIZE: Final = 4096
#: uWSGI's default ``--socket-timeout``, and its clients' (``--ping-timeout``) 3 s.
CLIENT_TIMEOUT: Final = 3.0

MODIFIER_WSGI: Final = 0
MODIFIER_PING: Final = 100
MODIFIER_SIGNAL: Final = 110
#: modifier1 of the answer to a remote signal.
MODIFIER_RESPONSE: Final = 255


class PacketError(Exception):
    """A packet that could not be read or decoded. ``str()`` says what was wrong;
    :attr:`log_line` is the line uWSGI logs for it before it closes the connection."""

    def __init__(self, message: str, log_line: str) -> None:
        super().__init__(message)
        self.log_line = log_line


@dataclass(frozen=True, slots=True)
class Packet:
    """One uwsgi packet: its two modifiers and its body (``size`` bytes)."""

    modifier1: int
    modifier2: int
    body: bytes


def pack_header(modifier1: int, size: int, modifier2: int) -> bytes:
    """The 4-byte header: ``modifier1``, ``size`` as LE16, ``modifier2``."""
    return HEADER.pack(modifier1, size, modifier2)


def parse_header(header: bytes) -> tuple[int, int, int]:
    """(modifier1, size, modifier2) of a 4-byte header."""
    return HEADER.unpack(header)


def pack_packet(modifier1: int, body: bytes = b"", modifier2: int = 0) -> bytes:
    """A whole packet: the header for ``body`` (at most 65535 bytes), then ``body``."""
    return pack_header(modifier1, len(body), modifier2) + body


def _recv_exactly(sock: socket.socket, count: int, what: str) -> bytes:
    """``count`` bytes from ``sock``, or :class:`PacketError` if the peer ends first."""
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise PacketError(
                f"the peer closed the connection after {len(data)} of the {count} bytes of a packet's {what}",
                "uwsgi_proto_uwsgi_parser(): Success [proto/uwsgi.c line 40]",
            )
        data += chunk
    return bytes(data)


def read_packet(sock: socket.socket, buffer_size: int = BUFFER_SIZE) -> Packet:
    """Read one whole packet (header, then ``size`` bytes) and nothing after it: a WSGI
    request's body stays in the socket. :class:`PacketError` if the peer ends the connection
    first or ``size`` is over ``buffer_size`` (then the body is not read)."""
    modifier1, size, modifier2 = parse_header(_recv_exactly(sock, HEADER.size, "header"))
    if size > buffer_size:
        raise PacketError(
            f"a packet of {size} bytes is over the buffer size ({buffer_size} bytes)",
            f"invalid request block size: {size} (max {buffer_size})...skip",
        )
    return Packet(modifier1, modifier2, _recv_exactly(sock, size, "body") if size else b"")


def _encoded(text: str | bytes) -> bytes:
    return text.encode("latin-1") if isinstance(text, str) else text


def encode_vars(pairs: Iterable[tuple[str | bytes, str | bytes]]) -> bytes:
    """A vars block: for each pair, LE16 key length, key, LE16 value length, value (``str``
    as latin-1, WSGI's byte-preserving encoding)."""
    block = bytearray()
    for key, value in pairs:
        for item in (_encoded(key), _encoded(value)):
            block += _LENGTH.pack(len(item))
            block += item
    return bytes(block)


def decode_vars(block: bytes) -> list[tuple[str, str]]:
    """The (key, value) pairs of a vars block, latin-1 decoded, in order. :class:`PacketError`
    (uWSGI's ``invalid uwsgi request`` line) if a length runs past the block."""
    pairs: list[tuple[str, str]] = []
    items: list[str] = []
    position = 0
    end = len(block)
    while position < end:
        if position + 2 > end:
            raise PacketError(f"a vars block ends inside a length, at byte {position}", "invalid uwsgi request. skip.")
        (length,) = _LENGTH.unpack_from(block, position)
        position += 2
        if position + length > end:
            raise PacketError(
                f"a vars block item of {length} bytes runs past the block's end ({end} bytes)",
                f"invalid uwsgi request (current strsize: {length}). skip.",
            )
        items.append(block[position : position + length].decode("latin-1"))
        position += length
        if len(items) == 2:
            pairs.append((items[0], items[1]))
            items.clear()
    if items:
        raise PacketError("a vars block ends with a key and no value", "invalid uwsgi request (current strsize: 0). skip.")
    return pairs


def vars_size(pairs: Iterable[tuple[str, str]]) -> int:
    """The size in bytes of ``pairs``' vars block (``str`` items counted as latin-1)."""
    pairs = list(pairs)
    return 4 * len(pairs) + sum(map(len, itertools.chain.from_iterable(pairs)))


def ping_answer(warning: str = "") -> bytes:
    """uWSGI's answer to a ping: ``64 SS SS 01`` then the node's warning message, if any
    (``uwsgi --ping`` exits 0 on an empty one, 2 after printing a message)."""
    return pack_packet(MODIFIER_PING, warning.encode(), 1)


def signal_answer(forwarded: bool) -> bytes:
    """uWSGI's answer to a remote signal: ``ff 00 00 01`` once the signal went to the master
    (not a proof that anything handled it), ``ff 00 00 00`` if it could not be forwarded."""
    return pack_header(MODIFIER_RESPONSE, 0, 1 if forwarded else 0)


def connect(address: str, timeout: float = CLIENT_TIMEOUT) -> socket.socket:
    """A connection to a uwsgi socket as uWSGI's clients name one: ``host:port`` (an empty
    host is 127.0.0.1), a unix socket path, or ``@name`` in the abstract namespace."""
    if address.startswith("@"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = "\0" + address[1:]
    elif ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        target = (host.strip("[]") or "127.0.0.1", int(port))
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


def _exchange(address: str, packet: bytes, timeout: float) -> tuple[int, int, int, bytes]:
    """Send ``packet``, read the answer's header and body (one connection, as uWSGI's clients)."""
    with connect(address, timeout) as sock:
        sock.sendall(packet)
        modifier1, size, modifier2 = parse_header(_recv_exactly(sock, HEADER.size, "header"))
        return modifier1, size, modifier2, _recv_exactly(sock, size, "body") if size else b""


def ping(address: str, timeout: float = CLIENT_TIMEOUT) -> str:
    """Ping a node as ``uwsgi --ping`` does: its warning message ('' for a healthy node).
    ``OSError`` if it cannot be reached or does not answer (``PacketError`` is one)."""
    try:
        _modifier1, _size, _modifier2, message = _exchange(address, pack_header(MODIFIER_PING, 0, 0), timeout)
    except PacketError as error:
        raise OSError(f"no answer to a ping from {address}: {error}") from None
    return message.decode(errors="replace")


def send_signal(address: str, signum: int, timeout: float = CLIENT_TIMEOUT) -> None:
    """Raise ``signum`` on a node as ``uwsgi.signal(signum, address)``: ``OSError`` ``unable to
    deliver signal N to node ADDR`` if it cannot be reached or does not answer, ``ValueError``
    ``node ADDR rejected signal N`` if its answer's modifier2 is not 1."""
    if not 0 <= signum <= 255:
        raise ValueError("invalid signal number")
    try:
        _modifier1, _size, modifier2, _body = _exchange(address, pack_header(MODIFIER_SIGNAL, 0, signum), timeout)
    except (OSError, ValueError, PacketError):
        raise OSError(f"unable to deliver signal {signum} to node {address}") from None
    if modifier2 != 1:
        raise ValueError(f"node {address} rejected signal {signum}")

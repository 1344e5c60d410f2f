"""The uwsgi protocol module on loopback sockets, and against real uWSGI 2.0.30 (pyuwsgi).

What real uWSGI did, measured for these tests: ``uwsgi --ping ADDR`` sends ``64 00 00 00`` and
exits 0 on any 4-byte answer with an empty body, 2 after ``[WARNING] node ADDR message: TEXT``
when the body holds a message; ``uwsgi --signal ADDR,17`` sends ``6e 00 00 11``, prints
``signal 17 delivered to node ADDR`` and exits 0 when the answer's modifier2 is 1, ``node ADDR
rejected signal 17`` and 2 when it is 0. A uWSGI ``--socket`` answers ``64 00 00 01`` to a ping
and ``ff 00 00 01`` to a signal, registered or not.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from muletui.ipc import uwsgi_packet
from muletui.ipc.uwsgi_packet import Packet, PacketError

UWSGI = "/tmp/uw/bin/uwsgi"
needs_uwsgi = pytest.mark.skipif(not os.path.exists(UWSGI), reason=f"no pyuwsgi at {UWSGI}")


class PacketServer:
    """A loopback uwsgi socket served by the module: one packet per connection, answered by
    ``answer`` (ping → ``ping_answer``, signal → ``signal_answer``); keeps what it read."""

    def __init__(self, answer: Callable[[Packet], bytes]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.answer = answer
        self.packets: list[Packet] = []
        self.errors: list[PacketError] = []
        self.trailing: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    packet = uwsgi_packet.read_packet(conn)
                except PacketError as error:
                    self.errors.append(error)
                    continue
                self.packets.append(packet)
                conn.sendall(self.answer(packet))
                conn.shutdown(socket.SHUT_WR)
                self.trailing.append(conn.recv(100))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)


def uwsgi_answer(packet: Packet) -> bytes:
    if packet.modifier1 == uwsgi_packet.MODIFIER_PING:
        return uwsgi_packet.ping_answer()
    return uwsgi_packet.signal_answer(forwarded=packet.modifier2 != 99)


@pytest.fixture
def server() -> Iterator[PacketServer]:
    served = PacketServer(uwsgi_answer)
    yield served
    served.close()


def test_header_layout() -> None:
    assert uwsgi_packet.pack_header(110, 0, 17) == bytes.fromhex("6e000011")
    assert uwsgi_packet.pack_header(0, 0x1234, 5) == bytes.fromhex("00341205")
    assert uwsgi_packet.parse_header(bytes.fromhex("64030001")) == (100, 3, 1)
    assert uwsgi_packet.pack_packet(173, b"abc", 2) == bytes.fromhex("ad030002") + b"abc"


def test_answers_are_uwsgis_bytes() -> None:
    assert uwsgi_packet.ping_answer() == bytes.fromhex("64000001")
    assert uwsgi_packet.ping_answer("hello") == bytes.fromhex("64050001") + b"hello"
    assert uwsgi_packet.signal_answer(True) == bytes.fromhex("ff000001")
    assert uwsgi_packet.signal_answer(False) == bytes.fromhex("ff000000")


def test_vars_round_trip_with_empty_and_latin1_values() -> None:
    pairs = [("REQUEST_METHOD", "GET"), ("QUERY_STRING", ""), ("PATH_INFO", "/caf\xe9"), ("HTTP_X", "a, b")]
    block = uwsgi_packet.encode_vars(pairs)
    assert block[:16] == b"\x0e\x00REQUEST_METHOD\x03\x00"[:16]
    assert uwsgi_packet.decode_vars(block) == pairs
    assert uwsgi_packet.vars_size(pairs) == len(block)
    # the 4-var request real uWSGI logged as "{8 vars in 84 bytes}"
    logged = [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/env"), ("PATH_INFO", "/env"), ("SERVER_PROTOCOL", "HTTP/1.0")]
    assert uwsgi_packet.vars_size(logged) == 84
    assert uwsgi_packet.encode_vars([(b"K", b"\x00\xff")]) == b"\x01\x00K\x02\x00\x00\xff"


def test_broken_vars_blocks_are_refused_with_uwsgis_line() -> None:
    with pytest.raises(PacketError) as caught:
        uwsgi_packet.decode_vars(b"\x05\x00ab\x00\x00")
    assert caught.value.log_line == "invalid uwsgi request (current strsize: 5). skip."
    assert "runs past" in str(caught.value)
    for broken in (b"\x01", b"\x01\x00K"):
        with pytest.raises(PacketError):
            uwsgi_packet.decode_vars(broken)


def test_read_packet_leaves_the_request_body_in_the_socket() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as client:
        conn, _ = listener.accept()
        with conn:
            block = uwsgi_packet.encode_vars([("CONTENT_LENGTH", "5")])
            client.sendall(uwsgi_packet.pack_packet(0, block) + b"hello")
            packet = uwsgi_packet.read_packet(conn)
            assert packet == Packet(0, 0, block)
            assert conn.recv(100) == b"hello"


@pytest.mark.parametrize(
    ("sent", "message", "log_line"),
    [
        (
            uwsgi_packet.pack_header(0, 5005, 0) + b"x" * 5005,
            "a packet of 5005 bytes is over the buffer size (4096 bytes)",
            "invalid request block size: 5005 (max 4096)...skip",
        ),
        (
            uwsgi_packet.pack_header(0, 100, 0) + b"abc",
            "the peer closed the connection after 3 of the 100 bytes of a packet's body",
            "uwsgi_proto_uwsgi_parser(): Success [proto/uwsgi.c line 40]",
        ),
        (
            b"\x00\x00",
            "the peer closed the connection after 2 of the 4 bytes of a packet's header",
            "uwsgi_proto_uwsgi_parser(): Success [proto/uwsgi.c line 40]",
        ),
    ],
    ids=["oversized", "short body", "short header"],
)
def test_short_and_oversized_packets(server: PacketServer, sent: bytes, message: str, log_line: str) -> None:
    with socket.create_connection(server.listener.getsockname()) as client:
        try:
            client.sendall(sent)
            client.shutdown(socket.SHUT_WR)
            assert client.recv(10) == b""
        except OSError:  # reset: closed with the oversized body unread, as uWSGI does
            pass
    wait_for(lambda: server.errors)
    assert str(server.errors[0]) == message
    assert server.errors[0].log_line == log_line
    assert server.packets == []


def test_exactly_the_buffer_size_is_read(server: PacketServer) -> None:
    with socket.create_connection(server.listener.getsockname()) as client:
        client.sendall(uwsgi_packet.pack_header(100, 4096, 0) + b"p" * 4096)
        assert client.recv(10) == bytes.fromhex("64000001")
    assert server.packets == [Packet(100, 0, b"p" * 4096)]


def test_clients_against_the_module(server: PacketServer) -> None:
    assert uwsgi_packet.ping(server.address) == ""
    assert uwsgi_packet.send_signal(server.address, 17) is None
    with pytest.raises(ValueError, match=f"^node {server.address} rejected signal 99$"):
        uwsgi_packet.send_signal(server.address, 99)
    assert server.packets == [Packet(100, 0, b""), Packet(110, 17, b""), Packet(110, 99, b"")]
    with pytest.raises(ValueError, match="^invalid signal number$"):
        uwsgi_packet.send_signal(server.address, 256)


def test_ping_returns_the_nodes_warning() -> None:
    warned = PacketServer(lambda packet: uwsgi_packet.ping_answer("hello"))
    try:
        assert uwsgi_packet.ping(warned.address) == "hello"
    finally:
        warned.close()


def test_clients_on_a_closed_port_and_a_silent_node() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    with listener:  # accepts (backlog) and never answers
        with pytest.raises(OSError, match=f"^unable to deliver signal 3 to node {address}$"):
            uwsgi_packet.send_signal(address, 3, timeout=0.2)
        with pytest.raises(OSError):
            uwsgi_packet.ping(address, timeout=0.2)
    with pytest.raises(OSError, match=f"^unable to deliver signal 3 to node {address}$"):
        uwsgi_packet.send_signal(address, 3)


def test_unix_and_abstract_addresses(tmp_path: Path) -> None:
    for name in (str(tmp_path / "uwsgi.sock"), f"@muletui-test-{os.getpid()}"):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("\0" + name[1:] if name.startswith("@") else name)
        listener.listen()
        with listener:
            done = threading.Event()

            def serve(listener: socket.socket = listener, done: threading.Event = done) -> None:
                conn, _ = listener.accept()
                with conn:
                    packet = uwsgi_packet.read_packet(conn)
                    conn.sendall(uwsgi_packet.signal_answer(packet.modifier2 == 5))
                done.set()

            threading.Thread(target=serve, daemon=True).start()
            uwsgi_packet.send_signal(name, 5)
            assert done.wait(5)


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# --- real uWSGI as the client -------------------------------------------------------------------


def run_uwsgi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([UWSGI, *args], capture_output=True, text=True, timeout=20, check=False)


@needs_uwsgi
def test_uwsgi_ping_accepts_the_modules_answer(server: PacketServer) -> None:
    result = run_uwsgi("--ping", server.address)
    assert result.returncode == 0, result.stderr
    assert f"PING uwsgi host {server.address} (timeout: 3)" in result.stderr
    assert server.packets == [Packet(100, 0, b"")]


@needs_uwsgi
def test_uwsgi_ping_prints_the_warning() -> None:
    warned = PacketServer(lambda packet: uwsgi_packet.ping_answer("disk full"))
    try:
        result = run_uwsgi("--ping", warned.address)
    finally:
        warned.close()
    assert result.returncode == 2
    assert f"[WARNING] node {warned.address} message: disk full" in result.stderr


@needs_uwsgi
def test_uwsgi_signal_is_delivered_or_rejected(server: PacketServer) -> None:
    result = run_uwsgi("--signal", f"{server.address},17")
    assert result.returncode == 0, result.stderr
    assert f"signal 17 delivered to node {server.address}" in result.stderr
    result = run_uwsgi("--signal", f"{server.address},99")
    assert result.returncode == 2
    assert f"node {server.address} rejected signal 99" in result.stderr
    assert server.packets == [Packet(110, 17, b""), Packet(110, 99, b"")]
    # uWSGI's client sends its 4 bytes and nothing more
    wait_for(lambda: len(server.trailing) == 2)
    assert server.trailing == [b"", b""]


# --- the module's clients against real uWSGI ---------------------------------------------------


@pytest.fixture
def uwsgi_node(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real uWSGI with a ``--socket`` (and an app that handles signal 17 in its worker)."""
    (tmp_path / "app.py").write_text(
        "import uwsgi\n"
        "uwsgi.register_signal(17, 'workers', lambda n: print('handled', n, flush=True))\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'']\n"
    )
    log = tmp_path / "uwsgi.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [UWSGI, "--master", "--processes", "1", "--socket", "127.0.0.1:0", "--wsgi-file", "app.py"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "spawned uWSGI worker 1" in log.read_text(), timeout=15)
        bound = next(line for line in log.read_text().splitlines() if "bound to TCP address" in line)
        yield bound.split("TCP address ")[1].split()[0], log
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)


@needs_uwsgi
def test_module_clients_against_real_uwsgi(uwsgi_node: tuple[str, Path]) -> None:
    address, log = uwsgi_node
    assert uwsgi_packet.ping(address) == ""
    uwsgi_packet.send_signal(address, 17)
    uwsgi_packet.send_signal(address, 99)  # unregistered: acked all the same
    wait_for(lambda: "error managing signal 99 on worker 1" in log.read_text())
    assert "handled 17" in log.read_text()
    assert log.read_text().count("PING") == 1

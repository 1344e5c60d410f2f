"""``muletui --serve`` as a real subprocess: its token, its session cap, and the end of every console.

Each test serves on a free loopback port from ``tmp_path``. The server's environment carries a
marker that every process it starts inherits, so the tests find them all, orphans included; the
``serve`` fixture stops the server, SIGKILLs any marked process still alive, by pid, and then
fails the test.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from muletui.serve import FONT_URL, ITALIC_FONT_URL, ConsoleServer, is_loopback, parse_address

CHECKOUT = Path(__file__).resolve().parents[2]
GONE_WITHIN = 10.0  # seconds a console and its stack get to end
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name in the page's inline logo, never fetched


def alive(pid: int) -> bool:
    """``True`` while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """The live children of ``pid``, from the children lists of all its threads."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in listing.read_text().split()]
        except OSError:  # the thread or the process ended meanwhile
            continue
    return [child for child in found if alive(child)]


def marked(marker: bytes) -> list[int]:
    """Every live process whose environment holds ``marker``."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile
            continue
    return [pid for pid in found if alive(pid)]


async def until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll ``condition`` (a function, or a coroutine function) every 20 ms until it holds.

    Returns the seconds it took.
    """
    start = time.monotonic()
    while not ((await held) if inspect.isawaitable(held := condition()) else held):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


class Served:
    """A ``muletui --serve`` subprocess; its output goes to files, so it never blocks on a pipe."""

    def __init__(self, tmp_path: Path, host: str, options: tuple[str, ...]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.marker = f"MULETUI_SERVE_TEST={uuid.uuid4().hex}"
        self.stdout = tmp_path / f"serve-{self.port}.out"
        self.stderr = tmp_path / f"serve-{self.port}.err"
        name, _, value = self.marker.partition("=")
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "muletui", f"--serve={host}:{self.port}", *options],
                cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env={**os.environ, name: value},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_url(self, timeout: float = 15.0) -> str:
        """The printed URL (with its token), once the server listens."""
        deadline = time.monotonic() + timeout
        while not (found := re.search(r"serving the console at (\S+)", self.stdout.read_text())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no URL printed:\n{self.stdout.read_text()}{self.stderr.read_text()}")
            time.sleep(0.02)
        return found[1]

    @property
    def token(self) -> str:
        return self.wait_url().rpartition("token=")[2]

    def base(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def started(self) -> list[int]:
        """Every live process the server started, directly or not, orphans included."""
        return [pid for pid in marked(self.marker.encode()) if pid != self.pid]

    def stop(self) -> list[int]:
        """SIGTERM the server, SIGKILL what is left of it and what it started; returns the survivors."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(GONE_WITHIN)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        survivors = self.started()
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        return survivors


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Served]]:
    """``serve("--serve-sessions", "1", host=...)`` serves on a free port; stopped and checked after."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])))
    servers: list[Served] = []

    def _start(*options: str, host: str = "127.0.0.1") -> Served:
        served = Served(tmp_path, host, options)
        servers.append(served)
        served.wait_url()
        return served

    yield _start
    survivors = [pid for served in servers for pid in served.stop()]
    assert not survivors, f"processes outlived the server: {survivors}"


async def open_console(served: Served, client: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    """A websocket with the token, once its console's stack runs mules (the console has great-grandchildren)."""
    before = set(children(served.pid))
    websocket = await client.ws_connect(served.base("/ws"), params={"token": served.token})

    def stack_up() -> bool:
        new = [pid for pid in children(served.pid) if pid not in before]
        return any(children(root) for console in new for root in children(console))

    await until(stack_up, GONE_WITHIN, "a new console with its stack")
    return websocket


async def test_without_the_token_nothing_opens_and_nothing_starts(serve: Callable[..., Served]) -> None:
    served = serve()
    async with aiohttp.ClientSession() as client:
        for path, params in [("/", {}), ("/", {"token": "wrong"}), ("/download/key", {}), ("/ws", {"token": ""})]:
            async with client.get(served.base(path), params=params) as response:
                assert response.status == 403, path
                assert "needs its token" in await response.text()
        for params in [{}, {"token": served.token[:-1]}, {"token": "é"}]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(served.base("/ws"), params=params)
            assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # another page's script, with the token
            await client.ws_connect(served.base("/ws"), params={"token": served.token}, origin="http://127.0.0.1:1")
        assert refused.value.status == 403
        async with client.get(served.base("/static/js/textual.js")) as response:
            assert response.status == 200  # assets start nothing: open
    assert served.started() == []


async def test_the_page_leaves_the_token_in_a_cookie_that_opens_the_websocket(serve: Callable[..., Served]) -> None:
    served = serve()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(served.wait_url()) as response:
            assert response.status == 200
            page = await response.text()
            cookie = response.headers["Set-Cookie"]
        assert f'data-session-websocket-url="ws://127.0.0.1:{served.port}/ws"' in page
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"  # no clickjacking
        assert response.headers["X-Frame-Options"] == "DENY"
        assert served.started() == []
        # A page of another port is the same site for cookies; the browser says where it came from.
        async with client.get(served.base("/"), headers={"Sec-Fetch-Site": "same-site"}) as refused:
            assert refused.status == 403
        async with client.ws_connect(served.base("/ws"), params={"width": "100", "height": "30"}) as websocket:
            assert (await websocket.receive()).type == aiohttp.WSMsgType.BINARY  # the console's screen
    log = served.stdout.read_text() + served.stderr.read_text()
    assert "GET / 200" in log and log.count(served.token) == 1  # the printed URL only


async def test_the_page_needs_no_other_host_and_focuses_the_terminal() -> None:
    """Offline, the page still has its font, and keys reach the console without a click."""
    server = ConsoleServer(["true"], "127.0.0.1", 0, 1, "secret")
    app: web.Application = await server._make_app()
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        async with client.get(http.make_url("/"), params={"token": "secret"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            page = await response.text()
        own = f"127.0.0.1:{http.port}"
        hosts = [match[0] for match in re.finditer(r"""(?:[a-z][a-z0-9+.-]*:)?//([^/\s"'<>)]+)""", page)
                 if match[1] != own and not SVG_NAMESPACE.startswith(match[0])]
        assert hosts == []
        assert f'data-session-websocket-url="ws://{own}/ws"' in page
        for url in (FONT_URL, ITALIC_FONT_URL):
            assert f'src: url("{url}") format("truetype")' in page
            async with client.get(http.make_url(url)) as response:  # a static asset: no token needed
                assert response.status == 200
                assert (await response.read())[:4] == b"\x00\x01\x00\x00"  # a TrueType font
        assert 'font-family: "Roboto Mono"' in page and ".xterm-helper-textarea\")?.focus()" in page
        async with client.get(http.make_url("/static/js/textual.js")) as response:
            script = await response.text()
        assert "fontFamily:\"'Roboto Mono'" in script  # the family the @font-face names
        assert "xterm-helper-textarea" in script  # where xterm.js takes keys: the page focuses it
    assert server.sessions == set()


async def test_a_closed_websocket_ends_its_console_and_stack(serve: Callable[..., Served]) -> None:
    served = serve()
    async with aiohttp.ClientSession() as client:
        websocket = await open_console(served, client)
        await websocket.close()
        await until(lambda: not served.started(), GONE_WITHIN, "the end of the console and its stack")
    assert served.process.poll() is None  # the server goes on


@pytest.mark.parametrize("sessions", [2, 1])
async def test_stopping_the_server_ends_every_console_and_stack(serve: Callable[..., Served], sessions: int) -> None:
    served = serve()
    async with aiohttp.ClientSession() as client:
        for _ in range(sessions):
            await open_console(served, client)
        served.process.send_signal(signal.SIGINT)
        await until(lambda: served.process.poll() is not None, GONE_WITHIN, "the server's exit")
    assert served.process.returncode == 0
    assert served.started() == []


async def test_stopping_the_server_as_a_console_starts(serve: Callable[..., Served]) -> None:
    served = serve()
    async with aiohttp.ClientSession() as client:
        await client.ws_connect(served.base("/ws"), params={"token": served.token})
        served.process.send_signal(signal.SIGINT)
        await until(lambda: served.process.poll() is not None, GONE_WITHIN, "the server's exit")
    assert served.started() == []


async def test_the_session_cap_refuses_with_a_clear_message(serve: Callable[..., Served]) -> None:
    served = serve("--serve-sessions", "1")
    async with aiohttp.ClientSession() as client:
        websocket = await open_console(served, client)
        consoles = children(served.pid)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(served.base("/ws"), params={"token": served.token})
        assert refused.value.status == 503
        async with client.get(served.wait_url()) as response:
            assert response.status == 503
            assert "all 1 sessions are in use" in await response.text()
        assert children(served.pid) == consoles  # nothing started for the refused ones
        await websocket.close()

        async def place_free() -> bool:
            async with client.get(served.wait_url()) as response:
                return response.status == 200

        await until(place_free, GONE_WITHIN, "a free place after the first console's end")


def test_a_non_loopback_address_warns(serve: Callable[..., Served]) -> None:
    served = serve(host="0.0.0.0")
    assert "WARNING: 0.0.0.0 is not a loopback address" in served.stderr.read_text()
    assert "unencrypted" in served.stderr.read_text()


@pytest.mark.parametrize(
    ("where", "address"),
    [("", ("127.0.0.1", 8000)), ("9000", ("127.0.0.1", 9000)), ("0.0.0.0:80", ("0.0.0.0", 80)),
     ("[::1]:8001", ("::1", 8001)), ("localhost:8002", ("localhost", 8002))],
)
def test_addresses(where: str, address: tuple[str, int]) -> None:
    assert parse_address(where) == address


@pytest.mark.parametrize("where", ["host", "host:", "host:0", "host:70000", ":x"])
def test_bad_addresses(where: str) -> None:
    with pytest.raises(ValueError, match="--serve needs HOST:PORT or PORT"):
        parse_address(where)


def test_loopback() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.org"]))


@pytest.mark.parametrize(("options", "message"), [
    (["--serve=nowhere"], "muletui: --serve needs HOST:PORT or PORT"),
    (["--serve", "--serve-sessions", "0"], "--serve-sessions must be at least 1"),
])
def test_bad_serve_options_answer_in_one_line(options: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "muletui", *options], capture_output=True, text=True, timeout=30,
                          check=False, cwd=CHECKOUT)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


async def test_a_console_deaf_to_sigterm_is_killed_after_the_grace() -> None:
    """The SIGKILL fallback, on a stand-in console that speaks textual's prelude and ignores SIGTERM."""
    deaf = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "sys.stdout.buffer.write(b'__GANGLION__\\n' + b'D' + (5).to_bytes(4, 'big') + b'ready');"
        "sys.stdout.flush(); time.sleep(60)"
    )
    server = ConsoleServer([sys.executable, "-c", deaf], "127.0.0.1", 0, 1, "secret", stop_grace=0.5)
    app: web.Application = await server._make_app()
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as client:
        websocket = await client.ws_connect(http.make_url("/ws"), params={"token": "secret"})
        assert (await websocket.receive_bytes(timeout=5)) == b"ready"  # SIGTERM is ignored from now on
        process = next(iter(server.sessions)).process
        assert process is not None
        await websocket.close()
        took = await until(lambda: process.returncode is not None, 5, "the stand-in's end")
        assert process.returncode == -signal.SIGKILL
        assert 0.4 < took < 3

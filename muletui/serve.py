"""``muletui --serve``: the console for browsers, behind a token, a session cap, and a sure end.

textual-serve runs one app process per browser websocket. A console starts code as the user who
serves it, so this module puts in front of textual-serve's server what Jupyter puts in front of
its kernels:

- a random token, printed in the URL at start: the page, the websocket and downloads refuse a
  request without it before anything is started (static assets, which start nothing, stay open).
  The page sets it as an HttpOnly, SameSite=Strict cookie, because textual.js opens the websocket
  at a URL of its own making (``...?width=&height=``), where a token in the query has no place;
- a websocket whose ``Origin`` is another page is refused even with the cookie: SameSite counts
  every port of a host as one site, so a page served by another local user on another port would
  otherwise get the cookie sent along;
- a cap on concurrent sessions, answered with a plain page;
- a page that works offline and takes keys at once: textual-serve's page asks an external font
  service for its font (offline, the browser silently falls back) and leaves the terminal
  unfocused until it is clicked. :func:`classroom_page` edits the rendered page: the font comes
  from the RobotoMono files textual-serve ships, and the terminal gets the focus;
- an end for every console: when its browser goes or the server stops, SIGTERM (the console stops
  its stack and quits), and SIGKILL if it still lives after :data:`STOP_GRACE` seconds (its stack
  root dies with it, ``PR_SET_PDEATHSIG``). The server returns only after every console is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import re
import secrets
import shlex
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager
from textual_serve.server import Server, to_int

DEFAULT_ADDRESS = ("127.0.0.1", 8000)
STOP_GRACE = 5.0  # seconds a console gets to stop its stack after SIGTERM, before SIGKILL

STATIC_URL = "/static/"  # where textual-serve's server serves its static directory
FONT_URL = f"{STATIC_URL}fonts/RobotoMono-VariableFont_wght.ttf"
ITALIC_FONT_URL = f"{STATIC_URL}fonts/RobotoMono-Italic-VariableFont_wght.ttf"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EXTERNAL_LINK = re.compile(r"""<link\b[^>]*\bhref=["']?(?:https?:)?//[^>]*>""", re.IGNORECASE)

# textual.js names the family "Roboto Mono" for the terminal, the page for its dialogs. The preload
# starts the font's fetch before textual.js measures the terminal's cells on load.
# Keys reach xterm.js only through its hidden textarea, which textual.js creates on load: focus it
# then, and again when the console's first screen arrives (the body gets "-first-byte").
CLASSROOM_HEAD = f"""\
<link rel="preload" href="{FONT_URL}" as="font" type="font/ttf" crossorigin />
<style>
  @font-face {{
    font-family: "Roboto Mono";
    font-weight: 100 700;
    src: url("{FONT_URL}") format("truetype");
  }}
  @font-face {{
    font-family: "Roboto Mono";
    font-style: italic;
    font-weight: 100 700;
    src: url("{ITALIC_FONT_URL}") format("truetype");
  }}
</style>
<script>
  addEventListener("load", () => {{
    const focusTerminal = () => document.querySelector(".textual-terminal .xterm-helper-textarea")?.focus();
    focusTerminal();
    new MutationObserver((_changes, observer) => {{
      if (document.body.classList.contains("-first-byte")) {{
        observer.disconnect();
        focusTerminal();
      }}
    }}).observe(document.body, {{ attributes: true, attributeFilter: ["class"] }});
  }});
</script>
"""


def parse_address(where: str) -> tuple[str, int]:
    """``--serve``'s value: ``HOST:PORT``, ``[IPV6]:PORT``, ``PORT`` or ``""`` (127.0.0.1:8000).

    Raises :class:`ValueError` with a message for the user.
    """
    if not where:
        return DEFAULT_ADDRESS
    host, _, port = where.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"--serve needs HOST:PORT or PORT (a port from 1 to 65535), got {where!r}")
    return host or DEFAULT_ADDRESS[0], int(port)


def is_loopback(host: str) -> bool:
    """``True`` for ``localhost`` and loopback addresses: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(status: int, text: str) -> web.Response:
    """A short plain-text answer that starts nothing."""
    return web.Response(status=status, text=text + "\n")


def classroom_page(page: str) -> str:
    """textual-serve's rendered page without links to other hosts, with the bundled font and a focused terminal."""
    return EXTERNAL_LINK.sub("", page).replace("</head>", CLASSROOM_HEAD + "</head>", 1)


class AccessLog(AbstractAccessLogger):
    """One line per request, without its query string or its Referer: both may carry the token."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d", request.remote, request.method, request.path, response.status)


class ConsoleSession(AppService):
    """One browser's console process, started without a shell so that its pid is the console's.

    Args:
        argv: The console's command line.
        websocket: The browser's websocket: the console's screen goes there, and it is closed
            when the console ends, however it ends.
        download_manager: The server's downloads.
        stop_grace: Seconds the console gets to stop its stack after SIGTERM, before SIGKILL.
    """

    def __init__(
        self,
        argv: list[str],
        websocket: web.WebSocketResponse,
        download_manager: DownloadManager,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        async def close() -> None:
            await websocket.close()

        super().__init__(
            shlex.join(argv),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=download_manager,
        )
        self.argv = argv
        self.stop_grace = stop_grace
        self.process: Process | None = None
        self._starting = asyncio.Lock()
        self._ending: asyncio.Future[None] | None = None

    async def start(self, width: int, height: int) -> None:
        """Start the console in a terminal of this size, unless :meth:`end` came first."""
        async with self._starting:
            if self._ending is None:
                await super().start(width, height)

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self.process = self._process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=self._build_environment(width, height)
        )
        assert self.process.stdin is not None
        self._stdin = self.process.stdin
        return self.process

    async def run(self) -> None:
        """Relay the console's output until it ends, then close the websocket: nothing is behind it."""
        await super().run()
        await self.remote_close()

    async def end(self) -> None:
        """Stop the console, wait for it and for its output's end, and close the websocket.

        An end waits for a start under way, and prevents any later one. Every call waits for the
        one ending; a caller cancelled meanwhile does not cancel it.
        """
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end())
        await asyncio.shield(self._ending)

    async def _end(self) -> None:
        """SIGTERM first: the console stops its stack and quits. SIGKILL after :attr:`stop_grace` s."""
        async with self._starting:
            process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self.stop_grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await self.stop()
        await self.remote_close()


class ConsoleServer(Server):
    """textual-serve's server with a token, a cap on sessions and an end for every console.

    Args:
        argv: The command line each session runs.
        host: The address to listen on.
        port: The port to listen on.
        max_sessions: How many consoles may run at once.
        token: The secret every request but a static asset must carry.
        stop_grace: Seconds a console gets to stop its stack after SIGTERM, before SIGKILL.
    """

    def __init__(
        self, argv: list[str], host: str, port: int, max_sessions: int, token: str, stop_grace: float = STOP_GRACE
    ) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title="muletui")
        self.argv = argv
        self.max_sessions = max_sessions
        self.token = token
        self.stop_grace = stop_grace
        self.cookie_name = f"muletui-token-{port}"  # cookies ignore ports: one name per server
        self.sessions: set[ConsoleSession] = set()

    @property
    def url(self) -> str:
        """The URL to open, token included."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse everything but a static asset without the token, and a websocket from another page."""
        if request.path.startswith(STATIC_URL):
            return await handler(request)
        given = request.query.get("token") or request.cookies.get(self.cookie_name, "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return refusal(403, "muletui: this console needs its token: open the URL the server printed (.../?token=...)")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in (f"http://{request.host}", f"https://{request.host}"):
            return refusal(403, f"muletui: a page from {origin} may not open this console")
        fetched_from = request.headers.get("Sec-Fetch-Site")  # browsers say it on every request
        if fetched_from not in (None, "same-origin", "none") and "token" not in request.query:
            return refusal(403, "muletui: a page from another site may not use this console's cookie")
        return await handler(request)

    def _refuse_if_full(self) -> None:
        if len(self.sessions) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"muletui: all {self.max_sessions} sessions are in use: close one, or try again later\n"
            )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The console's page (:func:`classroom_page`), which also leaves the token in a cookie for its websocket."""
        self._refuse_if_full()
        scheme = "wss" if request.secure else "ws"
        page = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",  # the host this browser used: the cookie's
            "config": {"static": {"url": STATIC_URL}},
            "application": {"name": self.title},
        }
        html = aiohttp_jinja2.render_string("app_index.html", request, page)
        response = web.Response(text=classroom_page(html), content_type="text/html")
        response.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict")
        response.headers["Referrer-Policy"] = "no-referrer"  # the page's URL holds the token
        # No page of another port (same site for cookies) may frame it and click in it.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Run one console for this websocket, and end it when the websocket closes."""
        self._refuse_if_full()
        websocket = web.WebSocketResponse(heartbeat=15)
        session = ConsoleSession(self.argv, websocket, self.download_manager, self.stop_grace)
        self.sessions.add(session)  # before any await: the cap holds for websockets arriving together
        try:
            await websocket.prepare(request)
            await session.start(to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, session)
        finally:
            await session.end()
            self.sessions.discard(session)
            await websocket.close()
        return websocket

    def initialize_logging(self) -> None:
        """Plain log lines: textual-serve's tracebacks show every frame's locals, the token among them."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM. The URL is printed once the port listens, not before."""
        self.initialize_logging()
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            print=self._listening,
            handle_signals=True,
            access_log_class=AccessLog,
        )

    def _listening(self, _banner: str) -> None:
        print(f"muletui: serving the console at {self.url} (Ctrl-C stops it)", flush=True)

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: textual-serve's banner would name the command, not the URL to open."""

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(session.end() for session in list(self.sessions)))


def serve_console(where: str, argv: list[str], max_sessions: int) -> int:
    """Serve the console at ``where`` (``--serve``'s value) until SIGINT or SIGTERM; the exit status.

    Each browser session runs ``argv``.
    """
    try:
        host, port = parse_address(where)
    except ValueError as error:
        print(f"muletui: {error}", file=sys.stderr)
        return 1
    if not is_loopback(host):
        print(
            f"muletui: WARNING: {host} is not a loopback address: any host that can reach port {port} gets a "
            "console, running code as you, with the token; and the traffic, token included, is unencrypted",
            file=sys.stderr,
            flush=True,
        )
    server = ConsoleServer(argv, host, port, max_sessions, secrets.token_urlsafe(24))
    try:
        server.serve()
    except OSError as error:
        print(f"muletui: cannot serve on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0

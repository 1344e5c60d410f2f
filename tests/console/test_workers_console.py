"""Workers in the console, with Pilot against a real stack: the workers table, worker lines in
the log under their own name, and the request key whose request becomes a mule's message."""

from __future__ import annotations

from harness import log_texts, until
from textual.widgets.data_table import CellDoesNotExist

from muletui.console.model import MULE, TEXT
from muletui.console.request_screen import RequestScreen, parse_request
from muletui.console.widgets.log_view import source_label
from muletui.console.widgets.tables import WorkerTable

WEB = """
import uwsgi
def application(environ, start_response):
    uwsgi.mule_msg(("request for " + environ["PATH_INFO"]).encode(), 1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"sent to mule 1"]
"""

READER = """
import uwsgi
while True:
    print("mule got", uwsgi.mule_get_msg(), flush=True)
"""


def requests_shown(app) -> int:
    table = app.query_one(WorkerTable)
    try:
        return sum(int(str(table.get_cell(str(w), "requests"))) for w in (1, 2))
    except (CellDoesNotExist, ValueError):
        return -1


async def test_a_request_from_the_console_becomes_a_mule_message(console, tmp_path):
    (tmp_path / "web.py").write_text(WEB)
    (tmp_path / "reader.py").write_text(READER)
    app = console("--http-socket", "127.0.0.1:0", "--processes", "2", "--wsgi-file", "web.py", "--mule=reader.py")
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: requests_shown(app) == 0, what="the workers table")
        assert app.query_one(WorkerTable).display and app.sub_title == "1 mule, 2 workers"
        await pilot.press("h")
        assert isinstance(app.screen, RequestScreen)
        await pilot.press(*"/hello", "enter")
        await until(pilot, lambda: "mule got b'request for /hello'" in log_texts(app), what="the mule's message")
        request_lines = [line for line in app.model.log.all if "GET /hello =>" in line[TEXT]]
        assert len(request_lines) == 1 and source_label(request_lines[0][MULE]).startswith("worker ")
        await until(pilot, lambda: requests_shown(app) == 1, what="the request counted")
        assert app.signal_preview(99) == "signal 99 → not registered: a worker takes it (error managing signal 99)"


async def test_without_a_socket_there_is_no_workers_table_and_the_request_key_says_why(console, tmp_path):
    (tmp_path / "reader.py").write_text(READER)
    app = console("--mule=reader.py")
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="the mule")
        assert not app.query_one(WorkerTable).display
        await pilot.press("h")
        assert not isinstance(app.screen, RequestScreen)


def test_a_request_line_is_a_method_and_a_path():
    assert parse_request("/hello?x=1") == ("GET", "/hello?x=1")
    assert parse_request("post /orders") == ("POST", "/orders")
    assert parse_request("GET hello") is None and parse_request("") is None

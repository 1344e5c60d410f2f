"""The console's request client against real workers, over both kinds of socket."""

from __future__ import annotations

import pytest

from muletui.ipc.request_client import send_request

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(environ["REQUEST_METHOD"] + " " + environ["PATH_INFO"] + "?" + environ["QUERY_STRING"]).encode()]
"""


@pytest.mark.parametrize("option", ["--http-socket", "--socket"])
async def test_a_request_reaches_the_app_over_either_socket(stack, write, option):
    run = await stack(option, "127.0.0.1:0", "--wsgi-file", write("app.py", APP))
    listener = run.master.listeners.sockets[0]
    answer = await send_request(listener.spec.protocol, listener.bound, "POST", "/orders?n=2")
    assert answer.status == "HTTP/1.1 200 OK"
    assert answer.body == "POST /orders?n=2"
    await run.line(r"POST /orders\?n=2 => generated 16 bytes")


async def test_nobody_listening_is_an_os_error():
    with pytest.raises(OSError):
        await send_request("http", "127.0.0.1:1", "GET", "/")

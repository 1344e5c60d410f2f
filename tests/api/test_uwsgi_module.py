"""The whole ``uwsgi`` module of pyuwsgi 2.0.30, and the message quirks of issue 12, in real stacks.

Expected values were printed by pyuwsgi 2.0.30 running the same scripts (``--master
--http-socket 127.0.0.1:0 --mule=... --farm f:2``).
"""

from __future__ import annotations

# dir(uwsgi) of pyuwsgi 2.0.30, identical in a mule and in the app at import
PYUWSGI_NAMES_TEXT = """
SPOOL_IGNORE SPOOL_OK SPOOL_RETRY SymbolsImporter SymbolsZipImporter ZipImporter accepting add_cron
add_file_monitor add_rb_timer add_timer add_var alarm applications async_connect async_sleep
buffer_size cache_clear cache_dec cache_del cache_div cache_exists cache_get cache_inc cache_keys
cache_mul cache_num cache_set cache_update call chunked_read chunked_read_nb cl close connect
connection_fd cores disconnect embedded_data extract farm_get_msg farm_msg get_logvar green_schedule
has_threads hostname i_am_the_spooler in_farm is_a_reload is_connected is_locked listen_queue lock log
log_this_request logsize loop magic_table masterpid mem metric_dec metric_div metric_get metric_inc
metric_mul metric_set metric_set_max metric_set_min micros mule_get_msg mule_id mule_msg numproc
offload opt parsefile ready ready_fd recv register_rpc register_signal reload request_id route rpc
rpc_list send sendfile set_logvar set_user_harakiri set_warning_message setprocname signal
signal_received signal_registered signal_wait sockets start_response started_on stop suspend
total_requests unbit unlock version version_info wait_fd_read wait_fd_write websocket_handshake
websocket_recv websocket_recv_nb websocket_send websocket_send_binary worker_id workers
"""

PROBE = """
import time, uwsgi
def show(label, call):
    try:
        print("P", uwsgi.mule_id(), label, "->", repr(call()), flush=True)
    except BaseException as e:
        print("P", uwsgi.mule_id(), label, "-> EXC", type(e).__name__ + ":", e, flush=True)
print("P", uwsgi.mule_id(), "names", " ".join(n for n in dir(uwsgi) if not n.startswith("_")), flush=True)
for label, call in [
    ("spool", lambda: (uwsgi.SPOOL_OK, uwsgi.SPOOL_IGNORE, uwsgi.SPOOL_RETRY)),
    ("consts", lambda: (uwsgi.buffer_size, uwsgi.cores, uwsgi.is_a_reload, uwsgi.version_info, uwsgi.loop)),
    ("magic", lambda: sorted(uwsgi.magic_table)),
    ("cache_get", lambda: uwsgi.cache_get("k")),
    ("cache_keys", lambda: uwsgi.cache_keys()),
    ("cache_num", lambda: uwsgi.cache_num("k")),
    ("metric_get", lambda: uwsgi.metric_get("x")),
    ("call", lambda: uwsgi.call("f")),
    ("embedded_data", lambda: uwsgi.embedded_data("x")),
    ("wait_fd_read", lambda: uwsgi.wait_fd_read(0, 0)),
    ("ready", lambda: uwsgi.ready()),
    ("suspend", lambda: uwsgi.suspend()),
    ("route", lambda: uwsgi.route("x", "y")),
    ("register_rpc", lambda: uwsgi.register_rpc("f", print)),
    ("start_response", lambda: uwsgi.start_response("200 OK", [])),
]:
    show(label, call)
if uwsgi.mule_id():
    while True:
        time.sleep(60)
"""


async def test_every_pyuwsgi_attribute_exists_and_answers_as_pyuwsgi(stack, write):
    app = write("app.py", PROBE)
    run = await stack(f"--wsgi-file={app}", f"--mule={write('m.py', PROBE)}")
    await run.line(r"^P 1 start_response", mule_id=1)
    for mule in (0, 1):
        names = run.matching(rf"^P {mule} names")[0].split()[3:]
        assert sorted(set(PYUWSGI_NAMES_TEXT.split()) - set(names)) == []
        said = {line.split(" -> ")[0].split(" ", 2)[2]: line.split(" -> ")[1] for line in run.matching(rf"^P {mule} \w+ ->")}
        assert said["spool"] == "(-2, 0, -1)"
        assert said["consts"] == "(4096, 1, False, (2, 0, 30, 0, b''), None)"
        assert said["magic"] == "[b'%', b'(', b'G', b'T', b'U', b'V', b'[', b'g', b'h', b'k', b't', b'u', b'v']"
        assert said["cache_get"] == "None"
        assert said["cache_keys"] == "EXC ValueError: no local uWSGI cache available"
        assert said["cache_num"] == "0"
        assert said["metric_get"] == "0"
        assert said["call"] == "EXC ValueError: unable to call rpc function"
        assert said["embedded_data"] == "EXC ValueError: unable to find symbol x"
        assert said["wait_fd_read"] == "EXC OSError: unable to fd 0 to the event queue"
        assert said["ready"] == ("True" if mule else "None")
        assert said["suspend"] == "True"
        assert said["route"] == "-1"
        assert said["register_rpc"] == ("EXC ValueError: unable to register rpc function" if mule else "True")
        # pyuwsgi crashes here (segmentation fault); muletui raises its request-less error
        assert said["start_response"] == "EXC SystemError: you can call uwsgi api function only from the main callable"


SENDER = """
import time, uwsgi
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except BaseException as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
show("mv", lambda: uwsgi.mule_msg(memoryview(b"abc"), 2))
show("mv farm_msg", lambda: uwsgi.farm_msg("f", memoryview(b"abc")))
show("farm empty", lambda: uwsgi.farm_msg("f", b""))
show("mule_msg empty farm", lambda: uwsgi.mule_msg(b"", b"f"))
show("to 2", lambda: uwsgi.mule_msg(b"hello-2", 2))
show("to 2 again", lambda: uwsgi.mule_msg(b"world", 2))
show("to 2 big", lambda: uwsgi.mule_msg(b"x" * 70000, 2))
while True:
    time.sleep(60)
"""

READER = """
import time, uwsgi
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except BaseException as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
time.sleep(0.5)
show("farm_get_msg 1", lambda: uwsgi.farm_get_msg())
show("farm_get_msg 2", lambda: uwsgi.farm_get_msg())
show("bs -1", lambda: uwsgi.mule_get_msg(buffer_size=-1))
show("bs -5", lambda: uwsgi.mule_get_msg(buffer_size=-5, timeout=0))
show("bs -1 big", lambda: len(uwsgi.mule_get_msg(buffer_size=-1, timeout=0)))
while True:
    time.sleep(60)
"""


async def test_buffers_empty_farm_messages_and_negative_buffer_size_as_pyuwsgi(stack, write):
    run = await stack(f"--mule={write('s.py', SENDER)}", f"--mule={write('r.py', READER)}", "--farm=f:2")
    await run.line(r"^bs -1 big", mule_id=2)
    assert run.matching(r" -> ", mule_id=1) == [
        "mv -> EXC TypeError: mule_msg() argument 1 must be read-only bytes-like object, not memoryview",
        "mv farm_msg -> EXC TypeError: farm_msg() argument 2 must be read-only bytes-like object, not memoryview",
        "farm empty -> None",
        "mule_msg empty farm -> True",
        "to 2 -> True",
        "to 2 again -> True",
        "to 2 big -> True",
    ]
    assert run.matching(r" -> ", mule_id=2) == [
        "farm_get_msg 1 -> None",
        "farm_get_msg 2 -> None",
        "bs -1 -> b'hello-2'",
        "bs -5 -> b'world'",
        "bs -1 big -> 70000",
    ]
    assert run.matching(r"^write\(\): Success \[plugins/python/uwsgi_pymodule.c line 1235\]$", mule_id=1)
    assert len(run.matching(r"^read\(\): Success \[plugins/python/uwsgi_pymodule.c line 1398\]$", mule_id=2)) == 2

"""``--touch-reload`` and ``--py-autoreload`` headless, against what uWSGI 2.0.30 printed
(reference uwsgi-debugging.md §1.3, §1.4, §2.2): the trigger's line
(``*** F has been touched... grace them all !!! ***``, ``[uwsgi-python-reloader] module/file
PATH has been modified`` with PATH the module's ``__file__``, the ``--wsgi-file`` as given),
``...gracefully killing workers...``, each mule ``annihilated``, the app imported again, every
mule spawned anew; ``Python auto-reloader enabled`` after every start. Headless follows the
reloads and stops on SIGINT as usual."""

from __future__ import annotations

import os
import re
import signal
import time

APP = """
import os
import helper
print("APP IMPORTED pid=%d version=%s" % (os.getpid(), helper.VERSION), flush=True)
def application(env, start_response):
    return []
"""

SCRIPT = """
import time
print("mule script up", flush=True)
while True:
    time.sleep(1)
"""

_PREFIX = re.compile(r"^[\d:.]+ (master|mule \d+) *[|!] ")


def log_of(output: str) -> list[str]:
    return [_PREFIX.sub("", line) for line in output.splitlines()]


def imports(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"APP IMPORTED pid=(\d+)", output)]


def saving(run, path, text: str, pattern: str, timeout: float = 10.0) -> None:
    """Save ``path`` until muletui answers with ``pattern``: the watcher's thread sets its
    watches a moment after the stack started, and a save before that is missed."""
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "w") as file:
            file.write(text)
        try:
            run.read_until(pattern, timeout=2.0)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def stop(run) -> None:
    run.process.send_signal(signal.SIGINT)
    assert run.wait(timeout=15) == 0
    assert run.output.rstrip().endswith("goodbye to uWSGI.")


def test_touch_reload_reloads_the_stack_and_a_missing_file_fires_when_created(cli, write, tmp_path):
    write("helper.py", "VERSION = 1\n")
    write("app.py", APP)
    write("mule1.py", SCRIPT)
    write("t_all", "")
    run = cli("--headless", "--wsgi-file", "app.py", "--mule=mule1.py", "--mule",
              "--touch-reload", "t_all", "--touch-reload", "t_missing")
    run.read_until("unable to stat\\(\\) t_missing, events will be triggered as soon as the file is created")
    first_mules = run.pids()
    os.utime(tmp_path / "t_all")
    # the new stack's first check says it again, as uWSGI's re-executed master does
    run.read_until(r"grace them all[\s\S]*unable to stat\(\) t_missing")
    (tmp_path / "t_missing").touch()
    run.read_until(r"t_missing has been touched(?=[\s\S]*spawned uWSGI mule 2)(?=[\s\S]*mule script up)")
    stop(run)
    lines = log_of(run.output)
    start = lines.index("*** t_all has been touched... grace them all !!! ***")
    assert lines[start + 1] == "...gracefully killing workers..."
    reload_lines = lines[start:lines.index("*** t_missing has been touched... grace them all !!! ***")]
    assert sorted(line for line in reload_lines if "annihilated" in line) == [
        f"mule {n} (pid: {pid}) annihilated" for n, pid in enumerate(first_mules, start=1)
    ]
    assert f"gracefully (RE)spawned uWSGI master process (pid: {run.process.pid})" in reload_lines
    pids = imports(run.output)
    assert len(pids) == 3 and len(set(pids)) == 3  # imported again, each time in a new stack root
    assert len(set(run.pids())) == 6 and run.output.count("mule script up") == 3
    assert run.output.count("unable to stat() t_missing") == 2
    assert "Python auto-reloader enabled" not in run.output and "OOOPS" not in run.output


def test_py_autoreload_reloads_when_an_imported_module_is_saved(cli, write, tmp_path):
    write("helper.py", "VERSION = 1\n")
    write("app.py", APP)
    write("mule1.py", SCRIPT)
    run = cli("--headless", "--wsgi-file=app.py", "--mule=mule1.py", "--mule", "--py-autoreload", "1")
    run.read_until("Python auto-reloader enabled[\\s\\S]*mule script up")
    saving(run, tmp_path / "helper.py", "VERSION = 2\n", "version=2")  # written in place
    run.read_until(r"version=2[\s\S]*Python auto-reloader enabled[\s\S]*mule script up")
    (tmp_path / "notes.txt").write_text("not a module\n")
    (tmp_path / "mule1.py").write_text(SCRIPT + "\n")  # uWSGI never watches mule scripts
    new_app = tmp_path / ".app.py.swp"
    new_app.write_text(APP + "# saved\n")
    os.replace(new_app, tmp_path / "app.py")  # as editors save
    run.read_until(r"module/file app\.py has been modified[\s\S]*APP IMPORTED[^\n]*\n[\s\S]*mule script up")
    stop(run)
    lines = log_of(run.output)
    modified = [line for line in lines if line.startswith("[uwsgi-python-reloader]")]
    assert modified[-2:] == [
        f"[uwsgi-python-reloader] module/file {tmp_path / 'helper.py'} has been modified",
        "[uwsgi-python-reloader] module/file app.py has been modified",
    ]
    assert len(modified) in (2, 3)  # the first save may have been written twice before the watch began
    at = lines.index(modified[-1])
    assert lines[at + 1] == "...gracefully killing workers..."
    assert lines.count("Python auto-reloader enabled") == len(imports(run.output)) == len(modified) + 1
    assert run.output.count("mule script up") == len(modified) + 1  # its save restarted nothing
    assert "muletui: " not in "".join(line for line in lines if "saved" in line)  # the console's lines only


def test_py_autoreload_after_a_syntax_error_runs_without_the_app(cli, write, tmp_path):
    write("helper.py", "VERSION = 1\n")
    write("app.py", APP)
    write("mule1.py", SCRIPT)
    run = cli("--headless", "--wsgi-file=app.py", "--mule=mule1.py", "--py-autoreload=1")
    run.read_until("mule script up")
    saving(run, tmp_path / "helper.py", "X = = 1\n", "has been modified")
    run.read_until(r"no app loaded\. going in full dynamic mode[\s\S]*mule script up")
    stop(run)
    lines = log_of(run.output)
    assert "SyntaxError: invalid syntax" in lines
    assert "unable to load app 0 (mountpoint='') (callable not found or import error)" in lines
    assert lines.count("Python auto-reloader enabled") == len([line for line in lines if "has been modified" in line]) + 1


def test_need_app_ends_a_reload_whose_app_fails_with_status_22(cli, write, tmp_path):
    write("helper.py", "VERSION = 1\n")
    write("app.py", APP)
    run = cli("--headless", "--wsgi-file=app.py", "--mule", "--need-app", "--touch-reload=app.py")
    run.read_until("spawned uWSGI mule 1")
    (tmp_path / "helper.py").write_text("X = = 1\n")
    os.utime(tmp_path / "app.py", ns=(time.time_ns() + 10**9,) * 2)
    assert run.wait(timeout=20) == 22
    assert run.output.count("APP IMPORTED") == 1 and "*** no app loaded. GAME OVER ***" in run.output


def test_exit_on_reload_makes_a_touch_end_the_stack(cli, write, tmp_path):
    write("mule1.py", SCRIPT)
    write("t_all", "")
    run = cli("--headless", "--mule=mule1.py", "--touch-reload=t_all", "--exit-on-reload")
    run.read_until("mule script up")
    os.utime(tmp_path / "t_all", ns=(time.time_ns() + 10**9,) * 2)
    assert run.wait(timeout=20) == 0
    lines = log_of(run.output)
    assert lines[lines.index("*** t_all has been touched... grace them all !!! ***") + 1] == "...gracefully killing workers..."
    assert lines[-1] == "uWSGI: GAME OVER (insert coin)" and run.output.count("mule script up") == 1

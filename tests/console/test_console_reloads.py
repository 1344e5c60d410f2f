"""The console reloads on save without being asked: saving the app reloads the stack, and the
sub-title says so while it happens, as X's restart does."""

from __future__ import annotations

from harness import ECHO, until

from muletui.console.model import TEXT


async def test_saving_the_app_reloads_the_stack_and_the_sub_title_follows(console, tmp_path):
    app_file = tmp_path / "app.py"
    app_file.write_text("import os\nprint('app imported in', os.getpid(), flush=True)\n")
    (tmp_path / "echo.py").write_text(ECHO)
    app = console("--wsgi-file=app.py", "--mule=echo.py")
    titles: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.watch(app, "sub_title", lambda title: titles.append(title))
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        first_master = app.master
        for _attempt in range(20):  # the watch starts a moment after the stack: save until it answers
            app_file.write_text(app_file.read_text() + "\n")
            try:
                await until(pilot, lambda: app.master is not first_master, timeout=1.0, what="a reload")
                break
            except AssertionError:
                continue
        await until(pilot, lambda: app.master.mules[1].pid and app.sub_title == "1 mule", what="the new stack")
        assert "restarting the stack…" in titles
        imports = [line[TEXT] for line in app.model.log.all if line[TEXT].startswith("app imported in")]
        assert imports[-1] == f"app imported in {app.master.root_pid}" and len(imports) >= 2
        assert any("app.py saved: reloading the stack" in line[TEXT] for line in app.model.log.all)

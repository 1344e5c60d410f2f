"""Output capture: our own line splitting, stamps at capture, junk and floods never break it."""

from __future__ import annotations

from muletui.engine import events
from muletui.engine.output import MAX_LINE, LineSplitter


def test_splitter_keeps_partial_tails():
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == [b"one"]
    assert splitter.feed(b"o\nthree") == [b"two"]
    assert splitter.flush() == [b"three"]
    assert splitter.flush() == []


def test_splitter_cuts_huge_lines():
    splitter = LineSplitter()
    lines = splitter.feed(b"x" * (MAX_LINE * 2 + 10))
    assert lines == [b"x" * MAX_LINE, b"x" * MAX_LINE]
    assert splitter.flush() == [b"x" * 10]


async def test_stdout_and_stderr_are_tagged_and_junk_is_replaced(stack, write):
    script = write(
        "noisy.py",
        """
        import os, sys, time
        print("to out", flush=True)
        print("to err", file=sys.stderr, flush=True)
        os.write(1, b"bin \\xff\\xfe\\x00 junk\\n")
        os.write(1, b"no newline at the end")
        os.write(2, b"written\\n")
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={script}")
    await run.line("^written")
    streams = {text: stream for mid, stream, text in run.lines if mid == 1}
    assert streams["to out"] == "out" and streams["to err"] == "err"
    assert "bin \ufffd\ufffd\x00 junk" in streams
    await run.master.stop()
    assert "no newline at the end" in run.texts(1)  # the tail is delivered at end of stream


async def test_a_flood_is_captured_whole(stack, write):
    script = write(
        "flood.py",
        """
        import sys, time
        out = sys.stdout
        for i in range(100_000):
            out.write(f"line {i} " + "y" * 40 + "\\n")
        out.write("huge " + "z" * 300_000 + "\\n")
        out.write("end\\n")
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={script}")
    await run.line("^end$", timeout=30)
    texts = run.texts(1)
    numbered = [t for t in texts if t.startswith("line ")]
    assert len(numbered) == 100_000 and numbered[-1].startswith("line 99999 ")
    huge = "".join(t for t in texts if t.startswith(("huge", "z")))
    assert len(huge) == len("huge ") + 300_000
    stamps = [line.t for e in run.of(events.OutputLines) for line in e.lines]
    assert stamps == sorted(stamps)

"""Output capture: our own line splitting, stamps at capture, junk and floods never break it."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from muletui.engine import events
from muletui.engine.lifecycle import RespawnPolicy
from muletui.engine.output import MAX_LINE, PACE, LineSplitter, PipeReader, paired


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


async def test_a_busy_pipe_is_read_in_paced_batches_and_a_quiet_one_at_once():
    """A line at a time, every 0.5 ms for 0.2 s: far fewer batches than lines, none lost; then a
    single line after a pause arrives well within the pace."""
    read, written = os.pipe()
    batches: list[tuple[float, list[str]]] = []
    ended = asyncio.Event()
    reader = PipeReader(read, lambda lines: batches.append((time.monotonic(), [line.text for line in lines])), ended.set)

    def write_lines() -> None:
        for number in range(400):
            os.write(written, f"line {number}\n".encode())
            time.sleep(0.0005)

    writer = threading.Thread(target=write_lines)
    writer.start()
    while writer.is_alive():
        await asyncio.sleep(0.01)
    await asyncio.sleep(PACE * 4)
    assert [text for _, lines in batches for text in lines] == [f"line {n}" for n in range(400)]
    assert len(batches) < 400 / 4, len(batches)
    sent = time.monotonic()
    os.write(written, b"alone\n")
    while batches[-1][1] != ["alone"]:
        await asyncio.sleep(0.0005)
    assert batches[-1][0] - sent < 0.5  # not held back by a pause (generous: a loaded CI machine)
    os.close(written)
    await asyncio.wait_for(ended.wait(), 5)
    assert reader.closed


async def test_a_line_on_the_other_stream_waits_for_what_a_paced_stream_holds():
    """50 stdout lines, a write each, then one stderr line: stdout is paced by then, yet the
    stderr line comes after all 50 (two pipes of one process keep their order)."""
    pipes = [os.pipe(), os.pipe()]
    seen: list[str] = []
    readers = paired(*(PipeReader(read, lambda lines: seen.extend(line.text for line in lines), lambda: None)
                       for read, _ in pipes))  # fmt: skip

    def write_lines() -> None:
        for number in range(50):
            os.write(pipes[0][1], f"out {number}\n".encode())
            time.sleep(0.0002)
        os.write(pipes[1][1], b"err\n")

    writer = threading.Thread(target=write_lines)
    writer.start()
    while "err" not in seen:
        await asyncio.sleep(0.0005)
    writer.join()
    assert seen == [f"out {n}" for n in range(50)] + ["err"]
    for reader, (_, written) in zip(readers, pipes, strict=True):
        reader.close()
        os.close(written)


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


async def test_a_mules_last_lines_come_before_the_news_of_its_exit(stack, write):
    """Lines a mule wrote before it exited are in the kernel when its exit is reported: they are
    published before ``mule_exited`` and the master's ``OOOPS``, at every exit of a crash loop
    (stdout and stderr, and a last line without its newline)."""
    script = write(
        "dying.py",
        """
        import os, sys
        for i in range(3000):
            print("line", i, "x" * 100)
        print("last words", file=sys.stderr)
        sys.stdout.write("no newline")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
        """,
    )
    loop = asyncio.get_running_loop()
    busy: list[asyncio.TimerHandle] = []

    def paint() -> None:  # a busy loop (a console painting): the pipe and the exit report wait together
        time.sleep(0.02)
        busy.append(loop.call_later(0.005, paint))

    run = await stack(f"--mule={script}", respawn=RespawnPolicy(base_delay=0.05, free_retries=10, stable_after=5.0))
    paint()
    try:
        await run.until(lambda: len(run.of(events.MuleExited)) >= 12, what="12 exits")
    finally:
        busy[-1].cancel()
    seen: dict[str, int] = {"line 2999": 0, "last words": 0, "no newline": 0}
    exits = 0
    for event in run.events:
        if isinstance(event, events.OutputLines) and event.mule_id == 1:
            for line in event.lines:
                for start in seen:
                    seen[start] += line.text.startswith(start)
        elif isinstance(event, events.MuleExited):
            exits += 1
            assert seen == dict.fromkeys(seen, exits), f"exit {exits}: {seen}"
        elif isinstance(event, events.MasterLog) and event.text.startswith("OOOPS"):
            assert seen == dict.fromkeys(seen, exits), f"OOOPS {exits}: {seen}"

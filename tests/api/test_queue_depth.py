"""Queue depth in messages and in bytes: every sender and reader counts, the kernel sizes."""

from __future__ import annotations


async def test_queue_depth_counts_messages_from_every_sender_and_reader(stack, write, tmp_path):
    """The stack root, a mule (mule_msg to a mule, the shared queue, a farm; farm_msg) and the
    console all queue messages; a reader takes some. Messages = sent - read, per queue; bytes
    from the kernel; both agree with what the stop finds left (an empty message included)."""
    app = write("app.py", "import uwsgi\nuwsgi.mule_msg(b'from the root', 1)\n")
    taker = write(
        "taker.py",
        """
        import os, time, uwsgi
        while not os.path.exists("go"):
            time.sleep(0.01)
        taken = [uwsgi.mule_get_msg() for _ in range(3)]
        print("took", taken, flush=True)
        time.sleep(60)
        """,
    )
    sender = write(
        "sender.py",
        """
        import time, uwsgi
        for i in range(4):
            uwsgi.mule_msg(f"own{i}", 1)
        uwsgi.mule_msg(b"shared0")
        uwsgi.mule_msg(b"shared1", 0)
        uwsgi.mule_msg(b"farm0", b"f")
        uwsgi.farm_msg("f", b"farm1")
        print("sent", flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={taker}", f"--mule={sender}", "--farm", "f:1")
    await run.line("^sent", mule_id=2)
    assert run.master.send_message(b"", 1) == "queued"
    assert run.master.send_message(b"console", 1) == "queued"
    snapshot = run.master.snapshot()
    one = snapshot.mules[0]
    own_bytes = len(b"from the root") + 4 * len(b"own0") + len(b"console")
    assert (one.queue_messages, one.queue_bytes) == (7, own_bytes)
    assert (snapshot.shared_queue_messages, snapshot.shared_queue_bytes) == (2, 14)
    assert (snapshot.farms[0].queue_messages, snapshot.farms[0].queue_bytes) == (2, 10)
    assert snapshot.mules[1].queue_messages == 0

    (tmp_path / "go").touch()
    await run.line("^took", mule_id=1)
    await run.until(lambda: run.master.snapshot().mules[0].queue_messages == 4, what="3 messages taken")
    one = run.master.snapshot().mules[0]
    assert one.queue_bytes == own_bytes - len(b"from the root") - len(b"own0") - len(b"own1")
    left = await run.master.stop()
    assert left["mule 1"] == (4, one.queue_bytes)
    assert left["shared"] == (2, 14) and left["farm f"] == (2, 10)

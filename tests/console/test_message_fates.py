"""Every sent row of the message history settles, whatever order the reports come in and
whatever is lost: unit tests over event lists, with the monotonic times set by hand."""

from __future__ import annotations

import itertools

import pytest

from muletui.console.messages import RECEIPT_GRACE, SEND_WAIT
from muletui.console.model import ConsoleModel
from muletui.engine import events
from muletui.engine.snapshot import StackSnapshot


def sent(text: str, t: float, target: int | str = 1, sender: int = 3) -> events.MessageSent:
    return events.MessageSent(sender=sender, target=target, size=len(text), preview=text, t=t)


def received(text: str, t: float, mule: int = 1, queue: str = "own", **extra: object) -> events.MessageReceived:
    return events.MessageReceived(
        mule_id=mule, queue=queue, size=len(text), preview=text, maybe_truncated=False, t=t, **extra  # type: ignore[arg-type]
    )


def fates(model: ConsoleModel, kind: str = "sent") -> dict[str, str]:
    return {row.preview: row.fate for row in model.messages.rows if row.kind == kind}


def feed(model: ConsoleModel, *batch: events.Event) -> ConsoleModel:
    for event in batch:  # one event per batch: the worst case for ordering
        model.apply([event])
    return model


def empty_snapshot() -> StackSnapshot:
    return StackSnapshot(mules=(), locks=(), farms=(), shared_queue_bytes=0, shared_signals_pending=0)


@pytest.mark.parametrize("receipt_first", [False, True])
def test_a_receipt_settles_its_send_in_either_order(receipt_first):
    pair = [sent("job 1", 1.0), received("job 1", 1.01)]
    model = feed(ConsoleModel(), *(reversed(pair) if receipt_first else pair))
    assert fates(model) == {"job 1": "received by mule 1"}
    assert fates(model, "received") == {"job 1": "received (from mule 3)"}


def test_every_interleaving_of_two_senders_and_two_readers_settles_every_row():
    """Two senders' batches and two readers' batches of the shared queue, in every order."""
    reports = [
        sent("a", 1.00, target=0, sender=3), sent("b", 1.00, target=0, sender=4),
        received("a", 1.01, mule=1, queue="shared"), received("b", 1.01, mule=2, queue="shared"),
    ]
    for order in itertools.permutations(reports):
        model = feed(ConsoleModel(), *order)
        assert fates(model) == {"a": "received by mule 1", "b": "received by mule 2"}, order


def test_receipts_before_their_sends_never_block_later_messages():
    """The bug of issue 11: receipts that beat their batched send reports left rows queued for
    good, and those blocked every later send of the queue."""
    model = ConsoleModel()
    early = [f"early {n}" for n in range(20)]
    feed(model, *(received(text, 1.0) for text in early), *(sent(text, 1.02) for text in early))
    feed(model, sent("later", 2.0), received("later", 2.01))
    assert set(fates(model).values()) == {"received by mule 1"}


def test_identical_messages_settle_one_each():
    model = feed(ConsoleModel(), received("ping", 1.0), sent("ping", 1.01), sent("ping", 1.02), received("ping", 1.03))
    assert [row.fate for row in model.messages.rows if row.kind == "sent"] == ["received by mule 1"] * 2


def test_a_lost_receipt_settles_once_a_later_message_of_the_queue_was_read():
    model = feed(ConsoleModel(), sent("lost", 1.0), sent("seen", 2.0), received("seen", 2.01))
    assert fates(model)["lost"] == "queued"  # its receipt may still be in a reader's batch
    feed(model, sent("other", 2.01 + RECEIPT_GRACE, target=2))  # time passes
    assert fates(model) == {"lost": "read by mule 1 (report lost)", "seen": "received by mule 1", "other": "queued"}


def test_a_late_receipt_corrects_a_row_settled_as_lost():
    model = feed(ConsoleModel(), sent("late", 1.0), sent("seen", 2.0), received("seen", 2.01))
    feed(model, sent("other", 4.0, target=2))
    assert fates(model)["late"] == "read by mule 1 (report lost)"
    feed(model, received("late", 4.1))
    assert fates(model)["late"] == "received by mule 1"


def test_a_lost_receipt_of_the_last_message_settles_when_a_snapshot_finds_the_queue_empty():
    model = feed(ConsoleModel(), sent("last", 1.0, target=0))
    model.observe(empty_snapshot(), now=1.5)
    assert fates(model)["last"] == "queued"
    model.observe(empty_snapshot(), now=1.5 + RECEIPT_GRACE)
    assert fates(model)["last"] == "read by a mule (report lost)"


def test_a_receipt_whose_send_report_was_lost_is_forgotten_and_blocks_nothing():
    model = feed(ConsoleModel(), received("orphan", 1.0), sent("next", 1.1), received("next", 1.11))
    assert fates(model) == {"next": "received by mule 1"}
    assert fates(model, "received") == {"orphan": "received", "next": "received (from mule 3)"}
    feed(model, sent("much later", 1.0 + SEND_WAIT + 1), sent("orphan", 1.0 + SEND_WAIT + 1))
    assert fates(model)["orphan"] == "queued"  # the old receipt was forgotten, not matched to a new send


def test_at_stop_the_newest_unsettled_sends_were_left_queued_the_older_were_read():
    model = feed(
        ConsoleModel(),
        sent("read, report lost", 1.0), sent("left 1", 1.1), sent("left 2", 1.2),
        sent("in the shared queue", 1.3, target=0), sent("dropped report", 1.4, target=2),
    )
    feed(model, events.StackStopped(left_queued={"mule 1": (2, 12), "shared": (1, 19)}, t=1.5))
    assert fates(model) == {
        "read, report lost": "read by mule 1 (report lost)",
        "left 1": "left queued at stop",
        "left 2": "left queued at stop",
        "in the shared queue": "left queued at stop",
        "dropped report": "read by mule 2 (report lost)",
    }


def test_a_signal_mode_mule_without_hook_drops_and_a_raising_hook_is_told():
    model = feed(
        ConsoleModel(),
        sent("void", 1.0, target=2), received("void", 1.01, mule=2, swallowed=True),
        sent("not a pickle", 1.1, target=2), received("not a pickle", 1.11, mule=2),
        events.MessageHookRaised(mule_id=2, queue="own", size=12, preview="not a pickle", error="UnpicklingError", t=1.12),
    )
    assert fates(model) == {"void": "dropped by mule 2 (no hook)", "not a pickle": "received by mule 2 (hook raised)"}
    assert fates(model, "received")["not a pickle"] == "hook raised (from mule 3)"


@pytest.mark.parametrize("lost", ["nothing", "the receipt"])
def test_a_hook_that_raised_before_the_send_report_came_is_told_once_it_comes(lost):
    raised = events.MessageHookRaised(mule_id=2, queue="shared", size=1, preview="x", error="KeyError", t=1.02)
    first = [] if lost == "the receipt" else [received("x", 1.01, mule=2, queue="shared")]
    model = feed(ConsoleModel(), *first, raised, sent("x", 1.03, target=0))
    assert fates(model) == {"x": "received by mule 2 (hook raised)"}


def test_a_receipt_cut_short_by_the_buffer_settles_its_send():
    cut = events.MessageReceived(mule_id=1, queue="own", size=4, preview="abcd", maybe_truncated=True, t=1.01)
    model = feed(ConsoleModel(), cut, sent("abcdefgh", 1.02))
    assert fates(model) == {"abcdefgh": "received by mule 1 (cut to 4 B)"}


def test_the_history_of_sends_waiting_is_bounded():
    model = ConsoleModel(history_cap=50)
    feed(model, *(sent(f"m{n}", 1.0 + n / 1000) for n in range(500)))
    feed(model, *(received(f"r{n}", 2.0 + n / 1000) for n in range(500)))
    queue = model.messages._queues["mule 1"]  # the bound is the point
    assert len(queue.sends) <= 50 and len(queue.reads) <= 50

"""Smoke test of the bench suite: ``bench/run.py --quick --engines muletui`` produces every figure."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Figures that must be there and above zero after a run of every scenario.
POSITIVE = [
    "mule_msg 64B (msg/s)",
    "mule_msg 1KiB (msg/s)",
    "mule_msg 32KiB (msg/s)",
    "round trip p50 (µs)",
    "round trip p99 (µs)",
    "8 programmed mules, no app (muletui): launch → last first line (s)",
    "start-up: exec → 4 programmed + 4 signal-mode mules running (s)",
    "SIGINT → tree gone (s)",
    "signal round trip p50 (µs)",
    "signal round trip p99 (µs)",
    "fan-out raise → 8 mules acked p50 (µs)",
    "fan-out raise → 8 mules acked p99 (µs)",
    "file monitor touch → handler p50 (ms)",
    "timer error max (ms)",
    "timer error median (ms)",
    "4-mule lock contention (cycles/s)",
    "4 mules contending for one lock: acquire wait p99 of the worst mule (ms)",
    "PSS, master + 8 mules (MiB)",
    "RSS, master + 8 mules (MiB)",
    "lock exact count, 4 mules (cycles/s)",
    "requests/s, 2 workers, default parser",
    "requests/s, 2 workers, httptools",
    "request → mule_msg → mule handled p50 (µs)",
    "request → mule_msg → mule handled p99 (µs)",
    "console: key → screen p99 under a flood (ms)",
    "console: loop lag p99 under a flood (ms)",
    "console: peak RSS under a flood (MiB)",
    "console: lines/s ingested / offered",
    "console: round trip p50, console / headless",
]
#: Figures that may be zero (an idle master can use no measurable CPU) but must be there.
PRESENT = ["master CPU while idle (% of a core)", "console: lines lost under a flood"]
EXACT_COUNT = "lock exact count, 4×2,000 (final counter)"


@pytest.mark.long_running
@pytest.mark.timeout(120)
def test_quick_run_produces_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--engines", "muletui"]
    argv += ["--runs", "2", "--json", str(out)]
    done = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "muletui median" in done.stdout and str(out) in done.stdout
    document = json.loads(out.read_text())
    assert document["engines"] == ["muletui"]
    assert document["errors"] == []

    values: dict[str, list[float]] = {}
    for row in document["runs"]:
        assert row["engine"] == "muletui"
        values.setdefault(row["metric"], []).append(row["value"])
    for metric in POSITIVE + PRESENT + [EXACT_COUNT]:
        assert len(values.get(metric, [])) == 2, f"{metric}: {values.get(metric)}"
        assert all(math.isfinite(v) and v >= 0 for v in values[metric]), (metric, values[metric])
    for metric in POSITIVE:
        assert all(v > 0 for v in values[metric]), (metric, values[metric])
    assert values[EXACT_COUNT] == [8000, 8000]
    assert values["console: lines lost under a flood"] == [0, 0]
    for metric in POSITIVE:
        stats = document["summary"][metric]["engines"]["muletui"]
        assert stats["min"] <= stats["median"] <= stats["max"]

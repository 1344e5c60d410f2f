"""The built-in lessons: small stacks under ``muletui/demo/NAME/``, each a uWSGI ini file
(``lesson.ini``, which runs unchanged under real uWSGI) with its scripts and a README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LESSONS_DIR = Path(__file__).parent / "demo"
ORDER = ("seed", "offload", "farms", "tasks", "timers", "traps")


@dataclass(frozen=True)
class Lesson:
    name: str
    directory: Path

    @property
    def title(self) -> str:
        """The first heading of the lesson's README."""
        first = (self.directory / "README.md").read_text().splitlines()[0]
        return first.lstrip("# ").strip()

    @property
    def ini(self) -> Path:
        return self.directory / "lesson.ini"


def lessons() -> list[Lesson]:
    return [Lesson(name, LESSONS_DIR / name) for name in ORDER]


def find(name: str) -> Lesson | None:
    return next((lesson for lesson in lessons() if lesson.name == name), None)

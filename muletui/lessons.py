"""The built-in lessons: small stacks under ``demo/NAME/`` at the top of the repository, each a
uWSGI ini file (``lesson.ini``, which runs unchanged under real uWSGI) with its scripts and a
README."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Plain os.path: pathlib would add about 0.6 MiB (pathlib, urllib.parse, ipaddress) to every master.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _lessons_dir() -> str:
    """Where the lessons are: ``muletui/demo/`` in an installed wheel (pyproject maps the package
    ``muletui.demo`` to ``demo/``), else ``demo/`` beside ``muletui/`` in a source tree (an
    editable install, or tests run from a checkout)."""
    installed = os.path.join(_PACKAGE_DIR, "demo")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(_PACKAGE_DIR), "demo")


LESSONS_DIR = _lessons_dir()
ORDER = ("seed", "offload", "farms", "tasks", "timers", "traps")


@dataclass(frozen=True)
class Lesson:
    name: str
    directory: str

    @property
    def title(self) -> str:
        """The first heading of the lesson's README."""
        with open(os.path.join(self.directory, "README.md")) as readme:
            first = readme.readline()
        return first.lstrip("# ").strip()

    @property
    def ini(self) -> str:
        return os.path.join(self.directory, "lesson.ini")


def lessons() -> list[Lesson]:
    return [Lesson(name, os.path.join(LESSONS_DIR, name)) for name in ORDER]


def find(name: str) -> Lesson | None:
    return next((lesson for lesson in lessons() if lesson.name == name), None)

"""The built-in lessons: small stacks under ``demo/NAME/`` at the top of the repository, each a
uWSGI ini file (``lesson.ini``, which runs unchanged under real uWSGI) with its scripts and a
README."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from muletui.config.builder import Plan

# Plain os.path: pathlib would add about 0.6 MiB (pathlib, urllib.parse, ipaddress) to every master.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _lessons_dir() -> str:
    """Where the lessons are: ``muletui/demo/`` in an installed wheel (pyproject maps the package
    ``muletui.demo`` to ``demo/``), else ``demo/`` beside ``muletui/`` in a source tree (an
    editable install, or tests run from a checkout)."""
    installed = os.path.join(_PACKAGE_DIR, "demo")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(_PACKAGE_DIR), "demo")


LESSONS_DIR = _lessons_dir()
ORDER = ("seed", "offload", "farms", "tasks", "timers", "traps", "requests", "debug")

#: The README sections the console shows beside a running lesson, in this order.
GUIDE_SECTIONS = ("Watch", "Try")

# A paragraph that opens a README section: **Watch**:, **Try**:, **Teaches**:, **Under real uWSGI**:
_SECTION = re.compile(r"\*\*(?P<label>[^*\n]+)\*\*:")


@dataclass(frozen=True)
class Lesson:
    """A lesson: the folder ``demo/NAME/`` with ``lesson.ini``, its scripts and ``README.md``.

    The README reads: a ``#`` title, an introduction, then sections that each open with a bold
    label at the start of a paragraph (``**Watch**:``, ``**Try**:``, ``**Teaches**:``,
    ``**Under real uWSGI**:``) and run to the next label.
    """

    name: str
    directory: str

    @property
    def title(self) -> str:
        """The first heading of the lesson's README."""
        with open(self.readme) as readme:
            first = readme.readline()
        return first.lstrip("# ").strip()

    @property
    def ini(self) -> str:
        return os.path.join(self.directory, "lesson.ini")

    @property
    def readme(self) -> str:
        return os.path.join(self.directory, "README.md")

    def sections(self) -> dict[str, str]:
        """The README's labelled sections, label → markdown (starting with its bold label)."""
        with open(self.readme) as readme:
            paragraphs = readme.read().split("\n\n")
        found: dict[str, list[str]] = {}
        current: list[str] | None = None
        for paragraph in (p.strip("\n") for p in paragraphs):
            opening = _SECTION.match(paragraph)
            if opening is not None:
                current = found.setdefault(opening["label"], [])
            if current is not None and paragraph:
                current.append(paragraph)
        return {label: "\n\n".join(text) for label, text in found.items()}

    def guide(self) -> str:
        """What a person follows while the lesson runs: the markdown of its Watch and Try
        sections, as the README has them (bold labels, key names in backticks, lists)."""
        sections = self.sections()
        return "\n\n".join(sections[label] for label in GUIDE_SECTIONS if label in sections)


def lessons() -> list[Lesson]:
    return [Lesson(name, os.path.join(LESSONS_DIR, name)) for name in ORDER]


def find(name: str) -> Lesson | None:
    return next((lesson for lesson in lessons() if lesson.name == name), None)


def lesson_for_ini(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> Lesson | None:
    """The lesson whose ``lesson.ini`` is ``path`` (relative paths from the working directory,
    symlinks resolved), or ``None`` for any other file."""
    wanted = os.path.realpath(os.fsdecode(path))
    return next((lesson for lesson in lessons() if os.path.realpath(lesson.ini) == wanted), None)


def lesson_for_plan(plan: Plan) -> Lesson | None:
    """The lesson a plan runs, by its ``--ini`` (the last one, as ``uwsgi.opt`` keeps it): what
    ``muletui demo NAME`` passes, and plain ``muletui`` for the seed. ``None`` for any other
    stack, including a lesson's ini given as a bare argument instead of with ``--ini``."""
    ini = plan.stack.opt.get("ini")
    return lesson_for_ini(ini) if isinstance(ini, bytes) else None

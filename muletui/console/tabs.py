"""The console's tabs, in order: key, title, pane id (for the bindings and the command palette;
``MuleConsole.compose`` builds the panes with these ids)."""

from __future__ import annotations

TABS = (
    ("1", "Log", "tab-log"),
    ("2", "Messages", "tab-messages"),
    ("3", "Signals", "tab-signals"),
    ("4", "Timers", "tab-timers"),
    ("5", "Locks & farms", "tab-locks"),
    ("6", "Lesson", "tab-lesson"),
)

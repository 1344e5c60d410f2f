"""The log pane: a tail of the model's ring buffer that renders only the visible rows.

Not Textual's ``Log``/``RichLog``: those pay per write and stop repainting once capped
(``shared/reference/textual-live-logs.md``). This view holds no lines of its own; :meth:`sync`
(called by the app's paint timer) takes the current lines from the model, and
:meth:`render_line` styles a row when it becomes visible. Mule output is parsed as ANSI
(colours kept) and never as markup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from muletui.console.model import LogBuffer, LogLine

_PALETTE = ("cyan", "yellow", "green", "magenta", "bright_blue", "bright_red", "bright_green", "orange1")
_MAX_RENDERED = 2000  # characters of one line that are styled (a huge line cannot stall a frame)


def source_colour(mule_id: int) -> str:
    return "bright_white" if mule_id <= 0 else _PALETTE[(mule_id - 1) % len(_PALETTE)]


class LogView(ScrollView, can_focus=True):
    """Interleaved or single-mule tail with follow mode, filter and timestamps."""

    DEFAULT_CSS = """
    LogView { background: $surface; overflow-x: hidden; }
    """

    follow: reactive[bool] = reactive(True)
    show_time: reactive[bool] = reactive(True)

    def __init__(self, buffer: LogBuffer, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.buffer = buffer
        self.source: int | None = None  # None: every mule interleaved
        self.filter_text = ""
        self.new_while_paused = 0
        self._lines: Sequence[LogLine] = ()
        self._seen = 0  # buffer.added[source] at the last sync
        self._cache: dict[int, Text] = {}

    # -- data ----------------------------------------------------------------------------------

    def show(self, source: int | None, filter_text: str | None = None) -> None:
        """Switch the source (a mule id, or None for all) and/or the filter, then resync."""
        self.source = source
        if filter_text is not None:
            self.filter_text = filter_text
        self._seen = -1
        self.new_while_paused = 0
        self.follow = True
        self.sync()

    def sync(self) -> None:
        """Take the model's current lines; cheap when nothing changed."""
        added = self.buffer.added.get(self.source, 0)
        if added == self._seen and len(self._lines) == len(self.buffer.view(self.source)):
            return
        fresh = added - self._seen if self._seen >= 0 else 0
        self._seen = added
        view = self.buffer.view(self.source)
        if self.filter_text:
            needle = self.filter_text.lower()
            self._lines = [line for line in view if needle in line.text.lower()]
        else:
            self._lines = list(view)
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._lines))
        if self.follow:  # after the refresh: only then does max_scroll_y know the new size
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        else:
            self.new_while_paused += fresh
        self._update_subtitle()
        self.refresh()

    def _update_subtitle(self) -> None:
        parts = []
        dropped = self.buffer.dropped.get(self.source, 0)
        if dropped:
            parts.append(f"dropped {dropped} lines")
        if self.buffer.events_lost:
            parts.append(f"the console fell behind: {self.buffer.events_lost} events lost")
        if not self.follow:
            parts.append(f"paused: +{self.new_while_paused} new lines (End to follow)")
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r} ({len(self._lines)} lines)")
        self.border_subtitle = " · ".join(parts)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        at_end = new >= self.max_scroll_y
        if at_end and not self.follow:
            self.follow = True
            self.new_while_paused = 0
            self._update_subtitle()
        elif new < old and not at_end and self.follow:
            self.follow = False
            self._update_subtitle()

    def watch_show_time(self) -> None:
        self._cache.clear()
        self.refresh()

    def action_follow(self) -> None:
        self.follow = True
        self.new_while_paused = 0
        self.scroll_end(animate=False)
        self._update_subtitle()

    @property
    def line_count(self) -> int:
        return len(self._lines)

    # -- painting ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        line = self._lines[index]
        text = self._cache.get(id(line))
        if text is None:
            if len(self._cache) > 4 * max(self.size.height, 50):
                self._cache.clear()
            text = self._cache[id(line)] = self._styled(line)
        segments = list(text.render(self.app.console))
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, self.rich_style)

    def _styled(self, line: LogLine) -> Text:
        prefix = Text()
        if self.show_time:
            stamp = time.strftime("%H:%M:%S", time.localtime(line.wall)) + f".{int(line.wall % 1 * 1000):03d} "
            prefix.append(stamp, style="dim")
        name = "master" if line.mule_id <= 0 else f"mule {line.mule_id}"
        prefix.append(f"{name:<8}", style=Style(color=source_colour(line.mule_id), bold=True))
        tag = {"out": ("│ ", "dim"), "err": ("! ", "bold red"), "sys": ("» ", "bold blue")}[line.stream]
        prefix.append(tag[0], style=tag[1])
        body = Text.from_ansi(line.text[:_MAX_RENDERED].expandtabs(8), no_wrap=True)
        if line.stream == "sys":
            body.stylize("italic")
        text = prefix + body
        text.no_wrap = True
        text.end = ""
        return text

    def texts(self) -> list[str]:
        """The text of every line in the view, filter applied."""
        return [line.text for line in self._lines]

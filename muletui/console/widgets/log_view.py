"""The log pane: a tail of the model's ring buffer that renders only the visible rows.

Not Textual's ``Log``/``RichLog``: those pay per write and stop repainting once capped
(``shared/reference/textual-live-logs.md``). This view holds no lines of its own; :meth:`sync`
(called by the app's paint timer) takes the current lines from the model, and
:meth:`render_line` styles a row when it becomes visible. Mule output is parsed as ANSI
(colours kept) and never as markup.

Long lines are not wrapped (a row is a line, so rows stay cheap to find): the view scrolls
sideways (Shift+wheel, ←/→), and an arrow at the edge says where a line goes on. A line is
selected with the mouse (a double click takes the whole line) and copied with Ctrl+C.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Offset, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from muletui.console.model import MULE, STREAM, TEXT, WALL, LogBuffer, LogLine

_PALETTE = ("cyan", "yellow", "green", "magenta", "bright_blue", "bright_red", "bright_green", "orange1")
_MAX_RENDERED = 2000  # characters of one line that are styled (a huge line cannot stall a frame)
_MORE = Style(bold=True, reverse=True)  # the arrow at an edge where a line goes on


_WORKER_PALETTE = ("bright_cyan", "bright_yellow", "bright_magenta", "green_yellow")


def source_colour(source: int) -> str:
    """A log source's colour: mule ``N`` (source ``N``), worker ``N`` (source ``-N``), the master (0)."""
    if source < 0:
        return _WORKER_PALETTE[(-source - 1) % len(_WORKER_PALETTE)]
    return "bright_white" if source == 0 else _PALETTE[(source - 1) % len(_PALETTE)]


def source_label(source: int) -> str:
    """``mule 3``, ``worker 2`` or ``master``: a log source as the log shows it."""
    if source < 0:
        return f"worker {-source}"
    return f"mule {source}" if source else "master"


class LogView(ScrollView, can_focus=True):
    """Interleaved or single-mule tail with follow mode, filter and timestamps."""

    DEFAULT_CSS = """
    LogView { background: $surface; overflow-x: auto; scrollbar-size-horizontal: 1; }
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
        self._widest = 0  # characters of the longest line in the view (at most _MAX_RENDERED)
        # Styled rows by id(line), holding the line: an id is unique only among live objects,
        # and a line kept alive here cannot hand its id to a newer one.
        self._cache: dict[int, tuple[LogLine, Text]] = {}

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
        first = self._lines[0] if self._lines else None
        if self.filter_text:
            needle = self.filter_text.lower()
            self._lines = [line for line in view if needle in line[TEXT].lower()]
        else:
            self._lines = list(view)
        if self.text_selection is not None and (not self._lines or self._lines[0] is not first):
            self.screen.clear_selection()  # lines fell off the front: the selected rows moved
        appended = not self.filter_text and 0 < fresh < len(self._lines) and first is not None
        longest = max((len(line[TEXT]) for line in self._lines[-fresh if appended else 0 :]), default=0)
        self._widest = min(_MAX_RENDERED, max(self._widest, longest) if appended else longest)
        self._resize()
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

    def _resize(self) -> None:
        """Tall as the view's lines, wide as its longest one (estimated from its characters)."""
        prefix = (13 if self.show_time else 0) + 10  # "HH:MM:SS.mmm " "mule 12 " "│ "
        self.virtual_size = Size(prefix + self._widest, len(self._lines))

    def watch_show_time(self) -> None:
        self._cache.clear()
        self._resize()
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
        text = self._text(self._lines[index])
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text = text.copy()
            style = self.screen.get_component_rich_style("screen--selection")
            text.stylize(style, start, len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), text.cell_len)
        return self._window(strip, scroll_x, width).apply_offsets(scroll_x, index)

    def _window(self, strip: Strip, scroll_x: int, width: int) -> Strip:
        """The visible part of a row, with ``←``/``→`` in the edge cell where the line goes on."""
        more_left = 0 < scroll_x < strip.cell_length
        more_right = strip.cell_length > scroll_x + width
        start, end = scroll_x + more_left, scroll_x + width - more_right
        window = Strip.join(
            (
                Strip([Segment("←", _MORE)], 1) if more_left else None,
                strip.crop(start, end),
                Strip([Segment("→", _MORE)], 1) if more_right else None,
            )
        )
        return window.extend_cell_length(width, self.rich_style)

    def _text(self, line: LogLine) -> Text:
        cached = self._cache.get(id(line))
        if cached is not None:
            return cached[1]
        if len(self._cache) > 4 * max(self.size.height, 50):
            self._cache.clear()
        text = self._styled(line)
        self._cache[id(line)] = (line, text)
        return text

    def _styled(self, line: LogLine) -> Text:
        prefix = Text()
        if self.show_time:
            stamp = time.strftime("%H:%M:%S", time.localtime(line[WALL])) + f".{int(line[WALL] % 1 * 1000):03d} "
            prefix.append(stamp, style="dim")
        label = source_label(line[MULE])
        prefix.append(f"{label:<8}" if len(label) < 8 else label + " ", style=Style(color=source_colour(line[MULE]), bold=True))
        tag = {"out": ("│ ", "dim"), "err": ("! ", "bold red"), "sys": ("» ", "bold blue")}[line[STREAM]]
        prefix.append(tag[0], style=tag[1])
        body = Text.from_ansi(line[TEXT][:_MAX_RENDERED].expandtabs(8), no_wrap=True)
        if line[STREAM] == "sys":
            body.stylize("italic")
        text = prefix + body
        text.no_wrap = True
        text.end = ""
        return text

    def texts(self) -> list[str]:
        """The text of every line in the view, filter applied."""
        return [line[TEXT] for line in self._lines]

    # -- selection and copy ----------------------------------------------------------------------

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text, as shown (time, source and all), for Ctrl+C to copy."""
        first = selection.start.y if selection.start is not None else 0
        last = selection.end.y if selection.end is not None else len(self._lines) - 1
        text = "\n".join(self._text(line).plain for line in self._lines[first : last + 1])
        start = None if selection.start is None else Offset(selection.start.x, 0)
        end = None if selection.end is None else Offset(selection.end.x, selection.end.y - first)
        return Selection(start, end).extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    async def _on_click(self, event: events.Click) -> None:
        """A double click selects the whole line under the pointer (not the whole log)."""
        offset = event.get_content_offset(self)
        if event.chain != 2 or offset is None:
            return  # Widget's own handler runs next
        index = self.scroll_offset.y + offset.y
        if index < len(self._lines):
            end = Offset(len(self._text(self._lines[index]).plain), index)
            self.screen.selections = {self: Selection(Offset(0, index), end)}
        event.prevent_default()

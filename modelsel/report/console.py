"""The terminal: a Rich console that never passes on a control character it did not make itself.

Rich escapes markup, not terminal control: an ESC inside a server's error body would reach the
user's terminal intact (clipboard writes, links, cursor moves, window titles). Rich's own styling
and cursor work travel in control segments and styles; only the text is cleaned."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment

from modelsel.inputs.textfile import printable


class SafeConsole(Console):
    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(printable(seg.text), seg.style, seg.control) for seg in buffer)

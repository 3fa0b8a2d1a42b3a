"""stdout and stderr as the narrators use them: any encoding, and a reader that may go away.

- Encoding: a character the stream cannot encode (PYTHONIOENCODING=ascii, LANG=C on an old Python) is
  replaced (`?`), never an error: the narration is the same facts whatever the terminal can draw.
- A reader that goes away (`isodemo pid | head -3`, quitting `less`, a terminal that hung up): the first
  failed write marks the stream lost and points its descriptor at /dev/null (so the interpreter's own
  flush at exit cannot fail again), and later writes go nowhere. Losing stdout while the demo still runs
  raises `OutputClosed`: nobody reads the rest, so the demo stops, cleans up and exits 141 quietly. Once
  the demo's body is over (teardown, the report), nothing is raised: the teardown must not be cut short.
"""

from __future__ import annotations

import io
import os

from isodemo.contexts import suppress

TYPE_CHECKING = False  # `isodemo --help` imports this module: no `typing` (~7 ms) at run time
if TYPE_CHECKING:
    from typing import IO, Any


class Output(io.TextIOBase):
    """A text stream wrapper that survives an unencodable character and a vanished reader."""

    def __init__(self, stream: IO[str], *, ends_demo: bool) -> None:
        super().__init__()
        self.stream = stream
        self.ends_demo = ends_demo  # stdout: losing it ends the demo; stderr: it is only quieter
        self.lost = False
        self.raised = False

    # -- what the narrators and rich use ------------------------------------------------------------

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                try:
                    self.stream.write(text)
                except UnicodeEncodeError:
                    encoding = self.encoding
                    self.stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))
            except (OSError, ValueError):  # EPIPE, EIO, or a stream already closed
                self._lose()
        self._end_demo_if_lost()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._lose()
        self._end_demo_if_lost()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        if self.lost:
            return False
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Closing the wrapper never closes the real stdout (io.TextIOBase.__del__ calls this)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)  # getvalue() of a test's StringIO, and the like

    # -- losing the reader ----------------------------------------------------------------------------

    def _lose(self) -> None:
        self.lost = True
        with suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            fd = self.stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)

    def _end_demo_if_lost(self) -> None:
        """Once, and only while a demo's body runs: stdout lost before it began (narrator.begin) counts too.
        Only in the main thread, where the demo runs: a rich meter redraws from a thread of its own, and the
        main thread's next write raises instead."""
        if not (self.lost and self.ends_demo and not self.raised):
            return
        import threading

        from isodemo import signals
        from isodemo.errors import OutputClosed

        if threading.current_thread() is threading.main_thread() and signals.armed():
            self.raised = True
            signals.disarm()  # the teardown that OutputClosed starts must not be cut by a signal
            raise OutputClosed()


def guarded(stream: IO[str], *, ends_demo: bool) -> IO[str]:
    """`stream` wrapped once (wrapping a wrapper returns it)."""
    if isinstance(stream, Output):
        return stream
    return Output(stream, ends_demo=ends_demo)  # type: ignore[return-value]  # a TextIOBase is an IO[str]


def replace_unencodable(*streams: Any) -> None:
    """Let the real std streams replace what their encoding cannot say (PYTHONIOENCODING=ascii): click's
    help and usage errors write to them directly, not through a narrator."""
    for stream in streams:
        with suppress(AttributeError, ValueError, io.UnsupportedOperation):
            if stream.errors == "strict":
                stream.reconfigure(errors="replace")

"""Text that grows one streamed fragment at a time, in linear time and near-flat memory.

``text += fragment`` copies everything received so far, so a stream of n fragments costs O(n^2);
keeping every fragment in a list until the end costs a Python object per fragment (about 60
bytes for a five-character delta). :class:`TextBuffer` keeps a short list of recent fragments and
folds it into one chunk every :data:`FOLD_EVERY` fragments, so appends stay O(1) amortized and
memory stays close to the size of the text itself; reading joins once and keeps the result.

>>> buffer = TextBuffer("Hel")
>>> buffer.append("lo")
>>> buffer.text
'Hello'
"""

from __future__ import annotations

#: Fragments kept as separate objects before they are folded into one chunk.
FOLD_EVERY = 1024


class TextBuffer:
    """A string under construction: :meth:`append` fragments, read :attr:`text`."""

    __slots__ = ("_chunks", "_parts")

    def __init__(self, text: str = "") -> None:
        self._chunks: list[str] = [text] if text else []
        self._parts: list[str] = []

    def append(self, fragment: str) -> None:
        parts = self._parts
        parts.append(fragment)
        if len(parts) >= FOLD_EVERY:
            self._chunks.append("".join(parts))
            parts.clear()

    @property
    def text(self) -> str:
        """The whole text; joined once, then kept until the next append."""
        if self._parts:
            self._chunks.append("".join(self._parts))
            self._parts.clear()
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    def __repr__(self) -> str:
        return f"TextBuffer({self.text!r})"

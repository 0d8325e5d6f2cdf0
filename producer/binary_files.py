"""Telling a text manifest from a binary file given by mistake (an image, a spreadsheet, UTF-16).

Read row by row, a binary file is a hundred rows each "not valid UTF-8" and no job: one line
saying what the file is helps more. A text manifest may still have a bad byte or a NUL in a row
(that row alone is rejected), so a file is judged by a share of its head, not by one byte.
"""

from pathlib import Path
from typing import BinaryIO

from producer.manifest_formats import ManifestError

#: how much of the file is looked at: a few rows of text, and more than any image header
HEAD_BYTES = 8192
#: the share of the head that may be bytes no UTF-8 text holds (undecodable, NUL, other control
#: characters) before the file is judged binary: text with a stray bad byte stays far below it,
#: compressed or image data (about half its bytes) and UTF-16 (NUL every other byte) far above
BINARY_SHARE = 0.1
#: ... and at least this many of them, so that a short text file with a bad byte or two is read
#: row by row (its rows rejected with their line numbers)
MIN_BINARY_BYTES = 8
#: control characters a text manifest holds: tab, line feed, carriage return
_TEXT_CONTROLS = frozenset("\t\n\r")
#: where the surrogateescape error handler puts each byte it could not decode
_ESCAPED = range(0xDC80, 0xDD00)


def refuse_binary(path: Path, stream: BinaryIO) -> None:
    """Raise ManifestError if the file at the start of `stream` is not UTF-8 text; the stream is
    left where it was."""
    start = stream.tell()
    head = stream.read(HEAD_BYTES)
    stream.seek(start)
    if not head:
        return
    text = head.decode("utf-8", "surrogateescape")
    odd = sum(
        1
        for char in text
        if ord(char) in _ESCAPED or (char < " " and char not in _TEXT_CONTROLS) or char == "\x7f"
    )
    if odd >= max(BINARY_SHARE * len(head), MIN_BINARY_BYTES):
        raise ManifestError(
            path,
            f"is not a UTF-8 text manifest ({odd} of its first {len(head)} bytes are not text: "
            "an image, a spreadsheet or another binary file, or text in another encoding); "
            "give a JSONL or CSV file saved as UTF-8",
        )

"""A manifest written to break the reader, in JSONL or CSV: every kind of hostile row at a known
line and field, among good rows whose images must come out.

The folder it is written in holds the reference images the good rows edit, and the traps the bad
rows point at: a symlink out of the folder, a directory, an HTML page named .png, a 10 MB+ file,
a decompression bomb,
and a real image just outside the folder (`secret.png`), which must never be read.
"""

import base64
import csv
import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from jobs.models.input_rules import MAX_INPUT_IMAGE_BYTES, MAX_PROMPT_CHARS
from producer.manifest_formats import MAX_ROW_BYTES
from tests.support.images import image_bytes

CSV_COLUMNS = ["id", "prompt", "size", "aspect_ratio", "image", "caption"]
TEN_MB = 10 * 1024 * 1024


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header of a few dozen bytes declaring `width` x `height` pixels: opening it
    is free, decoding it would take width * height * 3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


BOMB_DATA_URI = f"data:image/png;base64,{base64.b64encode(bomb_png()).decode()}"

#: rows that must become images: key -> row
GOOD_ROWS: list[dict[str, str]] = [
    {"id": "good/plain", "prompt": "a plain picture", "size": "1K"},
    {"id": "good/edit-png", "prompt": "edit the png", "size": "1K", "image": "refs/cat.png"},
    {
        "id": "good/edit-jpg",
        "prompt": "edit the jpg",
        "size": "1K",
        "aspect_ratio": "match_input_image",
        "image": "./cat.jpg",
    },
    {"id": "good/tabs", "prompt": "tabs\tand\nline breaks", "size": "1K", "caption": "ünï ✓"},
    {"id": "good/at-cap", "prompt": "p" * MAX_PROMPT_CHARS, "size": "1K"},
]

#: rows both formats can carry, and the field each must be reported on
BAD_ROWS: list[tuple[dict[str, str], str]] = [
    ({"id": "../x", "prompt": "escape up"}, "id"),
    ({"id": "/abs", "prompt": "absolute key"}, "id"),
    ({"id": "a/../../b", "prompt": "escape in the middle"}, "id"),
    ({"id": "nl\n", "prompt": "newline in the key"}, "id"),
    ({"id": "tab\tkey", "prompt": "tab in the key"}, "id"),
    ({"id": "esc\x1b[31m", "prompt": "terminal escape in the key"}, "id"),
    ({"id": "good/plain", "prompt": "same key twice"}, "id"),
    ({"id": "Good/Plain", "prompt": "same key in other case"}, "id"),
    ({"id": "good/plain.jpg/y", "prompt": "a folder where an image goes"}, "id"),
    ({"prompt": "q" * (MAX_PROMPT_CHARS + 1)}, "prompt"),
    ({"prompt": "z" * TEN_MB}, "prompt"),
    ({"prompt": "bell\x07"}, "prompt"),
    ({"prompt": "edit", "image": "../secret.png"}, "image"),
    ({"prompt": "edit", "image": "refs/../../secret.png"}, "image"),
    ({"prompt": "edit", "image": "/etc/passwd"}, "image"),
    ({"prompt": "edit", "image": "link-out.png"}, "image"),
    ({"prompt": "edit", "image": "refs"}, "image"),
    ({"prompt": "edit", "image": "missing.png"}, "image"),
    ({"prompt": "edit", "image": "page.png"}, "image"),
    ({"prompt": "edit", "image": "huge.png"}, "image"),
    ({"prompt": "edit", "image": "bomb.png"}, "image"),
    ({"prompt": "edit", "image": BOMB_DATA_URI}, "image"),
]

#: JSONL lines only JSON can hold (escapes, types, duplicate names) or that break the reader
JSONL_ONLY: list[tuple[bytes, str]] = [
    (b'{"prompt": "caf\xe9"}', "row"),
    (b'{"prompt": "raw \x00 nul"}', "row"),
    (b'{"prompt": "escaped \\u0000 nul"}', "prompt"),
    (b'{"prompt": "ok", "caption": "nul \\u0000 in metadata"}', "caption"),
    (b'{"prompt": "a", "prompt": "b"}', "row"),
    (b'{"prompt": ["a", "list"]}', "prompt"),
    (b'{"prompt": "a", "size": 2}', "size"),
    (b'{"prompt": "a", "size": "custom", "width": "wide", "height": 1024}', "width"),
    (json.dumps({"prompt": "a", "caption": "c" * TEN_MB}).encode(), "metadata"),
    (b'{"prompt": "' + b"o" * MAX_ROW_BYTES + b'"}', "row"),
    (b"not json at all", "row"),
]

#: CSV records that break the reader
CSV_ONLY: list[tuple[bytes, str]] = [
    (b"k1,caf\xe9,1K,,,", "row"),
    (b"k2,raw \x00 nul,1K,,,", "row"),
    (b"k3,too,many,cells,here,now,extra", "row"),
    (b'k4,"a "quoted" mess",1K,,,', "row"),
]


@dataclass
class HostileManifest:
    path: Path
    #: the keys whose images must be stored
    good_keys: list[str]
    #: line -> the field its rejection must name
    bad_lines: dict[int, str] = field(default_factory=dict)


def plant_files(folder: Path) -> None:
    """The manifest's folder: images the good rows edit, traps for the bad ones, and a secret
    image one level up that no row may reach."""
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "cat.png").write_bytes(image_bytes("PNG", (64, 48)))
    (folder / "cat.jpg").write_bytes(image_bytes("JPEG", (48, 64)))
    (folder / "page.png").write_bytes(b"<html><body>not an image</body></html>")
    with (folder / "huge.png").open("wb") as huge:
        huge.write(image_bytes("PNG", (64, 48)))
        huge.truncate(MAX_INPUT_IMAGE_BYTES + 1)
    (folder / "bomb.png").write_bytes(bomb_png())
    (folder.parent / "secret.png").write_bytes(image_bytes("PNG", (64, 48)))
    (folder / "link-out.png").symlink_to(folder.parent / "secret.png")


def write_hostile_manifest(path: Path) -> HostileManifest:
    """The manifest at `path` (.jsonl or .csv): good and bad rows interleaved, bad ones at
    known lines."""
    is_csv = path.suffix == ".csv"
    records: list[tuple[bytes, str | None]] = []
    special = CSV_ONLY if is_csv else JSONL_ONLY
    bad = [(_record(row, is_csv), name) for row, name in BAD_ROWS] + special
    good = [(_record(row, is_csv), None) for row in GOOD_ROWS]
    # a good row first (so the duplicate key comes after it), then one good row in every four
    while bad or good:
        if good:
            records.append(good.pop(0))
        records.extend(bad[:3])
        bad = bad[3:]
    manifest = HostileManifest(path, [row["id"] for row in GOOD_ROWS])
    line = 1
    with path.open("wb") as out:
        if is_csv:
            out.write(",".join(CSV_COLUMNS).encode() + b"\n")
            line += 1
        for data, name in records:
            if name is not None:
                manifest.bad_lines[line] = name
            out.write(data + b"\n")
            line += data.count(b"\n") + 1
    return manifest


def _record(row: dict[str, str], is_csv: bool) -> bytes:
    if not is_csv:
        return json.dumps(row).encode()
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow([row.get(name, "") for name in CSV_COLUMNS])
    return text.getvalue().removesuffix("\n").encode()

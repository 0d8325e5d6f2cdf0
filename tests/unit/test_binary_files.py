"""A binary file given as a manifest is one line, not a rejection per "row"."""

from pathlib import Path

import pytest

from producer.manifest import ManifestError, ManifestReader, RejectedRow
from tests.support.images import image_bytes


def test_a_png_renamed_jsonl_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "photo.jsonl"
    path.write_bytes(image_bytes("PNG", (64, 64)))

    with pytest.raises(ManifestError) as caught:
        ManifestReader(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: is not a UTF-8 text manifest (")
    assert "\n" not in message


def test_a_utf16_csv_is_refused_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("prompt,size\na cat,1K\na dog,2K\n".encode("utf-16"))

    with pytest.raises(ManifestError, match="is not a UTF-8 text manifest"):
        ManifestReader(path)


def test_a_text_manifest_with_a_stray_bad_byte_is_read_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"prompt": "caf\xe9 \x00 au lait"}\n' + b'{"prompt": "ok"}\n' * 50)

    with ManifestReader(path) as reader:
        rows = list(reader)

    assert isinstance(rows[0], RejectedRow)
    assert len(rows) == 51

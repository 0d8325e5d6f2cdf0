"""Manifests made for the tests: valid rows of many shapes, with bad rows at known lines."""

import json
from dataclasses import dataclass
from pathlib import Path

from jobs.models.seedream_4_0 import Seedream40Input, output_dimensions

_RATIOS = ["1:1", "16:9", "3:4", "4:3", "9:16", "3:2", "2:3", "21:9"]

#: (row, the field the error must name): one of each kind of mistake a user makes
BAD_ROWS: list[tuple[dict[str, object], str]] = [
    ({"prompt": "too big", "size": "5K"}, "size"),
    ({"prompt": "custom, no width", "size": "custom", "height": 1024}, "size"),
    ({"prompt": "tiny", "size": "custom", "width": 99, "height": 1024}, "width"),
    ({"prompt": "", "size": "1K"}, "prompt"),
    ({"prompt": "match what?", "aspect_ratio": "match_input_image"}, "aspect_ratio"),
    ({"prompt": "odd ratio", "size": "1K", "aspect_ratio": "5:4"}, "aspect_ratio"),
    ({"prompt": "width without custom", "size": "1K", "width": 2048}, "width"),
    ({"prompt": "not a bool", "size": "1K", "enhance_prompt": "sometimes"}, "enhance_prompt"),
    ({"prompt": "escaping key", "size": "1K", "id": "../../etc/passwd"}, "id"),
    ({"size": "1K"}, "prompt"),
]


@dataclass
class TestManifest:
    path: Path
    #: key -> the size its image must have
    expected_sizes: dict[str, tuple[int, int]]
    #: line -> the field its rejection must name
    bad_lines: dict[int, str]


def write_manifest(path: Path, good: int, bad: int = 0) -> TestManifest:
    """A JSONL manifest of `good` valid rows and `bad` bad ones (from BAD_ROWS), spread evenly."""
    total = good + bad
    bad_at = {round((n + 1) * total / bad) for n in range(bad)} if bad else set()
    expected: dict[str, tuple[int, int]] = {}
    bad_lines: dict[int, str] = {}
    lines: list[str] = []
    mistakes = iter(BAD_ROWS * (bad // len(BAD_ROWS) + 1))
    for line in range(1, total + 1):
        if line in bad_at:
            row, field = next(mistakes)
            bad_lines[line] = field
        else:
            row = _good_row(len(expected))
            expected[str(row["id"])] = output_dimensions(
                Seedream40Input.model_validate(
                    {k: v for k, v in row.items() if k not in ("id", "caption")}
                )
            )
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return TestManifest(path, expected, bad_lines)


def _good_row(n: int) -> dict[str, object]:
    if n % 25 == 7:
        return {
            "id": f"img-{n:04d}",
            "prompt": f"custom picture {n}",
            "size": "custom",
            "width": 1024,
            "height": 1280,
            "caption": f"caption {n}",
        }
    return {
        "id": f"img-{n:04d}",
        "prompt": f"a picture of thing number {n}",
        "size": "1K",
        "aspect_ratio": _RATIOS[n % len(_RATIOS)],
        "caption": f"caption {n}",
    }


def write_shared_manifest(path: Path, jobs: int, images: int) -> TestManifest:
    """A JSONL manifest of `jobs` rows asking for only `images` different images: row n has the
    input of row n % images, under a key of its own, so most jobs copy an image another paid
    for (worker.reuse)."""
    rows = [{"id": f"shared-{n:04d}", "prompt": f"shared picture {n % images}", "size": "1K"}
            for n in range(jobs)]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    size = output_dimensions(Seedream40Input(prompt="any", size="1K"))
    return TestManifest(path, {str(row["id"]): size for row in rows}, {})

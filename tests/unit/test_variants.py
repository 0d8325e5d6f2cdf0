"""Variants: a row asking for several images becomes one job per image, keyed `{id}/{n}`, or is
rejected whole; the batch's `--variants` is the number for a row that does not say."""

from pathlib import Path

import pytest

from jobs.keys import MAX_KEY_LENGTH
from jobs.spec import JobSpec
from jobs.variants import MAX_VARIANTS, variant_key
from producer.manifest import RejectedRow, read_manifest
from tests.support.rows import jsonl, only_rejection, problems, write


def read(path: Path, variants: int = 1) -> list[JobSpec | RejectedRow]:
    return list(read_manifest(path, variants=variants))


def manifest(tmp_path: Path, *rows: dict[str, object]) -> Path:
    return write(tmp_path, "m.jsonl", jsonl(*rows))


def test_a_row_asking_for_three_variants_is_three_jobs_of_one_input(tmp_path: Path) -> None:
    path = manifest(tmp_path, {"id": "mug", "prompt": "a mug", "variants": 3, "tag": "x"})

    jobs = [job for job in read(path) if isinstance(job, JobSpec)]

    assert [(job.key, job.variant, job.line) for job in jobs] == [
        ("mug/1", 1, 1), ("mug/2", 2, 1), ("mug/3", 3, 1),
    ]  # fmt: skip
    assert all(job.input == jobs[0].input and job.metadata == {"tag": "x"} for job in jobs)


def test_the_batch_number_applies_to_rows_that_do_not_say_and_a_row_of_one_keeps_its_key(
    tmp_path: Path,
) -> None:
    path = manifest(
        tmp_path,
        {"prompt": "a"},
        {"id": "b", "prompt": "b", "variants": 1},
        {"prompt": "c", "variants": None},
    )

    keys = [(job.key, job.variant) for job in read(path, variants=2) if isinstance(job, JobSpec)]

    assert keys == [("1/1", 1), ("1/2", 2), ("b", None), ("3/1", 1), ("3/2", 2)]


def test_a_csv_cell_gives_the_number_and_an_empty_one_takes_the_batchs(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "id,prompt,variants\na,one,2\nb,two,\n")

    keys = [job.key for job in read(path) if isinstance(job, JobSpec)]

    assert keys == ["a/1", "a/2", "b"]


@pytest.mark.parametrize(
    ("given", "shown"),
    [(0, "0"), (MAX_VARIANTS + 1, str(MAX_VARIANTS + 1)), ("two", "'two'"), (2.5, "2.5"),
     (True, "true"), ("-1", "'-1'"), ([2], "a list")],
)  # fmt: skip
def test_a_bad_number_rejects_the_row_saying_what_is_allowed(
    tmp_path: Path, given: object, shown: str
) -> None:
    path = manifest(tmp_path, {"prompt": "a", "variants": given})

    assert problems(only_rejection(path)) == {
        "variants": f"{shown} is not allowed: use a whole number from 1 to {MAX_VARIANTS} (each "
        "variant is a call of its own)"
    }


def test_an_id_too_long_for_its_variant_keys_is_refused_on_the_id(tmp_path: Path) -> None:
    key = "k" * (MAX_KEY_LENGTH - 2)
    path = manifest(tmp_path, {"id": key, "prompt": "a", "variants": 12})

    problem = problems(only_rejection(path))["id"]

    assert problem.startswith(f"with 12 variants its keys run to {MAX_KEY_LENGTH + 1} characters")
    assert problem.endswith(f"at most {MAX_KEY_LENGTH} are allowed: shorten the id")


def test_a_row_whose_variant_collides_is_rejected_whole_and_records_none_of_its_keys(
    tmp_path: Path,
) -> None:
    path = manifest(
        tmp_path,
        {"id": "a/2", "prompt": "first"},
        {"id": "a", "prompt": "second", "variants": 3},
        {"id": "b", "prompt": "third", "variants": 2},
        {"id": "b/2", "prompt": "fourth"},
        {"id": "a/1", "prompt": "fifth: line 2 was refused whole"},
    )

    found = read(path)

    assert [job.key for job in found if isinstance(job, JobSpec)] == ["a/2", "b/1", "b/2", "a/1"]
    rejected = [row for row in found if isinstance(row, RejectedRow)]
    assert [(row.line, problems(row)["id"]) for row in rejected] == [
        (2, "duplicate key 'a/2': line 1 has it already; keys must be unique in a batch"),
        (4, "duplicate key 'b/2': line 3 has it already; keys must be unique in a batch"),
    ]


def test_variant_keys_are_the_rows_key_and_the_number() -> None:
    assert variant_key("spring/sku-1", 7) == "spring/sku-1/7"

"""Submitting a manifest against the real table (SQLite and PostgreSQL): nothing is recorded for
a manifest that makes no batch or that --strict refuses, a batch name is resumed only with its
own manifest, and a broker lost half-way leaves a batch that `resume` sends."""

import json
from pathlib import Path

import pytest

from config.settings import Settings
from jobs.results import ResultsTable
from jobs.states import BatchState
from producer.manifest import ManifestError
from producer.submission import Submission, SubmissionError, submit_manifest
from tests.support.dispatching import dispatched
from tests.support.manifests import write_manifest
from worker.broker import BrokerUnreachable


class Wakes:
    """The dispatcher's wake-up call: counts the calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def submit(
    table: ResultsTable, manifest: Path, batch: str | None = "b", **options: object
) -> Submission:
    options.setdefault("wake", Wakes())
    return submit_manifest(
        table,
        Settings(),
        manifest,
        output="./out",
        batch_name=batch,
        **options,  # type: ignore[arg-type]
    )


def jsonl(path: Path, *rows: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ((), "has no rows: nothing was recorded"),
        (({"prompt": ""}, {"size": "9K"}), "has no valid row (2 rejected): nothing was recorded"),
    ],
)
def test_a_manifest_with_no_valid_row_records_nothing(
    table: ResultsTable, tmp_path: Path, rows: tuple[dict[str, object], ...], says: str
) -> None:
    manifest = jsonl(tmp_path / "m.jsonl", *rows)

    with pytest.raises(ManifestError) as caught:
        submit(table, manifest)

    assert str(caught.value) == f"{manifest}: {says}"
    assert table.recent_batches() == []


def test_rows_rejected_before_the_first_valid_one_are_reported_once(
    table: ResultsTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = jsonl(tmp_path / "m.jsonl", {"prompt": ""}, {"prompt": "ok"}, {"size": "9K"})

    report = submit(table, manifest, rejects=tmp_path / "bad.jsonl").report

    assert report is not None
    assert (report.loaded, report.rejected) == (1, 2)
    assert capsys.readouterr().err.count("m.jsonl:1: prompt:") == 1
    assert (tmp_path / "bad.jsonl").read_text().splitlines() == [
        '{"prompt": ""}',
        '{"size": "9K"}',
    ]
    assert (table.get_batch("b") or pytest.fail("batch b is not in the table")).rejected == 2


def test_a_batch_name_taken_by_another_manifest_is_refused_naming_the_batch_and_its_manifest(
    table: ResultsTable, tmp_path: Path
) -> None:
    first = write_manifest(tmp_path / "first.jsonl", good=2).path
    other = write_manifest(tmp_path / "other.jsonl", good=3).path
    submit(table, first, "spring")
    dispatched(table)
    wakes = Wakes()

    with pytest.raises(SubmissionError) as caught:
        submit(table, other, "spring", wake=wakes)

    message = str(caught.value)
    assert f"batch 'spring' was made from another manifest ({first})" in message
    assert str(other) in message
    assert "seedream-batch resume spring" in message
    assert len(table.job_rows("spring")) == 2
    assert wakes.count == 0
    assert dispatched(table) == []


def test_the_same_manifest_under_its_batch_name_resumes_the_batch(
    table: ResultsTable, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", good=2).path
    submit(table, manifest, "spring")
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(manifest.read_bytes())

    again = submit(table, copy, "spring")

    assert again.report is None
    assert again.resumed_jobs == 2


def test_a_batch_recorded_before_manifests_were_hashed_resumes_with_any_manifest(
    table: ResultsTable, tmp_path: Path
) -> None:
    table.create_batch("old", "m.jsonl", "./out", "m")

    again = submit(table, write_manifest(tmp_path / "new.jsonl", good=1).path, "old")

    assert again.report is None
    assert again.batch.id == "old"


def test_a_submitted_batch_s_jobs_are_due_in_the_table_and_the_dispatcher_is_woken(
    table: ResultsTable, tmp_path: Path
) -> None:
    wakes = Wakes()

    submit(table, write_manifest(tmp_path / "m.jsonl", good=3).path, "b", wake=wakes)

    assert wakes.count == 1  # one chunk
    assert len(dispatched(table)) == 3  # a dispatcher that missed the wake-up finds them too


def test_a_broker_that_does_not_answer_before_recording_leaves_nothing(
    table: ResultsTable, tmp_path: Path
) -> None:
    def check() -> None:
        raise BrokerUnreachable("redis://127.0.0.1:1", "connection refused")

    with pytest.raises(BrokerUnreachable):
        submit(table, write_manifest(tmp_path / "m.jsonl", good=3).path, check_broker=check)

    assert table.recent_batches() == []


@pytest.mark.parametrize(
    "bad_row",
    [{"prompt": "no such size", "size": "5K"}, {"id": "k1", "prompt": "the same key again"}],
)
def test_a_manifest_strict_refuses_records_nothing_and_writes_its_rejects(
    table: ResultsTable, tmp_path: Path, bad_row: dict[str, object]
) -> None:
    rows: list[dict[str, object]] = [{"id": f"k{n}", "prompt": f"picture {n}"} for n in range(1, 4)]
    manifest = jsonl(tmp_path / "m.jsonl", *rows, bad_row)
    wakes = Wakes()

    with pytest.raises(ManifestError) as caught:
        submit(table, manifest, "spring", strict=True, rejects=tmp_path / "bad.jsonl", wake=wakes)

    assert "1 bad row; --strict refused the whole manifest: nothing was recorded" in str(
        caught.value
    )
    assert table.recent_batches() == []
    assert wakes.count == 0
    assert len((tmp_path / "bad.jsonl").read_text().splitlines()) == 1


def test_the_fixed_manifest_runs_under_the_name_strict_refused(
    table: ResultsTable, tmp_path: Path
) -> None:
    manifest = jsonl(tmp_path / "m.jsonl", {"prompt": "fine"}, {"prompt": "bad", "size": "5K"})
    with pytest.raises(ManifestError):
        submit(table, manifest, "spring", strict=True)
    jsonl(manifest, {"prompt": "fine"}, {"prompt": "fixed", "size": "2K"})
    fixed = submit(table, manifest, "spring", strict=True)

    assert fixed.report is not None
    assert fixed.report.loaded == 2
    assert len(dispatched(table)) == 2
    batch = table.get_batch("spring")
    assert batch is not None
    assert batch.state is BatchState.active  # held while it loaded, then let run


def test_a_batch_with_variants_records_them_and_a_resume_with_another_number_is_refused(
    table: ResultsTable, tmp_path: Path
) -> None:
    manifest = jsonl(
        tmp_path / "m.jsonl",
        {"id": "a", "prompt": "one"},
        {"id": "b", "prompt": "two", "variants": 1},
    )

    made = submit(table, manifest, "spring", variants=2)

    assert made.batch.variants == 2
    rows = [(row["key"], row["variant"], row["line"]) for row in table.job_rows("spring")]
    assert rows == [("a/1", 1, 1), ("a/2", 2, 1), ("b", None, 2)]
    assert submit(table, manifest, "spring", variants=2).resumed_jobs == 3
    with pytest.raises(SubmissionError) as refused:
        submit(table, manifest, "spring", variants=3)
    assert str(refused.value) == (
        "batch 'spring' was recorded with --variants 2, and its jobs with it; submit the "
        "manifest as another batch (--batch) for 3 variants a row"
    )
    assert len(table.job_rows("spring")) == 3


def test_strict_checks_the_variant_keys_before_anything_is_recorded(
    table: ResultsTable, tmp_path: Path
) -> None:
    # with two variants, the first row's keys are a/1 and a/2
    colliding: list[dict[str, object]] = [
        {"id": "a", "prompt": "one"},
        {"id": "a/2", "prompt": "two", "variants": 1},
    ]
    manifest = jsonl(tmp_path / "m.jsonl", *colliding)

    with pytest.raises(ManifestError, match="--strict refused the whole manifest"):
        submit(table, manifest, "strict", variants=2, strict=True)

    assert table.recent_batches() == []


def test_a_batch_over_its_max_cost_is_refused_before_anything_is_recorded(
    table: ResultsTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": f"k{n}", "prompt": f"picture {n}", "variants": 2} for n in range(5)]
    manifest = jsonl(tmp_path / "m.jsonl", *rows, {"prompt": "bad", "size": "5K"})
    wakes = Wakes()

    with pytest.raises(SubmissionError) as caught:
        submit(table, manifest, "dear", max_cost=0.29, rejects=tmp_path / "bad.jsonl", wake=wakes)
    refused_err = capsys.readouterr().err
    within = submit(table, manifest, "fits", max_cost=0.3)
    partial = submit(table, manifest, "partial", max_cost=0.1, allow_partial=True)

    assert str(caught.value) == (
        f"{manifest}: its estimate is $0.30 (10 images × $0.03), over --max-cost $0.29: nothing "
        "was recorded; raise --max-cost, or add --allow-partial to run until the budget is spent "
        "and pause"
    )
    assert refused_err.count("m.jsonl:6: size:") == 1
    assert len((tmp_path / "bad.jsonl").read_text().splitlines()) == 1
    assert wakes.count == 0
    assert [batch.id for batch in table.recent_batches()] == ["partial", "fits"]
    assert within.report is not None
    assert within.report.loaded == 10
    assert within.report.rejected == 1
    assert capsys.readouterr().err.count("m.jsonl:6: size:") == 2  # once for each batch
    assert partial.batch.max_cost == 0.1

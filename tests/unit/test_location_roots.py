"""producer.location_roots: a scheduled batch's manifest and output only under configured roots,
decided on resolved paths (so neither `..` nor a symlink leads out) and on S3 segment boundaries."""

from pathlib import Path

import pytest

from config.settings import Settings
from producer.location_roots import MAX_SHOWN_CHARS, OutsideRoots, require_under_roots

SETTING = "SEEDREAM_MANIFEST_ROOTS"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "manifests" / "daily").mkdir(parents=True)
    (tmp_path / "manifests" / "daily" / "jobs.jsonl").write_text("{}\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.jsonl").write_text("{}\n")
    return tmp_path / "manifests"


def _allowed(location: str, roots: list[str], base: Path) -> bool:
    try:
        require_under_roots(location, roots, SETTING, base)
    except OutsideRoots:
        return False
    return True


def test_a_manifest_inside_a_root_is_accepted_by_absolute_or_relative_path(root: Path) -> None:
    assert _allowed(str(root / "daily" / "jobs.jsonl"), [str(root)], root)
    assert _allowed("manifests/daily/jobs.jsonl", ["manifests"], root.parent)
    assert _allowed("daily/not-yet-there.jsonl", ["."], root)


def test_a_manifest_outside_every_root_is_refused_naming_it_and_the_setting(root: Path) -> None:
    outside = str(root.parent / "elsewhere" / "secret.jsonl")

    with pytest.raises(OutsideRoots) as refused:
        require_under_roots(outside, [str(root), "s3://campaigns"], SETTING, root)

    assert repr(outside) in str(refused.value)
    assert SETTING in str(refused.value)
    assert "s3://campaigns" in str(refused.value)


def test_dot_dot_is_resolved_before_the_check(root: Path) -> None:
    assert not _allowed("daily/../../elsewhere/secret.jsonl", ["."], root)
    assert not _allowed(f"{root}/../elsewhere/secret.jsonl", [str(root)], root)
    assert _allowed(f"{root}/daily/../daily/jobs.jsonl", [str(root)], root)


def test_a_symlink_out_of_a_root_is_outside_it(root: Path) -> None:
    (root / "link.jsonl").symlink_to(root.parent / "elsewhere" / "secret.jsonl")
    (root / "linked-folder").symlink_to(root.parent / "elsewhere")

    assert not _allowed(str(root / "link.jsonl"), [str(root)], root)
    assert not _allowed("linked-folder/secret.jsonl", ["."], root)


def test_a_folder_whose_name_only_starts_like_the_root_is_outside_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out-other").mkdir()

    assert not _allowed(str(tmp_path / "out-other"), [str(tmp_path / "out")], tmp_path)
    assert _allowed(str(tmp_path / "out"), [str(tmp_path / "out")], tmp_path)


@pytest.mark.parametrize(
    ("location", "allowed"),
    [
        ("s3://campaigns/spring/jobs.jsonl", True),
        ("s3://campaigns/spring", True),
        ("s3://campaigns/spring/", True),
        ("s3://campaigns/spring-2/jobs.jsonl", False),
        ("s3://campaigns/jobs.jsonl", False),
        ("s3://other/spring/jobs.jsonl", False),
        ("s3://campaigns/spring/../private/jobs.jsonl", False),
        ("s3://campaigns/spring/./jobs.jsonl", False),
        ("s3://campaigns/spring//jobs.jsonl", False),
        ("s3:///spring/jobs.jsonl", False),
    ],
)
def test_an_s3_location_is_inside_when_bucket_and_prefix_segments_match(
    location: str, allowed: bool, tmp_path: Path
) -> None:
    assert _allowed(location, ["s3://campaigns/spring/"], tmp_path) is allowed


def test_a_whole_bucket_root_allows_every_key_in_that_bucket_only(tmp_path: Path) -> None:
    assert _allowed("s3://campaigns/any/key.jsonl", ["s3://campaigns"], tmp_path)
    assert not _allowed("s3://campaigns2/key.jsonl", ["s3://campaigns"], tmp_path)


def test_a_local_root_never_allows_s3_nor_an_s3_root_a_path(tmp_path: Path) -> None:
    assert not _allowed("s3://campaigns/jobs.jsonl", ["."], tmp_path)
    assert not _allowed("campaigns/jobs.jsonl", ["s3://campaigns"], tmp_path)


def test_a_path_that_cannot_be_resolved_is_refused(root: Path) -> None:
    assert not _allowed("daily/jobs.jsonl\x00.txt", ["."], root)


def test_no_roots_allow_nothing(tmp_path: Path) -> None:
    assert not _allowed("jobs.jsonl", [], tmp_path)


def test_a_huge_location_is_cut_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(OutsideRoots) as refused:
        require_under_roots("/" + "x" * 100_000, [str(tmp_path)], SETTING, tmp_path)

    assert len(str(refused.value)) < MAX_SHOWN_CHARS + 300
    assert "(100001 characters)" in str(refused.value)


def test_roots_are_read_comma_separated_with_the_working_folder_and_output_as_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEEDREAM_MANIFEST_ROOTS", raising=False)
    monkeypatch.delenv("SEEDREAM_OUTPUT_ROOTS", raising=False)
    defaults = Settings(_env_file=None)
    assert defaults.manifest_roots == (".",)
    assert defaults.output_roots == ()

    monkeypatch.setenv("SEEDREAM_MANIFEST_ROOTS", " /srv/manifests , s3://campaigns/spring,")
    monkeypatch.setenv("SEEDREAM_OUTPUT_ROOTS", "s3://assets")
    configured = Settings(_env_file=None)
    assert configured.manifest_roots == ("/srv/manifests", "s3://campaigns/spring")
    assert configured.output_roots == ("s3://assets",)

"""Deleting an object, and the output probe, on both backends (S3 through a real local S3 server):
the probe leaves nothing, and a missing bucket or a refused credential is one line saying so."""

import io
from pathlib import Path

import boto3
import httpx
import pytest

from jobs.errors import StorageError
from tests.support.services import S3Bucket, running_s3
from tests.support.storages import open_storage
from worker.storage import LocalFolderStorage
from worker.storage.probe import ProbeFailed, probe_storage


def test_s3_deletes_an_object_and_a_missing_one_is_no_error(
    s3_bucket: S3Bucket, s3_in_env: dict[str, str]
) -> None:
    bucket, client = s3_bucket
    storage = open_storage(f"s3://{bucket}/runs")
    storage.put("b/x.jpg", io.BytesIO(b"x"), "image/jpeg", {})

    storage.delete("b/x.jpg")
    storage.delete("b/x.jpg")

    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_the_s3_probe_leaves_the_bucket_empty(
    s3_bucket: S3Bucket, s3_in_env: dict[str, str]
) -> None:
    bucket, client = s3_bucket

    probe_storage(open_storage(f"s3://{bucket}/runs"), f"s3://{bucket}/runs")

    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_missing_bucket_is_one_line_saying_to_create_it(s3_in_env: dict[str, str]) -> None:
    location = "s3://no-such-bucket-here/runs"

    with pytest.raises(
        ProbeFailed, match=r"^s3://no-such-bucket-here/runs: cannot write"
    ) as caught:
        probe_storage(open_storage(location), location)

    said = str(caught.value)
    assert "NoSuchBucket" in said
    assert said.endswith(
        "the bucket does not exist: create it, or name another (--out, SEEDREAM_OUTPUT)"
    )
    assert s3_in_env["AWS_SECRET_ACCESS_KEY"] not in said


def test_credentials_s3_refuses_are_one_line_naming_what_to_check(
    s3_in_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_s3(tmp_path) as endpoint:  # a server of its own: its auth is switched on
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="locked")
        # from here on the server checks every request against its (empty) IAM: no key is valid
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

        with pytest.raises(ProbeFailed) as caught:
            probe_storage(open_storage("s3://locked/runs"), "s3://locked/runs")

    assert "these credentials may not write there: check AWS_ACCESS_KEY_ID" in str(caught.value)


class Undeletable(LocalFolderStorage):
    def delete(self, key: str) -> None:
        raise StorageError("delete refused")


def test_a_storage_that_cannot_delete_says_which_step_failed(tmp_path: Path) -> None:
    with pytest.raises(ProbeFailed, match=r"^here: cannot delete a probe object: delete refused"):
        probe_storage(Undeletable(tmp_path), "here")

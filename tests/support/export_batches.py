"""Finished batches made directly in the results table, for the export tests: jobs of one image
and of several (rows in `job_images`, as a worker leaves a model's answer of several), failed
ones; and a model of the tests' own, never registered in jobs.models, whose input columns are of
every type an export knows."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from sqlalchemy import Engine, insert, update

from jobs.database import utcnow
from jobs.models import ModelAdapter, ModelInput
from jobs.schema import job_images_table, jobs_table


class ManyImagesInput(ModelInput):
    """A made-up model's input: how many images to draw, and a column of each kind."""

    count: int = Field(default=1, ge=1, le=15)
    style: str | None = None
    strength: float | None = None
    tiled: bool | None = None


class ManyImages(ModelAdapter):
    """A model that answers a call with `count` images; its columns are its input's fields."""

    name = "test/many-images"
    input_type = ManyImagesInput
    default_price_per_image = 0.04
    export_columns = (("count", int), ("style", str), ("strength", float), ("tiled", bool))

    def most_images(self, spec: ModelInput) -> int:
        assert isinstance(spec, ManyImagesInput)
        return spec.count

    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {name: spec.get(name) for name, _ in self.export_columns}

    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        return 64, 64


MANY_IMAGES = ManyImages()


@dataclass(frozen=True)
class StoredFacts:
    """What a worker records of one stored image."""

    output_uri: str
    bytes: int
    sha256: str
    width: int
    height: int


def stored_images(prefix: str, key: str, count: int, *, several: bool) -> list[StoredFacts]:
    """`count` images of the job `key`, stored under `prefix` (the output and the batch) as a
    worker names them: `{key}.jpg`, or `{key}/{n}.jpg` when the model may answer with several.
    Each has its own size, width and digest, so that a row showing another's is caught."""
    return [
        StoredFacts(
            output_uri=f"{prefix}/{key}/{n}.jpg" if several else f"{prefix}/{key}.jpg",
            bytes=1000 + n,
            sha256=f"{n:x}" * 64,
            width=40 + n,
            height=30,
        )
        for n in range(count)
    ]


def record_succeeded(
    engine: Engine,
    batch: str,
    key: str,
    images: list[StoredFacts],
    *,
    cost: float,
    log_id: str,
) -> None:
    """The job as a worker leaves it once its images are stored: its row holds the first image,
    and `job_images` every one when there are several."""
    first = images[0]
    with engine.begin() as conn:
        job_id = conn.execute(
            update(jobs_table)
            .where(jobs_table.c.batch_id == batch, jobs_table.c.key == key)
            .values(
                state="succeeded",
                output_uri=first.output_uri,
                bytes=first.bytes,
                sha256=first.sha256,
                width=first.width,
                height=first.height,
                attempts=1,
                cost=cost,
                log_id=log_id,
                finished_at=utcnow(),
            )
            .returning(jobs_table.c.id)
        ).scalar_one()
        if len(images) > 1:
            conn.execute(
                insert(job_images_table),
                [{"job_id": job_id, "n": n, **vars(image)} for n, image in enumerate(images)],
            )


def record_failed(engine: Engine, batch: str, key: str) -> None:
    """The job refused for its content: final, no image, nothing billed."""
    with engine.begin() as conn:
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.batch_id == batch, jobs_table.c.key == key)
            .values(
                state="failed",
                attempts=1,
                error_class="content_policy",
                error_message="flagged",
                finished_at=utcnow(),
            )
        )

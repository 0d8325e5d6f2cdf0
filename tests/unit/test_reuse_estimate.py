"""What a dry run says a run would copy: jobs whose image the table has, and repeats within the
manifest, each weighted by the images its call may return (real SQLite and PostgreSQL)."""

from sqlalchemy import update

from jobs.content_address import content_address
from jobs.models import model_named
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.models.seedream_4_5 import Seedream45Input
from jobs.results import ResultsTable
from jobs.schema import jobs_table
from jobs.spec import JobSpec
from producer.reuse_estimate import ReuseEstimate

V40, V45 = model_named("bytedance/seedream-4.0"), model_named("bytedance/seedream-4.5")


def spec(prompt: str) -> Seedream40Input:
    return Seedream40Input(prompt=prompt, size="1K")


def estimate(model_jobs: list[JobSpec], against: ReuseEstimate) -> ReuseEstimate:
    for job in model_jobs:
        against.add(job, against.model.most_images(job.input))
    return against.finish()


def test_with_no_table_every_repeat_but_the_first_is_copied() -> None:
    jobs = [JobSpec(f"k{n}", n, spec(f"picture {n % 3}")) for n in range(7)]
    jobs.append(JobSpec("v2", 9, spec("picture 0"), variant=2))  # another variant: paid
    jobs.append(JobSpec("url", 10, Seedream40Input(prompt="x", image="https://a.example/i.png")))
    jobs.append(JobSpec("url2", 11, Seedream40Input(prompt="x", image="https://a.example/i.png")))

    found = estimate(jobs, ReuseEstimate(V40, None))

    assert (found.reused, found.reused_images) == (4, 4)  # 7 jobs of 3 images; URLs always pay


def test_a_job_whose_image_the_table_has_is_copied_and_so_are_its_repeats(
    table: ResultsTable,
) -> None:
    table.create_batch("last-week", "m.jsonl", "out", V40.name)
    stored = spec("stored picture")
    [job_id] = table.add_jobs("last-week", [JobSpec("old", 1, stored)])
    with table.engine.begin() as conn:
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.id == job_id)
            .values(state="succeeded", address=content_address(V40, stored, None))
        )
    url = table.engine.url.render_as_string(hide_password=False)
    jobs = [JobSpec("a", 1, stored), JobSpec("b", 2, stored), JobSpec("c", 3, spec("new"))]

    found = estimate(jobs, ReuseEstimate.against(url, V40))

    assert (found.reused, found.reused_images) == (2, 2)


def test_a_repeat_of_a_job_of_several_images_counts_them_all() -> None:
    comic = Seedream45Input(prompt="a comic", sequential_image_generation="auto", max_images=3)
    jobs = [JobSpec(f"k{n}", n, comic) for n in range(3)]

    found = estimate(jobs, ReuseEstimate(V45, None))

    assert (found.reused, found.reused_images) == (2, 6)

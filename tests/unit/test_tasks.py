"""The task shell: a job whose table cannot be reached is sent again, not acknowledged and lost."""

from typing import Any

import pytest
import sqlalchemy.exc

from worker import tasks


class UnreachableTable:
    def run(self, job_id: int) -> None:
        raise sqlalchemy.exc.OperationalError("SELECT ...", {}, Exception("connection refused"))


def test_a_job_whose_table_is_unreachable_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    resent: list[Any] = []
    monkeypatch.setattr(tasks, "get_pipeline", UnreachableTable)
    monkeypatch.setattr(tasks, "TABLE_OUTAGE_PAUSE_S", 0)
    monkeypatch.setattr(tasks.process_job, "apply_async", resent.append)

    tasks.process_job.run(7)

    assert resent == [(7,)]

"""Celery is configured for at-least-once delivery; the results table makes that safe."""

from config.celery_config import VISIBILITY_TIMEOUT_S, celery_config
from config.settings import DEFAULT_LEASE_S, Settings
from jobs.redis_keys import JOB_QUEUE


def test_a_message_is_acknowledged_after_the_work_and_redelivered_if_the_worker_dies() -> None:
    config = celery_config(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0"))
    assert config["task_acks_late"]
    assert config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["worker_pool"] == "threads"
    assert config["task_default_queue"] == JOB_QUEUE


def test_redis_does_not_redeliver_a_job_while_its_lease_is_live() -> None:
    config = celery_config(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0"))
    assert config["broker_transport_options"]["visibility_timeout"] == VISIBILITY_TIMEOUT_S
    assert VISIBILITY_TIMEOUT_S > DEFAULT_LEASE_S


def test_with_no_broker_configured_the_queue_lives_in_the_process() -> None:
    config = celery_config(Settings(_env_file=None, broker_url=None))
    assert config["broker_url"] == "memory://"
    assert config["broker_transport_options"]["polling_interval"] < 0.1


def test_a_fleet_sends_task_events_for_flower_and_an_embedded_run_does_not() -> None:
    fleet = celery_config(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0"))
    assert fleet["worker_send_task_events"]
    assert fleet["task_send_sent_event"]
    embedded = celery_config(Settings(_env_file=None, broker_url=None))
    assert not embedded["worker_send_task_events"]
    assert not embedded["task_send_sent_event"]

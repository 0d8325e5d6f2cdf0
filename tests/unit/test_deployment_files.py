"""docker-compose.yml and config/.env.example stay true to the CLI and the settings.

There is no Docker engine where the tests run, so the compose file is held to the Compose
Specification's own JSON schema (tests/fixtures/compose-spec.json, from compose-spec/compose-spec
at 170098ba, Apache-2.0: what `docker compose config` validates against) and to the product.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import AliasChoices

from config.settings import Settings
from producer.cli import app
from worker.beat import heartbeat_path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def setting_names() -> set[str]:
    """The environment variable of every setting."""
    prefix = Settings.model_config["env_prefix"]
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(
            alias.choices[0] if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        )
    return names


def cli_commands() -> set[str]:
    return {command.name or command.callback.__name__ for command in app.registered_commands}


def our_services() -> list[dict[str, Any]]:
    """The services running the seedream-batch image."""
    return [s for s in SERVICES.values() if s.get("image", "").startswith("seedream-batch")]


def one_shot_services() -> set[str]:
    """Services that run to completion (a job others wait for, or a tool run by hand)."""
    awaited = {
        name
        for service in SERVICES.values()
        for name, condition in service.get("depends_on", {}).items()
        if condition == {"condition": "service_completed_successfully"}
    }
    tools = {name for name, service in SERVICES.items() if "tools" in service.get("profiles", [])}
    return awaited | tools


def container_ports(service: dict[str, Any]) -> set[str]:
    return {str(mapping).rsplit(":", 1)[-1] for mapping in service.get("ports", [])}


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.json").read_text())
    problems = [
        f"{'.'.join(map(str, error.path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)
    ]
    assert not problems, problems


def test_compose_has_the_stack_the_design_names() -> None:
    assert {
        "redis", "postgres", "minio", "minio-bucket", "worker", "beat", "flower", "emulator"
    } <= set(SERVICES)  # fmt: skip
    assert SERVICES["emulator"]["profiles"] == ["emulator"]


def test_every_compose_command_is_a_cli_command() -> None:
    assert our_services()
    for service in our_services():
        assert service["command"][0] in cli_commands()


def test_every_variable_compose_sets_for_the_product_is_a_real_setting() -> None:
    for service in our_services():
        for variable in service.get("environment", {}):
            if variable.startswith(("SEEDREAM_", "CLOUDFLARE_")):
                assert variable in setting_names(), variable


def test_env_example_documents_every_setting() -> None:
    lines = (ROOT / "config" / ".env.example").read_text().splitlines()
    documented = {
        line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")
    }
    assert documented == setting_names()


def test_every_long_running_service_has_a_health_check() -> None:
    for name in set(SERVICES) - one_shot_services():
        assert SERVICES[name].get("healthcheck", {}).get("test"), name


def test_flower_watches_the_broker_the_workers_consume() -> None:
    broker = SERVICES["worker"]["environment"]["SEEDREAM_BROKER_URL"]
    assert SERVICES["flower"]["environment"]["CELERY_BROKER_URL"] == broker


def test_the_workers_metrics_port_is_published_and_health_checked() -> None:
    worker = SERVICES["worker"]
    port = worker["environment"]["SEEDREAM_METRICS_PORT"]
    assert container_ports(worker) == {port}
    assert f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])


def test_flowers_port_is_published_and_health_checked() -> None:
    flower = SERVICES["flower"]
    (port,) = container_ports(flower)
    assert f"--port={port}" in flower["command"]
    assert f"127.0.0.1:{port}/healthcheck" in " ".join(flower["healthcheck"]["test"])


def test_beats_health_check_asks_the_heartbeat_of_its_state_file() -> None:
    beat = SERVICES["beat"]
    state_file = beat["environment"]["SEEDREAM_BEAT_STATE_FILE"]
    assert f"'{heartbeat_path(state_file)}'" in " ".join(beat["healthcheck"]["test"])
    assert any(volume.endswith(f":{Path(state_file).parent}") for volume in beat["volumes"])


def test_the_workers_see_every_manifest_folder_beat_sees() -> None:
    """A fire is made into a batch by a worker, which reads the manifest the schedule names."""
    mounted = [v for v in SERVICES["beat"]["volumes"] if v.startswith("./")]
    schedules_file = SERVICES["beat"]["environment"]["SEEDREAM_SCHEDULES_FILE"]
    manifests = [v for v in mounted if not v.split(":")[1] == schedules_file]
    assert manifests and set(manifests) <= set(SERVICES["worker"]["volumes"])

"""docker-compose.yml and config/.env.example stay true to the CLI and the settings, and the stack
is closed by default: secrets required, ports on 127.0.0.1 only, Redis and Flower behind
passwords, images pinned, `.env` kept out of the image build.

There is no Docker engine where the tests run, so the compose file is held to the Compose
Specification's own JSON schema (tests/fixtures/compose-spec.json, from compose-spec/compose-spec
at 170098ba, Apache-2.0: what `docker compose config` validates against) and to the product.
"""

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import AliasChoices

from config.settings import Settings
from producer.cli import app
from producer.schedule_file import load_schedules
from worker.beat import heartbeat_path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
#: `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
#: variables whose value is a credential: each must come from .env, never from a default
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH")
#: environment variables holding a Redis URL the service connects with
BROKER_VARIABLES = ("SEEDREAM_BROKER_URL", "SEEDREAM_LIMITER_URL", "CELERY_BROKER_URL")
#: the address every published port must be bound to
LOOPBACK = "127.0.0.1"
#: a version pin: a release number with at least major.minor, or a dated release (MinIO's)
PINNED_TAG = re.compile(r"^(v?\d+\.\d+[\w.+-]*|RELEASE\.[\w.-]+)$")


def setting_names() -> set[str]:
    """The environment variable of every setting."""
    prefix = Settings.model_config["env_prefix"]
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            variable = alias.choices[0]
            assert isinstance(variable, str), f"{name}: an alias path names no variable"
            names.add(variable)
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def cli_commands() -> set[str]:
    names: set[str] = set()
    for command in app.registered_commands:
        assert command.callback is not None, f"{command.name}: a command runs a function"
        names.add(command.name or command.callback.__name__)
    return names


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


def host_ip(mapping: str | dict[str, Any]) -> str | None:
    """The host address a port mapping binds: `IP:HOST:CONTAINER`, `IP::CONTAINER`, or the long
    form's `host_ip`; None when it names none (Docker then binds every interface)."""
    if isinstance(mapping, dict):
        return mapping.get("host_ip")
    parts = str(mapping).split(":")
    return parts[0] if len(parts) == 3 else None


def interpolations(value: Any) -> list[re.Match[str]]:
    return list(INTERPOLATION.finditer(json.dumps(value)))


def image_tag(image: str) -> str | None:
    """The tag of `name[:tag][@digest]`, or the digest when pinned by one; None when untagged."""
    if "@" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def dockerfile_images() -> list[str]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    return [line.split()[1] for line in lines if line.upper().startswith("FROM ")]


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
    assert manifests
    assert set(manifests) <= set(SERVICES["worker"]["volumes"])


def test_no_port_is_published_on_every_interface() -> None:
    published = {
        f"{name}: {mapping}": host_ip(mapping)
        for name, service in SERVICES.items()
        for mapping in service.get("ports", [])
    }
    assert published
    assert {where: ip for where, ip in published.items() if ip != LOOPBACK} == {}


@pytest.mark.parametrize(
    "image",
    sorted(
        {s["image"] for s in SERVICES.values() if not s.get("build")} | set(dockerfile_images())
    ),
)
def test_every_image_pulled_is_pinned_to_a_release(image: str) -> None:
    tag = image_tag(image)
    assert tag is not None, f"{image}: name a release"
    assert tag != "latest", f"{image}: name a release, not latest"
    assert tag.startswith("sha256:") or PINNED_TAG.match(tag), f"{image}: {tag} moves"


def test_the_image_we_build_has_a_version_tag() -> None:
    for service in our_services():
        assert image_tag(service["image"]) not in (None, "latest"), service["image"]


def test_no_secret_has_a_default_so_compose_refuses_to_start_without_it() -> None:
    defaulted = [
        f"{name}: ${{{found['name']}{found['op']}...}}"
        for name, service in SERVICES.items()
        for found in interpolations(service)
        if SECRET_NAME.search(found["name"]) and found["op"] not in (":?", "?")
    ]
    assert defaulted == []


def test_no_secret_is_written_into_the_file() -> None:
    literal = [
        f"{name}: {variable}"
        for name, service in SERVICES.items()
        for variable, value in (service.get("environment") or {}).items()
        if SECRET_NAME.search(variable) and not interpolations(value)
    ]
    assert literal == []


def test_redis_requires_a_password_from_env() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    password = command[command.index("--requirepass") + 1]
    assert [(m["name"], m["op"]) for m in interpolations(password)] == [("REDIS_PASSWORD", ":?")]
    assert "REDISCLI_AUTH" in redis["environment"]  # its health check must log in too


def test_every_service_connects_to_redis_with_the_password() -> None:
    urls = {
        f"{name}.{variable}": url
        for name, service in SERVICES.items()
        for variable, url in (service.get("environment") or {}).items()
        if variable in BROKER_VARIABLES and url
    }
    assert {"worker.SEEDREAM_BROKER_URL", "flower.CELERY_BROKER_URL"} <= set(urls)
    for where, url in urls.items():
        credentials = url.split("://", 1)[1].split("@", 1)[0]
        assert "@" in url, where
        assert "${REDIS_PASSWORD:?" in credentials, where


def test_flower_asks_for_a_login_from_env() -> None:
    flower = SERVICES["flower"]
    from_env = [str(flower.get("environment", {}).get("FLOWER_BASIC_AUTH", ""))]
    flags = [arg for arg in flower["command"] if arg.startswith(("--basic-auth", "--basic_auth"))]
    (auth,) = [value for value in from_env + flags if value]
    assert [m["op"] for m in interpolations(auth)] == [":?"]


def test_dockerignore_keeps_env_files_and_local_data_out_of_the_build() -> None:
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"**/.env", ".git", "**/.venv", "output", "**/*.db"} <= set(patterns)
    assert not [p for p in patterns if p.startswith("!") and p.endswith(".env")]


def test_metrics_bind_this_host_unless_compose_opens_them_in_the_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEEDREAM_METRICS_HOST", raising=False)
    assert Settings(_env_file=None).metrics_host == LOOPBACK
    assert SERVICES["worker"]["environment"]["SEEDREAM_METRICS_HOST"] == "0.0.0.0"


def test_the_example_schedules_manifests_are_under_the_workers_manifest_roots() -> None:
    """Compose narrows SEEDREAM_MANIFEST_ROOTS to the mounted folder; what ships must still run."""
    worker = SERVICES["worker"]
    (found,) = interpolations(worker["environment"]["SEEDREAM_MANIFEST_ROOTS"])
    roots = found["arg"].split(",")
    working_folder = PurePosixPath("/app")
    mounted = [PurePosixPath(v.split(":")[1]) for v in worker["volumes"] if v.startswith("./")]
    assert all(any(PurePosixPath(r).is_relative_to(m) for m in mounted) for r in roots)
    for schedule in load_schedules(ROOT / "config" / "schedules.yaml"):
        manifest = working_folder / schedule.manifest
        assert any(manifest.is_relative_to(root) for root in roots), schedule.manifest

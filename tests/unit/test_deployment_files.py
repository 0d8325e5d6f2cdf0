"""docker-compose.yml and config/.env.example stay true to the CLI and the settings."""

from pathlib import Path

import yaml
from pydantic import AliasChoices

from config.settings import Settings
from producer.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


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


def test_compose_has_the_stack_the_design_names() -> None:
    assert {"redis", "postgres", "minio", "minio-bucket", "worker", "emulator"} <= set(
        COMPOSE["services"]
    )
    assert COMPOSE["services"]["emulator"]["profiles"] == ["emulator"]


def test_every_compose_command_is_a_cli_command() -> None:
    ours = [
        s for s in COMPOSE["services"].values() if s.get("image", "").startswith("seedream-batch")
    ]
    assert ours
    for service in ours:
        assert service["command"][0] in cli_commands()


def test_every_variable_compose_sets_for_the_product_is_a_real_setting() -> None:
    ours = [
        s for s in COMPOSE["services"].values() if s.get("image", "").startswith("seedream-batch")
    ]
    for service in ours:
        for variable in service.get("environment", {}):
            if variable.startswith(("SEEDREAM_", "CLOUDFLARE_")):
                assert variable in setting_names(), variable


def test_env_example_documents_every_setting() -> None:
    lines = (ROOT / "config" / ".env.example").read_text().splitlines()
    documented = {
        line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")
    }
    assert documented == setting_names()

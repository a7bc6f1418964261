"""What ships in deploy/ (docs/deploy.md) must agree with the code: every YAML file parses, every command it runs
is one our CLI accepts, probes point at routes the receiver has, and the image copies files that exist.

Kubernetes and Docker are not available to the tests, so this is what can be checked here; ``docker compose
config`` was run by hand when docker's compose plugin was there (docs/deploy.md says so).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Route

from ecom_pipeline.cli import build_parser
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.webhooks.app import create_app

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _assert_our_command(argv: list[str]) -> None:
    """``ecom-pipeline ...`` argv must parse with the real CLI parser (a renamed option would fail here)."""
    assert argv[0] == "ecom-pipeline", argv
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse exits on an unknown command or option
        raise AssertionError(f"ecom-pipeline does not accept {argv[1:]}") from exc


def test_there_are_deploy_files_and_every_yaml_file_parses() -> None:
    """Prevents shipping a values file or manifest with a YAML error (found by an operator at deploy time)."""
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert {"docker-compose.yml", "helm/values.yaml", "k8s/receiver.yaml", "dagster.yaml", "workspace.yaml"} <= names
    for path in YAML_FILES:
        assert _documents(path), f"{path} is empty"


def test_receiver_deployment_has_replicas_and_probes_on_routes_the_receiver_has(tmp_path: Path) -> None:
    """Prevents probes on a path the receiver does not serve (every replica would stay unready or be restarted
    in a loop) and a single-replica receiver."""
    docs = {doc["kind"]: doc for doc in _documents(DEPLOY / "k8s" / "receiver.yaml")}
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    _assert_our_command(container["command"])
    app = create_app(f"sqlite:///{tmp_path / 'w.db'}", cipher=CredentialCipher(CredentialCipher.generate_key()))
    paths = {route.path for route in app.routes if isinstance(route, Route) and "GET" in (route.methods or ())}
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] in paths
    assert "/healthz" in paths
    port = container["ports"][0]
    assert container["readinessProbe"]["httpGet"]["port"] == port["name"]
    assert docs["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_compose_runs_our_commands_two_receivers_and_migrates_before_anything_writes() -> None:
    """Prevents a compose file whose services run an option the CLI dropped, with one receiver only, or whose
    services start before the warehouse is migrated."""
    compose = _documents(DEPLOY / "docker-compose.yml")[0]
    services: dict[str, Any] = compose["services"]
    receivers = [name for name in services if name.startswith("receiver")]
    assert len(receivers) >= 2
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, list) and command and command[0] == "ecom-pipeline":
            _assert_our_command(command)
        if name not in ("postgres", "migrate", "rabbitmq", "webserver", "daemon"):
            assert "migrate" in service.get("depends_on", {}), f"{name} may start before the migration"
    assert services["migrate"]["command"] == ["ecom-pipeline", "migrate"]
    # Secrets come from the environment and are required, never written in the file.
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "${ECOM_SECRET_KEY:?" in text
    assert not re.search(r"ECOM_SECRET_KEY:\s*[A-Za-z0-9_-]{40,}", text)


@pytest.mark.parametrize("path", ["helm/values.yaml", "docker-compose.yml"])
def test_code_locations_named_in_deploy_files_are_modules_of_ours(path: str) -> None:
    """Prevents a user-code deployment pointing at a module that does not exist (the code server would not
    start and no schedule would run)."""
    text = (DEPLOY / path).read_text()
    modules = set(re.findall(r"\becom_pipeline(?:\.\w+)+", text))
    assert "ecom_pipeline.definitions" in modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_dockerfile_copies_files_that_exist() -> None:
    """Prevents an image build that fails on a COPY of a renamed file."""
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            for source in sources:
                assert (root / source).exists(), source


def test_the_compose_dagster_instance_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prevents an instance file the webserver and daemon refuse at start (a misspelt key or wrong type):
    Dagster's own schema validates deploy/dagster.yaml, with the PostgreSQL settings from the environment."""
    from dagster._core.instance.config import dagster_instance_config

    for name in ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, "x")
    config, _ = dagster_instance_config(str(DEPLOY))
    assert "postgres" in config["storage"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_webhook_follower_runs_in_compose_and_on_kubernetes_with_a_command_we_accept() -> None:
    """Prevents shipping deployments without the webhook follower (the only path that keeps the sub-second webhook
    promise), or with an option the CLI does not accept (its pods would crash-loop)."""
    compose = _documents(DEPLOY / "docker-compose.yml")[0]["services"]
    followers = [s["command"] for s in compose.values() if s.get("command", [None, None])[1:2] == ["apply-webhooks"]]
    assert followers, "compose runs no `ecom-pipeline apply-webhooks`"
    deployment = _documents(DEPLOY / "k8s" / "webhook-follower.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for command in [*followers, container["command"]]:
        _assert_our_command(command)
    assert deployment["spec"]["replicas"] >= 1

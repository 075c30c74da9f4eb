"""The Dockerfile, checked as text: Docker cannot run on the development machines, so this
is its lint. Each rule is one the design asks for."""

from __future__ import annotations

import re

from tests.support.paths import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.split(None, 1)
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(name: str) -> list[str]:
    return [rest for keyword, rest in INSTRUCTIONS if keyword.upper() == name]


class TestDockerfile:
    def test_base_is_slim_and_pinned_to_a_patch_release(self) -> None:
        (base,) = instructions("FROM")
        assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim(-\w+)?", base), base

    def test_runs_as_a_non_root_user(self) -> None:
        users = instructions("USER")
        assert users and users[-1] not in ("root", "0")
        assert DOCKERFILE.index("USER") > DOCKERFILE.index("pip install")

    def test_database_on_a_volume(self) -> None:
        assert instructions("VOLUME") == ['["/data"]']
        assert "DIGESTBOT_DB=/data/" in DOCKERFILE

    def test_pip_keeps_no_cache_and_python_is_unbuffered(self) -> None:
        assert "--no-cache-dir" in DOCKERFILE and "PYTHONUNBUFFERED=1" in DOCKERFILE

    def test_command_and_health_check_use_exec_form(self) -> None:
        assert instructions("CMD") == ['["digestbot", "run"]']
        (health,) = instructions("HEALTHCHECK")
        assert "CMD [" in health and "/data/heartbeat" in health and "curl" not in health

    def test_copies_only_what_the_package_needs(self) -> None:
        copied = " ".join(instructions("COPY"))
        for needed in ("pyproject.toml", "bot", "digest", "storage"):
            assert needed in copied
        assert "tests" not in copied

    def test_http_mode_listens_on_every_interface_in_the_container(self) -> None:
        """The bot's default host is loopback; the image asks for 0.0.0.0 explicitly."""
        assert "DIGESTBOT_HTTP_HOST=0.0.0.0" in " ".join(instructions("ENV"))
        assert instructions("EXPOSE") == ["3000"]

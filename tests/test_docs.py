"""The README against the code: the quick start's commands exist, every subcommand is
documented, and CI runs the README's test command."""

from __future__ import annotations

import argparse
import re

from bot.cli import build_parser
from tests.support.paths import REPO

README = (REPO / "README.md").read_text()
MAKEFILE = (REPO / "Makefile").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_quick_start_is_two_make_targets_that_exist() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    for command in commands:
        target = command.removeprefix("make ").strip()
        assert re.search(rf"^{target}:", MAKEFILE, re.MULTILINE), command


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in quick_start_commands()
    assert "make test" in ci and "ruff check" in ci


def test_ci_and_make_lint_type_check_after_ruff() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert ".venv/bin/mypy" in ci
    assert ci.index("ruff check") < ci.index(".venv/bin/mypy"), "CI runs mypy after ruff"
    lint = MAKEFILE.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check" in lint and "mypy" in lint, lint
    assert re.search(r"^typecheck:", MAKEFILE, re.MULTILINE)


def test_development_make_targets_exist() -> None:
    section = README.split("## Development", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    for line in block.strip().splitlines():
        target = line.split("#")[0].strip().removeprefix("make ").strip()
        assert re.search(rf"^{target}:", MAKEFILE, re.MULTILINE), line


def test_every_subcommand_is_in_the_readme() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in subparsers.choices:
        assert f"digestbot {name}" in README, name


def test_every_environment_variable_the_config_reads_is_documented() -> None:
    source = (REPO / "bot" / "config.py").read_text()
    for variable in set(re.findall(r'"((?:DIGESTBOT|SLACK|DISCORD|ANTHROPIC)_[A-Z_]+)"', source)):
        assert variable in README, variable


def test_the_model_set_ups_are_three_lines_of_valid_config() -> None:
    """README "Language models": OpenAI, Ollama and vLLM, three config lines each, that
    parse into the openai engine (a local server without a key is fine)."""
    import tomllib

    from bot.config import parse_config
    from bot.wiring import llm_engine

    section = README.split("## Language models", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        assert len(block.strip().splitlines()) == 3, block
        config = parse_config(tomllib.loads(block), env={"OPENAI_API_KEY": "sk-x"})
        assert llm_engine(config) == "openai"
    urls = [parse_config(tomllib.loads(b), env={}).openai.base_url for b in blocks[1:]]
    assert urls == ["http://localhost:11434/v1", "http://localhost:8000/v1"]
def test_every_command_line_option_is_in_the_readme() -> None:
    """Each flag of each subcommand (and the global ones) is named in the README."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, sub in [("", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            flags = [f for f in action.option_strings if f.startswith("--") and f != "--help"]
            if flags and not any(re.search(rf"[`\[ ]{flag}\b", README) for flag in flags):
                missing.append(f"{name} {flags[0]}".strip())
    assert missing == []


def test_every_chat_command_is_in_the_readme() -> None:
    from bot.commands import USAGE

    commands = set(re.findall(r"^/digest (\w+)", USAGE, re.MULTILINE)) - {"TOPIC", "QUESTION"}
    assert {"ask", "topics", "history", "status", "subscribe", "unsubscribe"} <= commands
    for command in commands:
        assert f"`/digest {command}" in README, command


def test_the_readmes_config_examples_are_valid_config() -> None:
    """Every TOML block in the README loads as a config, and its example topic is the one
    config.example.toml shows (commented out there)."""
    import tomllib

    from bot.config import parse_config

    blocks = re.findall(r"```toml\n(.*?)```", README, re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        parse_config(tomllib.loads(block), {}, source="README")
    lines = (REPO / "config.example.toml").read_text().splitlines()
    start = lines.index("# [[topics]]")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("# "))
    documented = tomllib.loads("\n".join(x[2:] for x in lines[start:end]))["topics"][0]
    (in_readme,) = (tomllib.loads(b)["topics"][0] for b in blocks if "[[topics]]" in b)
    documented.pop("style", None)
    assert in_readme == documented

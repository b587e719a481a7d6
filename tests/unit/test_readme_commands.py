"""Every `.venv/bin/certdeploy …` line of the README's shell blocks is a command the parser takes, with the options
it names: a renamed command or option fails here before a reader meets it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from certdeploy.cli.main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
_SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
_COMMAND = ".venv/bin/certdeploy "
# What a reader fills in or the shell computes: `<that CertId>`, `"$(seq -s, 1 13)"` stand for an id or a list.
_PLACEHOLDER = re.compile(r"<[^>]+>|\"\$\([^)]*\)\"")


def _readme_commands() -> list[str]:
    commands = []
    for block in _SHELL_BLOCK.findall(README.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            start = line.find(_COMMAND)
            if start >= 0:
                text = line[start + len(_COMMAND) :].split(" # ")[0]
                commands.append(" ".join(_PLACEHOLDER.sub("1", text).split()))
    return commands


COMMANDS = _readme_commands()


def test_the_readme_shows_the_user_commands() -> None:
    nouns = {command.split()[0] for command in COMMANDS}
    assert {"certs", "resources", "contacts", "jobs", "quota", "account", "cert"} <= nouns


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_parses(command: str) -> None:
    args = build_parser().parse_args(shlex.split(command))

    assert callable(args.handler)

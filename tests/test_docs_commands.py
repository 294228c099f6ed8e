"""Every `ticketbolt …` command shown in the README and docs/ parses as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ENV

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each line of a code block that runs `ticketbolt`."""
    found: list[tuple[str, str]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in FENCE.findall(path.read_text()):
            lines = block.replace("\\\n", " ").splitlines()
            prompted = [line.strip()[2:] for line in lines if line.strip().startswith("$ ")]
            # Blocks with prompts show output too: only the prompted lines are commands.
            for command in prompted or [line.strip() for line in lines]:
                if _runs_ticketbolt(command.split()):
                    found.append((path.name, command))
    return found


def _runs_ticketbolt(words: list[str]) -> bool:
    """`ticketbolt SUB …` (not output such as `ticketbolt sandbox: …`) or `python -m ticketbolt`."""
    if words[:3] == ["python", "-m", "ticketbolt"]:
        return True
    return words[:1] == ["ticketbolt"] and len(words) > 1 and not words[1].endswith(":")


COMMANDS = documented_commands()


def test_the_docs_show_commands() -> None:
    """The scan finds the commands the guides rely on (it is not vacuous)."""
    shown = {command.split()[1] for _, command in COMMANDS if command.startswith("ticketbolt")}
    assert {"check", "worker", "jobs", "gorgias", "bench"} <= shown


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_a_documented_command_parses_as_written(where: str, command: str) -> None:
    """The command, exactly as written, with `--help` appended, is accepted (exit 0): a
    renamed option or sub-command in the code or the docs fails here."""
    words = shlex.split(command)
    args = words[3:] if words[0] == "python" else words[1:]
    done = subprocess.run(
        [sys.executable, "-m", "ticketbolt", *args, "--help"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, f"{where}: {command}\n{done.stderr[-1500:]}"

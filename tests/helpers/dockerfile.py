"""deploy/Dockerfile read with dockerfile-parse (the instructions per build stage), for tests that
check its structure and run its commands outside Docker."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from dockerfile_parse import DockerfileParser

from tests.helpers.processes import REPO

DOCKERFILE = REPO / "deploy" / "Dockerfile"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]

    def last(self, instruction: str) -> str | None:
        found = self.all(instruction)
        return found[-1] if found else None


def stages() -> list[Stage]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    out: list[Stage] = []
    for item in parser.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "COMMENT":
            continue
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            out.append(Stage(words[0], name))
        else:
            assert out, f"{kind} before the first FROM"
            out[-1].instructions.append((kind, value))
    return out


def healthcheck_command() -> list[str]:
    """The final stage's HEALTHCHECK command, as the argv Docker would run."""
    value = stages()[-1].last("HEALTHCHECK")
    assert value is not None, "no HEALTHCHECK in the final stage"
    words = value.split(" CMD ", 1)
    assert len(words) == 2, value
    command = words[1].strip()
    return list(json.loads(command)) if command.startswith("[") else ["/bin/sh", "-c", command]


def copy_sources(value: str) -> tuple[str | None, list[str]]:
    """A COPY's stage (``--from=``) and its source paths."""
    words = shlex.split(value)
    stage = next((w.removeprefix("--from=") for w in words if w.startswith("--from=")), None)
    paths = [w for w in words if not w.startswith("--")]
    return stage, paths[:-1]

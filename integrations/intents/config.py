"""The intents file: names, descriptions, examples and the action each intent leads to."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_INTENTS_PATH = Path(__file__).with_name("default_intents.yml")

# The catch-all label. The LLM may always answer it, even when a custom file does not define it.
OTHER = "other"


class IntentsConfigError(ValueError):
    """The intents file is missing, is not YAML, or does not describe valid intents."""


class Intent(BaseModel):
    """One intent: what it means, how customers phrase it, and what the assistant does with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = Field(min_length=1)
    examples: list[str] = Field(min_length=1)
    action: Literal["answer", "handoff"]
    kb_topic: str | None = None
    # The Gorgias intent this maps onto, so that Gorgias rules and views keep working.
    gorgias_intent: str | None = None

    @field_validator("examples")
    @classmethod
    def _examples_not_blank(cls, examples: list[str]) -> list[str]:
        cleaned = [example.strip() for example in examples]
        if any(not example for example in cleaned):
            raise ValueError("examples must not be blank")
        return cleaned

    @model_validator(mode="after")
    def _answer_needs_topic(self) -> Intent:
        if self.action == "answer" and not self.kb_topic:
            raise ValueError("action 'answer' needs a kb_topic to answer from")
        return self


class IntentsConfig(BaseModel):
    """The configured set of intents, with a content hash used in cache keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intents: list[Intent] = Field(min_length=2)

    @field_validator("intents")
    @classmethod
    def _unique_names(cls, intents: list[Intent]) -> list[Intent]:
        seen: set[str] = set()
        for intent in intents:
            if intent.name in seen:
                raise ValueError(f"intent {intent.name!r} is defined twice")
            seen.add(intent.name)
        return intents

    @property
    def names(self) -> list[str]:
        return [intent.name for intent in self.intents]

    @property
    def labels(self) -> list[str]:
        """The closed label set an LLM may answer: the configured names plus `other`."""
        names = self.names
        return names if OTHER in names else [*names, OTHER]

    @property
    def version(self) -> str:
        """A stable hash of the content: changes whenever any intent, example or action does."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def get(self, name: str) -> Intent | None:
        return next((intent for intent in self.intents if intent.name == name), None)

    def training_rows(self) -> tuple[list[str], list[str]]:
        """Every example with its intent name, for fitting the offline classifier."""
        texts = [example for intent in self.intents for example in intent.examples]
        labels = [intent.name for intent in self.intents for _ in intent.examples]
        return texts, labels


def _describe(error: ValidationError, data: object) -> str:
    """Name the intent (by its `name`, not just its index) that each validation error is about."""
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "intents" and isinstance(loc[1], int):
            intents = data.get("intents") if isinstance(data, dict) else None
            entry = intents[loc[1]] if isinstance(intents, list) and loc[1] < len(intents) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            rest = ".".join(str(part) for part in loc[2:])
            where = f"intent {name or f'#{loc[1] + 1}'!s}" + (f" ({rest})" if rest else "")
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_intents(text: str, source: str = "<string>") -> IntentsConfig:
    """Parse the YAML text of an intents file; errors name `source` and the bad intent."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise IntentsConfigError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise IntentsConfigError(f"{source}: expected a mapping with an 'intents' list")
    try:
        return IntentsConfig.model_validate(data)
    except ValidationError as error:
        raise IntentsConfigError(
            f"{source}: invalid intents configuration:\n{_describe(error, data)}"
        ) from error


def load_intents(path: Path | str | None = None) -> IntentsConfig:
    """Load the intents file at `path` (the `TICKETBOLT_INTENTS` setting), or the built-in set."""
    file = Path(path) if path is not None else DEFAULT_INTENTS_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise IntentsConfigError(f"{file}: cannot read the intents file: {error}") from error
    return parse_intents(text, str(file))

"""An OpenAI-compatible chat-completions server on loopback, for tests, sandbox and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ticketbolt.integrations.loopback import LoopbackServer

_WORD = re.compile(r"[a-z0-9']+")
_TAGGED = re.compile(r"<customer_message>(.*?)</customer_message>", re.DOTALL)
_PASSAGE = re.compile(r'<passage title="[^"]*">(.*?)</passage>', re.DOTALL)


@dataclass
class _Failure:
    status: int
    retry_after: float | None


def _error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


def _tokens(text: str) -> int:
    # About four characters per token for English, which is all a usage figure needs here.
    return max(1, len(text) // 4)


class LlmEmulator(LoopbackServer):
    """`async with LlmEmulator() as emu:` serves `emu.base_url` (`http://127.0.0.1:PORT/v1`).

    Intent schemas are answered by keyword: each enum value scores the words of its name, plus
    the keywords `rules` gives it, found in the customer's text; no match answers `other`.
    String properties quote the fenced texts, the first property the first text and the last
    the last. Like the real API, a `strict` schema must forbid extra keys and require every
    key of each object (else 400), and an answer longer than `max_tokens` is cut off with
    `finish_reason` "length".
    `fail_next` injects errors, `reply_with` scripts raw answers; every authorised, well-formed
    request is recorded in `requests`.
    """

    def __init__(
        self,
        *,
        api_key: str = "emulator-key",
        rules: Mapping[str, Sequence[str]] | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.api_key = api_key
        self.rules = {name: list(words) for name, words in (rules or {}).items()}
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self._host = host
        self._port = port
        self._failures: list[_Failure] = []
        self._scripted: list[str] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}/v1"

    def fail_next(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next `count` requests with `status` (429, 500, …) and a Retry-After."""
        self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def reply_with(self, content: str, count: int = 1) -> None:
        """Answer the next `count` requests with this exact message content (bad JSON, labels…)."""
        self._scripted.extend([content] * count)

    async def start(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        self._port = await self.serve(app, self._host, self._port)

    async def _models(self, request: web.Request) -> web.Response:
        """The model list health checks read; the emulator serves any model name it is asked."""
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        model = {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "emulator"}
        return web.json_response({"object": "list", "data": [model]})

    async def _completions(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_request_error")
        problem = _invalid(body) or _invalid_schema(body)
        if problem:
            return _error(400, problem, "invalid_request_error")
        self.requests.append(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._failures:
            failure = self._failures.pop(0)
            response = _error(
                failure.status,
                "Injected failure.",
                "rate_limit_error" if failure.status == 429 else "server_error",
            )
            if failure.retry_after is not None:
                response.headers["retry-after"] = str(failure.retry_after)
                response.headers["retry-after-ms"] = str(int(failure.retry_after * 1000))
            return response
        return web.json_response(self._reply(body))

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        fenced = [found.strip() for found in _TAGGED.findall(user)] or [user.strip()]
        text = fenced[0]
        response_format = body.get("response_format") or {}
        if self._scripted:
            content = self._scripted.pop(0)
        elif response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema", {})
            content = json.dumps(self._fill(schema, text, fenced))
        else:
            content = _grounded_answer(messages)
        finish = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and _tokens(content) > limit:
            content, finish = content[: limit * 4], "length"
        prompt = sum(_tokens(str(m.get("content", ""))) for m in messages)
        completion = _tokens(content)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def _fill(self, schema: Mapping[str, Any], text: str, fenced: Sequence[str]) -> dict[str, Any]:
        """A value for every property of an object schema; enums get the best keyword match,
        strings a quote of the fenced texts (the first, …, the last)."""
        result: dict[str, Any] = {}
        score = 0
        properties = schema.get("properties") or {}
        strings = [
            n for n, s in properties.items() if s.get("type") == "string" and "enum" not in s
        ]
        for name, spec in properties.items():
            if name in strings:
                at = strings.index(name) * (len(fenced) - 1) // max(len(strings) - 1, 1)
                result[name] = " ".join(fenced[at].split()[:20])
            elif "enum" in spec:
                result[name], score = self._pick(list(spec["enum"]), text)
            elif spec.get("type") in ("number", "integer"):
                result[name] = None  # filled below, once the enum's match strength is known
            elif spec.get("type") == "boolean":
                result[name] = True
            else:
                result[name] = ""
        for name, value in result.items():
            if value is None:
                number = 0.9 if score > 0 else 0.3
                integer = schema["properties"][name].get("type") == "integer"
                result[name] = round(number) if integer else number
        return result

    def _pick(self, choices: list[Any], text: str) -> tuple[Any, int]:
        words = set(_WORD.findall(text.casefold()))
        lowered = text.casefold()

        def score(choice: Any) -> int:
            name = str(choice)
            hits = sum(part in words for part in name.split("_") if len(part) > 2)
            return hits + sum(keyword.casefold() in lowered for keyword in self.rules.get(name, []))

        scored = [(score(choice), -i, choice) for i, choice in enumerate(choices)]
        best, _, choice = max(scored)
        if best == 0 and "other" in choices:
            return "other", 0
        return choice, best


def _invalid(body: Any) -> str | None:
    """Why the body is not a chat-completions request, or None when it is one."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "developer", "user", "assistant", "tool")
            or not isinstance(message.get("content"), str)
        ):
            return "each message needs a valid 'role' and a string 'content'"
    return None


def _invalid_schema(body: dict[str, Any]) -> str | None:
    """Why a strict `json_schema` response format would be refused, as OpenAI words it."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return "Missing required parameter: 'response_format.json_schema.name'."
    if spec.get("strict") is not True:
        return None
    return _strict_problem(spec.get("schema"), spec["name"], ())


def _strict_problem(schema: Any, name: str, path: tuple[str, ...]) -> str | None:
    """The first object in `schema` that strict mode refuses, or None."""
    if not isinstance(schema, dict):
        return None
    where = f"Invalid schema for response_format '{name}': In context={path}, "
    if schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing:
            return (
                where + "'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'."
            )
        for key, sub in properties.items():
            problem = _strict_problem(sub, name, (*path, "properties", key))
            if problem:
                return problem
    return _strict_problem(schema.get("items"), name, (*path, "items"))


def _grounded_answer(messages: Sequence[Mapping[str, Any]]) -> str:
    """A short answer from the first passage in the prompt, or a promise to follow up."""
    for message in messages:
        passage = _PASSAGE.search(str(message.get("content", "")))
        if passage:
            sentences = re.split(r"(?<=[.!?])\s+", " ".join(passage.group(1).split()))
            return " ".join(sentences[:2])
    return "Thanks for your message. A teammate will follow up shortly."


async def _serve(args: argparse.Namespace) -> None:
    async with LlmEmulator(
        api_key=args.api_key, latency=args.latency_ms / 1000, host=args.host, port=args.port
    ) as emulator:
        print(f"LLM emulator on {emulator.base_url} (API key {args.api_key!r})", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--api-key", default="emulator-key")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the standalone server stops
        asyncio.run(_serve(args))

"""`atom-monitor record`: call a contract's operations and write scrubbed vcrpy cassettes.

Requests and responses are scrubbed on their way into the cassette (headers by name, bodies as
JSON and as text, Content-Length fixed after a body changes). Before anything is written the whole
cassette is searched again for configured secret values and provider token shapes; if one
survived, recording fails and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from monitor import __version__
from monitor.config import Config, ProbeKind, ResolvedCheck
from monitor.contracts.load import CASSETTES
from monitor.contracts.model import Contract
from monitor.model import Category, CheckResult
from monitor.scrub import REDACTED, Scrubber, is_sensitive

READ_CASSETTE = "read.yaml"
WRITES_CASSETTE = "writes.yaml"


class SecretInCassette(Exception):
    """A secret survived scrubbing; the message says where and what kind, never the value."""


class RecordError(Exception):
    """Recording cannot start (no contract, no base_url)."""


# --------------------------------------------------------------------------- scrubbing


def scrub_request(scrubber: Scrubber, request: Request) -> Request:
    request.uri = scrubber.url(request.uri)
    for name in list(request.headers):
        value = request.headers[name]
        request.headers[name] = REDACTED if is_sensitive(name) else scrubber.text(str(value))
    body = request.body
    if body:
        if isinstance(body, bytes):
            text = body.decode("utf-8", "replace")
        elif isinstance(body, Mapping | list):
            # aiohttp's `json=` (and `data=` form fields) reach vcrpy unserialised: write them as
            # JSON, which the scrubber reads key by key and a GraphQL query can be read back from.
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        else:
            text = str(body)
        request.body = _scrub_body(scrubber, text).encode()
    return request


def scrub_response(scrubber: Scrubber, response: dict[str, Any]) -> dict[str, Any]:
    """Response headers and body, not only the request: filter_headers never touches these."""
    headers: dict[str, list[str]] = {}
    for name, values in (response.get("headers") or {}).items():
        if name.lower() == "content-encoding":
            continue  # the recorded body is already decoded
        values = values if isinstance(values, list) else [values]
        headers[name] = [REDACTED if is_sensitive(name) else scrubber.text(str(v)) for v in values]
    body = response.get("body") or {}
    raw = body.get("string")
    if raw:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        new = _scrub_body(scrubber, text).encode()
        body = {**body, "string": new}
        for name in headers:
            if name.lower() == "content-length":
                headers[name] = [str(len(new))]
    return {**response, "headers": headers, "body": body}


def _scrub_body(scrubber: Scrubber, text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return scrubber.text(text)
    return json.dumps(scrubber.data(data), separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- the guard


def find_secrets(data: Mapping[str, Any], scrubber: Scrubber) -> list[str]:
    """Where a secret survives in a serialisable cassette: one line each, no value shown."""
    out: list[str] = []
    for i, interaction in enumerate(data.get("interactions") or []):
        for side in ("request", "response"):
            part = interaction.get(side) or {}
            at = f"#/interactions/{i}/{side}"
            for name, values in (part.get("headers") or {}).items():
                for v in values if isinstance(values, list) else [values]:
                    kind = scrubber.secret_kind(f"{name}: {v}")
                    if is_sensitive(name) and str(v) not in (REDACTED, ""):
                        kind = kind or f"a value in the credential header {name}"
                    if kind:
                        out.append(f"{at}/headers/{name}: {kind} survived scrubbing")
            if side == "request" and (kind := scrubber.secret_kind(str(part.get("uri", "")))):
                out.append(f"{at}/uri: {kind} survived scrubbing")
            body = part.get("body")
            raw = body.get("string") if isinstance(body, Mapping) else body
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
            if (kind := scrubber.secret_kind(text)) or (kind := scrubber.secret_kind(_unescaped(text))):
                out.append(f"{at}/body: {kind} survived scrubbing")
    return out


def _unescaped(text: str) -> str:
    """JSON escapes (`\\u005f`, `\\/`) hide a token from a text search; look through them too."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False).replace("\\/", "/")
    except ValueError:
        return text


def write_cassette(path: Path, data: dict[str, Any], scrubber: Scrubber) -> None:
    """Write `data` (vcrpy's serialised shape) unless a secret survived: then raise, writing nothing."""
    leaks = find_secrets(data, scrubber)
    text = yamlserializer.serialize(data)
    if not leaks and (kind := scrubber.secret_kind(text)):
        leaks = [f"#: {kind} survived scrubbing"]
    if leaks:
        raise SecretInCassette(f"{path}: refusing to write the cassette: " + "; ".join(leaks))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


class _Memory:
    """A vcrpy persister that keeps the cassette in memory until the guard has seen it."""

    saved: Any = None

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
        raise CassetteNotFoundError()

    @classmethod
    def save_cassette(cls, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        cls.saved = cassette_dict


# --------------------------------------------------------------------------- recording


def checks_to_record(config: Config, integration: str, include_writes: bool) -> list[ResolvedCheck]:
    """The contract checks, and the read-only sequences whose steps make a contracted call (Dropbox's
    list_folder/continue); with writes, the CRUD lifecycles too."""
    integ = config.integrations.get(integration)
    contract = config.contracts.get(integ.provider) if integ is not None else None
    sequences = {
        op.check for op in (contract.operations.values() if contract else ()) if op.read_only and op.step
    }
    chosen = [
        c
        for c in config.checks
        if c.integration == integration
        and (
            c.kind is ProbeKind.CONTRACT
            or (c.kind is ProbeKind.STEPS and c.category is not Category.CRUD and c.name in sequences)
        )
    ]
    if include_writes:
        chosen += [c for c in config.checks if c.integration == integration and c.category is Category.CRUD]
    return chosen


def provenance(
    config: Config, integration: str, contract: Contract, cassette: dict[str, Any]
) -> dict[str, Any]:
    base_url = config.integrations[integration].base_url or ""
    version = None
    if contract.version_header:
        for req, resp in zip(cassette["requests"], cassette["responses"], strict=False):
            found = {k.lower(): v for k, v in {**req.headers, **(resp.get("headers") or {})}.items()}
            value = found.get(contract.version_header.lower())
            if value:
                version = value[0] if isinstance(value, list) else value
                break
    return {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "integration": integration,
        "provider": contract.provider,
        "base_url_host": urlsplit(base_url).netloc,
        "base_path": urlsplit(base_url).path.rstrip("/"),
        "api_version_header": contract.version_header,
        "api_version": version,
        "monitor_version": __version__,
    }


async def record(
    config: Config, integration: str, *, include_writes: bool = False, out_dir: Path
) -> tuple[list[Path], list[CheckResult]]:
    """Record the contract's read-only calls (`read.yaml`) and, with writes, the CRUD lifecycle
    (`writes.yaml`) into `out_dir/<provider>/cassettes/`. Results are not stored."""
    from monitor.engine import start_engine

    integ = config.integrations.get(integration)
    if integ is None:
        raise RecordError(
            f"unknown integration {integration} (configured: {', '.join(sorted(config.integrations))})"
        )
    contract = config.contracts.get(integ.provider)
    if contract is None:
        raise RecordError(f"integration {integration}: provider {integ.provider!r} has no contract")
    monitor_section = config.file.monitor.model_copy(update={"store": "sqlite:///:memory:"})
    config = dataclasses.replace(config, file=config.file.model_copy(update={"monitor": monitor_section}))
    scrubber = Scrubber(config.secrets)
    groups = [(READ_CASSETTE, checks_to_record(config, integration, False))]
    if include_writes:
        writes = [c for c in checks_to_record(config, integration, True) if c.category is Category.CRUD]
        groups.append((WRITES_CASSETTE, writes))
    folder = out_dir / contract.provider / CASSETTES
    pending: list[tuple[Path, dict[str, Any]]] = []
    results: list[CheckResult] = []
    async with start_engine(config, recordable=True) as engine:
        config = engine.config  # base URLs filled in when the in-process sandbox runs
        for name, checks in groups:
            _Memory.saved = None
            recorder = vcr.VCR(
                record_mode="all",
                before_record_request=lambda r: scrub_request(scrubber, r),
                before_record_response=lambda r: scrub_response(scrubber, r),
                decode_compressed_response=True,
            )
            recorder.register_persister(_Memory)
            with recorder.use_cassette(str(folder / name)):
                results += await engine.run_once(checks)
            saved: dict[str, Any] | None = _Memory.saved
            if saved is None:
                continue
            meta = {"provenance": provenance(config, integration, contract, saved)}
            data = yamlserializer.deserialize(serialize({**saved, "metadata": meta}, yamlserializer))
            pending.append((folder / name, data))
    # Guard every cassette before writing any: a leak in one writes none.
    for path, data in pending:
        leaks = find_secrets(data, scrubber)
        if leaks:
            raise SecretInCassette(f"{path}: refusing to write the cassette: " + "; ".join(leaks))
    for path, data in pending:
        write_cassette(path, data, scrubber)
    return [p for p, _ in pending], results

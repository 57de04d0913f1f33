"""The Spotify Web API's OpenAPI file as a validator of response bodies.

The whole YAML document sits in one `referencing.Registry` resource, so every `$ref` of the file
resolves exactly as written; an operation's response is checked with `OAS30Validator` against
`{"$ref": "<document>#/components/responses/<Name>/content/application~1json/schema"}`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:spotify-web-api:openapi"
# A copy of the 2026 file (MIT, see the folder's SOURCE.md), so a fresh clone can validate.
DEFAULT_SPEC = Path(__file__).parent / "spotify-web-api" / "fixed-spotify-open-api.yml"
JSON_MEDIA = "application/json"
Document = dict[str, Any]


def spec_path() -> Path:
    """The OpenAPI file: `$BACKBEAT_OPENAPI_SPEC`, else the copy next to this module."""
    return Path(os.environ.get("BACKBEAT_OPENAPI_SPEC", DEFAULT_SPEC))


def _escape(token: str) -> str:
    """One JSON-pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def add_discriminator_mappings(document: Document) -> None:
    """Give every mapping-less `discriminator` the mapping its `oneOf` implies.

    The file says `oneOf: [TrackObject, EpisodeObject]` with `discriminator: {propertyName:
    type}` but no mapping, so by OAS 3.0.3 the implicit target of `"type": "track"` would be a
    schema named `track`, which does not exist. Each target's own `type` enum (`track`,
    `episode`) gives the intended mapping; nothing else in the document changes.
    """
    schemas = document["components"]["schemas"]
    for node in _walk(document):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict) or "mapping" in discriminator:
            continue
        name = discriminator["propertyName"]
        mapping: dict[str, str] = {}
        for option in node.get("oneOf", node.get("anyOf", [])):
            ref = option["$ref"]
            target = schemas[ref.rsplit("/", 1)[-1]]
            for value in target.get("properties", {}).get(name, {}).get("enum", []):
                mapping[value] = ref
        discriminator["mapping"] = mapping


@dataclass(frozen=True)
class WebApiSpec:
    document: Document = field(repr=False)
    registry: Registry[Any] = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> WebApiSpec:
        with path.open(encoding="utf-8") as file:
            document: Document = yaml.safe_load(file)
        add_discriminator_mappings(document)
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        return cls(document, Registry().with_resource(SPEC_URI, resource))

    def operation(self, method: str, path: str) -> dict[str, Any]:
        """`paths[path][method]`, e.g. `("get", "/albums/{id}")` (paths as the file spells them)."""
        try:
            operation: dict[str, Any] = self.document["paths"][path][method.lower()]
        except KeyError:
            raise LookupError(f"the OpenAPI file has no {method.upper()} {path}") from None
        return operation

    def response_pointer(self, method: str, path: str, status: int, fallback: str | None) -> str:
        """JSON pointer of the `application/json` schema of one response of an operation.

        A `$ref` into components/responses is followed. A status the operation does not list is
        looked up as `components/responses/<fallback>` when a fallback is given (the file lists
        only 401/403/429 for most operations, while the API also answers 400 and 404).
        """
        responses = self.operation(method, path)["responses"]
        pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
        response = responses.get(str(status))
        if response is None:
            if fallback is None:
                raise LookupError(f"{method.upper()} {path} documents no {status} response")
            pointer = f"/components/responses/{fallback}"
            response = self.document["components"]["responses"][fallback]
        while "$ref" in response:
            ref: str = response["$ref"]
            pointer = ref.removeprefix("#")
            response = self._at(pointer)
        if JSON_MEDIA not in response.get("content", {}):
            raise LookupError(f"{method.upper()} {path} {status} has no {JSON_MEDIA} body")
        return f"{pointer}/content/{_escape(JSON_MEDIA)}/schema"

    def _at(self, pointer: str) -> Any:
        node: Any = self.document
        for token in pointer.lstrip("/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node

    def errors(self, pointer: str, body: Any) -> list[ValidationError]:
        validator = OAS30Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"},
            registry=self.registry,
            format_checker=oas30_format_checker,
        )
        return list(validator.iter_errors(body))

    def check(
        self, method: str, path: str, status: int, body: Any, *, fallback: str | None = None
    ) -> None:
        """Fail with a readable message unless `body` is valid for that response of the file."""
        __tracebackhide__ = True
        pointer = self.response_pointer(method, path, status, fallback)
        errors = self.errors(pointer, body)
        if errors:
            raise AssertionError(describe(f"{method.upper()} {path} → {status}", pointer, errors))


def describe(what: str, pointer: str, errors: list[ValidationError]) -> str:
    """One line per violation: where in the body, what is wrong, which part of the schema."""
    seen: dict[tuple[str, str], str] = {}
    for error in errors:
        best = best_match([error])
        where = "/".join(str(p) for p in best.absolute_path) or "(body)"
        schema_at = "/".join(str(p) for p in best.absolute_schema_path)
        seen.setdefault((where, schema_at), best.message[:300])
    lines = [f"{what}: {len(seen)} schema violation(s) against #{pointer}"]
    for (where, schema_at), message in list(seen.items())[:8]:
        lines.append(f"  at {where}: {message}  [schema: {schema_at}]")
    if len(seen) > 8:
        lines.append(f"  … and {len(seen) - 8} more")
    return "\n".join(lines)

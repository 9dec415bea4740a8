"""The JSON parser for every gatehouse endpoint: refuses hostile JSON before it is built.

DRF's ``JSONParser`` hands the body to ``json.load``, whose recursion on
1,000 nested brackets is a ``RecursionError`` (a 500), which keeps the last
of duplicate keys (a proxy or WAF in front may have read the first), and
which accepts ``NaN``, ``1e999`` (infinity) and integers of thousands of
digits. ``HardenedJSONParser`` reads the body once (at most
``MAX_BODY_BYTES``), scans its bracket depth without recursion, then decodes
with hooks that refuse duplicates and huge or non-finite numbers. Every
refusal is a ``ParseError``: 400 problem+json ``malformed_json`` with a
detail saying what was wrong.

Host projects set it as ``DEFAULT_PARSER_CLASSES`` (or on their views).
"""

import json
import math
import re
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from protection.conf import gatehouse_settings

# Strings first (so brackets inside them do not count), then any bracket. An
# unterminated string (or a trailing backslash) runs to the end of the body
# instead of failing: a failed string match would restart at every later
# quote, and ``"`` + 8,000 ``\"`` took seconds (quadratic).
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]++|\\(?:.|\Z))*+(?:"|\Z)|[\[\]{}]', re.DOTALL)


def json_depth_check(raw: bytes, *, max_depth: int) -> None:
    """Raise ParseError when brackets nest deeper than ``max_depth``.

    A linear scan over the bytes: no recursion, no objects built, so it is
    safe on input that would crash ``json.loads``.
    """
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        elif token in (b"]", b"}"):
            depth -= 1


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParseError(f"Duplicate key {key[:40]!r} in JSON object.")
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise ParseError(f"{name} is not a JSON number.")


def json_loads_strict(raw: bytes, *, max_depth: int, max_integer_digits: int) -> Any:
    """Decode ``raw`` (UTF-8 JSON) or raise ParseError for anything hostile or malformed."""
    json_depth_check(raw, max_depth=max_depth)

    def parse_int(text: str) -> int:
        if len(text.lstrip("-")) > max_integer_digits:
            raise ParseError(f"Integer longer than {max_integer_digits} digits.")
        return int(text)

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or len(text) > 64:
            raise ParseError("Number out of range.")
        return value

    try:
        text = raw.decode("utf-8")
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=_refuse_constant,
        )
    except ParseError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ParseError("The request body is not valid JSON.") from exc


class HardenedJSONParser(JSONParser):
    """DRF's JSON parser with limits on size, depth, duplicate keys and numbers."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = int(gatehouse_settings.MAX_BODY_BYTES)
        # One byte over the limit tells "too large" without reading an endless
        # chunked body; the middleware already refused a declared oversize.
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(f"The request body must not exceed {limit} bytes.")
        return json_loads_strict(
            raw,
            max_depth=int(gatehouse_settings.JSON_MAX_DEPTH),
            max_integer_digits=int(gatehouse_settings.JSON_MAX_INTEGER_DIGITS),
        )

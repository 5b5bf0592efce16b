"""JSON with an explicit bound on nesting, for text a tenant may have written.

CPython's ``json`` decoder and pydantic's serializer recurse once per level of nesting, and the
API server stores objects up to 10,000 levels deep: relying on the interpreter's recursion limit
means a ``RecursionError`` somewhere in the middle of a list or a validation. Here the depth is
measured first, on the text, without recursion, and refused when it is over the caller's bound;
decoding is orjson's (about three times faster than ``json.loads`` on a Kubernetes object),
which refuses text over ``DECODER_DEPTH`` levels by itself.

- ``json_depth(text, limit=)``: how deeply ``text`` nests (``limit + 1`` means "deeper than
  ``limit``"), in a few C-speed passes over the text (about half the time ``json.loads``
  takes): strings removed, everything but brackets removed, then innermost ``[]``/``{}``
  pairs removed once per level.
- ``loads(text, max_depth=)``: decoded by orjson after that check (``JSONDepthError``
  otherwise). The check is skipped when the text cannot nest that deep (fewer opening brackets
  than the bound) and when the bound is orjson's own (``DECODER_DEPTH``): orjson refuses deeper
  text by itself, without recursion, and that refusal is reported as ``JSONDepthError`` too.
- ``loads_truncated(text, keep_depth=)``: decode with every container deeper than
  ``keep_depth`` replaced by ``null``: what is left of an over-deep object is its shallow fields
  (``metadata``, ``status.phase``), enough to name it and report on it.
- ``dumps(value, default=, sort_keys=)``: JSON bytes by orjson (about ten times faster than
  ``json.dumps``); what orjson refuses (nesting over its 254 levels, integers over 64 bits)
  falls back to ``json.dumps``, which refuses only what JSON cannot hold.
- ``array_items(text, field=)``: the raw items of a top-level object's array field (a
  Kubernetes list's ``items``) and the object without them, so each item is decoded alone and
  one bad item cannot spoil the others.

Invariant: nothing here recurses per level of the input; every function raises ``ValueError``
(``JSONDepthError`` included) for text it cannot handle, never ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

import orjson

_ONLY_BRACKETS_AND_QUOTES: Final = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_BRACES_AS_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_STRING: Final = re.compile(rb'"[^"]*"')
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPEN: Final = frozenset(b"[{")

DECODER_DEPTH: Final = 1024
"""orjson's own bound: it refuses text nested deeper (a ``JSONDecodeError``) without
recursing per level, so a bound at or above it needs no scan of the text."""


class JSONDepthError(ValueError):
    """The text nests deeper than allowed."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"nests more than {limit} levels deep" if depth > limit else "")
        self.depth = depth
        self.limit = limit


def _bytes(text: bytes | str) -> bytes:
    return text.encode() if isinstance(text, str) else text


def json_depth(text: bytes | str, *, limit: int) -> int:
    """The nesting depth of JSON ``text`` (a scalar is 0, ``[]`` is 1), or ``limit + 1`` when it
    is deeper than ``limit``. Unbalanced brackets stop the count (the decoder reports those).

    C-speed passes only: escaped backslashes and quotes dropped; everything but brackets and
    quotes dropped, braces read as brackets (well-formed JSON nests them properly); strings
    dropped (adjacent quotes first: no bracket lies between them); then one level of innermost
    pairs removed per pass."""
    data = _bytes(text)
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = data.translate(_BRACES_AS_BRACKETS, _ONLY_BRACKETS_AND_QUOTES).replace(b'""', b"")
    if b'"' in brackets:
        brackets = _STRING.sub(b"", brackets)
    depth = 0
    while brackets:
        if depth > limit:
            return limit + 1
        # bytes.replace matches in the text as it was: pairs that only close up by this pass's
        # removals wait for the next one, so each pass removes exactly one level.
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            break
        brackets = reduced
        depth += 1
    return min(depth, limit + 1)


def loads(text: bytes | str, *, max_depth: int) -> Any:
    """The decoded ``text`` when it nests at most ``max_depth`` levels (at most
    ``DECODER_DEPTH``, whatever the bound); raises ``JSONDepthError`` when deeper and
    ``ValueError`` when it is not JSON."""
    data = _bytes(text)
    # Fewer opening brackets than the bound cannot nest deeper than it (brackets inside
    # strings only make the count larger): no scan needed.
    if max_depth < DECODER_DEPTH and data.count(b"[") + data.count(b"{") > max_depth:
        depth = json_depth(data, limit=max_depth)
        if depth > max_depth:
            raise JSONDepthError(depth, max_depth)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Over orjson's bound, or not JSON: the (rare) failure is told apart by measuring.
        depth = json_depth(data, limit=DECODER_DEPTH)
        if depth > DECODER_DEPTH:
            raise JSONDepthError(depth, min(max_depth, DECODER_DEPTH)) from None
        raise


def dumps(
    value: Any, *, default: Callable[[Any], Any] | None = None, sort_keys: bool = False
) -> bytes:
    """``value`` as compact JSON bytes (keys sorted when asked); ``TypeError`` for what
    ``default`` cannot turn into JSON, and for a value nested too deep for either encoder."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, default=default, option=option)
    except orjson.JSONEncodeError:
        try:
            text = json.dumps(
                value,
                default=default,
                sort_keys=sort_keys,
                separators=(",", ":"),
                ensure_ascii=False,
            )
        except RecursionError:  # the standard encoder recurses: ~1,000 levels at most
            raise TypeError("the value nests too deep to be written as JSON") from None
        return text.encode()


def loads_truncated(text: bytes | str, *, keep_depth: int) -> Any:
    """Decode ``text`` with each container nested deeper than ``keep_depth`` replaced by
    ``null``. Raises ``ValueError`` when the text is not JSON."""
    data = _bytes(text)
    pieces: list[bytes] = []
    depth = 0
    kept_from = 0
    cut_at = -1
    for match in _TOKEN.finditer(data):
        first = data[match.start()]
        if first == 0x22:  # a string
            continue
        if first in _OPEN:
            depth += 1
            if depth == keep_depth + 1:
                cut_at = match.start()
        else:
            if depth == keep_depth + 1 and cut_at >= 0:
                pieces += (data[kept_from:cut_at], b"null")
                kept_from = match.end()
                cut_at = -1
            depth -= 1
    if cut_at >= 0:
        raise ValueError("unbalanced brackets")
    pieces.append(data[kept_from:])
    return loads(b"".join(pieces), max_depth=max(keep_depth, 0))


def array_items(text: bytes | str, *, field: str) -> tuple[bytes, list[bytes]]:
    """Split a JSON object's array ``field`` out of it: (the object's text with that array
    emptied, the raw text of each of its object items). Items that are not objects are left
    out. Raises ``ValueError`` when the text is not an object with such an array."""
    data = _bytes(text)
    key = json.dumps(field).encode()
    depth = 0
    last_string = b""
    array_start = array_end = -1
    item_start = -1
    items: list[bytes] = []
    for match in _TOKEN.finditer(data):
        first = data[match.start()]
        if first == 0x22:
            if depth == 1 and array_start < 0:
                last_string = match.group()
            continue
        if first in _OPEN:
            depth += 1
            if depth == 2 and array_start < 0 and first == 0x5B and last_string == key:
                array_start = match.end()
            elif depth == 3 and array_start >= 0 and array_end < 0 and first == 0x7B:
                item_start = match.start()
        else:
            if depth == 3 and item_start >= 0:
                items.append(data[item_start : match.end()])
                item_start = -1
            elif depth == 2 and array_start >= 0 and array_end < 0:
                array_end = match.start()
            depth -= 1
    if array_start < 0 or array_end < 0 or depth != 0:
        raise ValueError(f"no array {field!r} in a JSON object")
    return data[:array_start] + data[array_end:], items

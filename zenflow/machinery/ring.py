"""A consistent-hash ring over shard (replica) identities, with virtual nodes.

Invariants:
  * Deterministic across processes and Python runs: points are the first 8 bytes of SHA-256
    (never Python's salted ``hash()``), so every replica and the sharder agree on an owner.
  * ``owner(key)`` is the member whose first point at or after the key's point comes first on
    the ring (wrapping); ties between equal points go to the smaller identity.
  * Adding or removing one member moves only the keys whose owner that member becomes or was
    (about 1/N of them); the owner of every other key is unchanged.
  * An empty ring owns nothing (``owner`` returns None).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable
from typing import Final

DEFAULT_VIRTUAL_NODES: Final = 100
"""Points per member: with 100, three members each own a third within about ±10%."""


def ring_point(value: str) -> int:
    """A stable 64-bit position on the ring."""
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big")


class Ring:
    """An immutable ring; build a new one when the live members change."""

    __slots__ = ("_members", "_owners", "_points")

    def __init__(
        self, members: Iterable[str], *, virtual_nodes: int = DEFAULT_VIRTUAL_NODES
    ) -> None:
        if virtual_nodes < 1:
            raise ValueError(f"virtual_nodes must be >= 1 (got {virtual_nodes})")
        self._members = frozenset(members)
        pairs = sorted(
            (ring_point(f"{member}#{i}"), member)
            for member in self._members
            for i in range(virtual_nodes)
        )
        self._points = [p for p, _ in pairs]
        self._owners = [m for _, m in pairs]

    @property
    def members(self) -> frozenset[str]:
        return self._members

    def owner(self, key: str) -> str | None:
        """The member that owns ``key``, or None when the ring is empty."""
        if not self._points:
            return None
        index = bisect.bisect_left(self._points, ring_point(key))
        return self._owners[index % len(self._points)]

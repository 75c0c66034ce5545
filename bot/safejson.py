"""JSON from outside, parsed with a bound on nesting: `json.loads` recurses, and a body nested
100,000 levels deep would raise RecursionError (a 500) instead of a clean refusal."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def depth(raw: bytes) -> int:
    """How deep brackets nest outside strings (a linear scan, no recursion)."""
    deepest = level = 0
    for byte in _STRINGS.sub(b'""', raw):
        if byte in (0x5B, 0x7B):  # [ {
            level += 1
            deepest = max(deepest, level)
        elif byte in (0x5D, 0x7D):
            level -= 1
    return deepest


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Like json.loads; ValueError for invalid JSON or nesting deeper than `max_depth`."""
    data = raw.encode() if isinstance(raw, str) else raw
    if depth(data) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(data)

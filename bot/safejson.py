"""JSON from outside, parsed with a bound on how deeply it nests.

`json.loads` recurses once per level of nesting, so a body of 100,000 `[` raises
RecursionError, which is neither a ValueError (callers' `except ValueError` misses it)
nor cheap. `loads` first measures the nesting with a scan of the brackets that lie
outside strings (C-speed: a regex removes the strings, `bytes.translate` keeps only
the brackets) and refuses anything deeper than `max_depth` before parsing.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# Slack's deepest payloads (a block_actions payload carrying its message's blocks) nest about a dozen levels.
DEFAULT_MAX_DEPTH = 64
MAX_DEPTH = DEFAULT_MAX_DEPTH  # the name other modules know it by

# A JSON string: a quote, then runs of plain characters or backslash escapes, then a quote (unrolled, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(ValueError):
    """The JSON nests deeper than allowed. A ValueError, like any other malformed JSON."""


def depth(raw: bytes) -> int:
    """How deeply `raw` nests arrays and objects (brackets inside strings don't count)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(_STEP[b] for b in brackets))


def loads(raw: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """`json.loads`, refusing (with TooDeep, a ValueError) JSON nested deeper than `max_depth`.

    Every failure is a ValueError: malformed JSON, bad UTF-8, a number too long to convert."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    # Cheap first: a document with few brackets cannot nest deeply.
    if data.count(b"[") + data.count(b"{") > max_depth and depth(data) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except RecursionError:  # unreachable after the depth check; kept so nothing but ValueError escapes
        raise TooDeep("JSON nested too deeply") from None

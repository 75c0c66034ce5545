"""Fitting long text into Slack: 3,000 characters per section block, 50 blocks per message.

Pure functions. Text is split at paragraph, line or word boundaries; only a single word
longer than the limit is ever cut (and never through an `&amp;`-style escape).
"""

from __future__ import annotations

SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 50


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut between words, preferring paragraph then line breaks."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]  # a break right after `limit` characters still counts
        cut = window.rfind("\n\n")
        if cut <= limit // 2:  # a paragraph break near the start would leave a tiny piece
            cut = max(window.rfind("\n"), window.rfind(" "), window.rfind("\t"))
        if cut <= 0:
            cut = _hard_cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest:
        pieces.append(rest)
    return pieces


def _hard_cut(text: str, limit: int) -> int:
    """Where to cut a word longer than the limit: at the limit, but not inside an escape like `&amp;`."""
    amp = text.rfind("&", max(0, limit - 5), limit)
    if amp > 0 and ";" not in text[amp:limit]:
        return amp
    return limit


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


class Packer:
    """Lines into section blocks into messages, incrementally, so a caller streaming thousands of
    lines holds one message at a time: `add` and `finish` return the messages that filled up."""

    def __init__(self, *, limit: int = SECTION_LIMIT, per_message: int = BLOCKS_PER_MESSAGE):
        self.limit = limit
        self.per_message = per_message
        self._blocks: list[dict] = []
        self._chunk = ""

    def add(self, line: str) -> list[list[dict]]:
        """Add a line of mrkdwn (joined to the previous lines in the same block while it fits)."""
        full: list[list[dict]] = []
        for piece in split_text(line, self.limit) if len(line) > self.limit else [line]:
            if self._chunk and len(self._chunk) + 1 + len(piece) > self.limit:
                full += self._close_chunk()
            self._chunk = f"{self._chunk}\n{piece}" if self._chunk else piece
        return full

    def add_block(self, block: dict) -> list[list[dict]]:
        """Add a block of its own (a header, a divider, a context line)."""
        full = self._close_chunk()
        self._blocks.append(block)
        return full + self._take_full()

    def finish(self) -> list[list[dict]]:
        full = self._close_chunk()
        if self._blocks:
            full.append(self._blocks)
            self._blocks = []
        return full

    def _close_chunk(self) -> list[list[dict]]:
        if not self._chunk:
            return []
        self._blocks.append(section(self._chunk))
        self._chunk = ""
        return self._take_full()

    def _take_full(self) -> list[list[dict]]:
        if len(self._blocks) < self.per_message:
            return []
        full, self._blocks = self._blocks, []
        return [full]


def text_messages(text: str, *, head: list[dict] | None = None, per_message: int = BLOCKS_PER_MESSAGE) -> list[list[dict]]:
    """A long text as section blocks (one per piece), `head` blocks first, in as many messages as it takes."""
    packer = Packer(per_message=per_message)
    messages = [m for block in head or [] for m in packer.add_block(block)]
    for piece in split_text(text):
        messages += packer.add_block(section(piece))
    return messages + packer.finish()


def shorten(text: str, limit: int) -> str:
    """The start of `text` on one line, at most `limit` characters, cut between words, with … if cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return split_text(flat, max(1, limit - 1))[0] + "…"


def listing(head: str, lines: list[str], *, limit: int = SECTION_LIMIT,
            max_blocks: int = BLOCKS_PER_MESSAGE) -> list[dict]:
    """A heading and list lines as the blocks of one message; lines beyond what fits are counted, not lost."""
    blocks: list[dict] = []
    chunk, shown = head, 0
    for line in (line if len(line) <= limit else shorten(line, limit) for line in lines):
        if len(chunk) + 1 + len(line) > limit:
            if len(blocks) == max_blocks - 2:  # room left for this chunk and the "more" line
                break
            blocks.append(section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}"
        shown += 1
    blocks.append(section(chunk))
    if shown < len(lines):
        blocks.append(section(f"…and {len(lines) - shown} more that don't fit in one Slack message."))
    return blocks

"""Just enough Markdown to read the README the way a person does: sections, code blocks, tables.

The README's promise is that every command in it works. To test that, the commands have to be
found exactly as a reader finds them: fenced ``sh`` blocks (one command per line, ``\\``
continuations joined, ``#`` comments dropped), inline code that names a command, and the
tables whose cells are claims (options, error messages).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<title>.+?)\s*$")
_EXIT_STATUS = re.compile(r"#\s*exit status (?P<status>\d+)\s*$")
_INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, text, first line number and enclosing headings."""

    lang: str
    text: str
    line: int
    headings: tuple[str, ...]  # outermost first, e.g. ("Install", "Docker")

    @property
    def section(self) -> str:
        return self.headings[-1] if self.headings else ""


@dataclass(frozen=True)
class Command:
    """One command of an ``sh`` block, as the shell would see it."""

    text: str  # continuations joined, comment removed
    argv: tuple[str, ...]
    expect: int  # exit status a trailing "# exit status N" comment promises; else 0
    line: int
    block: Block

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text}"


@dataclass(frozen=True)
class Document:
    """The parsed file: its lines, headings (with line numbers) and fenced blocks."""

    path: Path
    lines: tuple[str, ...]
    headings: tuple[tuple[int, int, str], ...]  # (line, level, title)
    blocks: tuple[Block, ...]

    @classmethod
    def read(cls, path: Path) -> Document:
        lines = tuple(path.read_text(encoding="utf-8").splitlines())
        headings: list[tuple[int, int, str]] = []
        blocks: list[Block] = []
        stack: list[tuple[int, str]] = []
        fence: tuple[str, int, list[str]] | None = None
        for number, line in enumerate(lines, start=1):
            match = _FENCE.match(line)
            if fence is not None:
                if line.strip() == "```":
                    lang, start, body = fence
                    titles = tuple(title for _, title in stack)
                    blocks.append(Block(lang, "\n".join(body) + "\n", start, titles))
                    fence = None
                else:
                    fence[2].append(line)
                continue
            if match:
                fence = (match["lang"], number + 1, [])
                continue
            heading = _HEADING.match(line)
            if heading:
                level = len(heading["level"])
                title = heading["title"]
                headings.append((number, level, title))
                stack = [(lv, t) for lv, t in stack if lv < level] + [(level, title)]
        if fence is not None:
            raise ValueError(f"{path}: the code block at line {fence[1] - 1} is never closed")
        return cls(path, lines, tuple(headings), tuple(blocks))

    def titles(self) -> list[str]:
        return [title for _, _, title in self.headings]

    def prose(self) -> str:
        """The text outside fenced blocks (where inline code and links live)."""
        inside: set[int] = set()
        for block in self.blocks:
            count = block.text.count("\n")
            inside.update(range(block.line - 1, block.line + count + 1))
        return "\n".join(line for n, line in enumerate(self.lines, 1) if n not in inside)

    def inline_code(self) -> list[str]:
        return [m.group(1) for m in _INLINE_CODE.finditer(self.prose())]

    def links(self) -> list[str]:
        return [m["target"] for m in _LINK.finditer(self.prose())]

    def section_lines(self, title: str) -> list[str]:
        """The lines under the heading `title`, up to the next heading of its level or above."""
        for index, (line, level, found) in enumerate(self.headings):
            if found != title:
                continue
            end = len(self.lines)
            for later_line, later_level, _ in self.headings[index + 1 :]:
                if later_level <= level:
                    end = later_line - 1
                    break
            return list(self.lines[line:end])
        raise KeyError(f"no heading {title!r} in {self.path}")

    def table(self, title: str) -> list[list[str]]:
        """The rows (cells stripped, header and rule dropped) of the first table in a section."""
        rows: list[list[str]] = []
        for line in self.section_lines(title):
            if not line.startswith("|"):
                if rows:
                    break
                continue
            cells = [cell.strip() for cell in _split_row(line)]
            if all(set(cell) <= {"-", ":"} for cell in cells):
                continue
            rows.append(cells)
        if not rows:
            raise KeyError(f"no table under {title!r}")
        return rows[1:]  # without the header


def _split_row(line: str) -> list[str]:
    """Table cells; a ``|`` inside inline code belongs to the cell."""
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current))
            current = []
            continue
        current.append(char)
    cells.append("".join(current))
    return cells


def commands(block: Block) -> list[Command]:
    """The commands of an ``sh`` block: one per line, after joining ``\\`` continuations."""
    found: list[Command] = []
    pending: list[str] = []
    start = block.line
    for offset, raw in enumerate(block.text.splitlines()):
        if not pending:
            start = block.line + offset
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        joined = " ".join(part.strip() for part in pending)
        pending = []
        if not joined or joined.startswith("#"):
            continue
        lexer = shlex.shlex(joined, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        argv = tuple(lexer)
        status = _EXIT_STATUS.search(joined)
        text = shlex.join(argv)
        found.append(Command(text, argv, int(status["status"]) if status else 0, start, block))
    if pending:
        raise ValueError(f"README.md:{start}: a command ends with a line continuation")
    return found


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = title.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def split_pattern(cell: str) -> list[str]:
    """The fixed parts of an error message quoted in a table cell; ``…`` stands for details."""
    match = re.fullmatch(r"`(.+)`", cell.strip())
    if match is None:
        raise ValueError(f"not a quoted message: {cell!r}")
    return [part.strip() for part in match.group(1).split("…") if part.strip()]


def normalize_space(text: str) -> str:
    return " ".join(text.split())

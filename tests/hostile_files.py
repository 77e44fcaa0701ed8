"""Generators of hostile orders files for tests/test_hostile_input.py: every file is made byte for byte in a
temporary directory by the test that needs it, never committed.

Lines are built from one good order whose fields a case replaces with text written exactly as it should appear
in the file (quote it yourself where the case needs quotes).
"""
from __future__ import annotations

from pathlib import Path

from tests.conftest import CONTRACT_HEADER, GOOD_ORDER

HEADER_LINE = ",".join(CONTRACT_HEADER)
CUSTOMERS = 7
BIG_CHUNK_ROWS = 200_000


def order_line(order_id: str, **changes: str) -> str:
    """One order as a CSV line: the good (February) order with some fields replaced by text written as is."""
    fields = {"order_id": order_id, **GOOD_ORDER, **changes}
    return ",".join(fields[name] for name in CONTRACT_HEADER)


def good_lines(count: int, prefix: str) -> list[str]:
    """`count` distinct good orders (order_id `prefix-0`, `prefix-1`, ...) spread over a few customers."""
    return [order_line(f"{prefix}-{number}", customer_id=f"C-{number % CUSTOMERS}") for number in range(count)]


def csv_text(lines: list[str], *, header: str = HEADER_LINE) -> str:
    """A whole file's text: the header and every line, each ended by a line break."""
    return "".join(line + "\n" for line in [header, *lines])


def write(path: Path, content: str | bytes) -> str:
    """Write text (as UTF-8) or bytes exactly, creating the directory; return the path as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def write_big(path: Path, rows: int, bad_row: int, bad_line: str) -> str:
    """A file of `rows` good orders with `bad_line` in place of row `bad_row` (0-based), written in big chunks."""
    template = order_line("B-{0}", customer_id="C-{1}")
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER_LINE + "\n")
        for start in range(0, rows, BIG_CHUNK_ROWS):
            lines = [template.format(number, number % 997) for number in range(start, min(start + BIG_CHUNK_ROWS, rows))]
            if start <= bad_row < start + BIG_CHUNK_ROWS:
                lines[bad_row - start] = bad_line
            out.write("\n".join(lines) + "\n")
    return str(path)

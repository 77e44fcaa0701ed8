"""The orders file on disk, before Spark reads it: checks that fail at once with one line naming the problem (missing,
empty, not UTF-8 text, not comma-separated, an unbalanced quote, cut off), whether a record of it may span lines, and
its fingerprint. Plain Python on the file's bytes, no Spark: the dashboard asks the same questions before a rerun.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from urllib.parse import urlparse

from elt.contract import COLUMNS
from elt.errors import InputError

ONLY_BOM_OR_BLANK = b"\xef\xbb\xbf \t\r\n"
HEAD_BYTES = 64
SCAN_CHUNK_BYTES = 1 << 24
SAMPLE_BYTES = 1 << 16  # how much of a file's start and end the header and truncation checks look at
NOT_QUOTE_OR_LF = bytes(byte for byte in range(256) if byte not in b'"\n')
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-32 LE starts with the UTF-16 LE mark
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
# Spark decompresses these by their ending: their bytes are not CSV text, so the text checks skip them.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst")
SPARK_HIDDEN_PREFIXES = (".", "_")  # Spark skips such files when it reads a directory
NOT_TEXT = "input is not a text file (it holds NUL bytes: binary, or UTF-16 without a BOM?): {path}"
Fingerprint = tuple[tuple[str, int, int], ...]


def absolute_input(path: str) -> str:
    """A local input path made absolute (so the run log names the file unambiguously); URLs unchanged."""
    if urlparse(path).scheme in ("", "file") and not path.startswith("file:"):
        return str(Path(path).expanduser().resolve())
    return path


def local_path(path: str) -> Path | None:
    """The local file system path of an input, or None for remote storage."""
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(parsed.path if parsed.scheme == "file" else path)


def inspect_input(path: str) -> bool:
    """Check a local input (`check_input`, then `scan_input`) and return whether a record may span lines."""
    check_input(path)
    return scan_input(path)


def check_input(path: str) -> None:
    """Fail at once with one line when a local input does not exist, is empty, or does not start as
    comma-separated UTF-8 text. Reads only the start of each file; `scan_input` reads the rest.
    """
    local = local_path(path)
    if local is None:
        return  # remote storage: Spark will tell
    if not local.exists():
        raise InputError(f"input file not found: {path}")
    if not (local.is_file() or local.is_dir()):
        raise InputError(f"input is not a regular file or directory: {path}")
    if local.is_dir():
        _check_directory(local, path)
    if local.is_file() and _is_blank(local):
        raise InputError(f"input file is empty (no header row): {path}")
    for file in _text_files(_data_files(local)):
        _check_head(file)


def _check_directory(local: Path, path: str) -> None:
    """A directory input must hold files Spark reads, and no subdirectory with more in it: Spark reads only the
    files directly in the directory, so those of a visible subdirectory would be left out without a word."""
    children = sorted(local.iterdir())
    if not any(child.is_file() for child in children):
        raise InputError(f"input directory has no files: {path}")
    if not any(child.is_file() and _visible(child) for child in children):
        raise InputError(f"input directory has no files a run reads (it skips names that start with . or _): {path}")
    for child in children:
        if child.is_dir() and _visible(child) and any(_visible(inner) for inner in child.iterdir()):
            raise InputError(f"input directory has a subdirectory, whose files a run would not read: {child}")


def _visible(path: Path) -> bool:
    """Whether Spark reads this entry of a directory it is given (it skips names starting with . or _)."""
    return not path.name.startswith(SPARK_HIDDEN_PREFIXES)


def scan_input(path: str) -> bool:
    """Read a local input through and return whether a record may span lines, after `check_input`.

    Fails with one line naming the file and where in it when a byte is not UTF-8, a quoted field never closes,
    or the file was cut off. A record may span lines unless the input is local, uncompressed, every line of it
    holds an even number of quote characters and every carriage return in it is part of a CRLF: a line break can
    only be part of a field inside quotes, and the line such a field breaks holds its opening quote besides pairs
    (`""` inside a field, the quotes around one); a lone CR is data by the contract (LF or CRLF line ends), which
    only the multi-line reader keeps in its field (`_LineBreaks`). Such a file Spark splits over the cores, and
    reads each line as a record by itself: a stray quote inside an unquoted field (`A"n,"n`) then costs that one
    malformed row, where a multi-line read lets the quote it opens run on into the rows after it (which
    `split_swallowed_rows` then reads line by line). The pipeline
    runs this while Spark starts (at 10M orders it reads 1.2 GB in 2.3-2.7 s).
    """
    local = local_path(path)
    if local is None:
        return True
    files = _data_files(local)
    text_files = _text_files(files)
    may_span_lines = len(text_files) < len(files)  # compressed files are not looked into
    for file in text_files:
        if _scan_text(file):
            may_span_lines = True
    return may_span_lines


def _text_files(files: list[Path]) -> list[Path]:
    """The files whose bytes are CSV text (Spark decompresses the others by their ending)."""
    return [file for file in files if not file.name.endswith(COMPRESSED_SUFFIXES)]


def _data_files(local: Path) -> list[Path]:
    """The files Spark reads for a local input: the file itself, or a directory's visible files."""
    if local.is_file():
        return [local]
    return sorted(child for child in local.iterdir() if child.is_file() and _visible(child))


def _is_blank(path: Path) -> bool:
    """Whether a file holds nothing but a BOM and whitespace (read from its start only)."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return head.strip(ONLY_BOM_OR_BLANK) == b"" and path.stat().st_size <= HEAD_BYTES


def _check_head(path: Path) -> None:
    """Fail with one line naming the problem when a file does not start as comma-separated UTF-8 text."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    top_line = head.split(b"\n", 1)[0]
    if head.startswith(UTF16_BOMS):
        raise InputError(f"input is UTF-16 text, not UTF-8 (save it as UTF-8): {path}")
    if b"\0" in top_line:
        raise InputError(NOT_TEXT.format(path=path))
    header = top_line.decode("utf-8", "replace")
    if "," not in header:
        for delimiter, name in OTHER_DELIMITERS.items():
            if delimiter in header:
                raise InputError(f"input is {name}-separated, the orders contract needs commas: {path}")


def _scan_text(path: Path) -> bool:
    """Fail with one line naming the problem when a file is not complete UTF-8 CSV text; return whether a record
    of it may run on past a line break."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    quotes, line_breaks = _check_utf8(path, head)
    if quotes % 2:
        _check_quotes_close(path)
    _check_last_line(path)
    return line_breaks.spans


class _LineBreaks:
    """Whether a record of a file, fed chunk by chunk, may run on past a line break (`spans`).

    Two things tell: a line (ended by LF) holding an odd number of quote characters, which a line break inside a
    quoted field always leaves; and a carriage return that is not part of a CRLF, where Spark's line reader would
    end a line that its multi-line reader (and the contract: LF or CRLF line ends) keeps as part of the field. For
    the quotes only the quotes and LFs of each chunk are kept, and two quotes in a row cancel: what is left of a
    line is one quote when its number was odd, nothing when even. Everything runs in C (count, translate,
    replace): a chunk of 16 MiB with 24 quotes per line takes ~20 ms, one without quotes or CRs well under 1 ms.
    """

    def __init__(self) -> None:
        self.spans = False
        self._last_line = b""  # what is left of the line that runs on into the next chunk
        self._ends_with_cr = False  # the previous chunk's last byte was a CR (its LF may start this chunk)

    def feed(self, chunk: bytes) -> None:
        if self.spans:
            return
        self.spans = self._bare_cr(chunk) or self._odd_quotes(chunk)

    def _bare_cr(self, chunk: bytes) -> bool:
        if self._ends_with_cr and not chunk.startswith(b"\n"):
            return True
        self._ends_with_cr = chunk.endswith(b"\r")
        carriage_returns = chunk.count(b"\r")
        return carriage_returns > 0 and carriage_returns - self._ends_with_cr > chunk.count(b"\r\n")

    def _odd_quotes(self, chunk: bytes) -> bool:
        if not self._last_line and b'"' not in chunk:
            return False
        left = (self._last_line + chunk.translate(None, NOT_QUOTE_OR_LF)).replace(b'""', b"")
        end = left.rfind(b"\n") + 1
        self._last_line = left[end:]  # a file's last line (no LF after it) cannot run on
        return b'"' in left[:end]


def _check_utf8(path: Path, head: bytes) -> tuple[int, _LineBreaks]:
    """Fail at the first byte that is not UTF-8; return the number of quote characters in the file, and whether a
    record may run on past a line break."""
    quotes, offset, carry = 0, 0, b""
    line_breaks = _LineBreaks()
    with path.open("rb") as handle:
        while chunk := handle.read(SCAN_CHUNK_BYTES):
            quotes += chunk.count(b'"')
            line_breaks.feed(chunk)
            data = carry + chunk if carry else chunk
            carry = b""
            if not data.isascii():
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if exc.reason != "unexpected end of data":
                        raise _not_utf8(path, head, offset + exc.start, data[exc.start]) from None
                    carry = data[exc.start :]  # a character split across two chunks
            offset += len(data) - len(carry)
    if carry:
        raise _not_utf8(path, head, offset, carry[0])
    return quotes, line_breaks


def _not_utf8(path: Path, head: bytes, offset: int, byte: int) -> InputError:
    """The error for a byte that is not UTF-8: binary data, or text in a legacy encoding."""
    if b"\0" in head:
        return InputError(NOT_TEXT.format(path=path))
    return InputError(
        f"input is not UTF-8: byte 0x{byte:02X} on line {_line_at(path, offset)} "
        f"(a Latin-1 or Windows-1252 export? save it as UTF-8): {path}"
    )


def _line_at(path: Path, offset: int) -> int:
    """The 1-based line number of a byte offset."""
    lines, done = 1, 0
    with path.open("rb") as handle:
        while done < offset and (chunk := handle.read(min(SCAN_CHUNK_BYTES, offset - done))):
            lines += chunk.count(b"\n")
            done += len(chunk)
    return lines


def _check_quotes_close(path: Path) -> None:
    """Fail when a quoted field is still open at the end of the file (it would swallow every row after it)."""
    limit = csv.field_size_limit(sys.maxsize)  # the open field runs to the end of the file
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            record_start = 1
            while True:
                try:
                    next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if str(exc).startswith("unexpected end of data"):
                        raise InputError(
                            f"input has an unbalanced quote: the quoted field opened on line {record_start} "
                            f"never closes and would swallow the rest of the file: {path}"
                        ) from None
                record_start = reader.line_num + 1
    finally:
        csv.field_size_limit(limit)


def _check_last_line(path: Path) -> None:
    """Fail when the last line has no line break and too few fields: the file was cut off."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - SAMPLE_BYTES))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")) or (b"\n" not in tail and size > len(tail)):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    if last.count(b'"') % 2:
        return  # the end of a quoted field that started on an earlier line: not judged from the tail
    try:
        fields = next(csv.reader([last.decode("utf-8")]))
    except csv.Error:
        return
    if len(fields) < len(COLUMNS):
        raise InputError(
            f"input looks truncated: its last line has {len(fields)} of {len(COLUMNS)} fields and no line break: {path}"
        )


def input_fingerprint(path: str) -> Fingerprint | None:
    """Name, size and modification time of every local input file, to notice one changing under a run."""
    local = local_path(path)
    if local is None:
        return None
    found = []
    try:
        for file in _data_files(local):
            status = file.stat()
            found.append((str(file), status.st_size, status.st_mtime_ns))
    except OSError:  # gone, or no longer readable: that is a change too
        return ()
    return tuple(found)


def check_unchanged(path: str, fingerprint: Fingerprint | None) -> None:
    """Fail when an input file changed since the run started reading it (the data read may be a mix)."""
    if input_fingerprint(path) != fingerprint:
        raise InputError(f"input file changed while it was being read: {path}")

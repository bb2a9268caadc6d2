"""Strict CSV records with their line numbers: one reader for training and predict input.

The file is read as bytes and decoded line by line, so a byte that is not UTF-8 is
reported with its line number (a text stream would report it at the start of its buffer).
A UTF-8 byte order mark is removed. Every record keeps the line it starts on, so messages
name the right line even after a quoted newline or a blank line.

Rules, the same for every CSV molprop reads:

- leading blank lines are skipped; the first record is the header;
- an empty header name becomes ``Unnamed: <i>`` (as pandas names an index column);
  a name that appears twice is an error (pandas would silently rename it ``x.1``);
- a record with more or fewer fields than the header is an error naming its line;
- a blank line after the header is reported as a record with no fields; the caller
  decides whether it is a row (predict: every input line is a row) or is dropped;
- a NUL byte or an unterminated quote is an error naming its line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from molprop.exceptions import InputError

BOM = b"\xef\xbb\xbf"


def decode_line(raw: bytes, line: int, source: str) -> str:
    """Decode one line as UTF-8; ``InputError`` naming the line and the bad bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 4]
        raise InputError(
            f"{source}, line {line}: bytes {bad!r} are not UTF-8 ({exc.reason}); expected a "
            "UTF-8 text file (re-save it as UTF-8)"
        ) from None


def check_utf8(path: str | Path, source: str) -> None:
    """Raise ``InputError`` naming the first line of ``path`` that is not UTF-8."""
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            decode_line(raw, line, source)


class CsvRecords:
    """The records of one CSV file, read lazily in file order.

    Args:
        path: The CSV file.
        source: How messages name the file, e.g. ``Input file 'x.csv'``.

    Attributes:
        header: Column names (after the rules of the module docstring).
        header_line: 1-based line number of the header.
    """

    def __init__(self, path: str | Path, source: str):
        self.path = Path(path)
        self.source = source
        self._line = 0  # lines handed to the csv parser so far
        self._handle = open(self.path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        self._reader = csv.reader(self._lines(), strict=True)
        self.header, self.header_line = self._read_header()

    def __enter__(self) -> CsvRecords:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def _lines(self) -> Iterator[str]:
        # bytes.splitlines also ends a line at a lone "\r" (files with old Mac line ends)
        for raw in (part for chunk in self._handle for part in chunk.splitlines(True)):
            self._line += 1
            if self._line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if b"\x00" in raw:
                raise InputError(
                    f"{self.source}, line {self._line}: contains a NUL byte; expected a text "
                    "CSV file (is this a binary or UTF-16 file?)"
                )
            yield decode_line(raw, self._line, self.source)

    def _next(self) -> tuple[int, list[str]] | None:
        """Return the next record and the line it starts on; ``None`` at the end of the file."""
        start = self._line + 1
        try:
            fields = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise InputError(
                f"{self.source}, line {start}: not a readable CSV record ({exc}); expected "
                "comma-separated fields with balanced double quotes"
            ) from None
        return start, fields

    def _read_header(self) -> tuple[list[str], int]:
        record = self._next()
        while record is not None and not record[1]:
            record = self._next()
        if record is None:
            raise InputError(
                f"{self.source} has no header row (the file is blank); expected a CSV file with "
                "a header row and one row per molecule"
            )
        line, fields = record
        names = [name if name else f"Unnamed: {i}" for i, name in enumerate(fields)]
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                raise InputError(
                    f"{self.source}, line {line}: column name '{name}' appears twice in the "
                    f"header (columns {seen[name] + 1} and {i + 1}); expected unique column names"
                )
            seen[name] = i
        return names, line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line, fields)`` per record after the header; ``fields == []`` when blank.

        Raises:
            InputError: For a record whose field count differs from the header's.
        """
        width = len(self.header)
        while (record := self._next()) is not None:
            line, fields = record
            if fields and len(fields) != width:
                raise InputError(
                    f"{self.source}, line {line}: the row has {len(fields)} fields; expected "
                    f"{width} like the header {self.header} (quote a field that contains a comma)"
                )
            yield line, fields

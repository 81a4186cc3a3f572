"""Reading a command's input files: raw bytes first (hashed, kept), then the table.

A command is all or nothing: every input is read before anything is recorded, and if any file is
refused the command records nothing (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from premium_debit.errors import InputRefused
from premium_debit.formats.tabular import (
    DUE_COLUMNS,
    PAID_COLUMNS,
    REGISTRY_COLUMNS,
    Column,
    read_table,
)
from premium_debit.workspace import read_bytes, sha256_bytes

COLUMNS: dict[str, tuple[Column, ...]] = {
    "due": DUE_COLUMNS,
    "registry": REGISTRY_COLUMNS,
    "paid": PAID_COLUMNS,
}


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str
    data: bytes
    sha256: str
    frame: pl.DataFrame  # the table, plus source_file and file_sha256 columns

    @property
    def name(self) -> str:
        return self.path.name


def read_input(path: Path, kind: str, *, data: bytes | None = None) -> InputFile:
    if data is None:
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            raise InputRefused(path, "file not found") from None
        except IsADirectoryError:
            raise InputRefused(path, "is a folder, not a file") from None
    sha = sha256_bytes(data)
    frame = read_table(path, COLUMNS[kind], data=data).with_columns(
        source_file=pl.lit(path.name), file_sha256=pl.lit(sha)
    )
    return InputFile(path=path, kind=kind, data=data, sha256=sha, frame=frame)


def read_inputs(specs: Sequence[tuple[Path, str]]) -> list[InputFile]:
    """Read every input; if any is refused, raise for the first after trying them all so the
    message can say how many were refused."""
    files: list[InputFile] = []
    refused: list[InputRefused] = []
    for path, kind in specs:
        try:
            files.append(read_input(path, kind))
        except InputRefused as exc:
            refused.append(exc)
    if refused:
        first = refused[0]
        if len(refused) > 1:
            first = InputRefused(
                first.file,
                f"{first.problem} (and {len(refused) - 1} more refused: "
                + ", ".join(Path(r.file).name for r in refused[1:])
                + ")",
                line=first.line,
                field=first.field,
            )
        raise first
    return files


def concat_frames(files: Sequence[InputFile], kind: str) -> pl.DataFrame:
    frames = [f.frame for f in files if f.kind == kind]
    if not frames:
        names = [c.name for c in COLUMNS[kind]]
        return pl.DataFrame(
            schema={
                **dict.fromkeys(names, pl.String),
                "source_line": pl.Int64,
                "source_file": pl.String,
                "file_sha256": pl.String,
            }
        )
    return pl.concat(frames, how="vertical")

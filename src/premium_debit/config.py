"""Configuration of SPEC §10: pydantic models read from TOML.

Unknown keys are errors (a typo must not silently fall back to a default), and every error is
one line naming the file and the key, raised as ``ConfigError`` (exit 78).
"""

from __future__ import annotations

import codecs
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from premium_debit.errors import ConfigError
from premium_debit.model.money import parse_fen
from premium_debit.model.reasons import OUTCOME_CODES

DEFAULT_CONFIG_NAME = "premium-debit.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Campaign(_Strict):
    period: Annotated[int, Field(ge=1900, le=9999)]
    deadline: date
    agency: str = ""
    max_amount: str = "5000.00"

    @field_validator("max_amount")
    @classmethod
    def _amount_is_exact(cls, v: str) -> str:
        if parse_fen(v) is None:
            raise ValueError('must be a yuan amount with at most 2 decimals, e.g. "5000.00"')
        return v

    @property
    def max_amount_fen(self) -> int:
        fen = parse_fen(self.max_amount)
        assert fen is not None  # checked by the validator
        return fen


class Paths(_Strict):
    workdir: str = "var"


class Township(_Strict):
    name: Annotated[str, Field(min_length=1)]


class Categories(_Strict):
    names: Annotated[list[str], Field(min_length=1)]


_BANK_CODE = re.compile(r"^[A-Z0-9]{4}$")


class Bank(_Strict):
    code: str
    name: str = ""
    format: str = "pipe"
    encoding: str = "gb18030"
    max_records: Annotated[int, Field(gt=0)] = 50_000
    codes: dict[str, str] | None = None

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not _BANK_CODE.match(v):
            raise ValueError("must be 4 upper-case letters or digits")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}") from None
        return v

    @field_validator("codes")
    @classmethod
    def _outcomes_known(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            for code, outcome in v.items():
                if outcome not in OUTCOME_CODES:
                    raise ValueError(
                        f"code {code!r} maps to {outcome!r}, not one of {', '.join(OUTCOME_CODES)}"
                    )
        return v


class Retry(_Strict):
    max_attempts: Annotated[int, Field(ge=1)] = 3
    min_days_between: Annotated[int, Field(ge=0)] = 3


class Reconcile(_Strict):
    overdue_days: Annotated[int, Field(ge=0)] = 7


class Nightly(_Strict):
    # A file in the inbox is taken once it has a `<name>.done` marker, or once it has not changed
    # for this many seconds (a transfer still writing it is left for the next night).
    settle_seconds: Annotated[int, Field(ge=0)] = 60


class Report(_Strict):
    # Share of administrative failures (not activated, closed, not found, name mismatch) in a
    # township above which the report flags its registry data as suspect.
    admin_failure_threshold: Annotated[float, Field(ge=0, le=1)] = 0.05


class Config(_Strict):
    campaign: Campaign
    paths: Paths = Paths()
    townships: Annotated[list[Township], Field(min_length=1)]
    categories: Categories
    banks: Annotated[list[Bank], Field(min_length=1)]
    retry: Retry = Retry()
    reconcile: Reconcile = Reconcile()
    nightly: Nightly = Nightly()
    report: Report = Report()

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for label, names in (
            ("townships", [t.name for t in self.townships]),
            ("banks", [b.code for b in self.banks]),
            ("categories.names", list(self.categories.names)),
        ):
            seen: set[str] = set()
            for n in names:
                if n in seen:
                    raise ValueError(f"{label}: {n!r} is listed twice")
                seen.add(n)
        return self

    @property
    def base_dir(self) -> Path:
        """The configuration file's folder; relative paths are resolved against it."""
        return self._base_dir

    @property
    def workdir(self) -> Path:
        return (self._base_dir / self.paths.workdir).resolve()

    @property
    def township_names(self) -> list[str]:
        return [t.name for t in self.townships]

    def bank(self, code: str) -> Bank:
        for b in self.banks:
            if b.code == code:
                return b
        raise KeyError(code)

    def resolve_path(self, p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() else (self._base_dir / path)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_config(data: dict[str, Any], *, source: str, base_dir: Path) -> Config:
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {_loc(err['loc'])}: {msg}{more}") from None
    cfg._base_dir = base_dir.resolve()
    return cfg


def load_config(path: Path) -> Config:
    """Read and validate the TOML file at ``path``."""
    data = read_toml(
        path,
        what="configuration",
        missing="configuration not found (create one with `premium-debit init DIR`)",
    )
    return parse_config(data, source=str(path), base_dir=path.parent)


def read_toml(path: Path, *, what: str, missing: str) -> dict[str, Any]:
    """A TOML file as a dict; any problem is a one-line ``ConfigError`` naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {missing}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

"""The spec's ``data`` section: where the audit data are, the roles of their columns, the
built-in validations and Great Expectations expectations, and image or audio inputs.

Re-exported by :mod:`audits._spec`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from ._spec_base import LabelValue, _existing_file, _Strict
from ._spec_expectations import never_fails
from ._spec_rules import MIN_SHOWN, disclosed_minimum, not_boolean

__all__ = ["VALIDATION_KINDS", "DataSpec", "MediaSpec", "NamedExpectation"]


def _not_json(value: Any, where: str = "") -> tuple[str, Any] | None:
    """The first value (and where) in ``value`` that JSON cannot hold, or ``None``."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (where, value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_json(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (f"{where}.{key}".lstrip("."), key)
            found = _not_json(item, f"{where}.{key}".lstrip("."))
            if found is not None:
                return found
        return None
    return (where, value)


class NamedExpectation(_Strict):
    """Any Great Expectations expectation, by its snake_case name, with its arguments."""

    expectation: Annotated[str, Field(pattern=r"^expect_[a-z0-9_]+$")]
    kwargs: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["error", "warning"] = "error"

    @field_validator("kwargs")
    @classmethod
    def _json_values(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments are written into the evidence as JSON: a YAML date or time is refused
        (quoted, it is text) rather than end the audit unable to write its results."""
        odd = _not_json(kwargs)
        if odd is not None:
            where, value = odd
            raise ValueError(
                "must hold JSON values (text, numbers, true/false, null, lists and mappings). "
                f"Got {type(value).__name__} {str(value)!r} at {where!r} instead; quote it."
            )
        return kwargs

    @field_validator("kwargs")
    @classmethod
    def _can_fail(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """An expectation that no data could fail blocks nothing (see
        :mod:`audits._spec_expectations`)."""
        why = never_fails(info.data.get("expectation") or "", kwargs)
        if why is not None:
            raise ValueError(why)
        return kwargs


VALIDATION_KINDS = (
    "columns",
    "label_values",
    "decision_values",
    "sensitive_missing",
    "ranges",
    "unique_id",
    "group_share",
)


class MediaSpec(_Strict):
    """The data are a manifest whose ``column`` names image or audio files.

    The paths in ``column`` resolve against the manifest's folder (absolute paths stay as
    they are). Conversions the model's input needs are made and counted (the report lists
    them); ``resize``, ``downmix`` and ``cut`` set to false refuse a file that would need one.
    """

    column: str
    kind: Literal["image", "audio"]
    #: Images: [height, width] (grey levels in [0, 1]); audio: [samples].
    shape: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=2)]
    sample_rate: Annotated[int, Field(gt=0)] | None = None
    batch_size: Annotated[int, Field(ge=1)] = 256
    #: Images of another size are resized to ``shape`` (false: refused).
    resize: bool = True
    #: Stereo audio is averaged to mono (false: refused).
    downmix: bool = True
    #: Clips longer than ``shape`` are cut (false: refused).
    cut: bool = True

    @model_validator(mode="after")
    def _per_kind(self) -> MediaSpec:
        if self.kind == "audio" and self.sample_rate is None:
            raise ValueError("data.media.sample_rate is required for audio. Got none.")
        want = 2 if self.kind == "image" else 1
        if len(self.shape) != want:
            expected = "[height, width]" if self.kind == "image" else "[samples]"
            raise ValueError(
                f"data.media.shape must be {expected} for {self.kind} data. "
                f"Got {self.shape} instead."
            )
        return self


class DataSpec(_Strict):
    """The audit data and its roles."""

    #: A .csv or .parquet file, or a folder of Parquet files (a hive dataset; on Spark, also
    #: a folder of CSV part files).
    path: str | None = None
    label: str
    #: Must be among the label's values (exit 2 at the data stage, 4 against label_values).
    positive_label: LabelValue = 1
    #: What the positive outcome means, in words the report uses ("an alarm is raised").
    positive_meaning: Annotated[str, Field(min_length=3, max_length=120)] | None = None
    #: What one row is: the report counts rows in these units ("200 clips").
    unit: Literal["person", "image", "clip", "call"] = "person"
    sensitive: Annotated[list[str], Field(min_length=1)]
    #: Columns that encode a protected attribute directly (default: ``sensitive``); the
    #: explainability checks treat attribution to them as direct use.
    protected_features: list[str] | None = None
    #: Rows a group needs to be judged: at least 11, the smallest count a report shows.
    min_group_size: Annotated[
        int,
        Field(json_schema_extra={"minimum": MIN_SHOWN}),  # the message says why
        disclosed_minimum("a group judged by the verdict with fewer rows"),
        BeforeValidator(not_boolean),
    ] = 30
    #: Cases a rate's denominator needs (the favourable or unfavourable outcomes of a group,
    #: for a true positive rate its positives): at least 11, like ``min_group_size``.
    min_denominator: Annotated[
        int,
        Field(json_schema_extra={"minimum": MIN_SHOWN}),  # the message says why
        disclosed_minimum("a rate judged by the verdict with fewer cases in its denominator"),
        BeforeValidator(not_boolean),
    ] = MIN_SHOWN
    exclude: list[str] = Field(default_factory=list)
    #: The declared values of the label (and, for decision logs, of the decisions).
    label_values: list[LabelValue] | None = None
    #: ``error``: a missing sensitive value stops the audit; ``unknown``: it is its own group.
    missing_sensitive: Literal["error", "unknown"] = "error"
    #: Declared numeric ranges, ``column: [min, max]`` (either may be null).
    ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    id_column: str | None = None
    #: The data are synthetic (generated), not records of real people: the report says so.
    synthetic: bool = False
    #: Image or audio inputs named by the manifest (instead of table columns).
    media: MediaSpec | None = None
    #: Rows that are not independent (e.g. clips of one speaker): the report says so, and
    #: names groups with one or two clusters, where group and cluster cannot be told apart.
    cluster_column: str | None = None
    #: Every group of every sensitive attribute must hold at least this share of the rows.
    min_group_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    expectations: list[NamedExpectation] = Field(default_factory=list)
    #: Built-in validations whose failure only warns (see the README for their names).
    warn_only: list[Literal[VALIDATION_KINDS]] = Field(default_factory=list)  # type: ignore[valid-type]
    #: Where the audit runs: on this machine (``local``) or on Apache Spark (``spark``).
    engine: Literal["local", "spark"] = "local"
    #: A catalog table (``db.decisions``) instead of ``path`` (``engine: spark`` only).
    table: Annotated[str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}$")] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.table is None):
            got = "both" if self.path else "neither"
            raise ValueError(f"data needs exactly one of path and table. Got {got}.")
        if self.table is not None and self.engine != "spark":
            raise ValueError(
                "data.table names a catalog table, which only Spark reads: it needs "
                f"data.engine: spark. Got engine {self.engine!r} instead."
            )
        if self.media is not None and self.engine == "spark":
            raise ValueError(
                "data.media (image or audio files) is audited on one machine: it needs "
                "data.engine: local. Got engine 'spark' instead."
            )
        return self

    @field_validator("sensitive")
    @classmethod
    def _plain_names(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if "|" in c or "=" in c]
        if bad:
            raise ValueError(
                "data.sensitive must name columns without '|' or '=' (they join group keys "
                f"such as 'sex=female|age_band=<25'); rename the columns. Got {bad!r} instead."
            )
        return v

    @field_validator("path")
    @classmethod
    def _path_exists(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if Path(v).expanduser().is_dir():  # a folder of Parquet files, a hive dataset
            return v
        if not v.lower().endswith((".csv", ".parquet", ".pq")):
            raise ValueError(
                "data.path must be a .csv or .parquet file, or a folder of Parquet files. "
                f"Got {v!r} instead."
            )
        return _existing_file(v, "data.path")

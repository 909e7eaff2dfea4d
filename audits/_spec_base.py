"""The spec's shared base: :class:`SpecError`, the strict pydantic base of every spec model
(unknown keys and non-finite numbers refused), the check that a named file exists, and the
label value types.

Re-exported by :mod:`audits._spec`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LabelValue", "ProbaClasses", "SpecError"]


class SpecError(ValueError):
    """An invalid audit spec; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid audit spec:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    #: NaN and infinite numbers are refused everywhere (a NaN bound compares false with all).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _existing_file(value: str, field: str) -> str:
    if not Path(value).expanduser().is_file():
        raise ValueError(
            f"{field} must be an existing file (relative paths are resolved against the working "
            f"directory {Path.cwd()}). Got {value!r} instead."
        )
    return value


#: A value of the label (or a decision code) as the data hold it.
LabelValue = int | float | str | bool
#: The classes of ``predict_proba``'s columns, in order, when the model does not say them.
ProbaClasses = Annotated[list[LabelValue], Field(min_length=2)]

"""Rules a spec must meet beyond its types: thresholds within their metric's range and
meaning, and label fields that agree with each other.

Each rule returns readable problems (``"checks[0].min must be ..."``); the spec model turns
them into a :class:`~audits.SpecError` (exit code 4). Values are compared with
:func:`same_value`, which never takes ``'1'`` for ``1`` nor ``True`` for ``1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "MIN_SHOWN",
    "describe_values",
    "disclosed_minimum",
    "label_problems",
    "not_boolean",
    "same_value",
    "threshold_problems",
    "type_hint",
]

#: Check type (or disparity kind) → (lowest, highest, what the value is, whether 'min' means
#: anything).
_RANGES: dict[str, tuple[float, float, str, bool]] = {
    "ratio": (0.0, 1.0, "a ratio disparity is the lowest group's value over the highest's", True),
    "difference": (
        0.0,
        1.0,
        "a difference disparity is the highest group's value minus the lowest's",
        False,
    ),
    "robustness": (
        0.0,
        2.0,
        "the robustness disparity is the largest accuracy drop minus the smallest",
        False,
    ),
    "sensitive_attribution": (0.0, 1.0, "it is a share of the model's attributions", True),
    "proxy_attribution": (0.0, 1.0, "it is a share of the model's attributions", True),
    "reason_codes": (0.0, 1.0, "it is a share of adverse decisions", True),
    "explanation_stability": (-1.0, 1.0, "it is a Kendall rank correlation", True),
}

#: The smallest count of people a report shows (``reports.MIN_CELL``, the disclosure rule;
#: a test ties the two): a minimum group size below it would let the verdict judge a group no
#: report could show the committee.
MIN_SHOWN = 11

_YAML11_BOOLS = ("yes", "no", "on", "off", "y", "n")


def not_boolean(value: Any) -> Any:
    """``value``, refused when it is a boolean (a number field would take ``true`` for 1)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not a boolean. Got {value!r} instead.")
    return value


def disclosed_minimum(what: str) -> Any:
    """A validator refusing a minimum count under :data:`MIN_SHOWN`; ``what`` is what it
    counts (for the message). Place it after the Field in ``Annotated``."""
    from pydantic import AfterValidator

    def check(value: int) -> int:
        if value < MIN_SHOWN:
            raise ValueError(
                f"must be at least {MIN_SHOWN}: the disclosure rule hides every count under "
                f"{MIN_SHOWN}, so {what} could not be shown to the committee. Got {value} "
                "instead."
            )
        return value

    return AfterValidator(check)


def _number(x: float) -> str:
    return f"{x:g}"


def threshold_problems(checks: Sequence[Any]) -> list[str]:
    """Bounds outside the range of their check's value, a ``min`` on a gap, ``min > max``,
    and bounds every value of the range meets (a check that cannot fail)."""
    problems = []
    for i, check in enumerate(checks):
        key = getattr(check, "disparity", None) if check.type.endswith("_metric") else check.type
        if key not in _RANGES:
            continue
        low, high, what, min_allowed = _RANGES[key]
        if check.min is not None and not min_allowed:
            problems.append(
                f"checks[{i}].min is meaningless here: {what}, which is never negative, so a "
                "minimum only restates that. Bound the largest gap allowed with 'max' "
                f"instead. Got min: {_number(check.min)} instead."
            )
        for side in ("min", "max"):
            value = getattr(check, side)
            if value is None or (side == "min" and not min_allowed):
                continue
            if not low <= value <= high:
                problems.append(
                    f"checks[{i}].{side} must be within [{_number(low)}, {_number(high)}]: "
                    f"{what}. Got {_number(value)} instead."
                )
        loose = [
            (side, value)
            for side, value in (("min", check.min), ("max", check.max))
            if value is not None and (side == "max" or min_allowed)
        ]
        if loose and all(
            (value <= low if side == "min" else value >= high) for side, value in loose
        ):
            bounds = ", ".join(f"{side}: {_number(value)}" for side, value in loose)
            problems.append(
                f"checks[{i}] lets every value pass ({what}, always within [{_number(low)}, "
                f"{_number(high)}]): a check that cannot fail blocks nothing. Set a bound that "
                f"some value could break. Got {bounds} instead."
            )
        if (
            check.min is not None
            and check.max is not None
            and check.min > check.max
            and (min_allowed)
        ):
            problems.append(
                f"checks[{i}].min ({_number(check.min)}) is greater than checks[{i}].max "
                f"({_number(check.max)}): no value could pass."
            )
    return problems


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind: numbers with numbers, text with text, booleans alone."""
    if hasattr(a, "item"):
        a = a.item()
    if hasattr(b, "item"):
        b = b.item()
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def describe_values(values: Iterable[Any]) -> str:
    """``['<=50K', '>50K'] (text)``: the values and their kinds, sorted."""
    values = [v.item() if hasattr(v, "item") else v for v in values]
    kinds = sorted({_kind(v) for v in values})
    return f"{sorted(values, key=repr)!r} ({', '.join(kinds) or 'none'})"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def type_hint(value: Any, values: Iterable[Any]) -> str:
    """A hint when ``value`` matches one of ``values`` once written as the other kind."""
    values = [v.item() if hasattr(v, "item") else v for v in values]
    text = str(value).lower()
    for v in values:
        if str(v).lower() == text or (isinstance(v, bool) and text in _YAML11_BOOLS):
            return (
                f" The types differ: {value!r} ({_kind(value)}) vs {v!r} ({_kind(v)}); write "
                "the value as the data hold it (quote text, e.g. '1'; write booleans as "
                "true/false)."
            )
    return ""


def label_problems(data: Any, model: Any) -> list[str]:
    """The decision column is not the label; positive label and decision codes are labels."""
    problems = []
    column = getattr(model, "column", None)
    if column is not None and column == data.label:
        problems.append(
            f"model.column names the label column {column!r} (data.label): the decisions "
            "would be the outcomes themselves and every check would pass. Name the column "
            "that holds the system's decisions."
        )
    score_column = getattr(model, "score_column", None)
    if score_column is not None and score_column in (data.label, column):
        problems.append(
            f"model.score_column names {score_column!r}, which is the label or decision "
            "column: name the column holding the system's scores."
        )
    explicit = "positive_label" in data.model_fields_set
    if data.label_values is not None:
        declared = list(data.label_values)
        binary = len(declared) <= 2
        if (binary or explicit) and not any(same_value(data.positive_label, v) for v in declared):
            problems.append(
                f"data.positive_label {data.positive_label!r} is not among data.label_values "
                f"{describe_values(declared)}: the favourable outcome must be one of the "
                f"label's values.{type_hint(data.positive_label, declared)}"
            )
        mapping = getattr(model, "decision_values", None) or {}
        unknown = [v for v in mapping.values() if not any(same_value(v, d) for d in declared)]
        if unknown:
            problems.append(
                f"model.decision_values maps decision codes to {describe_values(unknown)}, "
                f"which are not among data.label_values {describe_values(declared)}."
            )
    return problems

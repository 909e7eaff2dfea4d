"""Spec models of the gaming and recourse checks: ``manipulability``, ``counterfactual_flip``
and ``recourse`` (tabular models only).

Immutable columns (the sensitive attributes, ``data.protected_features`` and a check's own
``immutable`` list) are never changed by a search: a spec that declares one of them
manipulable or actionable is refused (:func:`gaming_problems`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ._spec_rules import not_boolean

__all__ = [
    "GAMING_TYPES",
    "ActionableFeature",
    "CounterfactualFlipCheck",
    "ManipulabilityCheck",
    "ManipulableFeature",
    "RecourseCheck",
    "gaming_problems",
]

GAMING_TYPES = ("manipulability", "counterfactual_flip", "recourse")

Share = Annotated[float, Field(ge=0.0, le=1.0), BeforeValidator(not_boolean)]
Value = int | float | str | bool


class _Strict(BaseModel):
    #: As every spec model: unknown keys, NaN and infinite numbers refused.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Settable(_Strict):
    """The values a feature can be set to: a list, or a ``[low, high]`` range (a seeded grid
    of ``grid`` points, every integer when the column is an integer one with few values)."""

    values: Annotated[list[Value], Field(min_length=1)] | None = None
    range: tuple[float, float] | None = None
    grid: Annotated[int, Field(ge=2, le=100)] = 8

    @model_validator(mode="after")
    def _one_way(self) -> _Settable:
        if (self.values is None) == (self.range is None):
            raise ValueError(
                "a feature needs either 'values' or 'range' (not both). Got "
                f"{'both' if self.values is not None else 'neither'} instead."
            )
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(
                f"range must be [low, high] with low <= high. Got {list(self.range)} instead."
            )
        return self


class ManipulableFeature(_Settable):
    """A feature an applicant controls that should not move the decision."""


class ActionableFeature(_Settable):
    """A feature a refused person can change: which way, and at what cost per unit.

    With ``values`` the values are ordered levels, lowest first, and the cost is per level.
    """

    direction: Literal["up", "down", "any"]
    cost: Annotated[float, Field(gt=0), BeforeValidator(not_boolean)]


class _GamingCheck(_Strict):
    name: str | None = None
    source: str = ""
    views: list[str] | None = None
    decide_on: Literal["estimate", "interval"] = "estimate"
    #: Largest gap allowed between the groups' shares (highest minus lowest).
    max_disparity: Share | None = None

    @property
    def min(self) -> float | None:
        return getattr(self, "min_share", None)

    @property
    def max(self) -> float | None:
        return getattr(self, "max_share", None)


class ManipulabilityCheck(_GamingCheck):
    """Share of adverse decisions that changes to favourable by gaming manipulable features."""

    type: Literal["manipulability"]
    manipulable_features: Annotated[dict[str, ManipulableFeature], Field(min_length=1)]
    max_changes: Annotated[int, Field(ge=1, le=3)] = 1
    immutable: list[str] = Field(default_factory=list)
    max_share: Share | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> ManipulabilityCheck:
        if self.max_share is None and self.max_disparity is None:
            raise ValueError("a check needs a bound: 'max_share', 'max_disparity' or both.")
        return self


class CounterfactualFlipCheck(_GamingCheck):
    """Share of decisions that change when the protected attribute (and its proxies) take
    another group's value."""

    type: Literal["counterfactual_flip"]
    attribute: str
    #: Columns set to the other group's typical value along with the attribute.
    proxies: list[str] = Field(default_factory=list)
    max_share: Share | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> CounterfactualFlipCheck:
        if self.max_share is None and self.max_disparity is None:
            raise ValueError("a check needs a bound: 'max_share', 'max_disparity' or both.")
        return self


class RecourseCheck(_GamingCheck):
    """Share of refused people with recourse within ``max_cost``, its gap across groups, and
    the gap of the groups' median costs."""

    type: Literal["recourse"]
    actionable_features: Annotated[dict[str, ActionableFeature], Field(min_length=1)]
    max_cost: Annotated[float, Field(gt=0), BeforeValidator(not_boolean)]
    max_changes: Annotated[int, Field(ge=1, le=3)] = 2
    immutable: list[str] = Field(default_factory=list)
    min_share: Share | None = None
    #: Largest gap allowed between the groups' median recourse costs.
    max_cost_gap: Annotated[float, Field(ge=0), BeforeValidator(not_boolean)] | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> RecourseCheck:
        if self.min_share is None and self.max_disparity is None and self.max_cost_gap is None:
            raise ValueError(
                "a check needs a bound: 'min_share', 'max_disparity', 'max_cost_gap' or more."
            )
        return self


def _changed(check: Any) -> dict[str, Any]:
    if isinstance(check, ManipulabilityCheck):
        return dict(check.manipulable_features)
    if isinstance(check, RecourseCheck):
        return dict(check.actionable_features)
    return {}


def gaming_problems(spec: Any) -> list[str]:
    """Problems a gaming check has with the rest of the spec (empty when none).

    An immutable column declared manipulable or actionable, a feature that is the label, a
    counterfactual attribute that is not sensitive, a proxy that is the label.
    """
    problems = []
    sensitive = list(spec.data.sensitive)
    protected = list(spec.data.protected_features or [])
    for i, check in enumerate(spec.checks):
        if check.type not in GAMING_TYPES:
            continue
        immutable = {*sensitive, *protected, *getattr(check, "immutable", [])}
        key = "manipulable_features" if check.type == "manipulability" else "actionable_features"
        for feature in _changed(check):
            if feature in immutable:
                problems.append(
                    f"checks[{i}].{key} must not name an immutable column (a sensitive "
                    "attribute, a protected feature or one declared immutable): it is never "
                    f"changed. Got {feature!r} instead."
                )
            if feature == spec.data.label:
                problems.append(
                    f"checks[{i}].{key} must name features, not the label. Got {feature!r} instead."
                )
        if isinstance(check, CounterfactualFlipCheck):
            if check.attribute not in sensitive:
                problems.append(
                    f"checks[{i}].attribute must be one of data.sensitive {sensitive}. Got "
                    f"{check.attribute!r} instead."
                )
            if spec.data.label in check.proxies or check.attribute in check.proxies:
                problems.append(
                    f"checks[{i}].proxies must name features other than the label and the "
                    f"attribute. Got {check.proxies!r} instead."
                )
        problems += _loose_bounds(i, check)
    return problems


def _loose_bounds(i: int, check: Any) -> list[str]:
    """A gaming check whose every bound is met by any share (``max_share: 1``,
    ``max_disparity: 1``, ``min_share: 0``, and no cost gap): it cannot fail."""
    edges = {"max_share": 1.0, "max_disparity": 1.0, "min_share": 0.0}
    given = {k: getattr(check, k, None) for k in (*edges, "max_cost_gap")}
    given = {k: v for k, v in given.items() if v is not None}
    if not given or "max_cost_gap" in given:
        return []
    if all(v >= edges[k] if k.startswith("max") else v <= edges[k] for k, v in given.items()):
        bounds = ", ".join(f"{k}: {v:g}" for k, v in given.items())
        return [
            f"checks[{i}] lets every share pass (a share is always within [0, 1]): a check "
            f"that cannot fail blocks nothing. Got {bounds} instead."
        ]
    return []

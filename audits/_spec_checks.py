"""The spec's ``checks``: their thresholds, the metric, explainability and robustness
checks, the explanation settings, and the union of every check type (tagged by ``type``),
with the policy checks of :mod:`audits._spec_policy` and the gaming checks of
:mod:`audits._gaming_spec`.

Re-exported by :mod:`audits._spec`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationError, model_validator

from metrics import EQUALIZED_ODDS, RATES, SCORE_METRICS
from metrics._rates import _ALIASES
from models_under_test import PERTURBATION_PARAMS

from ._gaming_spec import (
    GAMING_TYPES,
    CounterfactualFlipCheck,
    ManipulabilityCheck,
    RecourseCheck,
)
from ._spec_base import _Strict
from ._spec_policy import (
    ClauseRef,
    GroupExclusion,
    ImpactRatioCheck,
    ProhibitedUseCheck,
    RequirementCheck,
)
from ._spec_rules import not_boolean

__all__ = [
    "CHECK_TYPES",
    "Check",
    "ExplainSettings",
    "ExplanationStabilityCheck",
    "GroupMetricCheck",
    "ProxyAttributionCheck",
    "ReasonCodesCheck",
    "RobustnessCheck",
    "ScoreMetricCheck",
    "SensitiveAttributionCheck",
]

_RATE_NAMES = (*RATES, *_ALIASES, EQUALIZED_ODDS)


#: A bound is a number: ``true`` is not taken for 1 (nor ``false`` for 0).
Bound = Annotated[float, BeforeValidator(not_boolean)]


class _Bounds(_Strict):
    min: Bound | None = None
    max: Bound | None = None
    source: str = ""
    name: str | None = None
    decide_on: Literal["estimate", "interval"] = "estimate"
    #: The policy clause the check implements (set by the policy, refused in a spec).
    clause: ClauseRef | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> _Bounds:
        if self.min is None and self.max is None:
            raise ValueError("a check needs a threshold: 'min', 'max' or both. Got neither.")
        return self


class _Threshold(_Bounds):
    views: list[str] | None = None


class SensitiveAttributionCheck(_Bounds):
    """Share of the model's mean |SHAP| carried by the protected features (direct use)."""

    type: Literal["sensitive_attribution"]


class ProxyAttributionCheck(_Bounds):
    """Share of the model's mean |SHAP| carried by strong proxies of a sensitive attribute."""

    type: Literal["proxy_attribution"]
    strength_bound: Annotated[float, Field(gt=0.5, le=1.0), BeforeValidator(not_boolean)] = 0.7


class ReasonCodesCheck(_Bounds):
    """Share of adverse decisions with ``k`` valid, non-protected reasons."""

    type: Literal["reason_codes"]
    k: Annotated[int, Field(ge=1, le=10)] = 3
    per_person: bool = False


class ExplanationStabilityCheck(_Bounds):
    """Rank agreement of global importance across row resamples and background samples."""

    type: Literal["explanation_stability"]
    resamples: Annotated[int, Field(ge=20, le=2000)] = 200


class RobustnessCheck(_Threshold):
    """Per group, the drop in accuracy when the inputs are perturbed, and its disparity."""

    type: Literal["robustness"]
    perturbation: Literal[
        "brightness", "contrast", "blur", "occlusion", "noise", "telephone", "speed"
    ]
    params: dict[str, float | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params_by_name(self) -> RobustnessCheck:
        model = PERTURBATION_PARAMS[self.perturbation]
        try:
            model.model_validate(self.params)
        except ValidationError as err:
            known = ", ".join(model.model_fields)
            problems = []
            for e in err.errors():
                key = ".".join(["params", *map(str, e["loc"])])
                if e["type"] == "extra_forbidden":
                    problems.append(
                        f"{key} is not a setting of {self.perturbation} (its settings: {known})"
                    )
                else:
                    msg = e["msg"].removeprefix("Value error, ")
                    msg = msg.replace("Input should be", "must be")
                    problems.append(
                        f"{key} of {self.perturbation}: {msg}"
                        + ("" if msg.endswith(".") else f". Got {e.get('input')!r} instead.")
                    )
            raise ValueError("; ".join(problems)) from None
        return self


class ExplainSettings(_Strict):
    """How explanations are computed (shared by every explainability check)."""

    rows: Annotated[int, Field(ge=10)] = 1000
    background: Annotated[int, Field(ge=10)] = 100
    method: Literal["auto", "tree", "permutation"] = "auto"
    max_evals: Annotated[int, Field(ge=3)] | None = None
    time_budget_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0


class GroupMetricCheck(_Threshold):
    """A disparity of a group rate computed from the confusion counts."""

    type: Literal["group_metric"] = "group_metric"
    metric: Literal[_RATE_NAMES]  # type: ignore[valid-type]
    disparity: Literal["ratio", "difference"]
    reference: str | None = None
    exclude_groups: list[GroupExclusion] = Field(default_factory=list)
    klass: str | int | None = Field(default=None, alias="class")
    #: Holm's correction of the per-group p-values: within each view (``view``), or over the
    #: comparisons of every view of this check at once (``check``).
    family: Literal["view", "check"] = "view"
    #: A significance test beside a ratio (EEOC four-fifths rule, 29 CFR 1607.4(D)): the
    #: level of the two-proportion test of the least against the most favoured group. A
    #: ratio under ``min`` fails only when significant (else inconclusive); a ratio at or
    #: above ``min`` with a significant difference passes, flagged.
    significance: Annotated[float, Field(gt=0, lt=0.5)] | None = None

    @model_validator(mode="after")
    def _significance_on_a_ratio(self) -> GroupMetricCheck:
        if self.significance is not None and (self.disparity != "ratio" or self.min is None):
            raise ValueError(
                "significance applies to a ratio with a 'min' (the four-fifths rule). Got "
                f"disparity {self.disparity!r}, min {self.min} instead."
            )
        return self


class ScoreMetricCheck(_Threshold):
    """A disparity of a score metric (needs scores: a model with predict_proba)."""

    type: Literal["score_metric"] = "score_metric"
    metric: Literal[SCORE_METRICS]  # type: ignore[valid-type]
    disparity: Literal["ratio", "difference"]
    klass: str | int | None = Field(default=None, alias="class")


def _check_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return getattr(value, "type", None)
    if "type" in value:
        return value["type"]
    return "score_metric" if value.get("metric") in SCORE_METRICS else "group_metric"


Check = Annotated[
    Annotated[GroupMetricCheck, Tag("group_metric")]
    | Annotated[ScoreMetricCheck, Tag("score_metric")]
    | Annotated[SensitiveAttributionCheck, Tag("sensitive_attribution")]
    | Annotated[ProxyAttributionCheck, Tag("proxy_attribution")]
    | Annotated[ReasonCodesCheck, Tag("reason_codes")]
    | Annotated[ExplanationStabilityCheck, Tag("explanation_stability")]
    | Annotated[RobustnessCheck, Tag("robustness")]
    | Annotated[ImpactRatioCheck, Tag("impact_ratio")]
    | Annotated[ProhibitedUseCheck, Tag("prohibited_use")]
    | Annotated[RequirementCheck, Tag("requirement")]
    | Annotated[ManipulabilityCheck, Tag("manipulability")]
    | Annotated[CounterfactualFlipCheck, Tag("counterfactual_flip")]
    | Annotated[RecourseCheck, Tag("recourse")],
    Discriminator(_check_tag),
]
CHECK_TYPES = (
    "group_metric",
    "score_metric",
    "sensitive_attribution",
    "proxy_attribution",
    "reason_codes",
    "explanation_stability",
    "robustness",
    "impact_ratio",
    "prohibited_use",
    "requirement",
    *GAMING_TYPES,
)

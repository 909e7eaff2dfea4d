"""The spec's parts that policies mapped to law read: the ``deployment`` block (where and how
the system is used, in the EU AI Act's terms) and the checks that policies add beside the
metric checks (impact-ratio tables, prohibited uses, declared requirements).

The check models here are part of the spec's check union (:data:`audits._spec.Check`); a
spec may write them itself, but they are usually added by a policy file
(:mod:`audits._policy`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._spec_rules import not_boolean

__all__ = [
    "ANNEX_III",
    "CONTEXTS",
    "IMPLIED_ANNEX_III",
    "PRACTICES",
    "REQUIREMENTS",
    "ClauseRef",
    "Deployment",
    "GroupExclusion",
    "ImpactRatioCheck",
    "ProhibitedUseCheck",
    "RequirementCheck",
    "says_something",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: Where a system is used (EU AI Act Art. 5(1)(f) names the workplace and education).
CONTEXTS = (
    "public_service_counter",
    "public_services",
    "workplace",
    "education",
    "law_enforcement",
    "credit",
    "other",
)
#: What a system does, in the Act's terms (only the practices a policy can test for).
PRACTICES = (
    "emotion_recognition",
    "biometric_categorisation",
    "creditworthiness",
    "public_assistance_eligibility",
    "speech_routing",
    "other",
)
#: Annex III points a deployment may declare (high-risk uses).
ANNEX_III = ("1(a)", "1(b)", "1(c)", "3(a)", "3(b)", "4(a)", "4(b)", "5(a)", "5(b)", "6(a)")
#: The Annex III point a practice is always listed under (a high-risk use whatever the spec
#: says): emotion recognition 1(c), biometric categorisation 1(b), public assistance 5(a),
#: creditworthiness 5(b).
IMPLIED_ANNEX_III = {
    "emotion_recognition": "1(c)",
    "biometric_categorisation": "1(b)",
    "public_assistance_eligibility": "5(a)",
    "creditworthiness": "5(b)",
}
#: What a requirement check asks the deployment to declare.
REQUIREMENTS = ("bias_examination", "accuracy_metrics", "human_oversight", "logging")


#: Words that fill a field without saying anything (``TODO TODO TODO``, ``n/a n/a n/a``).
_FILLER = {
    "n/a", "na", "none", "tbd", "tba", "todo", "fixme", "xxx", "xx", "x", "placeholder",
    "lorem", "ipsum", "dolor", "test", "testing", "foo", "bar", "baz", "asdf", "blah", "etc",
    "same", "see", "above", "below", "nothing", "unknown", "null", "nil", "dummy", "reason",
}  # fmt: skip


def says_something(text: str, *, least: int = 20) -> bool:
    """Whether ``text`` says something in words: at least ``least`` characters of words with
    letters, and three different words that are not fillers (``TODO``, ``n/a``, ``xxx``)."""
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    meant = {w.strip(".,;:!?()[]'\"").lower() for w in words} - _FILLER
    return len(" ".join(words)) >= least and len(words) >= 3 and len(meant) >= 3


def _words(v: str, *, field: str, least: int = 20) -> str:
    if not says_something(v, least=least):
        raise ValueError(
            f"{field} must say it in words (at least {least} characters and 3 different "
            f"words, not placeholders such as TODO or n/a). Got {v!r} instead."
        )
    return v.strip()


class GroupExclusion(_Strict):
    """A group left out of a disparity on purpose, with the reason the results carry."""

    group: str
    justification: Annotated[str, Field(min_length=20)]

    @field_validator("justification")
    @classmethod
    def _says_something(cls, v: str) -> str:
        if not says_something(v):
            raise ValueError(
                "justification must give a reason in words (at least 20 characters and 3 "
                "different words, not counting blanks, punctuation or placeholders such as "
                f"TODO or n/a). Got {v!r} instead."
            )
        return v.strip()


class Deployment(_Strict):
    """Where and how the audited system is used (read by the EU AI Act policy)."""

    #: The intended purpose, in words (Annex IV 1(a)).
    purpose: Annotated[str, Field(min_length=10)]
    practice: Literal[PRACTICES] = "other"  # type: ignore[valid-type]
    context: Literal[CONTEXTS]  # type: ignore[valid-type]
    #: The Annex III point of a high-risk use (``None``: not listed in Annex III).
    annex_iii: Literal[ANNEX_III] | None = None  # type: ignore[valid-type]
    #: Art. 5(1)(f) exempts emotion recognition put in place for medical or safety reasons.
    medical_or_safety_reason: str | None = None
    #: Who provides the system and answers for it (Annex IV: identified).
    provider: str = ""
    #: Where the audit data come from (historical decisions, a test set...): NYC LL144 and
    #: Annex IV 2(d) both ask for it.
    data_source: str = ""
    #: Art. 14: how people oversee the system (who can override it, how).
    human_oversight: str | None = None
    #: Art. 12: what the system logs, and for how long.
    logging: str | None = None
    #: Art. 15: the accuracy metrics declared for the system (rate names the audit computes).
    accuracy_metrics: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _listed_where_the_practice_is(self) -> Deployment:
        # A high-risk practice declared without its Annex III point would skip the
        # requirements (Art. 10-15) that apply only to high-risk uses.
        implied = IMPLIED_ANNEX_III.get(self.practice)
        if implied is not None and self.annex_iii != implied:
            raise ValueError(
                f"deployment.annex_iii must be {implied!r} for the practice {self.practice!r} "
                f"(Regulation (EU) 2024/1689, Annex III point {implied}). Got "
                f"{self.annex_iii!r} instead."
            )
        return self

    @field_validator("medical_or_safety_reason", "human_oversight", "logging")
    @classmethod
    def _in_words(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _words(v, field=f"deployment.{info.field_name}")


class ClauseRef(_Strict):
    """The policy clause a check implements (set by the policy, never by a spec)."""

    policy: str
    version: str
    id: str
    citation: str


class _PolicyCheck(_Strict):
    name: str | None = None
    source: str = ""
    clause: ClauseRef | None = None


class ImpactRatioCheck(_PolicyCheck):
    """NYC Local Law 144: each category's selection (or scoring) rate over the highest
    category's, with the counts, the categories left out and the unknowns (6 RCNY 5-301).

    The law sets no pass mark: ratios under ``flag_below`` are flagged; the check blocks only
    when ``min`` (the committee's own bound) is set and a ratio is under it.
    """

    type: Literal["impact_ratio"]
    rate: Literal["selection", "scoring"] = "selection"
    views: list[str] | None = None
    flag_below: Annotated[float, Field(gt=0, le=1), BeforeValidator(not_boolean)] = 0.8
    min: Annotated[float, Field(gt=0, le=1), BeforeValidator(not_boolean)] | None = None
    #: Categories under this share of the data may be excluded (with a stated reason).
    small_share: Annotated[float, Field(ge=0, lt=1)] = 0.02
    exclude_groups: list[GroupExclusion] = Field(default_factory=list)
    #: Category values that mean "unknown" (counted and reported, never compared).
    unknown: list[str] = Field(default_factory=lambda: ["unknown"])
    decide_on: Literal["estimate"] = "estimate"


class ProhibitedUseCheck(_PolicyCheck):
    """A practice prohibited in some contexts (EU AI Act Art. 5): the audit is refused."""

    type: Literal["prohibited_use"]
    practices: Annotated[list[Literal[PRACTICES]], Field(min_length=1)]  # type: ignore[valid-type]
    contexts: Annotated[list[Literal[CONTEXTS]], Field(min_length=1)]  # type: ignore[valid-type]
    #: Whether a stated medical or safety reason lifts the prohibition (Art. 5(1)(f)).
    medical_or_safety_exception: bool = True
    decide_on: Literal["estimate"] = "estimate"


class RequirementCheck(_PolicyCheck):
    """Something a high-risk system must have declared or examined (EU AI Act Art. 10-15)."""

    type: Literal["requirement"]
    requires: Literal[REQUIREMENTS]  # type: ignore[valid-type]
    decide_on: Literal["estimate"] = "estimate"

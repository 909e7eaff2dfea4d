"""The audit spec: a versioned YAML file validated by pydantic models (unknown keys refused).

Relative paths in a spec (``model.uri`` of file-based kinds, ``data.path``) are resolved
against the working directory, so specs in ``audits/specs/`` name files from the repository
root and ``fairgate`` is run from there. The file paths *inside* a media manifest
(``data.media.column``) resolve against the manifest's own folder, so a manifest and its
files move together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from models_under_test import PERTURBATION_KINDS

# Re-exported (``X as X``): the spec's parts live in small modules, and importers name them
# from here.
from ._gaming_spec import GAMING_TYPES as GAMING_TYPES
from ._gaming_spec import CounterfactualFlipCheck as CounterfactualFlipCheck
from ._gaming_spec import ManipulabilityCheck as ManipulabilityCheck
from ._gaming_spec import RecourseCheck as RecourseCheck
from ._gaming_spec import gaming_problems
from ._monitor_spec import MonitorSpec
from ._spec_base import LabelValue as LabelValue
from ._spec_base import ProbaClasses as ProbaClasses
from ._spec_base import SpecError, _existing_file, _Strict
from ._spec_checks import (
    CHECK_TYPES,
    Check,
    ExplainSettings,
    GroupMetricCheck,
    RobustnessCheck,
    ScoreMetricCheck,
)
from ._spec_checks import ExplanationStabilityCheck as ExplanationStabilityCheck
from ._spec_checks import ProxyAttributionCheck as ProxyAttributionCheck
from ._spec_checks import ReasonCodesCheck as ReasonCodesCheck
from ._spec_checks import SensitiveAttributionCheck as SensitiveAttributionCheck
from ._spec_data import VALIDATION_KINDS as VALIDATION_KINDS
from ._spec_data import DataSpec
from ._spec_data import MediaSpec as MediaSpec
from ._spec_data import NamedExpectation as NamedExpectation
from ._spec_models import MODEL_KINDS, ModelSpec
from ._spec_models import MlflowModel as MlflowModel
from ._spec_models import ModelSignature as ModelSignature
from ._spec_models import OnnxModel as OnnxModel
from ._spec_models import PredictionsModel as PredictionsModel
from ._spec_models import PythonModel as PythonModel
from ._spec_models import RestModel as RestModel
from ._spec_models import SklearnModel as SklearnModel
from ._spec_policy import ClauseRef as ClauseRef
from ._spec_policy import Deployment, GroupExclusion
from ._spec_policy import ImpactRatioCheck as ImpactRatioCheck
from ._spec_policy import ProhibitedUseCheck as ProhibitedUseCheck
from ._spec_policy import RequirementCheck as RequirementCheck
from ._spec_rules import label_problems, threshold_problems
from ._waiver_spec import Waiver, waiver_problems
from ._yaml import YamlRefusedError, load_yaml, read_bounded

__all__ = [
    "AuditSpec",
    "DataSpec",
    "GroupExclusion",
    "GroupMetricCheck",
    "ScoreMetricCheck",
    "SpecError",
    "load_spec",
]


class AttestationSettings(_Strict):
    """How the audit's attestation is signed: ``signing_key`` is the path of a PEM private key
    (Ed25519 or ECDSA P-256), never the key itself."""

    signing_key: str

    @field_validator("signing_key")
    @classmethod
    def _a_path(cls, v: str) -> str:
        if "-----BEGIN" in v or "\n" in v:  # the key's content is never echoed
            raise ValueError(
                "attestation.signing_key must be the path of a PEM key file, not the key itself "
                "(the key's content is not shown here; keep it out of the spec)."
            )
        return _existing_file(v, "attestation.signing_key")


class AuditSpec(_Strict):
    """A whole audit: what is audited, on which data, against which thresholds."""

    spec_version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
    system: str = ""
    #: The audited system's MLflow experiment (``fairgate/<experiment>``); default: ``name``.
    experiment: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")] | None = None
    #: Policies applied (shipped names or policy file paths, see :mod:`audits._policy`):
    #: their checks are added to the spec's own.
    policy: list[str] = Field(default_factory=list)
    #: Free text on the policy (shown in the report).
    policy_note: str = ""
    #: Attribute roles that policies name → the data's sensitive columns (default: a role is
    #: the column of the same name).
    roles: dict[str, str] = Field(default_factory=dict)
    #: Where and how the system is used (read by the EU AI Act policy).
    deployment: Deployment | None = None
    #: Categories left out of the impact ratios (``impact_ratio`` checks, a policy's too),
    #: each with its reason; NYC LL144 allows it only under 2% of the data.
    exclusions: list[GroupExclusion] = Field(default_factory=list)
    model: ModelSpec
    data: DataSpec
    checks: list[Check] = Field(default_factory=list)
    explain: ExplainSettings = Field(default_factory=ExplainSettings)
    seed: Annotated[int, Field(ge=0)] = 0
    n_boot: Annotated[int, Field(ge=100, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    #: Sign the audit's attestation with this key (overridden by FAIRGATE_SIGNING_KEY and
    #: --signing-key).
    attestation: AttestationSettings | None = None
    #: The circuit breaker watching the system in service (``fairgate monitor``).
    monitor: MonitorSpec | None = None
    #: Signed-off, expiring exceptions for failed checks (see audits/_waiver_spec.py),
    #: checked against the checks once the policies' checks are merged (:func:`parse_spec`).
    waivers: list[Waiver] = Field(default_factory=list)
    #: The policies applied (:func:`audits._policy.policies_of`), set when they are merged.
    _policies: tuple[Any, ...] = PrivateAttr(default=())

    @field_validator("policy", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _something_to_check(self) -> AuditSpec:
        if not self.checks and not self.policy:
            raise ValueError(
                "checks must hold at least one check, or policy name one. Got neither."
            )
        return self

    @model_validator(mode="after")
    def _views_known(self) -> AuditSpec:
        known = set(self.data.sensitive)
        for i, check in enumerate(self.checks):
            for view in getattr(check, "views", None) or ():
                if not set(view.split("|")) <= known:
                    raise ValueError(
                        f"checks[{i}].views must name sensitive columns {self.data.sensitive} "
                        f"joined by '|'. Got {view!r} instead."
                    )
        return self

    @model_validator(mode="after")
    def _spark_models(self) -> AuditSpec:
        if self.data.engine == "spark" and getattr(self.model, "signature", None) is not None:
            raise ValueError(
                "model.signature is verified on this machine before the model loads, but on "
                "Spark each executor loads the model files itself, where no signature is "
                "checked: audit a signed model with data.engine: local. Got engine 'spark' "
                "instead."
            )
        if self.data.engine == "spark" and self.model.kind in ("rest", "python"):
            where = (
                "a deployed endpoint is called from one machine, within its rate limit"
                if self.model.kind == "rest"
                else "its module is imported from this machine's files"
            )
            raise ValueError(
                f"model.kind {self.model.kind!r} stays single-machine ({where}): audit it with "
                "data.engine: local, or on Spark as a decision log (model.kind: predictions) "
                f"or an mlflow, sklearn or onnx model. Got engine 'spark' instead."
            )
        return self

    @model_validator(mode="after")
    def _rules(self) -> AuditSpec:
        problems = (
            threshold_problems(self.checks)
            + label_problems(self.data, self.model)
            + gaming_problems(self)
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _perturbations_fit_the_media(self) -> AuditSpec:
        media = self.data.media
        for i, check in enumerate(self.checks):
            if not isinstance(check, RobustnessCheck):
                continue
            kind = PERTURBATION_KINDS[check.perturbation]
            if media is None:
                raise ValueError(
                    f"checks[{i}] (robustness) needs image or audio inputs: data.media must be "
                    "set. Got table data instead."
                )
            if media.kind != kind:
                fitting = sorted(p for p, k in PERTURBATION_KINDS.items() if k == media.kind)
                raise ValueError(
                    f"checks[{i}].perturbation {check.perturbation!r} applies to {kind} data; "
                    f"this audit's data are {media.kind} (its perturbations: "
                    f"{', '.join(fitting)}). Got {check.perturbation!r} instead."
                )
            rate = check.params.get("sample_rate")
            if rate is not None and float(rate) != media.sample_rate:
                raise ValueError(
                    f"checks[{i}].params.sample_rate must equal data.media.sample_rate "
                    f"({media.sample_rate}). Got {rate} instead."
                )
        return self

    @property
    def protected(self) -> list[str]:
        """Columns whose attribution counts as direct use of a protected attribute."""
        if self.data.protected_features is None:
            return list(self.data.sensitive)
        return list(self.data.protected_features)

    def views(self, check: GroupMetricCheck | ScoreMetricCheck) -> list[str]:
        """The views a check applies to: its own, or each attribute and their intersection."""
        if getattr(check, "views", None):
            return list(check.views)  # type: ignore[union-attr]
        single = list(self.data.sensitive)
        return single + (["|".join(single)] if len(single) > 1 else [])


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in MODEL_KINDS or part in CHECK_TYPES or str(part).startswith("function-"):
            continue  # discriminator tags, not keys the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out or "spec"


def _message(err: dict[str, Any]) -> str:
    where, kind, ctx = _loc(err["loc"]), err["type"], err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        return f"{where} is not a known key. Remove it or check its spelling."
    if kind == "missing":
        return f"{where} is required."
    if kind == "literal_error":
        expected = re.sub(r" or ", ", ", ctx.get("expected", ""))
        return f"{where} must be one of {expected}. Got {got!r} instead."
    if kind == "union_tag_invalid" and ctx.get("discriminator", "").startswith("_check_tag"):
        return (
            f"{where}.type must be one of {ctx.get('expected_tags', '')}. "
            f"Got {ctx.get('tag')!r} instead."
        )
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "")
        return (
            f"{where}.{ctx.get('discriminator', 'kind').strip(chr(39))} must be one of "
            f"{expected}. Got {ctx.get('tag')!r} instead."
        )
    if kind == "union_tag_not_found":
        return f"{where} needs a {ctx.get('discriminator', 'kind')} key."
    if kind == "string_too_long":  # the length, never the text (it may be megabytes)
        return (
            f"{where} must be at most {ctx.get('max_length')} characters. "
            f"Got {len(got) if isinstance(got, str) else got!r} instead."
        )
    if kind == "value_error":
        msg = err["msg"].removeprefix("Value error, ")
        if msg.startswith("must "):
            return f"{where} {msg}"
        return msg if msg.startswith(where) or where == "spec" else f"{where}: {msg}"
    msg = err["msg"].replace("Input should be", "must be").replace("Input should have", "must have")
    return f"{where} {msg[0].lower()}{msg[1:]}. Got {got!r} instead."


def parse_spec(data: object) -> AuditSpec:
    """Validate a spec already loaded from YAML; raise :class:`SpecError` on any problem."""
    if not isinstance(data, dict):
        raise SpecError([f"spec must be a mapping of keys to values. Got {type(data).__name__}."])
    checks = data.get("checks") if isinstance(data.get("checks"), list) else []
    named = [i for i, c in enumerate(checks) if isinstance(c, dict) and "clause" in c]
    if named:  # a clause is the policy's word, never the spec's
        raise SpecError(
            [f"checks[{i}].clause is set by a policy, never in a spec. Remove it." for i in named]
        )
    try:
        spec = AuditSpec.model_validate(data)
    except ValidationError as err:
        problems = [line for e in err.errors() for line in _message(e).splitlines()]
        raise SpecError(problems) from err
    if spec.policy:
        from ._policy import apply_policies  # the policies' checks, merged with the spec's own

        spec = apply_policies(spec, data)
    problems = waiver_problems(spec.waivers, spec)  # a waiver names a check of the whole list
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path, *, engine: str | None = None) -> AuditSpec:
    """Read and validate the YAML audit spec at ``path``; ``engine`` (``fairgate run
    --engine``) replaces its ``data.engine`` before validation."""
    import yaml

    path = Path(path)
    try:
        text = read_bounded(path).decode("utf-8")  # never more than a spec may hold
    except YamlRefusedError as err:
        raise SpecError([f"spec file {str(path)!r} cannot be read: {err}"]) from err
    except OSError as err:
        raise SpecError([f"spec file {str(path)!r} cannot be read: {err.strerror}."]) from err
    except UnicodeDecodeError as err:
        raise SpecError([f"spec file {str(path)!r} is not UTF-8 text: {err}."]) from err
    try:
        data = load_yaml(text)
    except YamlRefusedError as err:
        raise SpecError([f"spec file {str(path)!r}: {err}"]) from err
    except yaml.YAMLError as err:
        raise SpecError([f"spec file {str(path)!r} is not valid YAML: {err}"]) from err
    if engine is not None and isinstance(data, dict) and isinstance(data.get("data"), dict):
        data["data"] = {**data["data"], "engine": engine}
    return parse_spec(data)

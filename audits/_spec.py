"""The audit spec: a versioned YAML file validated by pydantic models (unknown keys refused).

Relative paths in a spec (``model.uri`` of file-based kinds, ``data.path``) are resolved
against the working directory, so specs in ``audits/specs/`` name files from the repository
root and ``fairgate`` is run from there. The file paths *inside* a media manifest
(``data.media.column``) resolve against the manifest's own folder, so a manifest and its
files move together.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from metrics import EQUALIZED_ODDS, RATES, SCORE_METRICS
from metrics._rates import _ALIASES
from models_under_test import PERTURBATION_KINDS, PERTURBATION_PARAMS

from ._gaming_spec import (
    GAMING_TYPES,
    CounterfactualFlipCheck,
    ManipulabilityCheck,
    RecourseCheck,
    gaming_problems,
)
from ._monitor_spec import MonitorSpec
from ._spec_policy import (
    ClauseRef,
    Deployment,
    GroupExclusion,
    ImpactRatioCheck,
    ProhibitedUseCheck,
    RequirementCheck,
)
from ._spec_rules import label_problems, not_boolean, threshold_problems
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

_RATE_NAMES = (*RATES, *_ALIASES, EQUALIZED_ODDS)
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_SHA256 = r"^[0-9a-f]{64}$"


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


class ModelSignature(_Strict):
    """An OpenSSF ``model-signing`` signature of the model's files and what to trust.

    The files are verified against ``path`` before the model is loaded, with ``public_key``
    (an ECDSA P-256/384/521 PEM public key) or ``certificate_chain`` (the PEM root and
    intermediate certificates the signing certificate must chain to): exactly one of the two.
    A missing, unreadable or failing signature stops the audit (exit 2). The files are
    checked when the audit runs, not here, so that a missing signature is an audit error,
    never a pass.
    """

    path: str
    public_key: str | None = None
    certificate_chain: Annotated[list[str], Field(min_length=1)] | None = None

    @field_validator("path", "public_key")
    @classmethod
    def _a_path(cls, v: str | None) -> str | None:
        if v is not None and ("-----BEGIN" in v or "\n" in v or not v.strip()):
            raise ValueError(
                "model.signature.path and model.signature.public_key must be file paths. "
                "Got a value that is not a path instead (not shown)."
            )
        return v

    @model_validator(mode="after")
    def _one_trust(self) -> ModelSignature:
        if (self.public_key is None) == (self.certificate_chain is None):
            raise ValueError(
                "model.signature needs exactly one of public_key or certificate_chain. Got "
                f"{'both' if self.public_key else 'neither'} instead."
            )
        return self


class SklearnModel(_Strict):
    """A scikit-learn model file: skops (safe), or pickle/joblib when trusted and pinned."""

    kind: Literal["sklearn"]
    uri: str
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)
    #: Verify the model file's signature before loading it.
    signature: ModelSignature | None = None

    @field_validator("uri")
    @classmethod
    def _uri_exists(cls, v: str) -> str:
        return _existing_file(v, "model.uri")

    @model_validator(mode="after")
    def _pickle_needs_pin(self) -> SklearnModel:
        if self.uri.lower().endswith(_PICKLE_SUFFIXES) and not (self.trusted and self.sha256):
            raise ValueError(
                "model.uri names a pickle/joblib file, which runs code when opened: it is "
                "refused unless model.trusted is true and model.sha256 pins its content. "
                f"Got trusted={self.trusted}, sha256={self.sha256!r} instead."
            )
        return self


#: A value of the label (or a decision code) as the data hold it.
LabelValue = int | float | str | bool
#: The classes of ``predict_proba``'s columns, in order, when the model does not say them.
ProbaClasses = Annotated[list[LabelValue], Field(min_length=2)]


class MlflowModel(_Strict):
    """Any MLflow model URI (``models:/name@alias``, ``models:/name/3``, ``runs:/...``).

    A pickle-based flavour (scikit-learn saved with pickle or cloudpickle, a python_function
    with a cloudpickled model, model code) is loaded only with ``trusted: true`` and ``sha256``
    pinning the model's files; a skops scikit-learn model (with ``trusted_types``) or an ONNX
    model needs no pin.
    """

    kind: Literal["mlflow"]
    uri: str
    #: The tracking server resolving ``models:/`` URIs (default: the CLI's --tracking-uri).
    tracking_uri: str | None = None
    proba_classes: ProbaClasses | None = None
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)
    #: Verify the downloaded model folder's signature before loading it.
    signature: ModelSignature | None = None


class PythonModel(_Strict):
    """``module:function`` taking a feature DataFrame and returning decisions.

    The module is imported once, from the spec's folder or else the working directory (in
    that order, ahead of the installed packages). ``proba`` (``module:function``) returns one
    probability column per class; ``proba_classes`` names those classes in order (a function
    has no ``classes_``): without it the score and explainability checks are skipped, as the
    favourable class's column is unknown.
    """

    kind: Literal["python"]
    uri: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    proba: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None
    proba_classes: ProbaClasses | None = None


class PredictionsModel(_Strict):
    """No model: the data's ``column`` holds the system's logged decisions."""

    kind: Literal["predictions"]
    column: str
    score_column: str | None = None
    #: The log's own decision codes → label values (e.g. ``{approved: ">50K"}``); a code not
    #: listed stops the audit.
    decision_values: Annotated[dict[LabelValue, LabelValue], Field(min_length=1)] | None = None


class OnnxModel(_Strict):
    """A model exported to ONNX, run with onnxruntime."""

    kind: Literal["onnx"]
    uri: str
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    #: ``module:function`` turning a batch of decoded inputs into the model's input.
    preprocess: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None
    proba_classes: ProbaClasses | None = None
    #: Verify the ONNX file's signature before loading it.
    signature: ModelSignature | None = None

    @field_validator("uri")
    @classmethod
    def _uri_exists(cls, v: str) -> str:
        return _existing_file(v, "model.uri")


class RestModel(_Strict):
    """A deployed model behind HTTP: MLflow's scoring protocol or KServe v2."""

    kind: Literal["rest"]
    url: str
    protocol: Literal["mlflow", "kserve"] = "mlflow"
    model_name: str | None = None
    batch_size: Annotated[int, Field(ge=1)] = 1000
    #: Bounded so that a spec cannot make an audit hang (seconds).
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=30)] = 0.5
    rate_limit_per_s: Annotated[float, Field(ge=0.01)] | None = None
    #: HTTP header → name of the environment variable holding its value (never the value).
    headers_from_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, v: str) -> str:
        if not re.match(r"^https?://", v):
            from models_under_test import public_uri  # a query string may hold a key

            raise ValueError(
                f"model.url must start with http:// or https://. Got {public_uri(v)!r} instead."
            )
        if "@" in v.split("//", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "model.url must not hold credentials (user:password@host): put them in a "
                "header with headers_from_env. Got a URL with credentials instead (not shown)."
            )
        return v


ModelSpec = Annotated[
    SklearnModel | MlflowModel | PythonModel | PredictionsModel | RestModel | OnnxModel,
    Field(discriminator="kind"),
]


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
    min_group_size: Annotated[int, Field(ge=1)] = 30
    min_denominator: Annotated[int, Field(ge=1)] = 5
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
    strength_bound: Annotated[float, Field(gt=0.5, le=1.0)] = 0.7


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
MODEL_KINDS = ("sklearn", "mlflow", "python", "predictions", "rest", "onnx")


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

"""The audit spec: a versioned YAML file validated by pydantic models (unknown keys refused).

Relative paths in a spec (``model.uri`` of file-based kinds, ``data.path``) are resolved
against the working directory, so specs in ``audits/specs/`` name files from the repository
root and ``fairgate`` is run from there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from metrics import EQUALIZED_ODDS, RATES, SCORE_METRICS
from metrics._rates import _ALIASES

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
    model_config = ConfigDict(extra="forbid", frozen=True)


def _existing_file(value: str, field: str) -> str:
    if not Path(value).expanduser().is_file():
        raise ValueError(
            f"{field} must be an existing file (relative paths are resolved against the working "
            f"directory {Path.cwd()}). Got {value!r} instead."
        )
    return value


class SklearnModel(_Strict):
    """A scikit-learn model file: skops (safe), or pickle/joblib when trusted and pinned."""

    kind: Literal["sklearn"]
    uri: str
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)

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
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)


class PythonModel(_Strict):
    """``module:function`` taking a feature DataFrame and returning decisions."""

    kind: Literal["python"]
    uri: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    proba: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None


class PredictionsModel(_Strict):
    """No model: the data's ``column`` holds the system's logged decisions."""

    kind: Literal["predictions"]
    column: str
    score_column: str | None = None


class OnnxModel(_Strict):
    """A model exported to ONNX, run with onnxruntime."""

    kind: Literal["onnx"]
    uri: str
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    #: ``module:function`` turning a batch of decoded inputs into the model's input.
    preprocess: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None

    @field_validator("uri")
    @classmethod
    def _uri_exists(cls, v: str) -> str:
        return _existing_file(v, "model.uri")


class RestModel(_Strict):
    """A deployed model behind HTTP: MLflow's scoring protocol or KServe v2."""

    kind: Literal["rest"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    protocol: Literal["mlflow", "kserve"] = "mlflow"
    model_name: str | None = None
    batch_size: Annotated[int, Field(ge=1)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0)] = 0.5
    rate_limit_per_s: Annotated[float, Field(gt=0)] | None = None
    #: HTTP header → name of the environment variable holding its value (never the value).
    headers_from_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, v: str) -> str:
        if "@" in v.split("//", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "model.url must not hold credentials (user:password@host): the spec and the "
                "results would carry them. Put them in a header with headers_from_env. Got a "
                "URL with credentials instead (not shown)."
            )
        return v


ModelSpec = Annotated[
    SklearnModel | MlflowModel | PythonModel | PredictionsModel | RestModel | OnnxModel,
    Field(discriminator="kind"),
]


class NamedExpectation(_Strict):
    """Any Great Expectations expectation, by its snake_case name, with its arguments."""

    expectation: Annotated[str, Field(pattern=r"^expect_[a-z0-9_]+$")]
    kwargs: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["error", "warning"] = "error"


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
    """The data are a manifest whose ``column`` names image or audio files."""

    column: str
    kind: Literal["image", "audio"]
    #: Images: [height, width] (grey levels in [0, 1]); audio: [samples].
    shape: Annotated[list[int], Field(min_length=1, max_length=2)]
    sample_rate: Annotated[int, Field(gt=0)] | None = None
    batch_size: Annotated[int, Field(ge=1)] = 256

    @model_validator(mode="after")
    def _audio_rate(self) -> MediaSpec:
        if self.kind == "audio" and self.sample_rate is None:
            raise ValueError("data.media.sample_rate is required for audio. Got none.")
        return self


class DataSpec(_Strict):
    """The audit data and its roles."""

    path: str
    label: str
    positive_label: int | float | str | bool = 1
    sensitive: Annotated[list[str], Field(min_length=1)]
    #: Columns that encode a protected attribute directly (default: ``sensitive``); the
    #: explainability checks treat attribution to them as direct use.
    protected_features: list[str] | None = None
    min_group_size: Annotated[int, Field(ge=1)] = 30
    min_denominator: Annotated[int, Field(ge=1)] = 5
    exclude: list[str] = Field(default_factory=list)
    #: The declared values of the label (and, for decision logs, of the decisions).
    label_values: list[int | float | str | bool] | None = None
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
    def _path_exists(cls, v: str) -> str:
        if not v.lower().endswith((".csv", ".parquet", ".pq")):
            raise ValueError(f"data.path must be a .csv or .parquet file. Got {v!r} instead.")
        return _existing_file(v, "data.path")


class GroupExclusion(_Strict):
    """A group left out of a disparity on purpose, with the reason the results carry."""

    group: str
    justification: Annotated[str, Field(min_length=20)]


class _Bounds(_Strict):
    min: float | None = None
    max: float | None = None
    source: str = ""
    name: str | None = None
    decide_on: Literal["estimate", "interval"] = "estimate"

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


class ExplainSettings(_Strict):
    """How explanations are computed (shared by every explainability check)."""

    rows: Annotated[int, Field(ge=10)] = 1000
    background: Annotated[int, Field(ge=10)] = 100
    method: Literal["auto", "tree", "permutation"] = "auto"
    max_evals: Annotated[int, Field(ge=3)] | None = None
    time_budget_s: Annotated[float, Field(gt=0)] = 300.0


class GroupMetricCheck(_Threshold):
    """A disparity of a group rate computed from the confusion counts."""

    type: Literal["group_metric"] = "group_metric"
    metric: Literal[_RATE_NAMES]  # type: ignore[valid-type]
    disparity: Literal["ratio", "difference"]
    reference: str | None = None
    exclude_groups: list[GroupExclusion] = Field(default_factory=list)
    klass: str | int | None = Field(default=None, alias="class")


class ScoreMetricCheck(_Threshold):
    """A disparity of a score metric (needs scores: a model with predict_proba)."""

    type: Literal["score_metric"] = "score_metric"
    metric: Literal[SCORE_METRICS]  # type: ignore[valid-type]
    disparity: Literal["ratio", "difference"]


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
    | Annotated[RobustnessCheck, Tag("robustness")],
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
)
MODEL_KINDS = ("sklearn", "mlflow", "python", "predictions", "rest", "onnx")


class AuditSpec(_Strict):
    """A whole audit: what is audited, on which data, against which thresholds."""

    spec_version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
    system: str = ""
    #: The audited system's MLflow experiment (``fairgate/<experiment>``); default: ``name``.
    experiment: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")] | None = None
    policy: str = ""
    model: ModelSpec
    data: DataSpec
    checks: Annotated[list[Check], Field(min_length=1)]
    explain: ExplainSettings = Field(default_factory=ExplainSettings)
    seed: int = 0
    n_boot: Annotated[int, Field(ge=100, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95

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
    if kind == "value_error":
        msg = err["msg"].removeprefix("Value error, ")
        return msg if msg.startswith(where) else f"{where}: {msg}"
    msg = err["msg"].replace("Input should be", "must be").replace("Input should have", "must have")
    return f"{where} {msg[0].lower()}{msg[1:]}. Got {got!r} instead."


def parse_spec(data: object) -> AuditSpec:
    """Validate a spec already loaded from YAML; raise :class:`SpecError` on any problem."""
    if not isinstance(data, dict):
        raise SpecError([f"spec must be a mapping of keys to values. Got {type(data).__name__}."])
    try:
        return AuditSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError([_message(e) for e in err.errors()]) from err


def load_spec(path: str | Path) -> AuditSpec:
    """Read and validate the YAML audit spec at ``path``."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError([f"spec file {str(path)!r} cannot be read: {err.strerror}."]) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError([f"spec file {str(path)!r} is not valid YAML: {err}"]) from err
    return parse_spec(data)

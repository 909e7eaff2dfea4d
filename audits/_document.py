"""The results document (what results.json holds) and the audit result around it.

The verdict and exit code in a document are always derived from its checks' statuses and its
errors (:func:`~audits.derive_verdict`), never set by hand: :func:`finalise` re-derives them
after any later step (logging, promotion) adds an error, and :func:`verdict_of` recomputes
them for a document read back from disk.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metrics import GroupMetrics

from ._status import ExitCode, Status, Verdict, derive_verdict

__all__ = [
    "SCHEMA_VERSION",
    "AuditResult",
    "clean",
    "contradictions",
    "finalise",
    "finite_number",
    "new_audit_id",
    "verdict_of",
]

#: 2: what differs between runs of the same audit (id, times, host, seconds spent) is in the
#: ``run`` block, the document's last key; everything before it is byte-reproducible.
SCHEMA_VERSION = 2


def new_audit_id(name: str) -> str:
    """A unique, time-ordered audit id: ``<name>-<UUIDv7>``.

    The UUID's first 48 bits are the Unix time in milliseconds (RFC 9562 version 7), the rest
    random, so ids sort by start time and two audits started in the same millisecond, in
    different processes, still differ.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    hexed = f"{value:032x}"
    uid = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
    return f"{name}-{uid}"


def clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def verdict_of(document: dict[str, Any]) -> tuple[Verdict, ExitCode]:
    """The verdict and exit code that a results document's checks and errors imply.

    A ``waived`` check counts as waived only when one of the document's own waivers covers it
    validly on the audit's date (:func:`~audits._waivers.rederived_statuses`); otherwise it
    counts as the failure it was.

    Raises
    ------
    ValueError
        When the document has no list of checks, or a check's status is not a known status.
    """
    checks = document.get("checks")
    errors = document.get("errors", [])
    if not isinstance(checks, list) or not isinstance(errors, list):
        raise ValueError(
            "A results document must hold a list of 'checks' and a list of 'errors'. Got "
            f"{type(checks).__name__} and {type(errors).__name__} instead."
        )
    statuses = []
    for i, check in enumerate(checks):
        raw = check.get("status") if isinstance(check, dict) else None
        try:
            statuses.append(Status(raw))
        except ValueError as err:
            raise ValueError(
                f"checks[{i}].status must be one of {[s.value for s in Status]}. "
                f"Got {raw!r} instead."
            ) from err
    from ._waivers import rederived_statuses

    try:
        statuses = rederived_statuses(document, statuses)
    except (KeyError, IndexError, TypeError, AttributeError) as err:  # a part of another kind
        raise ValueError(
            "A results document's spec, run and waivers must be mappings and lists as fairgate "
            f"writes them, to judge its waived checks. Got {type(err).__name__}: {err} instead."
        ) from err
    return derive_verdict(statuses, errors=len(errors))


#: Checks that pass with no bound by design: an impact ratio the committee gave no ``min`` (the
#: law sets no pass mark, 6 RCNY 5-301), a gaming check's share bounded by its group gap only.
_UNBOUNDED_PASS = ("impact_ratio", "manipulability", "counterfactual_flip", "recourse")
_TOLERANCE = 1e-9  # exact decisions at the threshold are rational; floats may miss by an ulp


def finite_number(value: Any) -> bool:
    """A finite number (a boolean, a text or NaN is no value of a check)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _shown(value: Any) -> str:
    """A value of a document for a message: its ``repr``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _beyond(value: Any, threshold: dict[str, Any]) -> bool:
    if not finite_number(value):
        return False
    low, high = threshold.get("min"), threshold.get("max")
    return (finite_number(low) and value < low - _TOLERANCE) or (
        finite_number(high) and value > high + _TOLERANCE
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _from_groups(check: dict[str, Any]) -> tuple[float | None, bool]:
    """What a group check's own groups give: the disparity over its compared groups (for a
    ratio or difference between all groups, one rate a group), or ``None``; and whether a
    group it lists is too small to judge."""
    by_group = check.get("by_group")
    if not isinstance(by_group, dict):
        return None, False
    rows = [r for r in by_group.values() if isinstance(r, dict)]
    short = any(r.get("status") == "insufficient" for r in rows)
    details = check.get("details") if isinstance(check.get("details"), dict) else {}
    if (
        check.get("type") != "group_metric"
        or check.get("disparity") not in ("ratio", "difference")
        or check.get("metric") == "equalized_odds"
        or details.get("reference") is not None
        or details.get("class") is not None
    ):
        return None, short
    rates = []
    for r in rows:
        if r.get("status") != "compared":
            continue
        num, den = r.get("numerator"), r.get("denominator")
        if not (_count(num) and _count(den)) or den == 0 or num > den:
            return None, short
        rates.append(num / den)
    if len(rates) < 2:
        return None, short
    low, high = min(rates), max(rates)
    if check["disparity"] == "difference":
        return high - low, short
    return (low / high if high > 0 else None), short


def _spec_bounds(document: dict[str, Any]) -> dict[str, set[tuple[Any, Any]]]:
    """The ``(min, max)`` pairs the document's own spec sets, by check type, for the types
    whose results state the spec's bounds as their threshold (group and score metrics)."""
    spec = document.get("spec")
    content = spec.get("content") if isinstance(spec, dict) else None
    checks = content.get("checks") if isinstance(content, dict) else None
    out: dict[str, set[tuple[Any, Any]]] = {}
    for c in checks if isinstance(checks, list) else []:
        kind = c.get("type", "group_metric") if isinstance(c, dict) else None
        pair = (c.get("min"), c.get("max")) if kind in ("group_metric", "score_metric") else ()
        if pair and all(b is None or finite_number(b) for b in pair):
            out.setdefault(kind, set()).add(pair)
    return out


def contradictions(document: dict[str, Any]) -> list[str]:
    """What in a results document contradicts a passing status: a check that passed with a
    value (or, deciding on the interval, an interval end) beyond its threshold, no value at
    all, or groups too small to judge; a group or score metric's threshold that the document's
    own spec never set; a group disparity its groups' counts do not give; a waived check whose
    value is within its threshold (only a failure is waived); a passing verdict over failed
    data validation.

    :func:`verdict_of` derives the verdict from the statuses; this guards the statuses
    themselves, so that editing a status (and the verdict with it) is not enough to turn a
    blocked audit into a release.
    """
    found = []
    set_by_spec = _spec_bounds(document)
    waivers = document.get("waivers")
    count = len(waivers) if isinstance(waivers, list) else 0
    for i, check in enumerate(document.get("checks") or []):
        if isinstance(check, dict) and not isinstance(check.get("threshold") or {}, dict):
            found.append(f"checks[{i}].threshold is not a mapping of bounds")
            continue
        if isinstance(check, dict) and check.get("status") == Status.WAIVED:
            # only a failure is waived: its value must be beyond its threshold
            if not _beyond(check.get("value"), check.get("threshold") or {}):
                found.append(f"checks[{i}] is waived but did not fail")
            by = check.get("waived_by")
            if (
                not isinstance(by, list)
                or not by
                or not all(isinstance(n, int) and 0 <= n < count for n in by)
            ):
                found.append(f"checks[{i}].waived_by names no waiver of the document")
            continue
        if not isinstance(check, dict) or check.get("status") != Status.PASS:
            continue
        value, threshold = check.get("value"), check.get("threshold") or {}
        details = check.get("details") if isinstance(check.get("details"), dict) else {}
        ci = check.get("ci") or []
        ci = ci if isinstance(ci, list) else [ci]
        bounds = [threshold.get(side) for side in ("min", "max")]
        if value is None:
            found.append(f"checks[{i}] passed with no value")
        elif not finite_number(value) or not all(finite_number(x) for x in ci if x is not None):
            found.append(
                f"checks[{i}] passed with {_shown(value)} (interval {_shown(ci)}), not a number"
            )
        elif (
            not any(finite_number(b) for b in bounds)
            and not (threshold == {} and check.get("type") in _UNBOUNDED_PASS)
        ) or not all(finite_number(b) for b in bounds if b is not None):
            found.append(f"checks[{i}] passed under {_shown(threshold)}, which bounds nothing")
        elif _beyond(value, threshold) or (
            check.get("decide_on") == "interval" and any(_beyond(x, threshold) for x in ci)
        ):
            found.append(f"checks[{i}] passed with {value!r} beyond its threshold {threshold}")
        pair = (threshold.get("min"), threshold.get("max"))
        if (
            isinstance(check.get("type"), str)
            and check["type"] in set_by_spec
            and all(b is None or finite_number(b) for b in pair)
            and pair not in set_by_spec[check.get("type")]
        ):
            found.append(f"checks[{i}] passed under {_shown(threshold)}, which its spec never set")
        derived, short = _from_groups(check)
        if (details.get("insufficient_groups") or short) and check.get("type") != "robustness":
            found.append(f"checks[{i}] passed with groups too small to judge")
        if derived is not None and finite_number(value) and abs(derived - value) > 1e-6:
            found.append(
                f"checks[{i}] passed with {_shown(value)}, but its groups' counts give "
                f"{derived:.6g}"
            )
    validation = document.get("data_validation") or {}
    validation = validation if isinstance(validation, dict) else {"success": False}
    passing = (Verdict.PASS, Verdict.PASS_WITH_WAIVERS)
    if document.get("verdict") in passing and validation.get("success") is False:
        found.append("the verdict is pass but the data validation failed")
    return found


def finalise(document: dict[str, Any], *errors: dict[str, str]) -> dict[str, Any]:
    """Add audit-level ``errors`` (``stage``, ``type``, ``message``) and re-derive the verdict.

    Returns the same (mutated) document, whose ``verdict`` and ``exit_code`` now say no more
    than its checks and errors allow.
    """
    document.setdefault("errors", []).extend(errors)
    verdict, code = verdict_of(document)
    document["verdict"], document["exit_code"] = verdict.value, int(code)
    return document


@dataclass(frozen=True)
class AuditResult:
    """An audit's outcome: the results document and, for notebooks, the engine's result."""

    document: dict[str, Any]
    metrics: GroupMetrics | None = field(repr=False, default=None)
    #: Charts and other files for the output folder, listed in ``document["artifacts"]``.
    files: dict[str, bytes] = field(repr=False, default_factory=dict)
    #: Files with personal data (asked for by the spec): written, never logged or reported.
    private_files: dict[str, bytes] = field(repr=False, default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.document["verdict"])

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode(self.document["exit_code"])

    def checks_frame(self) -> pd.DataFrame:
        """One row per check and view: name, status, value, interval, threshold."""
        return pd.DataFrame(
            [
                {
                    "name": c["name"],
                    "status": c["status"],
                    "value": c["value"],
                    "ci_low": (c["ci"] or [None, None])[0],
                    "ci_high": (c["ci"] or [None, None])[1],
                    **{f"threshold_{k}": v for k, v in c["threshold"].items()},
                }
                for c in self.document["checks"]
            ]
        )

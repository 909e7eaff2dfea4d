"""The decision log in service: read it, cut it into windows, count misjudgments per group.

The log is a CSV or Parquet file, a folder of them, or a glob. A window is complete once the
log holds a decision after its end (time windows) or once it is full (count windows).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from metrics import OVERALL
from reports import count_of

if TYPE_CHECKING:
    import pandas as pd

    from ._spec import AuditSpec

__all__ = ["MAX_WINDOWS", "MonitorDataError", "Windows", "cut_windows", "read_log"]

_SUFFIXES = (".csv", ".parquet", ".pq")
#: The most windows one run judges (a 1 s window over a year of log would be 31 million).
MAX_WINDOWS = 100_000


class MonitorDataError(ValueError):
    """The log cannot be judged (missing, empty, without the spec's columns): exit 2."""


@dataclass(frozen=True)
class Windows:
    """A log cut into complete windows of counts, ready for the breaker."""

    counts: list[dict[str, tuple[int, int]]]  # per window: cell -> (misjudged, reviewed)
    labels: list[str]
    ends: list[str]  # ISO end time (time windows) or rows covered (count windows)
    decisions: list[int]  # decisions per window, reviewed or not
    pending_rows: int  # rows of the window still open
    rows: int
    reviewed: int
    #: per window: cell -> (expected misjudged, variance, decisions), from calibrated scores
    estimates: list[dict[str, tuple[float, float, int]]] | None = None
    #: the reviewed decisions of the complete windows, for the fairness checks: ``w`` (the
    #: window), ``y_true`` and ``y_pred`` (whether the review outcome and the decision are
    #: ``data.positive_label``), the sensitive columns and, when set, ``data.cluster_column``
    reviewed_rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    #: the time of the log's first decision (ISO, UTC): where a replay starts
    first_decision: str | None = None


def _log_files(path: str) -> list[Path]:
    """The log's files: a glob's matches, a folder's own CSV and Parquet files (names starting
    with '.' or '_' skipped, as the audit's readers skip them), or the file; a symbolic link
    or a second name of one file is refused (:mod:`audits._data_files`), since its rows
    would be counted twice."""
    from ._data import DataError
    from ._data_files import folder_files, named_once

    try:
        if any(c in path for c in "*?["):
            files = [Path(p) for p in sorted(glob.glob(path, recursive=True))]
            files = [f for f in files if f.suffix.lower() in _SUFFIXES or not f.is_dir()]
            named_once(files, path)
        elif Path(path).is_dir():
            listed = folder_files(Path(path), recursive=False)[0]
            files = [p for p in listed if p.suffix.lower() in _SUFFIXES]
        else:
            files = [Path(path)]
    except DataError as err:
        raise MonitorDataError(str(err)) from err
    if not files:
        raise MonitorDataError(f"The log {path!r} matches no CSV or Parquet file.")
    return files


def _same_columns(frames: list[pd.DataFrame], files: list[Path], needed: list[str]) -> None:
    """Each of ``needed`` that one file has, every file has: concatenated, a file without it
    would read as missing values (a label: decisions not yet reviewed)."""
    for column in dict.fromkeys(c for c in needed if c):
        lacking = [str(f) for f, frame in zip(files, frames, strict=True) if column not in frame]
        if lacking and len(lacking) < len(files):
            more = f" and {len(lacking) - 1} other file(s)" if len(lacking) > 1 else ""
            raise MonitorDataError(
                f"The log's column {column!r} is missing from the file {lacking[0]!r}{more} "
                "(its other files have it): their rows cannot be judged. Every file of the log "
                "must have the columns the spec uses."
            )


def read_log(
    path: str, *, text: list[str] | None = None, needed: list[str | None] | None = None
) -> tuple[pd.DataFrame, list[Path]]:
    """Read a decision log: a CSV or Parquet file, a folder of them, or a glob; the ``text``
    columns of CSV files as written (see :func:`audits._data.as_written`); each of ``needed``
    in every file or in none (:class:`MonitorDataError`)."""
    import pandas as pd

    from ._data import as_written

    files = _log_files(path)
    frames = []
    for file in files:
        try:
            if file.suffix.lower() in (".parquet", ".pq"):
                frames.append(pd.read_parquet(file))
            else:
                frames.append(as_written(pd.read_csv(file), file, text or []))
        except FileNotFoundError as err:
            raise MonitorDataError(f"The log file {str(file)!r} does not exist.") from err
        except pd.errors.EmptyDataError as err:
            raise MonitorDataError(f"The log file {str(file)!r} is empty.") from err
        except Exception as err:
            raise MonitorDataError(
                f"The log file {str(file)!r} cannot be read: {type(err).__name__}: {err}"
            ) from err
    _same_columns(frames, files, [c for c in needed or [] if c])
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise MonitorDataError(f"The log {path!r} holds no decisions (0 rows).")
    return frame, files


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality of decisions and labels, tolerant of ``1`` vs ``1.0``."""
    from pandas.api.types import is_numeric_dtype

    if is_numeric_dtype(a) and is_numeric_dtype(b):
        return a.astype(float) == b.astype(float)

    def text(s: pd.Series) -> pd.Series:
        if is_numeric_dtype(s):
            s = s.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
        return s.astype(str)

    return text(a) == text(b)


def _text_values(series: pd.Series) -> set[str]:
    """The distinct values of ``series`` as :func:`_same` compares them (``1`` and ``1.0``
    are one value, ``"1"`` too)."""
    import pandas as pd

    out = set()
    for value in pd.unique(series.dropna()):
        if isinstance(value, bool | int | float) or hasattr(value, "dtype"):
            try:
                number = float(value)
                out.add(str(int(number)) if number.is_integer() else str(number))
                continue
            except (TypeError, ValueError, OverflowError):
                pass
        out.add(str(value))
    return out


def _check_binary(label: pd.Series, decided: pd.Series, spec: AuditSpec) -> None:
    """The reviewed labels and the decisions must hold the same two values, one of them
    ``data.positive_label``: a decision written another way (``approve`` for ``1``) is never
    positive, so a false-positive rate or a group's selection rate would read as zero and the
    breaker would stay closed whatever the model does."""
    import pandas as pd

    positive = next(iter(_text_values(pd.Series([spec.data.positive_label], dtype=object))))
    seen = _text_values(label) | _text_values(decided)
    if len(seen) <= 1 or (len(seen) == 2 and positive in seen):
        return
    assert spec.monitor is not None
    decision = spec.monitor.decision or getattr(spec.model, "column", None)
    shown = ", ".join(repr(v[:40]) for v in sorted(seen)[:6])
    more = f" and {len(seen) - 6} more" if len(seen) > 6 else ""
    raise MonitorDataError(
        f"The log's label column {spec.data.label!r} and decision column {decision!r} must "
        f"hold the same two values, data.positive_label {spec.data.positive_label!r} and one "
        "other (map other decision codes with model.decision_values): a decision written "
        f"another way is never counted as positive, and its misjudgments would go unseen. "
        f"Got {len(seen)} values together ({shown}{more}) instead."
    )


def _check_groups(frame: pd.DataFrame, sensitive: list[str]) -> None:
    """Refuse, as the audit does, sensitive values that hold ``|`` (it joins group keys: the
    disclosure rule could not split them) or that print alike (two groups no reader tells
    apart)."""
    import pandas as pd

    from ._data import DataError, refuse_group_values

    for column in sensitive:
        try:
            refuse_group_values(column, pd.unique(frame[column].dropna()))
        except DataError as err:
            raise MonitorDataError(str(err)) from err


def _group_checks(spec: AuditSpec) -> bool:
    return any(c.type == "group_metric" for c in spec.checks)


def cut_windows(frame: pd.DataFrame, spec: AuditSpec) -> Windows:
    """Cut the log into the spec's windows and count misjudgments per window and group."""
    import numpy as np
    import pandas as pd

    mon = spec.monitor
    assert mon is not None
    data = spec.data
    decision = mon.decision or getattr(spec.model, "column", None)
    needed = {"timestamp (monitor.timestamp)": mon.timestamp, "label (data.label)": data.label}
    needed["decision (monitor.decision)"] = decision
    needed.update({f"sensitive (data.sensitive)[{c}]": c for c in data.sensitive})
    missing = [f"{what} {col!r}" for what, col in needed.items() if col not in frame.columns]
    if missing:
        raise MonitorDataError(
            f"The log has no {', '.join(missing)} column. Its columns: {list(frame.columns)}."
        )
    _check_groups(frame, list(data.sensitive))
    ts = pd.to_datetime(frame[mon.timestamp], utc=True, errors="coerce", format="mixed")
    bad = int(ts.isna().sum())
    if bad:
        raise MonitorDataError(
            f"The log's timestamp column {mon.timestamp!r} holds {count_of(bad, len(ts))} "
            "value(s) that are not "
            "times: every decision needs a time."
        )
    order = np.argsort(ts.to_numpy(), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    ts = ts.iloc[order].reset_index(drop=True)
    label = frame[data.label]
    decided = frame[decision]
    values = getattr(spec.model, "decision_values", None)
    if values:
        decided = decided.map(lambda v: values.get(v, v))
    reviewed = label.notna() & decided.notna()
    if mon.metric != "error_rate" or _group_checks(spec):  # rates of a positive class
        _check_binary(label[reviewed], decided[decided.notna()], spec)
    positive = _same(label, pd.Series([data.positive_label] * len(frame)))
    says_positive = _same(decided, pd.Series([data.positive_label] * len(frame)))
    wrong = ~_same(decided, label)
    if mon.metric == "false_positive_rate":
        inside = reviewed & ~positive
    elif mon.metric == "false_negative_rate":
        inside = reviewed & positive
    else:
        inside = reviewed
    errors = (
        (inside & wrong)
        if mon.metric == "error_rate"
        else inside & (says_positive if mon.metric == "false_positive_rate" else ~says_positive)
    )
    p_wrong = None
    if mon.score is not None:
        if mon.score not in frame.columns:
            raise MonitorDataError(
                f"The log has no score (monitor.score) column {mon.score!r}. "
                f"Its columns: {list(frame.columns)}."
            )
        score = pd.to_numeric(frame[mon.score], errors="coerce")
        if score.isna().any() or ((score < 0) | (score > 1)).any():
            raise MonitorDataError(
                f"The log's score column {mon.score!r} must hold probabilities in [0, 1] for "
                "every decision."
            )
        p_wrong = np.where(says_positive, 1.0 - score, score)
    if mon.window_seconds is not None:
        step = pd.Timedelta(seconds=mon.window_seconds)
        starts = ts.dt.floor(step)
        first, last = starts.iloc[0], starts.iloc[-1]
        n_windows = int((last - first) / step)  # the last window is still open
        if n_windows > MAX_WINDOWS:
            raise MonitorDataError(
                f"The log spans {n_windows:,} windows of {mon.window}, more than the "
                f"{MAX_WINDOWS:,} a monitor run judges: choose a longer monitor.window."
            )
        index = ((starts - first) / step).astype(int).to_numpy()
        bounds = [first + i * step for i in range(n_windows + 1)]
        labels = [b.isoformat() for b in bounds[:-1]]
        ends = [b.isoformat() for b in bounds[1:]]
    else:
        size = int(mon.window_count or 1)
        n_windows = len(frame) // size
        index = np.arange(len(frame)) // size
        labels = [f"decisions {i * size + 1}-{(i + 1) * size}" for i in range(n_windows)]
        ends = [str((i + 1) * size) for i in range(n_windows)]
    work = pd.DataFrame({"w": index, "k": errors.to_numpy(), "n": inside.to_numpy()})
    for col in data.sensitive:
        work[col] = frame[col].astype(str).where(frame[col].notna(), "<missing>").to_numpy()
    cluster = data.cluster_column
    if cluster is not None and cluster not in frame.columns and _group_checks(spec):
        raise MonitorDataError(
            f"The log has no cluster (data.cluster_column) column {cluster!r}, which the "
            f"fairness checks resample by. Its columns: {list(frame.columns)}."
        )
    rows = work[["w", *data.sensitive]].assign(
        y_true=positive.to_numpy(), y_pred=says_positive.to_numpy()
    )
    if cluster is not None and cluster in frame.columns:
        rows[cluster] = frame[cluster].to_numpy()
    rows = rows[reviewed.to_numpy() & (rows["w"] < n_windows).to_numpy()]
    work = work[work["w"] < n_windows]
    counts: list[dict[str, tuple[int, int]]] = [{} for _ in range(n_windows)]
    overall = work.groupby("w")[["k", "n"]].sum()
    for w in range(n_windows):
        k, n = overall.loc[w] if w in overall.index else (0, 0)
        counts[w][OVERALL] = (int(k), int(n))
    for col in data.sensitive:
        for (w, value), row in work.groupby(["w", col])[["k", "n"]].sum().iterrows():
            counts[int(w)][f"{col}={value}"] = (int(row["k"]), int(row["n"]))
    decisions = np.bincount(work["w"].to_numpy(), minlength=n_windows).tolist()
    estimates = None
    if p_wrong is not None:
        est = work[["w", *data.sensitive]].copy()
        est["e"] = p_wrong[work.index.to_numpy()]
        est["v"] = est["e"] * (1.0 - est["e"])
        est["c"] = 1
        estimates = [{} for _ in range(n_windows)]
        for w, row in est.groupby("w")[["e", "v", "c"]].sum().iterrows():
            estimates[int(w)][OVERALL] = (float(row["e"]), float(row["v"]), int(row["c"]))
        for col in data.sensitive:
            for (w, value), row in est.groupby(["w", col])[["e", "v", "c"]].sum().iterrows():
                estimates[int(w)][f"{col}={value}"] = (
                    float(row["e"]),
                    float(row["v"]),
                    int(row["c"]),
                )
    return Windows(
        counts=counts,
        labels=labels,
        ends=ends,
        decisions=[int(d) for d in decisions],
        pending_rows=int((index >= n_windows).sum()),
        rows=len(frame),
        reviewed=int(reviewed.sum()),
        estimates=estimates,
        reviewed_rows=rows.reset_index(drop=True),
        first_decision=ts.iloc[0].isoformat(),
    )

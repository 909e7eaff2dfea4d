"""What a stream keeps about single columns (audits/_stream_values.py): ids that are not
unique are counted as Great Expectations counts them over all rows (every row of a repeated
id), whatever the batches look like
(consecutive ranges, increasing with gaps, shuffled, repeats within and across batches); value
counts of integer labels equal pandas' over the whole column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audits._stream_values import UniqueIds, Values


def _repeats(ids: np.ndarray) -> int:
    """Rows whose id an earlier row already had."""
    return len(ids) - len(np.unique(ids))


def _not_unique(ids: np.ndarray) -> int:
    """Rows whose id is not unique, as Great Expectations counts them (pandas'
    ``duplicated(keep=False)``)."""
    return int(pd.Series(ids).duplicated(keep=False).sum())


def _batches(kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    if kind == "consecutive":  # the common log: ids 0, 1, 2, ... in order
        return [np.arange(s, s + 1000) for s in range(0, 10_000, 1000)]
    if kind == "consecutive_overlap":  # a range read twice, in part
        return [np.arange(0, 1000), np.arange(500, 1500), np.arange(1500, 2500)]
    if kind == "increasing_gaps":
        ids = np.sort(rng.choice(50_000, 8_000, replace=False))
        return np.array_split(ids, 7)
    if kind == "shuffled_with_repeats":
        ids = rng.integers(0, 5_000, 12_000)
        return np.array_split(ids, 5)
    if kind == "mixed":  # a consecutive batch that repeats ids of a shuffled one
        return [rng.permutation(3_000), np.arange(2_000, 4_000), np.array([3_999, 3_999, 7])]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["consecutive", "consecutive_overlap", "increasing_gaps", "shuffled_with_repeats", "mixed"],
)
def test_repeated_ids_are_counted_as_over_all_rows(kind):
    rng = np.random.default_rng(0)
    batches = _batches(kind, rng)
    ids = UniqueIds()
    for batch in batches:
        ids.add(batch.astype(np.int64))
    assert ids.checked
    every = np.concatenate(batches)
    assert ids.repeats == _repeats(every)
    assert ids.unexpected == _not_unique(every)
    if kind in ("consecutive", "increasing_gaps"):
        assert ids.unexpected == 0
    else:
        assert ids.unexpected > ids.repeats > 0


def test_value_counts_of_integer_codes_equal_pandas():
    rng = np.random.default_rng(1)
    column = rng.integers(0, 3, 5_000)
    values = Values()
    for part in np.array_split(column, 4):
        values.add(pa.array(part))
    values.add(pa.array([7, None, 7]))  # a missing value and another code
    expected = pd.Series(np.concatenate([column, [7, 7]])).value_counts().to_dict()
    assert values.counts == expected
    assert values.missing == 1


def test_a_streamed_log_counts_repeated_ids_as_great_expectations(tmp_path):
    """The same rows streamed (a folder of Parquet files) and in memory (Great Expectations
    counts them): the unique-id result has the same unexpected count; both stop the audit."""
    from audits import run_audit

    rng = np.random.default_rng(2)
    n = 30_000
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "sex": rng.choice(["female", "male"], n),
            "outcome": (rng.random(n) < 0.4).astype(int),
        }
    )
    frame["decision"] = frame.outcome
    frame.loc[[10, 20_000, 29_999], "id"] = 5  # id 5 four times, across files
    frame.loc[[11, 12], "id"] = 7_000  # id 7,000 three times, in one file
    folder = tmp_path / "log"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 10_000 : (i + 1) * 10_000].to_parquet(folder / f"{i}.parquet", index=False)
    frame.to_csv(tmp_path / "log.csv", index=False)
    counts = {}
    for name, path in (("stream", folder), ("memory", tmp_path / "log.csv")):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(
            f"spec_version: 1\nname: ids-{name}\n"
            "model: {kind: predictions, column: decision}\n"
            f"data: {{path: {path}, label: outcome, positive_label: 1, sensitive: [sex], "
            "id_column: id}\n"
            "checks:\n  - {metric: selection_rate, disparity: ratio, min: 0.8}\n"
        )
        document = run_audit(spec).document
        (result,) = [r for r in document["data_validation"]["results"] if r["kind"] == "unique_id"]
        counts[name] = result["unexpected_count"]
        assert document["verdict"] == "error"
    assert counts["stream"] == counts["memory"] == 7

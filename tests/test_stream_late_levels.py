"""Levels first seen late in a streamed log (one hive partition after another, a file sorted by
region) cannot grow the score histograms past the stream's memory budget: the first pass
counts, a second pass sums the histograms at the bins the budget allows for every cell, and
they equal histograms of all rows summed at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audits import _streaming as streaming
from audits import load_spec, run_audit
from metrics import choose_bins, count_table, score_histograms

SPEC = """spec_version: 1
name: late-{name}
model: {{kind: predictions, column: decision, score_column: score}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [sex, region]
checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.8}}
  - {{metric: roc_auc, disparity: difference, max: 0.2}}
"""
REGIONS = [f"r{i:03d}" for i in range(150)]  # 300 cells: 2^16 bins would be 300 MiB


def _log(rows: int, regions: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"sex": rng.choice(["female", "male"], rows), "region": rng.choice(regions, rows)}
    )
    frame["outcome"] = (rng.random(rows) < 0.4).astype(int)
    frame["score"] = np.clip(rng.normal(0.4 + 0.2 * frame.outcome, 0.2), 0, 1)
    frame["decision"] = (frame.score > 0.5).astype(int)
    return frame


@pytest.fixture(scope="module")
def late(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A folder whose first file holds one region; the others bring 149 more."""
    folder = tmp_path_factory.mktemp("late") / "log"
    folder.mkdir()
    parts = [_log(4_000, REGIONS[:1], 0)] + [_log(12_000, REGIONS, s) for s in (1, 2)]
    for i, part in enumerate(parts):
        part.to_parquet(folder / f"{i}.parquet", index=False)
    return folder, pd.concat(parts, ignore_index=True)


def test_histograms_of_late_levels_stay_within_the_budget(late, tmp_path):
    folder, frame = late
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(name="s", path=folder))
    streamed = streaming.stream_log(load_spec(spec), show=False)
    assert streamed.passes == 2
    cells = 2 * len(REGIONS)
    bins = choose_bins(cells)
    assert bins < 1 << 16 and streamed.histograms.bins == bins
    assert streamed.histograms.hist.size <= 1 << 24  # the budget: 128 MiB of counts
    # The same histograms as all rows summed at once, levels sorted as the count table's.
    table = count_table(frame.outcome, frame.decision, frame[["sex", "region"]])
    codes = [
        pd.Categorical(frame[c], categories=list(lv)).codes.astype(np.int64)
        for c, lv in zip(("sex", "region"), table.levels, strict=True)
    ]
    expected = score_histograms(
        codes[0] * len(table.levels[1]) + codes[1],
        frame.outcome.to_numpy() == 1,
        frame.score.to_numpy(),
        shape=table.counts.shape[:-2],
        bins=bins,
    )
    np.testing.assert_array_equal(streamed.histograms.hist, expected.hist)
    np.testing.assert_allclose(streamed.histograms.calib, expected.calib, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(streamed.table.counts, table.counts)


def test_the_audit_says_it_read_twice_and_decides_as_in_memory(late, tmp_path):
    folder, frame = late
    frame.to_csv(tmp_path / "late.csv", index=False)
    specs = {}
    for name, path in (("stream", folder), ("memory", tmp_path / "late.csv")):
        specs[name] = tmp_path / f"{name}.yaml"
        specs[name].write_text(SPEC.format(name=name, path=path))
    streamed, memory = run_audit(specs["stream"]), run_audit(specs["memory"])
    assert streamed.document["data"]["streaming"]["passes"] == 2
    assert streamed.document["data"]["streaming"]["score_bins"] == choose_bins(2 * len(REGIONS))
    assert streamed.document["groups"] == memory.document["groups"]
    assert streamed.document["verdict"] == memory.document["verdict"]
    statuses = [c["status"] for c in streamed.document["checks"]]
    assert statuses == [c["status"] for c in memory.document["checks"]]

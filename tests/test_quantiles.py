"""The engine's quantiles (metrics/_quantiles.py) equal scipy.stats' to the last bit, and the
studentized-range table is what scipy computes. ``python tests/test_quantiles.py`` prints the
table module (metrics/_studentized_range_table.py) from the installed scipy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from metrics import _quantiles as quantiles  # noqa: E402
from metrics._studentized_range_table import FIRST_K, STUDENTIZED_RANGE  # noqa: E402

LEVELS = (0.9, 0.95, 0.99)
LAST_K = 64
TABLE = ROOT / "metrics" / "_studentized_range_table.py"


def table_module() -> str:
    """The table module's text: its header as it is, the table computed by the installed
    scipy."""
    text = TABLE.read_text()
    header = text[: text.index("\n", text.index("STUDENTIZED_RANGE: dict"))]
    lines = [header]
    for level in LEVELS:
        lines.append(f"    {level!r}: (")
        for k in range(FIRST_K, LAST_K + 1):
            lines.append(f"        {float(stats.studentized_range.ppf(level, k, np.inf))!r},")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_the_table_is_what_scipy_computes():
    """Every entry, bit for bit (the module is the generator's output)."""
    assert TABLE.read_text() == table_module()
    assert set(STUDENTIZED_RANGE) == set(LEVELS)
    for level in LEVELS:
        for k in (FIRST_K, 10, LAST_K):
            expected = stats.studentized_range.ppf(level, k, np.inf)
            assert quantiles.studentized_range_ppf(level, k) == expected


@pytest.mark.parametrize(("level", "k"), [(0.95, LAST_K + 1), (0.97, 5), (0.95, 2)])
def test_beyond_the_table_scipy_answers(level, k):
    expected = stats.studentized_range.ppf(level, k, np.inf)
    assert quantiles.studentized_range_ppf(level, k) == expected


def test_t_and_normal_quantiles_equal_scipy_stats():
    df = np.array([1, 2, 3, 4.5, 9, 29, 30, 99, 1e3, 12_345, 1e5, 7e6, 1e9])
    q = np.array([0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 1e-3, 0.025, 0.125])
    dd, qq = np.meshgrid(df, q)
    np.testing.assert_array_equal(quantiles.t_ppf(qq, dd), stats.t.ppf(qq, dd))
    np.testing.assert_array_equal(quantiles.t_isf(qq, dd), stats.t.isf(qq, dd))
    np.testing.assert_array_equal(quantiles.normal_ppf(q), stats.norm.ppf(q))
    np.testing.assert_array_equal(quantiles.normal_isf(q), stats.norm.isf(q))
    # What an interval with no degrees of freedom gets: NaN, as from scipy.stats.
    assert np.isnan(quantiles.t_ppf(0.975, 0.0)) and np.isnan(stats.t.ppf(0.975, 0.0))


def test_an_audit_of_counts_never_imports_scipy_stats():
    """The engine's count and score-histogram paths (every interval, Tukey's range included)
    run without scipy.stats in the process."""
    code = """
import sys
import numpy as np, pandas as pd
from metrics import count_table, metrics_from_counts, score_disparity, score_histograms
rng = np.random.default_rng(0)
n = 20_000
frame = pd.DataFrame({"a": rng.choice(list("pqrst"), n), "b": rng.choice(list("xy"), n)})
y = rng.random(n) < 0.4
s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
table = count_table(y, s > 0.5, frame)
codes = [pd.Categorical(frame[c], categories=list(lv)).codes for c, lv in zip("ab", table.levels)]
cells = codes[0].astype(np.int64) * 2 + codes[1]
hist = score_histograms(cells, y, s, shape=table.counts.shape[:-2])
gm = metrics_from_counts(table, score_histograms=hist, n_boot=200)
for metric in ("selection_rate", "false_negative_rate"):
    for kind in ("difference", "ratio"):
        d = gm.disparity(metric, view="a", kind=kind)
        assert np.isfinite(d.ci).all(), d
for metric in ("roc_auc", "brier_score", "mean_score", "calibration_error"):
    d = score_disparity(gm.scores, metric, view="a", kind="difference")
    assert np.isfinite(d.ci).all(), d
print(sorted(m for m in sys.modules if m.startswith("scipy.stats")))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


if __name__ == "__main__":
    sys.stdout.write(table_module())

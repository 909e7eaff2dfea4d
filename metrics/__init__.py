"""fairgate's metric engine: fairness metrics from one count table, with honest intervals.

This package knows no audit spec, model or report: it takes arrays and returns typed results.

Main entry point: :func:`group_metrics` (rows); :func:`metrics_from_counts` takes a count
table (and score histograms) already summed elsewhere, e.g. batch by batch or by Spark.
"""

from ._breaker import (
    BreakerEvent,
    BreakerRun,
    BreakerSnapshot,
    BreakerState,
    ManualAction,
    ManualEvent,
    run_breaker,
    step_breaker,
)
from ._breaker_window import (
    OVERALL,
    BreakerPolicy,
    CellStat,
    CheckSignal,
    WindowHealth,
    WindowStats,
    assess_window,
    estimated_cells,
)
from ._candidates import Template, candidate_rows, scored_candidates, templates, value_grid
from ._counts import CountTable, GroupCounts, count_table, group_key
from ._disparity import DISPARITY_KINDS, against_reference, between_groups
from ._disparity_result import EQUALIZED_ODDS, DisparityResult
from ._exact import exact_disparity, exact_threshold
from ._from_counts import metrics_from_counts
from ._group_metrics import group_metrics
from ._group_result import GroupMetrics
from ._histogram_metrics import histogram_score_metrics
from ._histogram_scores import (
    DEFAULT_SCORE_BINS,
    ScoreHistograms,
    choose_bins,
    compiled_kernel,
    fine_bins,
    score_histograms,
)
from ._intervals import (
    bootstrap_counts,
    holm,
    minimum_detectable_difference,
    percentile_interval,
    two_proportion_pvalue,
    wilson_interval,
)
from ._manipulation import (
    CounterfactualResult,
    ManipulationResult,
    counterfactual_flips,
    manipulation_search,
    typical_values,
)
from ._proxies import ProxyStrength, proxy_strength
from ._rates import RATES, Rate, get_rate, one_vs_rest, rate_parts, rate_values
from ._recourse import Action, RecourseResult, linear_recourse, recourse_search
from ._robustness import RobustnessResult, paired_change
from ._score_disparity import ScoreDisparity, score_disparity, score_range_interval
from ._scores import SCORE_METRICS, auc_delong, expected_calibration_error, score_metrics
from ._shap import Attributions, explain
from ._shares import GroupShares, group_codes, group_shares, median_gap
from ._simultaneous import range_interval, reference_interval

__all__ = [
    "DEFAULT_SCORE_BINS",
    "DISPARITY_KINDS",
    "EQUALIZED_ODDS",
    "OVERALL",
    "RATES",
    "SCORE_METRICS",
    "Action",
    "Attributions",
    "BreakerEvent",
    "BreakerPolicy",
    "BreakerRun",
    "BreakerSnapshot",
    "BreakerState",
    "CellStat",
    "CheckSignal",
    "CountTable",
    "CounterfactualResult",
    "DisparityResult",
    "GroupCounts",
    "GroupMetrics",
    "GroupShares",
    "ManipulationResult",
    "ManualAction",
    "ManualEvent",
    "ProxyStrength",
    "Rate",
    "RecourseResult",
    "RobustnessResult",
    "ScoreDisparity",
    "ScoreHistograms",
    "Template",
    "WindowHealth",
    "WindowStats",
    "against_reference",
    "assess_window",
    "auc_delong",
    "between_groups",
    "bootstrap_counts",
    "candidate_rows",
    "choose_bins",
    "compiled_kernel",
    "count_table",
    "counterfactual_flips",
    "estimated_cells",
    "exact_disparity",
    "exact_threshold",
    "expected_calibration_error",
    "explain",
    "fine_bins",
    "get_rate",
    "group_codes",
    "group_key",
    "group_metrics",
    "group_shares",
    "histogram_score_metrics",
    "holm",
    "linear_recourse",
    "manipulation_search",
    "median_gap",
    "metrics_from_counts",
    "minimum_detectable_difference",
    "one_vs_rest",
    "paired_change",
    "percentile_interval",
    "proxy_strength",
    "range_interval",
    "rate_parts",
    "rate_values",
    "recourse_search",
    "reference_interval",
    "run_breaker",
    "score_disparity",
    "score_histograms",
    "score_metrics",
    "score_range_interval",
    "scored_candidates",
    "step_breaker",
    "templates",
    "two_proportion_pvalue",
    "typical_values",
    "value_grid",
    "wilson_interval",
]

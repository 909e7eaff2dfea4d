"""Named Great Expectations expectations that can never fail, refused as the spec's own
checks that cannot fail are (:func:`audits._spec_rules.threshold_problems`).

The rules follow the arguments of Great Expectations 1.x's expectation classes rather than a
list of names: ``mostly`` (every column map expectation) is the share of rows that must meet
the expectation, so ``mostly: 0`` lets every data pass; an ``expect_*_to_be_between``
expectation is bounded by ``min_value`` and ``max_value``, each optional (its quantile
variant by the ``value_ranges`` of ``quantile_ranges``), so with neither it passes every
data; and a proportion is always within [0, 1].
"""

from __future__ import annotations

from typing import Any

__all__ = ["never_fails"]


def _shown(kwargs: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{key}: {kwargs.get(key)!r}" for key in keys)


def never_fails(expectation: str, kwargs: dict[str, Any]) -> str | None:
    """Why the expectation with these arguments can never fail (a message that follows
    ``data.expectations[i].kwargs``), or ``None``."""
    if "mostly" in kwargs:
        mostly = kwargs["mostly"]  # a number, or a suite parameter (a mapping)
        if (
            isinstance(mostly, bool)
            or not isinstance(mostly, int | float | dict)
            or (not isinstance(mostly, dict) and mostly <= 0)
        ):
            return (
                "must set mostly above 0 (the share of rows that must meet the "
                "expectation): at 0 or less every row may miss it, so the expectation can "
                f"never fail and blocks nothing. Got mostly: {mostly!r} instead."
            )
    if not expectation.endswith("_to_be_between"):
        return None
    if "quantile_ranges" in kwargs:
        quantiles = kwargs["quantile_ranges"]
        ranges = quantiles.get("value_ranges") if isinstance(quantiles, dict) else None
        if (
            isinstance(ranges, list)
            and ranges
            and all(isinstance(r, list) and all(v is None for v in r) for r in ranges)
        ):
            return (
                f"must give {expectation} a bound in quantile_ranges.value_ranges: with only "
                "nulls every quantile passes, so the expectation can never fail and blocks "
                f"nothing. Got value_ranges: {ranges!r} instead."
            )
        return None
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        return (
            f"must give {expectation} a bound (min_value or max_value): without one every "
            "value passes, so the expectation can never fail and blocks nothing. Got "
            f"{_shown(kwargs, ('min_value', 'max_value'))} instead."
        )
    numbers = [
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in (low, high)
    ]
    if (
        "_proportion_" in expectation
        and all(numbers)
        and (low is None or low <= 0)
        and (high is None or high >= 1)
    ):
        return (
            f"must give {expectation} a bound some data could break: a proportion is "
            "always within [0, 1], so the expectation can never fail and blocks nothing. "
            f"Got {_shown(kwargs, ('min_value', 'max_value'))} instead."
        )
    return None

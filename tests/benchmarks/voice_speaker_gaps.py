"""Speaker-level intervals of the voice-menu audits' misrouting gaps (README's table).

Clips of one speaker are not independent, so each group's accuracy is bootstrapped by
resampling whole speakers within the group (the robustness checks' cluster bootstrap,
:func:`metrics.paired_change`, applied to "right" against "all wrong", whose drop is the
accuracy). Groups with fewer than three speakers are not judged. Run from the repository root:
``python tests/benchmarks/voice_speaker_gaps.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audits._data import _features
from audits._decisions import _decide
from audits._spec import load_spec
from metrics import paired_change
from models_under_test import load_model

__all__ = ["speaker_level_gaps"]


def speaker_level_gaps(version: str, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per view: the misrouting gap, its clip-level and speaker-level 95 % intervals."""
    spec = load_spec(f"audits/specs/voice_menu_{version}.yaml")
    frame = pd.read_csv(spec.data.path)
    features, batch = _features(spec, frame, None)
    params = spec.model.model_dump()
    adapter = load_model(params.pop("kind"), **params)
    decisions = _decide(
        adapter, frame, features, positive_label=None, show=False, batch_rows=batch
    ).decisions
    right = decisions == frame[spec.data.label].to_numpy()
    wrong_after = np.zeros(len(right), bool)
    rows = []
    for view in spec.data.sensitive:
        found = {}
        for kind, clusters in (("clips", None), ("speakers", frame.speaker.to_numpy())):
            res = paired_change(
                right,
                wrong_after,
                frame[[view]],
                n_boot=n_boot,
                seed=seed,
                min_group_size=spec.data.min_group_size,
                clusters=clusters,
            )
            found[kind] = res
        res = found["speakers"]
        table = res.per_group
        rows.append(
            {
                "version": version,
                "view": view,
                "gap (clips)": round(found["clips"].value, 3),
                "interval (clips)": tuple(round(x, 3) for x in found["clips"].ci),
                "gap (speakers)": round(res.value, 3),
                "interval (speakers)": tuple(round(x, 3) for x in res.ci),
                "worst": res.best_group,  # least accuracy left = most misrouted
                "not judged": list(table.group[~table.sufficient]),
            }
        )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.concat([speaker_level_gaps(v) for v in ("v1", "v2")], ignore_index=True))

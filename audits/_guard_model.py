"""The breaker guard: an MLflow pyfunc that hands decisions to people while the breaker is open.

This file is logged as MLflow *model code* by ``fairgate guard`` and runs inside the model
server, so it imports nothing from fairgate. The wrapped model is an artifact of the guard.
The breaker's state is read from the state file written by ``fairgate monitor`` (a path, or
an ``http(s)://`` URL serving it) or from the ``fairgate.breaker`` tag of a registered
version (``models:/name/3``), at most every ``refresh_s`` seconds. A state that cannot be
read, or is unknown, counts as open: the guard fails closed. With ``max_age_s``, so does a
state last written longer ago than that (the monitor that renews it may have stopped), or
one that does not say when it was written.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

MANUAL_REVIEW = "manual_review"


class BreakerGuard(PythonModel):
    """Answer with the model's decision while the breaker is closed, else ``manual_review``."""

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        self._source = str(config["state"])
        self._refresh = float(config.get("refresh_s", 5.0))
        self._max_age = float(config.get("max_age_s") or 0.0)  # 0: no limit (older guards)
        self._model = mlflow.pyfunc.load_model(context.artifacts["model"])
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._state: tuple[str, str] = ("open", "breaker state not read yet")

    def _read(self) -> tuple[str, str]:
        state, reason, updated_at = self._read_source()
        if self._max_age > 0 and state != "open":
            try:
                written = datetime.fromisoformat(str(updated_at))
                age = (datetime.now(UTC) - written).total_seconds()
            except (TypeError, ValueError):  # no time, or not one: as good as too old
                return "open", "the breaker state does not say when it was written: people decide"
            if not age <= self._max_age:
                return "open", (
                    f"the breaker state was last written at {updated_at}, more than "
                    f"{self._max_age:g} s ago: the monitor may have stopped; people decide"
                )
        return state, reason

    def _read_source(self) -> tuple[str, str, Any]:
        source = self._source
        if source.startswith("models:/"):
            from mlflow.tracking import MlflowClient

            name, _, version = source.removeprefix("models:/").partition("/")
            found = MlflowClient().get_model_version(name, version)
            state = found.tags.get("fairgate.breaker")
            if state is None:  # never monitored, or its tag was never set: no permission
                return "open", f"{source} has no fairgate.breaker tag: people decide", None
            reason = found.tags.get("fairgate.breaker.reason", f"fairgate.breaker={state}")
            return state, reason, found.tags.get("fairgate.breaker.updated_at")
        if source.startswith(("http://", "https://")):
            import urllib.request

            with urllib.request.urlopen(source, timeout=2) as answer:
                doc = json.loads(answer.read())
        else:
            with open(source, encoding="utf-8") as handle:
                doc = json.load(handle)
        return str(doc["state"]), str(doc.get("reason", "")), doc.get("updated_at")

    def state(self) -> tuple[str, str]:
        """The breaker's state and reason, read again when older than ``refresh_s``."""
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self._refresh:
                try:
                    state, reason = self._read()
                    if state not in ("closed", "open", "half_open"):
                        state, reason = "open", f"unknown breaker state {state!r}"
                except Exception as err:  # an unreadable state is no permission to decide
                    state = "open"
                    reason = f"breaker state unreadable ({type(err).__name__}): people decide"
                self._state = (state, reason)
                self._read_at = now
            return self._state

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        state, reason = self.state()
        n = len(model_input)
        if state == "closed":
            decisions = list(pd.Series(_flat(self._model.predict(model_input))))
            return pd.DataFrame({"decision": decisions, "breaker": state, "reason": ""})
        shadow: list[Any] = [None] * n
        if state == "half_open":  # the model runs in shadow: its answer is kept, not used
            with contextlib.suppress(Exception):  # a failing shadow changes nothing for people
                shadow = list(pd.Series(_flat(self._model.predict(model_input))))
        return pd.DataFrame(
            {
                "decision": [MANUAL_REVIEW] * n,
                "breaker": state,
                "reason": reason,
                "shadow_decision": shadow,
            }
        )


def _flat(predictions: Any) -> Any:
    if isinstance(predictions, pd.DataFrame):
        return predictions.iloc[:, 0]
    return predictions


if __name__ != "audits._guard_model":  # run as MLflow model code, not imported by fairgate
    mlflow.models.set_model(BreakerGuard())

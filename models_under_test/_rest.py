"""The ``rest`` model kind: a deployed model behind HTTP.

Two protocols:

* ``mlflow``: MLflow's scoring server, ``POST {url}/invocations`` with
  ``{"dataframe_split": {"columns": [...], "data": [...]}}``, answering
  ``{"predictions": [...]}``;
* ``kserve``: the KServe / Open Inference Protocol v2, ``POST {url}/v2/models/{name}/infer``
  with one input tensor per column, answering ``{"model_version": ..., "outputs": [...]}``.

Rows go in batches, each request with a timeout; a 5xx answer or a connection error is retried
a bounded number of times with exponential backoff; requests are spaced to respect a rate
limit; authentication headers are read from environment variables named in the spec and never
stored. If any batch fails after its retries, the whole prediction fails: no verdict on
partial data.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from ._adapters import ModelLoadError, PredictionError
from ._urls import public_uri, url_secrets

__all__ = ["RestAdapter", "load_rest", "redact"]

#: Characters of a response body quoted in an error message, after redaction.
BODY_QUOTE = 200
#: The most bytes of one answer read: a batch's decisions never need more.
MAX_ANSWER = 64 << 20
_REDACTED = "[redacted]"


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (and its whitespace-stripped, escaped and long
    space-separated parts) replaced, longest first."""
    needles: set[str] = set()
    for secret in secrets:
        for variant in (secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1]):
            if variant:
                needles.add(variant)
        needles.update(part for part in secret.split() if len(part) >= 8)
    for needle in sorted(needles, key=len, reverse=True):
        text = text.replace(needle, _REDACTED)
    return text


def _jsonable(frame: pd.DataFrame) -> list[list[Any]]:
    return json.loads(frame.to_json(orient="values", date_format="iso"))


def _kserve_type(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col):
        return "BOOL"
    if pd.api.types.is_integer_dtype(col):
        return "INT64"
    if pd.api.types.is_float_dtype(col):
        return "FP64"
    return "BYTES"


@dataclass
class RestAdapter:
    """A model served over HTTP (see the module docstring for the protocols)."""

    url: str
    protocol: str = "mlflow"
    model_name: str | None = None
    batch_size: int = 1000
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.5
    rate_limit_per_s: float | None = None
    headers_from_env: dict[str, str] = field(default_factory=dict)
    kind: str = "rest"
    content_hash: str | None = None
    decision_column: str | None = None
    #: Requests sent, retried and failed, and the model version the endpoint reported.
    stats: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": 0,
            "retries": 0,
            "failed_requests": 0,
            "model_version": None,
        }
    )
    _last: float = field(default=0.0, repr=False)

    @property
    def uri(self) -> str:
        """The endpoint as it may be shown: user, password and query values as ``***``."""
        return public_uri(self.url)

    def _secrets(self) -> list[str]:
        """Every value that must never appear in a message: header values from the
        environment, and the URL's password and query values."""
        found = [os.environ.get(v) or "" for v in self.headers_from_env.values()]
        found += url_secrets(self.url)
        return [s for s in found if s.strip()]

    def _say(self, text: str) -> str:
        return redact(text, self._secrets())

    def _quote(self, body: str) -> str:
        """A response body as an error message may quote it: secrets removed, truncated."""
        clean = self._say(body)
        return clean[:BODY_QUOTE] + ("…" if len(clean) > BODY_QUOTE else "")

    @property
    def has_proba(self) -> bool:
        return False

    @property
    def classes(self) -> list[Any] | None:
        return None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        for header, variable in self.headers_from_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise PredictionError(
                    f"The environment variable {variable!r} named for the {header!r} header of "
                    f"{self.uri} is not set."
                )
            value = value.strip()  # a value read from a file often ends in a newline
            if not value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise PredictionError(
                    f"The environment variable {variable!r} named for the {header!r} header of "
                    f"{self.uri} is empty or holds control characters (such as a line break) "
                    "inside its value; its value is not shown."
                )
            headers[header] = value
        return headers

    def _endpoint(self) -> str:
        """The URL posted to: the protocol's path appended to the URL's path, its query
        string (an API key, say) kept after it, its fragment (never sent) dropped."""
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        if self.protocol == "mlflow":
            path = path if path.endswith("/invocations") else f"{path}/invocations"
        else:
            path = f"{path}/v2/models/{self.model_name}/infer"
        return urlunsplit(parts._replace(path=path, fragment=""))

    def _body(self, batch: pd.DataFrame) -> dict[str, Any]:
        if self.protocol == "mlflow":
            return {
                "dataframe_split": {
                    "columns": [str(c) for c in batch.columns],
                    "data": _jsonable(batch),
                }
            }
        return {
            "inputs": [
                {
                    "name": str(c),
                    "shape": [len(batch)],
                    "datatype": _kserve_type(batch[c]),
                    "data": json.loads(batch[c].to_json(orient="values")),
                }
                for c in batch.columns
            ]
        }

    def _parse(self, answer: dict[str, Any], n: int) -> np.ndarray:
        if self.protocol == "mlflow":
            values = answer.get("predictions") if isinstance(answer, dict) else answer
        else:
            self.stats["model_version"] = answer.get("model_version")
            outputs = answer.get("outputs") or [{}]
            values = outputs[0].get("data")
        arr = np.asarray(values).reshape(-1) if values is not None else np.array([])
        if len(arr) != n:
            raise PredictionError(  # no count: one under 11 may not be shown (the rule)
                f"{self.uri} answered {'fewer' if len(arr) < n else 'more'} predictions than "
                "the batch has rows: one prediction per row is expected."
            )
        return arr

    def _wait_for_rate_limit(self) -> None:
        if self.rate_limit_per_s:
            gap = 1.0 / self.rate_limit_per_s - (time.monotonic() - self._last)
            if gap > 0:
                time.sleep(gap)
        self._last = time.monotonic()

    def _answer(self, session: Any, body: dict[str, Any]) -> tuple[int, Any, bytes]:
        """One request: (status, headers, body), the body read whole within ``timeout_s``
        and at most :data:`MAX_ANSWER` bytes. requests' timeout bounds each read only: a
        server sending a byte now and then kept the audit waiting without end."""
        import requests

        box: dict[str, Any] = {}

        def call() -> None:
            try:
                with session.post(
                    self._endpoint(),
                    json=body,
                    headers=self._headers(),
                    timeout=self.timeout_s,
                    stream=True,
                ) as response:
                    chunks, size = [], 0
                    for chunk in response.iter_content(1 << 16):
                        size += len(chunk)
                        if size > MAX_ANSWER:
                            raise PredictionError(
                                f"{public_uri(self._endpoint())} answered more than "
                                f"{MAX_ANSWER} bytes for a batch: refused."
                            )
                        chunks.append(chunk)
                    box["answer"] = (response.status_code, response.headers, b"".join(chunks))
            except BaseException as err:  # raised again in the auditing thread
                box["error"] = err

        worker = threading.Thread(target=call, name="fairgate-rest", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():  # left behind (a daemon): its answer is never read
            raise requests.Timeout(f"no whole answer within timeout_s = {self.timeout_s:g} s")
        if "error" in box:
            raise box["error"]
        return box["answer"]

    def _post(self, session: Any, body: dict[str, Any], n: int) -> np.ndarray:
        import requests

        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self._wait_for_rate_limit()
            self.stats["requests"] += 1
            try:
                status, headers, content = self._answer(session, body)
            except (requests.RequestException, ValueError) as err:
                last_error = self._say(f"{type(err).__name__}: {err}")
                continue
            endpoint = public_uri(self._endpoint())
            text = content.decode("utf-8", errors="replace")
            if status >= 500:
                last_error = f"HTTP {status}: {self._quote(text)}"
                continue
            if status >= 400:
                self.stats["failed_requests"] += 1
                raise PredictionError(
                    f"{endpoint} refused the request: HTTP {status}: {self._quote(text)}"
                )
            try:
                answer = json.loads(content)
            except ValueError as err:
                self.stats["failed_requests"] += 1
                kind = headers.get("Content-Type") or "no content type"
                raise PredictionError(
                    f"{endpoint} answered HTTP {status} with a body that is not "
                    f"JSON ({self._say(kind)}): {self._quote(text)!r}"
                ) from err
            return self._parse(answer, n)
        self.stats["failed_requests"] += 1
        raise PredictionError(
            f"{public_uri(self._endpoint())} failed after {self.retries + 1} attempts: {last_error}"
        )

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        import requests

        parts = []
        with requests.Session() as session:
            for start in range(0, len(features), self.batch_size):
                batch = features.iloc[start : start + self.batch_size]
                parts.append(self._post(session, self._body(batch), len(batch)))
        return np.concatenate(parts) if parts else np.array([])

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        raise PredictionError(f"The endpoint {self.uri} returns decisions, not probabilities.")


def load_rest(
    *,
    url: str,
    protocol: str = "mlflow",
    model_name: str | None = None,
    batch_size: int = 1000,
    timeout_s: float = 30.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    rate_limit_per_s: float | None = None,
    headers_from_env: dict[str, str] | None = None,
    **_: Any,
) -> RestAdapter:
    """A model behind an HTTP endpoint; nothing is contacted until it predicts."""
    if protocol not in ("mlflow", "kserve"):
        raise ModelLoadError(f"The 'protocol' must be 'mlflow' or 'kserve'. Got {protocol!r}.")
    if protocol == "kserve" and not model_name:
        raise ModelLoadError("A KServe v2 endpoint needs model.model_name.")
    if batch_size < 1 or retries < 0 or not math.isfinite(timeout_s):
        raise ModelLoadError("batch_size must be >= 1, retries >= 0, timeout_s finite.")
    return RestAdapter(
        url=url,
        protocol=protocol,
        model_name=model_name,
        batch_size=batch_size,
        timeout_s=timeout_s,
        retries=retries,
        backoff_s=backoff_s,
        rate_limit_per_s=rate_limit_per_s,
        headers_from_env=dict(headers_from_env or {}),
    )

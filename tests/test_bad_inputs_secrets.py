"""Hostile inputs (issue 10): pickled MLflow models, leaked secrets, hostile names and values.

* item 7: an MLflow model folder whose flavour unpickles code is refused unless trusted and
  pinned; a real malicious pickle (it creates a marker file when unpickled) is never opened.
* item 8: a REST secret with a trailing newline, echoed back by the server in error bodies,
  appears in no output file, MLflow store or process output; a non-JSON answer names the
  endpoint without its credentials.
* item 16: HTML, ``|``, control characters and line breaks in column names and group values
  leave summary.md's tables whole and junit.xml well-formed.
* messages: ``models:/x@y`` not found names the tracking store it searched (no password);
  ``--quiet`` prints no MLflow download progress bar.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from .bad_inputs_support import (
    assert_exit,
    assert_no_release,
    assert_no_secret,
    decision_log,
    log_spec,
    run_cli,
    write_yaml,
)
from .servers import free_port


class _Evil:
    """Unpickling this object creates ``marker`` (``open(marker, 'w')``): code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _folder_sha256(path: Path) -> str:
    """The hash fairgate pins a model folder by (names and contents, sorted)."""
    from models_under_test import file_sha256

    return file_sha256(path)


# --------------------------------------------------------------------------- item 7: MLflow


def _mlmodel(folder: Path, flavors: dict, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors, "mlflow_version": "3"}))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _sklearn_flavours(file: str, fmt: str, **pyfunc) -> dict:
    return {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": file, **pyfunc},
        "sklearn": {"pickled_model": file, "serialization_format": fmt, "sklearn_version": "1"},
    }


def _evil_model(kind: str, folder: Path, marker: Path) -> Path:
    """A model folder whose loading would unpickle :class:`_Evil`."""
    evil = pickle.dumps(_Evil(marker))
    if kind == "sklearn-pickle":
        return _mlmodel(folder, _sklearn_flavours("model.pkl", "pickle"), {"model.pkl": evil})
    if kind == "sklearn-cloudpickle":
        flavours = _sklearn_flavours("model.pkl", "cloudpickle")
        return _mlmodel(folder, flavours, {"model.pkl": evil})
    if kind == "pyfunc-cloudpickle":
        flavours = {
            "python_function": {
                "loader_module": "mlflow.pyfunc.model",
                "python_model": "python_model.pkl",
                "cloudpickle_version": "3.1.3",
            }
        }
        return _mlmodel(folder, flavours, {"python_model.pkl": evil})
    if kind == "skops-claimed-pickle":  # the MLmodel says skops, the file is a pickle
        return _mlmodel(folder, _sklearn_flavours("model.skops", "skops"), {"model.skops": evil})
    if kind == "skops-with-code":  # code shipped with the model goes on sys.path
        flavours = _sklearn_flavours("model.skops", "skops", code="code")
        (folder / "code").mkdir(parents=True)
        (folder / "code" / "evil.py").write_text(f"open({str(marker)!r}, 'w')\n")
        return _mlmodel(folder, flavours, {"model.skops": evil})
    if kind == "path-outside":
        (folder.parent / "outside.pkl").write_bytes(evil)
        return _mlmodel(folder, _sklearn_flavours("../outside.pkl", "skops"), {})
    if kind == "no-mlmodel":
        folder.mkdir(parents=True)
        (folder / "model.pkl").write_bytes(evil)
        return folder
    raise AssertionError(kind)


def _tabular(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 400
    group = np.repeat([0, 1], n // 2)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"group": group, "x": x, "outcome": (x > 0).astype(int)})
    path = folder / "tab.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def tabular(tmp_path: Path) -> Path:
    """A decision log whose two groups are numeric, for a model fed (group, x)."""
    return _tabular(tmp_path)


def _mlflow_spec(tmp_path: Path, data: Path, **model) -> Path:
    spec = log_spec(data)
    spec["model"] = {"kind": "mlflow", **model}
    return write_yaml(tmp_path / "spec.yaml", spec)


@pytest.mark.parametrize(
    ("kind", "pin", "words"),
    [
        ("sklearn-pickle", {}, ["sklearn (pickle)", "model.trusted", "model.sha256"]),
        ("sklearn-cloudpickle", {}, ["cloudpickle", "model.trusted"]),
        ("pyfunc-cloudpickle", {}, ["mlflow.pyfunc.model", "model.trusted"]),
        ("sklearn-pickle", {"trusted": True}, ["refused unless", "model.sha256"]),
        ("sklearn-pickle", {"sha256": "0" * 64}, ["refused unless", "model.trusted"]),
        ("sklearn-pickle", {"trusted": True, "sha256": "0" * 64}, ["not the pinned"]),
        ("skops-claimed-pickle", {}, ["skops file", "cannot be read"]),
        ("skops-with-code", {}, ["model.trusted"]),
        ("path-outside", {}, ["outside the model folder"]),
        ("no-mlmodel", {}, ["no readable MLmodel"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_pickled_mlflow_model_is_never_opened(tmp_path, tabular, fairgate, kind, pin, words):
    marker = tmp_path / "PWNED"
    folder = _evil_model(kind, tmp_path / "model", marker)
    out = tmp_path / "out"
    code, _, stderr = fairgate(
        "run", _mlflow_spec(tmp_path, tabular, uri=str(folder), **pin), "--out", out,
        "--no-mlflow", "-q",
    )  # fmt: skip
    assert code == 2, stderr
    message = json.loads((out / "results.json").read_text())["errors"][0]["message"]
    for word in words:
        assert word.lower() in message.lower(), message
    assert not marker.exists(), "the pickle ran"
    assert_no_release(out)


def test_the_malicious_pickle_is_real_when_trusted_and_pinned(tmp_path, tabular, fairgate):
    """The same folder, trusted and pinned, is unpickled: the refusals above are real."""
    marker = tmp_path / "PWNED"
    folder = _evil_model("sklearn-pickle", tmp_path / "model", marker)
    spec = _mlflow_spec(
        tmp_path, tabular, uri=str(folder), trusted=True, sha256=_folder_sha256(folder)
    )
    code, _, err = fairgate("run", spec, "--out", tmp_path / "out", "--no-mlflow", "-q")
    assert marker.exists() and code == 2, err  # it ran, and is no model: still no release


TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="module")
def skops_tree(tmp_path_factory) -> Path:
    """A decision tree on (group, x), saved by MLflow with skops."""
    import mlflow.sklearn
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path_factory.mktemp("tree")
    frame = pd.read_csv(_tabular(folder))
    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    tree.fit(frame[["group", "x"]], frame["outcome"])
    path = folder / "tree"
    mlflow.sklearn.save_model(
        tree, str(path), serialization_format="skops", skops_trusted_types=[TREE]
    )
    return path


@pytest.mark.parametrize(
    ("trusted_types", "code", "words"),
    [
        ([], 2, ["not trusted", TREE]),
        ([TREE], 0, []),
    ],
    ids=["types-not-trusted", "types-trusted"],
)
def test_a_skops_mlflow_model_needs_no_pin_but_its_types_trusted(
    tmp_path, tabular, skops_tree, fairgate, trusted_types, code, words
):
    spec = _mlflow_spec(tmp_path, tabular, uri=str(skops_tree), trusted_types=trusted_types)
    out = tmp_path / "out"
    got, _, err = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    assert got == code, (err, doc["errors"])
    assert doc["provenance"]["model_sha256"] == _folder_sha256(skops_tree) or code
    for word in words:
        assert word in doc["errors"][0]["message"]


@pytest.fixture(scope="module")
def registry_store(tmp_path_factory, skops_tree: Path) -> str:
    """A sqlite registry holding the skops tree as ``tree`` version 1, alias ``candidate``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("reg")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("reg", artifact_location=(folder / "a").as_uri())
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=exp):
            mlflow.sklearn.log_model(
                mlflow.sklearn.load_model(str(skops_tree)),
                name="model",
                registered_model_name="tree",
                serialization_format="skops",
                skops_trusted_types=[TREE],
            )
    finally:
        mlflow.set_tracking_uri(None)
    client.set_registered_model_alias("tree", "candidate", "1")
    return uri


def test_quiet_prints_no_mlflow_download_bar(tmp_path, tabular, registry_store, fairgate):
    spec = _mlflow_spec(tmp_path, tabular, uri="models:/tree@candidate", trusted_types=[TREE])
    code, _, err = fairgate(
        "run", spec, "--tracking-uri", registry_store, "-q", "--out", tmp_path / "o"
    )
    assert code == 0, err
    assert "Downloading artifacts" not in err and "it/s" not in err


@pytest.mark.parametrize(
    ("tracking", "shown", "hidden"),
    [
        ("sqlite", "{uri}", None),  # the whole store URI, as given
        ("http://auditor:hunter2-pw@127.0.0.1:{port}/?token=tok-3f9a", "127.0.0.1", "hunter2"),
    ],
    ids=["sqlite-store", "server-with-credentials"],
)
def test_a_missing_registered_model_names_the_store(
    tmp_path, tabular, registry_store, fairgate, monkeypatch, tracking, shown, hidden
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    uri = registry_store if tracking == "sqlite" else tracking.format(port=free_port())
    spec = _mlflow_spec(tmp_path, tabular, uri="models:/tree@nowhere")
    out = tmp_path / "o"
    code, stdout, stderr = fairgate(
        "run", spec, "--tracking-uri", uri, "--no-mlflow", "-q", "--out", out
    )
    assert code == 2, stderr
    for word in (
        "models:/tree@nowhere",
        "was not found in the tracking store",
        shown.format(uri=uri),
    ):
        assert word in stderr
    if hidden:
        for needle in (hidden, "tok-3f9a"):
            assert_no_secret(needle, out, outputs=[stdout, stderr])


# ----------------------------------------------------------------------------- item 8: REST

SECRET = "Bearer fg-7c1e-SECRET-a93b"


class _EchoServer:
    """A scoring endpoint that answers with the request's headers in its body.

    ``mode``: ``500`` and ``400`` answer that status with the headers as JSON; ``html``
    answers 200 with an HTML page quoting them (not JSON).
    """

    def __init__(self, mode: str):
        server = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                server.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo = json.dumps({"error": "bad token", "headers": dict(self.headers)})
                status, kind = {"500": (500, "json"), "400": (400, "json")}.get(
                    mode, (200, "text/html")
                )
                body = echo if kind == "json" else f"<html><pre>{echo}</pre></html>"
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if kind == "json" else kind)
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echo_server(request):
    server = _EchoServer(request.param)
    yield server
    server.close()


def _rest_spec(tmp_path: Path, url: str, variable: str = "FG_TOKEN") -> Path:
    data = decision_log(tmp_path)
    spec = log_spec(data)
    spec["model"] = {
        "kind": "rest",
        "url": url,
        "retries": 1,
        "backoff_s": 0.05,
        "headers_from_env": {"Authorization": variable, "X-Api-Key": "FG_KEY"},
    }
    return write_yaml(tmp_path / "rest.yaml", spec)


def test_a_rest_secret_echoed_in_a_500_appears_nowhere(tmp_path):
    """A real process logging to a temp sqlite store, a secret ending in a newline, a server
    echoing it back: every file, the store and the process output are searched."""
    server = _EchoServer("500")
    store = tmp_path / "store"
    store.mkdir()
    out = tmp_path / "out"
    try:
        proc = run_cli(
            "run", _rest_spec(tmp_path, server.url), "--out", out,
            "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}",
            env={"FG_TOKEN": SECRET + "\n", "FG_KEY": "key-9d8e7f6a5b4c"},
        )  # fmt: skip
    finally:
        server.close()
    assert_exit(proc, 2, f"{server.url}/invocations", "HTTP 500", "failed after 2 attempts")
    assert server.requests == 2  # the secret really went out, twice, and came back
    assert list(store.rglob("report.html")), "the evidence was not logged to MLflow"
    for needle in (SECRET, "fg-7c1e-SECRET-a93b", "key-9d8e7f6a5b4c"):
        assert_no_secret(needle, out, store, outputs=[proc.stdout, proc.stderr])
    assert_no_release(out, store)


@pytest.mark.parametrize(
    ("echo_server", "secret", "words"),
    [
        ("400", SECRET + "\r\n", ["HTTP 400", "refused the request"]),
        ("html", SECRET, ["not JSON", "text/html", "/invocations"]),
        ("500", "  " + SECRET + "\n\n", ["HTTP 500", "failed after 2 attempts"]),
    ],
    indirect=["echo_server"],
    ids=["400-echo-crlf", "html-not-json", "500-echo-padded"],
)
def test_a_rest_secret_echoed_back_is_redacted(
    tmp_path, echo_server, fairgate, monkeypatch, secret, words
):
    monkeypatch.setenv("FG_TOKEN", secret)
    monkeypatch.setenv("FG_KEY", "key-9d8e7f6a5b4c")
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", _rest_spec(tmp_path, echo_server.url), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 2 and echo_server.requests >= 1, stderr
    for word in (echo_server.url, *words):
        assert word in stderr
    for needle in (secret, "fg-7c1e-SECRET-a93b", "key-9d8e7f6a5b4c"):
        assert_no_secret(needle, out, outputs=[stdout, stderr])
    assert_no_release(out)


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("Bearer abc\ndef-SECRET-inner", ["FG_TOKEN", "control characters"]),
        (None, ["FG_TOKEN", "is not set"]),
    ],
    ids=["line-break-inside", "unset"],
)
def test_a_bad_secret_is_refused_without_quoting_it(tmp_path, fairgate, monkeypatch, secret, words):
    server = _EchoServer("500")
    try:
        if secret is None:
            monkeypatch.delenv("FG_TOKEN", raising=False)
        else:
            monkeypatch.setenv("FG_TOKEN", secret)
        monkeypatch.setenv("FG_KEY", "key-9d8e7f6a5b4c")
        out = tmp_path / "out"
        code, stdout, stderr = fairgate(
            "run", _rest_spec(tmp_path, server.url), "--out", out, "--no-mlflow", "-q"
        )
    finally:
        server.close()
    assert code == 2 and server.requests == 0
    for word in words:
        assert word in stderr
    if secret:
        assert_no_secret("def-SECRET-inner", out, outputs=[stdout, stderr])
    assert_no_release(out)


def test_query_secrets_never_appear_in_messages(tmp_path, fairgate, monkeypatch):
    """Nothing listens: the connection error names the endpoint without its query string."""
    monkeypatch.setenv("FG_TOKEN", SECRET)
    monkeypatch.setenv("FG_KEY", "key-9d8e7f6a5b4c")
    port = free_port()
    url = f"http://127.0.0.1:{port}/invocations?api_key=qk-88c1d0"
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", _rest_spec(tmp_path, url), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 2 and f"http://127.0.0.1:{port}/invocations" in stderr, stderr
    for needle in ("qk-88c1d0", "fg-7c1e-SECRET-a93b"):  # results.json's spec copy included
        assert_no_secret(needle, out, outputs=[stdout, stderr])
    doc = json.loads((out / "results.json").read_text())
    assert doc["spec"]["content"]["model"]["url"].endswith("/invocations?api_key=***")


def test_credentials_in_a_rest_url_are_refused(tmp_path, fairgate):
    url = "http://svc:pw-51f0e2@127.0.0.1:9/invocations"
    code, _, err = fairgate("validate", _rest_spec(tmp_path, url))
    assert code == 4 and "model.url" in err and "headers_from_env" in err, err
    assert "pw-51f0e2" not in err


# ------------------------------------------------------------- item 16: names and group values

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "equals": "a=b c",
    "control": "x\x01y\x1bz\x0b",
    "newline": "line\nbreak # heading\r\n- item",
    "entity-and-code": "&lt;img src=x&gt; `code` [link](http://x) *em*",
}


def _hostile_log(folder: Path, column: str, value: str) -> Path:
    """Two groups of 150: the hostile one is refused far more often (the check fails)."""
    rng = np.random.default_rng(3)
    frames = []
    for group, sel in ((value, 0.2), ("plain", 0.8)):
        frames.append(
            pd.DataFrame(
                {
                    column: group,
                    "outcome": (rng.random(150) < 0.5).astype(int),
                    "decision": (rng.random(150) < sel).astype(int),
                }
            )
        )
    path = folder / "hostile.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def _table_rows_whole(summary: str) -> None:
    for line in summary.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) == 7, f"a table row split into {len(cells) - 2} cells: {line!r}"


@pytest.mark.parametrize("where", ["value", "column"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_names_and_values_stay_text(tmp_path, fairgate, name, where):
    text = HOSTILE[name]
    if where == "column" and ("=" in text or "|" in text):
        pytest.skip("refused at validation: see test_separators_in_names_are_refused")
    column = text if where == "column" else "group"
    value = text if where == "value" else "<b>bold</b>"
    data = _hostile_log(tmp_path, column, value)
    spec = write_yaml(tmp_path / "s.yaml", log_spec(data, data={"sensitive": [column]}))
    out = tmp_path / "out"
    code, _, err = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    assert code == 1, (err, doc["errors"])
    summary = (out / "summary.md").read_text()
    html = (out / "report.html").read_text()
    assert not re.search(r"<(script|b|img)\b", summary, re.I), summary
    assert not re.search(r"<(script|b|img)\b", html, re.I)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", summary + html)
    _table_rows_whole(summary)
    assert "\\[link\\]" in summary or name != "entity-and-code"
    suite = ET.parse(out / "junit.xml").getroot()  # well-formed XML 1.0
    failure = suite.find("testcase/failure")
    assert failure is not None and "Least favoured group" in failure.get("message")
    assert_no_release(out)


@pytest.mark.parametrize(
    ("column", "value", "code", "words"),
    [
        ("sex|age", "f", 4, ["data.sensitive", "'|' or '='"]),
        ("sex=f", "f", 4, ["data.sensitive", "'|' or '='"]),
        ("group", "a|b", 2, ["values containing '|'", "group"]),
    ],
    ids=["pipe-in-column", "equals-in-column", "pipe-in-value"],
)
def test_separators_in_names_are_refused(tmp_path, fairgate, column, value, code, words):
    data = _hostile_log(tmp_path, column, value)
    spec = write_yaml(tmp_path / "s.yaml", log_spec(data, data={"sensitive": [column]}))
    out = tmp_path / "out"
    got, _, err = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    assert got == code, err
    for word in words:
        assert word in err
    assert_no_release(out)


def test_reference_views_render_as_one_cell(tmp_path):
    """The reference specs' ``[sex|age_band]`` views keep summary.md's table whole."""
    from reports import render_markdown

    doc = {
        "spec": {"name": "x", "system": "<i>sys</i>"},
        "verdict": "fail",
        "exit_code": 1,
        "checks": [
            {
                "name": "selection_rate ratio [sex|age_band]",
                "status": "fail",
                "value": 0.5,
                "ci": [0.4, 0.6],
                "threshold": {"min": 0.8},
                "type": "score_metric",
                "message": "m | <b>x</b>",
                "details": {},
                "by_group": {},
            }
        ],
        "errors": [],
        "run": {"audit_id": "x-1", "started_at": "2026-01-01T00:00:00Z"},
        "provenance": {
            "spec_sha256": hashlib.sha256(b"").hexdigest(),
            "data_sha256": None,
            "model_sha256": None,
            "fairgate_version": "0",
            "git_commit": None,
        },
    }
    summary = render_markdown(doc)
    _table_rows_whole(summary)
    assert "[sex\\|age_band\\]" in summary and "<b>" not in summary and "<i>" not in summary

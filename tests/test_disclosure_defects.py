"""Known defects of disclosure, secrets and evidence, repaired: each test failed before its
fix (a ledger that fails after MLflow was told, a large group marked "<11", counts in decide
messages, a token in an MLflow URI's query, a min_denominator under 11, render twice)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .bad_inputs_support import ROOT, decision_log, log_spec, write_yaml

# --- 1. a ledger append that fails after MLflow logged -------------------------------------


def _filled_ledger(path: Path, size: int) -> None:
    """A ledger with an intact chain of exactly ``size - 20`` bytes (written at once): no
    record fits in the 20 bytes left."""
    from audits._ledger import GENESIS, record_hash

    def line(seq: int, prev: str, pad: int = 0) -> tuple[str, str]:
        record = {
            "seq": seq,
            "audit_id": f"earlier-{seq}" + "x" * pad,
            "recorded_at": "2026-01-01T00:00:00Z",
            "spec_sha256": "0" * 64,
            "model_sha256": "1" * 64,
            "data_sha256": "2" * 64,
            "verdict": "pass",
            "exit_code": 0,
            "attestation_sha256": None,
            "prev": prev,
        }
        record["hash"] = record_hash(record)
        return json.dumps(record, sort_keys=True) + "\n", record["hash"]

    lines, prev, total = [], GENESIS, 0
    while True:
        text, head = line(len(lines) + 1, prev)
        if total + 2 * len(text) > size:  # the last one is padded to fill what is left
            text, head = line(len(lines) + 1, prev, pad=size - 20 - total - len(text))
            lines.append(text)
            break
        lines.append(text)
        total, prev = total + len(text), head
    path.write_text("".join(lines), encoding="utf-8")
    assert path.stat().st_size == size - 20


def test_a_ledger_that_cannot_be_written_after_mlflow_logged_leaves_no_pass_in_mlflow(
    tmp_path,
) -> None:
    """A file size limit (EFBIG, as a full disk gives ENOSPC) hit by the ledger append, after
    MLflow had logged a FINISHED run tagged ``fairgate.verdict=pass`` / ``exit_code=0``: the
    process ended with an uncaught OSError, and MLflow kept saying pass. Now the ledger is
    left as it was, the process exits 2, and the run says ``error`` / exit code 2, FAILED."""
    from reports import tracking_client

    limit = 8 << 20  # every other file of the audit (the store, the report) is far smaller
    ledger = tmp_path / "ledger.jsonl"
    _filled_ledger(ledger, limit)
    before = ledger.read_bytes()
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    db = tmp_path / "store" / "mlflow.db"
    out = tmp_path / "out"
    args = ["run", spec, "--out", out, "--tracking-uri", f"sqlite:///{db}", "--ledger", ledger]
    done = _capped_run(tmp_path, limit, *args)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    client = tracking_client(f"sqlite:///{db}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    parents = [r for r in runs if "fairgate.family" not in r.data.tags]
    assert not [r for r in runs if r.data.tags.get("fairgate.exit_code") == "0"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    (run,) = parents
    assert run.data.tags["fairgate.verdict"] == "error", run.data.tags
    assert run.data.tags["fairgate.exit_code"] == "2"
    assert run.info.status == "FAILED"
    assert "cannot be written" in run.data.tags["fairgate.note"]
    assert not [r for r in runs if r.data.tags.get("fairgate.verdict") == "pass"]
    assert "cannot be written" in done.stderr and "Nothing was published" in done.stderr, said
    assert ledger.read_bytes() == before  # no half record
    assert not out.exists()


def _capped_run(tmp_path: Path, limit: int | None, *args: object) -> subprocess.CompletedProcess:
    """``fairgate`` as a process whose files may not grow past ``limit`` bytes (EFBIG)."""
    import resource

    def cap() -> None:  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "audits.cli", *map(str, args), "-q"],
        cwd=tmp_path,
        env={**os.environ, "CI": "true", "OMP_WAIT_POLICY": "passive", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=cap,
        check=False,
    )


def test_a_ledger_that_cannot_be_written_after_a_promotion_moves_the_alias_back(
    tmp_path,
) -> None:
    """With --promote, a passing audit tagged the registered version pass and moved the
    alias before the ledger append failed: the process exited 2 with the model promoted.
    Now the version's tags say error / exit code 2 and the alias is gone again."""
    import mlflow.sklearn
    import skops.io as sio
    import yaml
    from mlflow.tracking import MlflowClient

    from .conftest import CREDIT, SPECS, policy_inlined
    from .servers import start_tracking_server, stop

    url, proc = start_tracking_server(tmp_path / "server")
    try:
        mlflow.set_tracking_uri(url)
        try:
            path = CREDIT / "v2" / "model.skops"
            with mlflow.start_run(run_name="register v2"):
                mlflow.sklearn.log_model(
                    sio.load(path, trusted=sio.get_untrusted_types(file=path)),
                    name="model",
                    registered_model_name="credit-retract",
                    serialization_format="skops",
                    skops_trusted_types=sio.get_untrusted_types(file=path),
                )
        finally:
            mlflow.set_tracking_uri(None)
        spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text()))
        spec["checks"] = [c for c in spec["checks"] if "metric" in c]
        spec["checks"][0]["min"], spec["checks"][1]["max"] = 0.8, 0.10
        spec["data"]["path"] = str(ROOT / spec["data"]["path"])
        spec["model"] = {
            "kind": "mlflow",
            "uri": "models:/credit-retract/1",
            "trusted_types": ["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"],
        }
        # The ledger on a full disk (ENOSPC): a 1 MiB tmpfs holding exactly 1 MiB of ledger.
        # (A file size limit is not used here: MLflow's model download hits it first.)
        disk = tmp_path / "disk"
        disk.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "fairgate-test", str(disk)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
        ledger = disk / "ledger.jsonl"
        _filled_ledger(ledger, (1 << 20) + 20)
        out = tmp_path / "out"
        done = _capped_run(
            tmp_path, None, "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out,
            "--tracking-uri", url, "--ledger", ledger, "--promote", "production",
        )  # fmt: skip
        said = done.stdout + done.stderr
        assert done.returncode == 2, said
        client = MlflowClient(tracking_uri=url)
        assert "promoted to 'production'" in said  # the alias was moved ...
        assert client.get_registered_model("credit-retract").aliases == {}  # ... and back
        tags = client.get_model_version("credit-retract", "1").tags
        assert tags["fairgate.verdict"] == "error" and tags["fairgate.exit_code"] == "2", tags
        assert not [k for k in tags if k.startswith("fairgate.promoted_")], tags
        run = client.get_run(tags["fairgate.run_id"])
        assert run.data.tags["fairgate.exit_code"] == "2" and run.info.status == "FAILED"
        assert "cannot be written: No space left on device" in done.stderr, said
        assert not out.exists()
    finally:
        stop(proc)
        subprocess.run(["umount", str(tmp_path / "disk")], capture_output=True, check=False)


def test_a_failed_ledger_write_leaves_the_ledger_as_it_was(tmp_path) -> None:
    """A write that fails midway (EFBIG after part of the line) is cut back: the chain stays
    intact (the half line broke it: every later audit was refused)."""
    from audits._ledger import verify_ledger

    ledger = tmp_path / "ledger.jsonl"
    _filled_ledger(ledger, 64 << 10)
    before = ledger.read_bytes()
    room = len(before) + 100  # part of the next line fits, not all of it
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({room}, {room}))\n"
        "from audits._ledger import LedgerError, append_record\n"
        "try:\n"
        f"    append_record({str(ledger)!r}, {{'audit_id': 'x'}})\n"
        "except LedgerError as err:\n"
        "    print(err)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "cannot be written: File too large" in done.stdout
    assert ledger.read_bytes() == before and verify_ledger(ledger) == []


# --- 2. a large group hidden to protect a small one is not "<11" ----------------------------


def test_a_large_group_hidden_to_protect_a_small_one_is_marked_withheld() -> None:
    from reports import WITHHELD, size_text, suppressed

    counts = {"g=a": 400, "g=b": 35, "g=c": 7}
    hidden = suppressed(counts)
    assert hidden == {"g=b", "g=c"}
    shown = {g: size_text(n, hidden=g in hidden) for g, n in counts.items()}
    assert shown == {"g=a": "400", "g=b": WITHHELD, "g=c": "<11"}


def test_a_gaming_table_marks_a_protecting_group_withheld() -> None:
    """The gaming checks' group table read "<11" for b (35 people), hidden to protect c (7)."""
    from reports._gaming import gaming_rows

    def entry(n: int) -> dict:
        return {"n": n, "numerator": n // 2, "value": (n // 2) / n, "ci": [0.1, 0.9]}

    check = {"by_group": {"g=a": entry(400), "g=b": entry(35), "g=c": entry(7)}}
    sizes = {row["group"]: row["n"] for row in gaming_rows(check)}
    assert list(sizes.values()) == ["400", "withheld to protect a smaller group", "<11"]


def test_the_monitoring_report_marks_a_protecting_cell_withheld(fairgate, tmp_path) -> None:
    """The monitoring report's reviewed counts: b's 111 reviewed decisions, hidden only
    because a's 9 could be recovered from the window's 120, read "<11" too."""
    from .test_redteam_monitor import _monitored

    out, _ = _monitored(fairgate, tmp_path, [{"a": (9, 1), "b": (111, 12)}], expected=0)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>group=a</td><td>&lt;11</td>" in report
    assert "<td>group=b</td><td>withheld to protect a smaller group</td>" in report
    assert ">111<" not in report


# --- 3. counts under 11 in decide-stage messages ---------------------------------------------


def _outputs(out: Path, said: str) -> str:
    texts = [said]
    for name in ("results.json", "report.html", "summary.md", "junit.xml"):
        texts.append((out / name).read_text(encoding="utf-8"))
    return "\n".join(texts)


@pytest.mark.parametrize("data", [{}, {"cluster_column": "id"}], ids=["streamed", "in_memory"])
@pytest.mark.parametrize("bad", [3, 395], ids=["few", "all_but_a_few"])
def test_a_decide_stage_message_shows_no_count_under_11(tmp_path, fairgate, data, bad) -> None:
    """``holds 3 values that are not probabilities`` (and 395 of 400: the 5 others) named a
    count under 11 in results.json, the report, the summary, JUnit and the console."""
    rng = np.random.default_rng(0)
    n = 400
    scores = rng.random(n)
    scores[:bad] = 1.5
    pd.DataFrame(
        {
            "id": np.arange(n),
            "group": rng.choice(["a", "b"], n),
            "outcome": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
            "score": scores,
        }
    ).to_csv(tmp_path / "log.csv", index=False)
    spec = log_spec(
        tmp_path / "log.csv",
        data=data,
        model={"kind": "predictions", "column": "decision", "score_column": "score"},
    )
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow"
    )
    assert code == 2, stdout + stderr
    text = _outputs(out, stdout + stderr)
    said = set(re.findall(r"holds (.{1,40}?) values that are not probabilities", text))
    wanted = "fewer than 11 of 400" if bad < 11 else "all but fewer than 11 of 400"
    assert said == {wanted}, said


def test_a_sensitive_column_refused_in_a_small_table_does_not_count_its_rows(
    tmp_path, fairgate
) -> None:
    """``has 3 distinct values in 8 rows``: both counts under 11, shown."""
    pd.DataFrame(
        {"group": list("abcabcab"), "outcome": [1, 0] * 4, "decision": [1, 1, 0, 0] * 2}
    ).to_csv(tmp_path / "log.csv", index=False)
    spec = log_spec(tmp_path / "log.csv", data={"min_group_size": 11})
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow"
    )
    assert code == 2, stdout + stderr
    text = _outputs(out, stdout + stderr)
    assert "distinct values in fewer than 11 rows" in text
    assert "8 rows" not in text and "3 distinct" not in text


class _ThreeAnswers:
    """A real model that answers only the first three rows of every batch."""

    def __init__(self, model) -> None:
        self.model = model

    def predict(self, frame):
        return self.model.predict(frame)[:3]


def test_a_rest_model_answering_too_few_predictions_is_not_counted(tmp_path, fairgate) -> None:
    """``answered 3 predictions for a batch of 1000 rows``: a count under 11 in the error."""
    import skops.io as sio
    import yaml

    from .conftest import CREDIT, SPECS, policy_inlined
    from .servers import KServeV2Server

    path = CREDIT / "v2" / "model.skops"
    server = KServeV2Server(
        _ThreeAnswers(sio.load(path, trusted=sio.get_untrusted_types(file=path))), "credit"
    )
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = [c for c in spec["checks"] if "metric" in c]
    spec["data"]["path"] = str(ROOT / spec["data"]["path"])
    spec["model"] = {
        "kind": "rest",
        "url": f"{server.url}/",
        "protocol": "kserve",
        "model_name": "credit",
        "retries": 0,
    }
    out = tmp_path / "out"
    try:
        code, stdout, stderr = fairgate(
            "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow"
        )
    finally:
        server.close()
    assert code == 2, stdout + stderr
    text = _outputs(out, stdout + stderr)
    assert "answered fewer predictions than the batch has rows" in text
    assert "3 predictions" not in text


def test_count_of_never_gives_back_a_small_count_or_complement() -> None:
    from reports import count_of

    assert count_of(3, 400) == "fewer than 11 of 400"
    assert count_of(395, 400) == "all but fewer than 11 of 400"
    assert count_of(200, 400) == "200 of 400"
    assert count_of(0, 400) == "0 of 400"
    assert count_of(3, 8) == "fewer than 11 of fewer than 11"


# --- 4. a token in an MLflow URI's query string ---------------------------------------------

TOKEN = "S3CR3T-q-7731"


@pytest.mark.parametrize(
    "uri",
    [
        f"models:/credit/1?token={TOKEN}",
        f"http://127.0.0.1:9/?token={TOKEN}",
        f"databricks://profile:prefix?access_token={TOKEN}",
        f"runs:/abc/model#{TOKEN}",
    ],
)
def test_a_token_in_an_mlflow_model_uri_is_refused_unshown(tmp_path, fairgate, uri) -> None:
    content = log_spec(decision_log(tmp_path), model={"kind": "mlflow", "uri": uri})
    content["model"].pop("column")
    code, out, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", content))
    assert code == 4, out + err
    assert "model.uri must not hold a query string or fragment" in " ".join(err.split())
    assert TOKEN not in out + err


def test_an_mlflow_model_uri_without_a_query_is_still_accepted(tmp_path) -> None:
    from audits._spec import parse_spec

    log = decision_log(tmp_path)
    for uri in ("models:/credit@candidate", "models:/credit/3", "runs:/abc123/model"):
        content = log_spec(log, model={"kind": "mlflow", "uri": uri})
        content["model"].pop("column")
        assert parse_spec(content).model.uri == uri


# --- 5. min_denominator under 11 --------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 5, 10])
def test_a_min_denominator_under_11_is_refused(tmp_path, fairgate, value) -> None:
    """A rate over 5 positives could pass the verdict while every report hides it."""
    spec = log_spec(decision_log(tmp_path), data={"min_group_size": 30, "min_denominator": value})
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 4, err
    message = " ".join(err.split())
    assert "data.min_denominator must be at least 11" in message
    assert f"Got {value} instead." in message


def test_min_denominator_defaults_to_11(tmp_path) -> None:
    from audits._spec import parse_spec

    spec = parse_spec(log_spec(decision_log(tmp_path)))
    assert spec.data.min_denominator == 11


# --- 6. fairgate render renders once ----------------------------------------------------------


def test_render_renders_each_format_once(tmp_path, fairgate, monkeypatch) -> None:
    """``fairgate render`` rendered the document in memory to check it, then again to write
    it. A minimal spy counts the renderer calls (nothing else can observe a second, equal
    rendering)."""
    import reports._files as files

    spec = write_yaml(tmp_path / "s.yaml", log_spec(decision_log(tmp_path)))
    first = tmp_path / "first"
    code, out, err = fairgate("run", spec, "--out", first, "--no-mlflow", "-q")
    assert code in (0, 1), out + err
    calls = {"html": 0, "markdown": 0, "junit": 0}
    for name, attr in (
        ("html", "render_html"),
        ("markdown", "render_markdown"),
        ("junit", "render_junit"),
    ):
        real = getattr(files, attr)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(files, attr, counted)
    again = tmp_path / "again"
    code, out, err = fairgate("render", first / "results.json", "--out", again)
    assert code == 0, out + err
    assert calls == {"html": 1, "markdown": 1, "junit": 1}
    for name in ("report.html", "summary.md", "junit.xml", "results.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes()

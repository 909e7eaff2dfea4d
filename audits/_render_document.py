"""The results document, assembled from what the audit's stages produced: what was audited,
how, every check, and the verdict derived from the checks (never set by hand)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from metrics import GroupMetrics
from models_under_test import public_uri

from ._data import _clusters, _media_summary
from ._document import SCHEMA_VERSION, clean
from ._policy import policies_of, policy_block
from ._provenance import provenance, run_block, utc_now
from ._signed_model import signature_block
from ._spec import AuditSpec
from ._stages import _Audit
from ._status import Status, derive_verdict
from ._waivers import apply_waivers, audit_date

__all__ = ["render_document", "shown_content"]


def _groups(gm: GroupMetrics) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for view in gm.views:
        for key, row in gm.counts(view).iterrows():
            out[str(key)] = {k: int(v) for k, v in row.items()}
    return out


def shown_content(spec: AuditSpec) -> dict[str, Any]:
    """The spec as the results document holds it: a URL that may carry credentials
    (``model.url``, ``model.tracking_uri``) with its user information, query values and
    fragment as ``***`` (:func:`models_under_test.public_uri`). The provenance's
    ``spec_sha256`` stays the hash of the spec file itself."""
    content = spec.model_dump(mode="json", by_alias=True)
    model = content.get("model") or {}
    for key in ("url", "tracking_uri"):
        if isinstance(model.get(key), str):
            model[key] = public_uri(model[key])
    return content


def render_document(audit: _Audit) -> dict[str, Any]:
    """The results document: what was audited, how, every check, and the derived verdict."""
    spec, adapter, gm, frame = audit.spec, audit.adapter, audit.gm, audit.frame
    data_path = Path(spec.data.path) if spec.data.path else None
    checks = [
        {**asdict(r), "status": r.status.value, "ci": list(r.ci) if r.ci else None}
        for r in audit.results
    ]
    owners = audit.owners if len(audit.owners) == len(checks) else [None] * len(checks)
    on = audit_date({"run": {"started_at": audit.started}})
    waivers = apply_waivers(checks, owners, audit.waivers, spec=spec, on=on) if on else []
    verdict, code = derive_verdict((Status(c["status"]) for c in checks), errors=len(audit.errors))
    explain_seconds = [c["details"].pop("seconds", None) for c in checks if c.get("details")]
    document = {
        "schema_version": SCHEMA_VERSION,
        "spec": {
            "name": spec.name,
            "system": spec.system,
            "policy": list(spec.policy),
            "policy_note": spec.policy_note,
            "path": str(audit.spec_path),
            "content": shown_content(spec),
        },
        "verdict": verdict.value,
        "exit_code": int(code),
        # Right after the verdict: every waiver, applied or not (see audits/_waivers.py).
        "waivers": waivers,
        "provenance": {
            **provenance(
                spec_path=audit.spec_path,
                data_path=data_path,
                model_hash=adapter.content_hash if adapter else None,
                seed=audit.seed,
                media_files=getattr(audit.features, "paths", None),
                digest=audit.data_digest,
            ),
            "policies": [lp.provenance() for lp in policies_of(spec)],
        },
        "policies": policy_block(spec),
        "deployment": spec.deployment.model_dump(mode="json") if spec.deployment else None,
        "data": {
            "clusters": _clusters(spec, frame)
            if frame is not None and spec.data.cluster_column
            else None,
            "path": str(data_path) if data_path else f"table:{spec.data.table}",
            "rows": audit.engine.get("rows")
            if audit.engine
            else audit.rows
            if audit.rows is not None
            else (None if frame is None else len(frame)),
            "streaming": audit.streaming,
            **({"engine": audit.engine} if spec.data.engine == "spark" else {}),
            "label": spec.data.label,
            "positive_label": spec.data.positive_label,
            "sensitive": list(spec.data.sensitive),
            "min_group_size": spec.data.min_group_size,
            "media": _media_summary(spec, audit.features),
        },
        "model": {
            "kind": spec.model.kind,
            "uri": adapter.uri if adapter else None,
            "scores": bool(gm is not None and gm.scores is not None),
            "signature": signature_block(spec.model, audit.signed),
            "endpoint": dict(getattr(adapter, "stats", {}), url=adapter.uri)
            if adapter is not None and hasattr(adapter, "stats")
            else None,
        },
        "data_validation": audit.validation,
        "groups": _groups(gm) if gm is not None else {},
        "checks": checks,
        "errors": audit.errors,
        "artifacts": sorted(audit.files),
        "private_artifacts": sorted(audit.private),
        # Last: what differs between two runs of the same audit (see SCHEMA_VERSION).
        "run": {
            **run_block(audit_id=audit.audit_id, started_at=audit.started),
            "finished_at": utc_now(),
            "seconds": {
                "audit": round(time.perf_counter() - audit.clock, 3),
                "explain": max((s for s in explain_seconds if s is not None), default=None),
                **({"stream": audit.stream_seconds} if audit.stream_seconds is not None else {}),
            },
        },
    }
    return clean(document)

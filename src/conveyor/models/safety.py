"""Safe loading: formats that can run code when read load only when the user says so."""

from __future__ import annotations

import os

from conveyor.errors import InvalidArgumentError

TRUST_PICKLE_ENV = "CONVEYOR_TRUST_PICKLE"


class UntrustedModelError(InvalidArgumentError):
    """A model would run code from its files when loaded, and the caller did not opt in."""


def pickle_trusted(trust_pickle: bool) -> bool:
    """True when the caller (or ``CONVEYOR_TRUST_PICKLE=1``) allows pickle-based loading."""
    return trust_pickle or os.environ.get(TRUST_PICKLE_ENV, "").lower() in {"1", "true", "yes"}


def require_trust(what: str, *, trust_pickle: bool) -> None:
    """Refuse to deserialize ``what`` unless pickle loading is trusted."""
    if pickle_trusted(trust_pickle):
        return
    msg = (
        f"refusing to load {what}: unpickling can run arbitrary code stored in the file, so "
        f"Conveyor only does it when you trust the model's source. If you do, pass "
        f"trust_pickle=True to conveyor.load_model() or set {TRUST_PICKLE_ENV}=1. To avoid "
        "this, log scikit-learn models with serialization='skops' (the default) or as ONNX."
    )
    raise UntrustedModelError(msg, field="trust_pickle")

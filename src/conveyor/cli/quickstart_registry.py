"""The quickstart's version-and-register step: dataset version, model registry, approval.

The best run's model (logged in the MLflow Model format with its signature) becomes version N of
the registered model ``quickstart``; ``@production`` is under an approval policy, so promoting
it opens a request that a second user approves; the model is then loaded back by its alias and
its lineage printed (dataset version -> run -> model version -> alias).
"""

from __future__ import annotations

from typing import Any

from conveyor.cli.output import console

MODEL_NAME = "quickstart"
REVIEWER = "quickstart-reviewer"


def registry_step(best_run_id: str, x_val: Any) -> Any:
    """Register, promote with approval, load by alias, show lineage; return the loaded model."""
    import conveyor
    from conveyor.registry.client import LocalRegistryClient, registry_client
    from conveyor.tracking.fluent import get_client
    from conveyor.tracking.service import LocalClient

    console.print("\n2. version and register: the best run's model becomes a registered version")
    client = get_client()
    registry = registry_client(client)
    version = conveyor.register_model(f"runs:/{best_run_id}/model", MODEL_NAME)
    console.print(
        f"   registered runs:/{best_run_id[:8]}…/model as models:/{MODEL_NAME}/{version.version}"
    )
    if not any(p.alias == "production" for p in registry.policies(MODEL_NAME)):
        registry.set_policy(MODEL_NAME, "production", required=1, role="approver")
    promotion = registry.promote(MODEL_NAME, version.version, "production", comment="best accuracy")
    if promotion.request is not None:
        request = promotion.request
        console.print(
            f"   @production needs an approval: request {request.request_id[:8]}… opened by "
            f"{request.requester}"
        )
        if isinstance(client, LocalClient):  # embedded mode: a second local identity approves
            reviewer = LocalRegistryClient(client.workspace, actor=REVIEWER)
            reviewer.decide(request.request_id, approve=True, comment="quickstart review")
            console.print(f"   approved by {REVIEWER}: @production -> v{version.version}")
        else:
            console.print(f"   approve it with: conveyor models approve {request.request_id}")
            return None
    model = conveyor.load_model(f"models:/{MODEL_NAME}@production")
    preview = " ".join(str(v) for v in list(model.predict(x_val[:5])))
    console.print(f"   loaded models:/{MODEL_NAME}@production; predictions on 5 rows: {preview}")
    graph = registry.lineage(f"models:/{MODEL_NAME}@production")
    data = ", ".join(d["uri"] for d in graph["datasets"]) or "no dataset recorded"
    console.print(
        f"   lineage: {data} -> run {graph['run']['name']} -> "
        f"models:/{MODEL_NAME}/{version.version} -> @production"
    )
    return model

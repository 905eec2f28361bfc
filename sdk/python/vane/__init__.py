"""Vane feature flags for Python: remote evaluation against a Vane server, standard library only.

    from vane import ExperimentationClient
    client = ExperimentationClient(api_url="http://localhost:8000", api_key="srv-…")
    is_enabled = client.is_feature_enabled(flag_key="new-checkout-flow", user_id="user-123",
                                           user_attributes={"plan": "enterprise", "country": "US"})

No call raises: a failed evaluation (network, timeout, refused key, unknown flag) answers the fallback.
"""

from .client import EvaluationDetail, ExperimentationClient, VaneClient, context_key, user_context

__all__ = ["EvaluationDetail", "ExperimentationClient", "VaneClient", "context_key", "user_context"]

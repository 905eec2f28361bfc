"""Time is_feature_enabled in the Python SDK's three modes against a running server:
    VANE_URL=http://localhost:8000 VANE_SDK_KEY=srv-… VANE_FLAG=new-checkout-flow python3 scripts/sdk/bench.py
(with vane installed: pip install ./sdk/python)."""
import os
import time

from vane import VaneClient

URL, KEY = os.environ.get("VANE_URL", "http://localhost:8000"), os.environ["VANE_SDK_KEY"]
FLAG, N = os.environ.get("VANE_FLAG", "new-checkout-flow"), int(os.environ.get("N", "1000"))
for name, opts in [("direct (cache=False)", {"cache": False}), ("cached, revalidated (304)", {}), ("cached + stream", {"stream": True})]:
    c = VaneClient(URL, KEY, **opts)
    c.is_feature_enabled(FLAG, "user-14", {"plan": "enterprise"})
    time.sleep(0.5)  # the stream connects
    t0 = time.perf_counter()
    for _ in range(N):
        c.is_feature_enabled(FLAG, "user-14", {"plan": "enterprise"})
    print(name.ljust(28), "%.1f" % ((time.perf_counter() - t0) * 1e6 / N), "µs per is_feature_enabled (sequential, n=%d)" % N)
    c.close()

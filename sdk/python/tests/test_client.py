"""Runs against a listening Vane server seeded by api/sdk_python_test.go (go test ./api -run TestPythonSDK):
VANE_URL, VANE_SDK_KEY, VANE_TOKEN, VANE_FLAGS_URL, VANE_VECTORS."""

import http.server
import json
import os
import random
import threading
import unittest
import urllib.request

from vane import ExperimentationClient, VaneClient

URL = os.environ.get("VANE_URL", "")
KEY = os.environ.get("VANE_SDK_KEY", "")


def rest(path, body):
    req = urllib.request.Request(URL + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())


def random_context(r, i):
    uid = "user-%d" % r.randrange(50)
    ctx = [{"key": uid}, {"targetingKey": uid}, {"user_id": uid}, {"user": {"key": uid}},
           {"key": uid, "email": uid + "@example.com"}][i % 5]
    if r.randrange(3) > 0:
        ctx["country"] = r.choice(["US", "CA", "FR", "DE", "GB"])
    if r.randrange(2) == 0:
        ctx["age"] = r.randrange(80)
    if r.randrange(2) == 0:
        ctx["organization"] = {"key": "org-%d" % r.randrange(20), "plan": r.choice(["enterprise", "team"])}
    if r.randrange(3) == 0:
        ctx["beta"] = r.randrange(2) == 0
    return ctx


@unittest.skipUnless(URL and KEY, "VANE_URL and VANE_SDK_KEY: go test ./api -run TestPythonSDK starts the server")
class AgainstTheServer(unittest.TestCase):
    def test_source_000_snippet(self):
        client = ExperimentationClient(
            api_url=URL,
            api_key=KEY,
        )
        for user in ["user-1", "user-2", "user-3", "user-123", "user-9"]:
            is_enabled = client.is_feature_enabled(
                flag_key="checkout",
                user_id=user,
                user_attributes={"plan": "enterprise", "country": "US"},
            )
            want = rest("/api/v1/feature-flags/checkout/evaluate", {"user_id": user, "attributes": {"plan": "enterprise", "country": "US"}})
            self.assertEqual(is_enabled, want["enabled"], user)
        self.assertIs(ExperimentationClient, VaneClient)
        client.close()

    def test_conformance_vectors(self):
        with open(os.environ["VANE_VECTORS"]) as f:
            cases = json.load(f)
        self.assertGreater(len(cases), 100)
        with VaneClient(URL, KEY) as cached, VaneClient(URL, KEY, cache=False) as direct:
            for c in cases:
                w = c["want"]
                for mode, client in (("cached", cached), ("direct", direct)):
                    name = "%s (%s)" % (c["name"], mode)
                    d = client.get_detail(c["flag"], c["context"])
                    self.assertEqual(d.error_code, w.get("error_code"), name)
                    if w.get("error_code") and mode == "cached":  # OFREP answers an error without a value
                        self.assertEqual(d.reason, "ERROR", name)
                        self.assertEqual(client.get_value(c["flag"], c["context"], "fallback"), "fallback", name)
                        continue
                    self.assertEqual(d.value, w.get("value"), name)
                    self.assertEqual(d.variation, w.get("variation"), name)
                    self.assertEqual(d.reason, "DEFAULT" if mode == "direct" and w["reason"] == "STATIC" else w["reason"], name)
                    self.assertEqual(d.rule_id, w.get("rule_id"), name)

    def test_random_contexts_equal_the_rest_answers(self):
        keys = list(rest("/api/v1/feature-flags/evaluate", {"attributes": {}}))
        self.assertGreaterEqual(len(keys), 40)
        r = random.Random(7)
        compared = 0
        with VaneClient(URL, KEY) as cached, VaneClient(URL, KEY, cache=False) as direct:
            for i in range(40):
                ctx = random_context(r, i)
                self.assertEqual(cached.get_all_flags(ctx), rest("/api/v1/feature-flags/evaluate", {"attributes": ctx}))
                for flag in keys:
                    want = rest("/api/v1/feature-flags/%s/evaluate" % flag, {"context": ctx})
                    a, b = cached.get_detail(flag, ctx), direct.get_detail(flag, ctx)
                    msg = "%s %s" % (flag, ctx)
                    self.assertEqual((b.value, b.variation, b.error_code), (want["value"], want.get("variation"), want.get("error_code")), msg)
                    self.assertEqual(a.error_code, want.get("error_code"), msg)
                    if not want.get("error_code"):
                        self.assertEqual((a.value, a.variation, a.rule_id), (want["value"], want.get("variation"), want.get("rule_id")), msg)
                        self.assertEqual("DEFAULT" if a.reason == "STATIC" else a.reason, want["reason"], msg)
                    if "user_id" in ctx:
                        attrs = {k: v for k, v in ctx.items() if k != "user_id"}
                        en = rest("/api/v1/feature-flags/%s/evaluate" % flag, {"user_id": ctx["user_id"], "attributes": attrs})["enabled"]
                        self.assertEqual(cached.is_feature_enabled(flag, ctx["user_id"], attrs), en, msg)
                        self.assertEqual(direct.is_feature_enabled(flag, ctx["user_id"], attrs), en, msg)
                    compared += 1
        self.assertGreaterEqual(compared, 1600)

    def test_cache_revalidates_with_etag_and_ttl(self):
        client = VaneClient(URL, KEY)
        seen = []
        send = client._send

        def counting(path, payload, headers=None):
            out = send(path, payload, headers)
            seen.append("%s %d" % (path, out[0]))
            return out

        client._send = counting
        ctx = {"key": "user-5", "country": "US"}
        first = client.get_detail("layout", ctx)
        self.assertEqual(client.get_detail("layout", ctx), first)
        self.assertEqual(seen, ["/ofrep/v1/evaluate/flags 200", "/ofrep/v1/evaluate/flags 304"])
        ttl = VaneClient(URL, KEY, cache_ttl=60)
        ttl_seen = []
        ttl_send = ttl._send
        ttl._send = lambda p, b, h=None: ttl_seen.append(p) or ttl_send(p, b, h)
        for _ in range(3):
            ttl.get_value("layout", ctx, "x")
        self.assertEqual(len(ttl_seen), 1)

    def test_threads_share_one_client(self):
        client = VaneClient(URL, KEY)
        want = {u: rest("/api/v1/feature-flags/checkout/evaluate", {"user_id": u})["enabled"] for u in ("user-1", "user-2", "user-3")}
        errors = []

        def work():
            for _ in range(30):
                for u, w in want.items():
                    if client.is_feature_enabled("checkout", u) != w:
                        errors.append(u)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    @unittest.skipUnless(os.environ.get("VANE_TOKEN"), "VANE_TOKEN")
    def test_stream_holds_answers_until_a_change(self):
        changed = threading.Event()
        client = VaneClient(URL, KEY, stream=True)
        client.on_change(changed.set)
        for _ in range(500):
            if client.streaming:
                break
            threading.Event().wait(0.02)
        self.assertTrue(client.streaming)
        ctx = {"key": "user-11"}
        self.assertEqual(client.get_detail("killed", ctx).reason, "DISABLED")
        calls = []
        send = client._send
        client._send = lambda p, b, h=None: calls.append(p) or send(p, b, h)
        for _ in range(5):
            self.assertEqual(client.get_detail("killed", ctx).reason, "DISABLED")
        self.assertEqual(calls, [], "no request while the stream is live and nothing changed")
        # The stream's first event (on connect) may have come before on_change was registered, or
        # after: `streaming` is set only once its listeners ran, so from here only the change counts.
        changed.clear()
        req = urllib.request.Request(os.environ["VANE_FLAGS_URL"] + "/killed/environments/production/enable", method="POST",
                                     headers={"Authorization": "Bearer " + os.environ["VANE_TOKEN"]})
        urllib.request.urlopen(req, timeout=10).close()
        self.assertTrue(changed.wait(10))
        self.assertIs(client.get_detail("killed", ctx).value, True)
        client.close()

    def test_failures_answer_the_fallback(self):
        errors = []
        down = VaneClient("http://127.0.0.1:9", KEY, timeout=2, on_error=errors.append)
        self.assertIs(down.is_feature_enabled("checkout", "user-1", {"plan": "pro"}), False)
        self.assertEqual(down.get_value("layout", {"key": "u"}, "classic"), "classic")
        self.assertEqual(down.get_all_flags({"key": "u"}), {})
        d = down.get_detail("layout", {"key": "u"})
        self.assertEqual((d.reason, d.error_code), ("ERROR", "GENERAL"))
        self.assertGreaterEqual(len(errors), 4)
        bad = VaneClient(URL, "srv-nope")
        self.assertIs(bad.is_feature_enabled("checkout", "user-1"), False)
        self.assertEqual(bad.get_value("layout", {}, "classic"), "classic")

        # a server that never answers: the timeout gives the fallback
        release = threading.Event()

        class Hang(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                release.wait(5)

            def log_message(self, *args):
                pass

        hang = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hang)
        threading.Thread(target=hang.serve_forever, daemon=True).start()
        slow = VaneClient("http://127.0.0.1:%d" % hang.server_address[1], KEY, timeout=0.15)
        self.assertIs(slow.is_feature_enabled("checkout", "user-1"), False)
        self.assertEqual(slow.get_value("max-items", {}, 7), 7)
        release.set()
        hang.shutdown()

        client = VaneClient(URL, KEY)
        self.assertIs(client.is_feature_enabled("no-such-flag", "user-1"), False)
        self.assertEqual(client.get_detail("no-such-flag", {}).error_code, "FLAG_NOT_FOUND")
        self.assertEqual(client.get_value("layout", {"key": "user-1"}, 42), 42)
        self.assertEqual(client.get_value("layout", {"key": "user-1"}, "classic"), "one-page")
        with self.assertRaises(ValueError):
            VaneClient("", KEY)


if __name__ == "__main__":
    unittest.main()

// Runs against a listening Vane server seeded by api/sdk_remote_test.go (go test ./api -run TestJavaScriptSDK):
// VANE_URL, VANE_SDK_KEY, VANE_CLIENT_KEY, VANE_TOKEN, VANE_FLAGS_URL, VANE_VECTORS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { ExperimentationClient, FlagsStore, VaneClient } from '@vanehq/js-sdk';

const { VANE_URL: url, VANE_SDK_KEY: key, VANE_TOKEN: token, VANE_FLAGS_URL: flagsURL, VANE_VECTORS: vectors } = process.env;
if (!url || !key) throw new Error('VANE_URL and VANE_SDK_KEY must be set (go test ./api -run TestJavaScriptSDK starts the server)');

async function rest(path, body) {
  const res = await fetch(url + path, { method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, path);
  return res.json();
}

// counting wraps fetch and records each request's path and status.
function counting() {
  const seen = [];
  const f = async (input, init) => {
    const res = await fetch(input, init);
    seen.push(`${new URL(input).pathname} ${res.status}`);
    return res;
  };
  return { seen, fetch: f };
}

test("source 000's snippet, only the import changed, prints what the REST API answers", async () => {
  const client = new ExperimentationClient({
    apiUrl: url,
    apiKey: key,
  });
  for (const user of ['user-1', 'user-2', 'user-3', 'user-123', 'user-9']) {
    const isEnabled = await client.isFeatureEnabled('checkout', user, {
      plan: 'enterprise',
      country: 'US',
    });
    const want = await rest('/api/v1/feature-flags/checkout/evaluate', { user_id: user, attributes: { plan: 'enterprise', country: 'US' } });
    assert.equal(isEnabled, want.enabled, user);
  }
  assert.equal(ExperimentationClient, VaneClient);
  client.close();
});

test('the conformance vectors that apply to remote evaluation', async () => {
  const cases = JSON.parse(readFileSync(vectors, 'utf8'));
  assert.ok(cases.length > 100, `${cases.length} cases`);
  const cached = new VaneClient({ apiUrl: url, apiKey: key });
  const direct = new VaneClient({ apiUrl: url, apiKey: key, cache: false });
  for (const c of cases) {
    const w = c.want;
    for (const [mode, client] of [['cached', cached], ['direct', direct]]) {
      const d = await client.getDetail(c.flag, c.context);
      const name = `${c.name} (${mode})`;
      assert.equal(d.errorCode, w.error_code, name);
      if (w.error_code && mode === 'cached') { // OFREP answers an error without a value: the fallback is served
        assert.equal(d.reason, 'ERROR', name);
        assert.equal(await client.getValue(c.flag, c.context, 'fallback'), 'fallback', name);
        continue;
      }
      assert.deepEqual(d.value ?? null, w.value ?? null, name);
      assert.equal(d.variation, w.variation, name);
      // the REST API states STATIC (a rolled-out flag) as DEFAULT
      assert.equal(d.reason, mode === 'direct' && w.reason === 'STATIC' ? 'DEFAULT' : w.reason, name);
      assert.equal(d.ruleId, w.rule_id, name);
      if (!w.error_code && w.value !== null && w.value !== undefined) {
        assert.deepEqual(await client.getValue(c.flag, c.context, typeof w.value === 'object' ? {} : w.value), w.value, name);
      }
    }
  }
  cached.close();
  direct.close();
});

function random(seed) {
  let s = seed >>> 0;
  return (n) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % n; };
}

function randomContext(r, i) {
  const id = `user-${r(50)}`;
  const ctx = [{ key: id }, { targetingKey: id }, { user_id: id }, { user: { key: id } }, { key: id, email: `${id}@example.com` }][i % 5];
  if (r(3) > 0) ctx.country = ['US', 'CA', 'FR', 'DE', 'GB'][r(5)];
  if (r(2) === 0) ctx.age = r(80);
  if (r(2) === 0) ctx.organization = { key: `org-${r(20)}`, plan: ['enterprise', 'team'][r(2)] };
  if (r(3) === 0) ctx.beta = r(2) === 0;
  if (r(4) === 0) ctx.version = ['2.3.0', '10.0.0', '1.0.0-beta.1'][r(3)];
  return ctx;
}

test("answers equal the server's REST answers over random contexts", async () => {
  const all = await rest('/api/v1/feature-flags/evaluate', { attributes: {} });
  const keys = Object.keys(all);
  assert.ok(keys.length >= 40, `${keys.length} flags`);
  const cached = new VaneClient({ apiUrl: url, apiKey: key });
  const direct = new VaneClient({ apiUrl: url, apiKey: key, cache: false });
  const r = random(7);
  let compared = 0;
  for (let i = 0; i < 60; i++) {
    const ctx = randomContext(r, i);
    assert.deepEqual(await cached.getAllFlags(ctx), await rest('/api/v1/feature-flags/evaluate', { attributes: ctx }));
    for (const flag of keys) {
      const want = await rest(`/api/v1/feature-flags/${flag}/evaluate`, { context: ctx });
      const [a, b] = [await cached.getDetail(flag, ctx), await direct.getDetail(flag, ctx)];
      assert.equal(b.reason, want.reason === 'FLAG_NOT_FOUND' ? 'ERROR' : want.reason);
      assert.deepEqual([b.value, b.variation, b.errorCode], [want.value, want.variation, want.error_code]);
      assert.equal(a.errorCode, want.error_code, `${flag} ${JSON.stringify(ctx)}`);
      if (!want.error_code) {
        assert.deepEqual([a.value, a.variation, a.ruleId], [want.value, want.variation, want.rule_id], `${flag} ${JSON.stringify(ctx)}`);
        assert.equal(a.reason === 'STATIC' ? 'DEFAULT' : a.reason, want.reason);
      }
      if (ctx.user_id) {
        const { user_id, ...attrs } = ctx;
        const en = await rest(`/api/v1/feature-flags/${flag}/evaluate`, { user_id, attributes: attrs });
        assert.equal(await cached.isFeatureEnabled(flag, user_id, attrs), en.enabled, `${flag} enabled ${JSON.stringify(ctx)}`);
        assert.equal(await direct.isFeatureEnabled(flag, user_id, attrs), en.enabled, `${flag} enabled ${JSON.stringify(ctx)}`);
      }
      compared++;
    }
  }
  assert.ok(compared >= 2400);
  cached.close();
  direct.close();
});

test('the cache revalidates with If-None-Match, serves within cacheTtlMs without asking', async () => {
  const c = counting();
  const client = new VaneClient({ apiUrl: url, apiKey: key, fetch: c.fetch });
  const ctx = { key: 'user-5', country: 'US' };
  const first = await client.getDetail('layout', ctx);
  const again = await client.getDetail('layout', ctx);
  assert.deepEqual(again, first);
  assert.deepEqual(c.seen, ['/ofrep/v1/evaluate/flags 200', '/ofrep/v1/evaluate/flags 304']);
  await client.getDetail('layout', { ...ctx, country: 'FR' }); // another context: another entry
  assert.equal(c.seen.at(-1), '/ofrep/v1/evaluate/flags 200');
  client.close();

  const t = counting();
  const ttl = new VaneClient({ apiUrl: url, apiKey: key, fetch: t.fetch, cacheTtlMs: 60000 });
  await Promise.all([ttl.getValue('layout', ctx, 'x'), ttl.getValue('checkout', ctx, false), ttl.isFeatureEnabled('checkout', 'user-5')]);
  await ttl.getValue('layout', ctx, 'x');
  assert.equal(t.seen.filter((s) => s.startsWith('/ofrep')).length, 2, t.seen.join(', ')); // ctx once (shared), user-5's context once
  ttl.close();
});

test('with stream, cached answers hold until the server says the configuration changed', { skip: !token }, async () => {
  const c = counting();
  const client = new VaneClient({ apiUrl: url, apiKey: key, fetch: c.fetch, stream: true });
  let changes = 0;
  const changed = new Promise((resolve) => client.onChange(() => { if (++changes >= 2) resolve(); }));
  const ctx = { key: 'user-11' };
  const deadline = Date.now() + 10000;
  while (!client.streaming && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20)); // the connect event
  await client.getDetail('killed', ctx);
  const before = c.seen.length;
  for (let i = 0; i < 5; i++) assert.equal((await client.getDetail('killed', ctx)).reason, 'DISABLED');
  assert.equal(c.seen.length, before, 'no request while the stream is live and nothing changed');
  const res = await fetch(flagsURL + '/killed/environments/production/enable', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 200, await res.text());
  await changed;
  const d = await client.getDetail('killed', ctx);
  assert.equal(d.value, true, JSON.stringify(d));
  client.close();
});

test('every failure answers the fallback; isFeatureEnabled never throws', async () => {
  const errors = [];
  const down = new VaneClient({ apiUrl: 'http://127.0.0.1:9', apiKey: key, timeoutMs: 2000, onError: (e) => errors.push(e) });
  assert.equal(await down.isFeatureEnabled('checkout', 'user-1', { plan: 'pro' }), false);
  assert.equal(await down.getValue('layout', { key: 'u' }, 'classic'), 'classic');
  assert.deepEqual(await down.getAllFlags({ key: 'u' }), {});
  const d = await down.getDetail('layout', { key: 'u' });
  assert.equal(d.reason, 'ERROR');
  assert.equal(d.errorCode, 'GENERAL');
  assert.ok(errors.length >= 4);

  const badKey = new VaneClient({ apiUrl: url, apiKey: 'srv-nope' });
  assert.equal(await badKey.isFeatureEnabled('checkout', 'user-1'), false);
  assert.equal(await badKey.getValue('layout', {}, 'classic'), 'classic');

  // a server that never answers: the timeout gives the fallback
  const hang = createServer(() => {});
  await new Promise((r) => hang.listen(0, '127.0.0.1', r));
  const slow = new VaneClient({ apiUrl: `http://127.0.0.1:${hang.address().port}`, apiKey: key, timeoutMs: 150 });
  assert.equal(await slow.isFeatureEnabled('checkout', 'user-1'), false);
  assert.equal(await slow.getValue('max-items', {}, 7), 7);
  hang.closeAllConnections();
  hang.close();

  const client = new VaneClient({ apiUrl: url, apiKey: key });
  assert.equal(await client.isFeatureEnabled('no-such-flag', 'user-1'), false);
  assert.equal((await client.getDetail('no-such-flag', {})).errorCode, 'FLAG_NOT_FOUND');
  assert.equal(await client.getValue('layout', { key: 'user-1' }, 42), 42, 'a string flag read as a number: the fallback');
  assert.equal(await client.getValue('layout', { key: 'user-1' }, 'classic'), 'one-page');
  assert.throws(() => new VaneClient({ apiKey: key }), /apiUrl/);
});

test('CommonJS require and the React store', async () => {
  const require = createRequire(import.meta.url);
  const cjs = require('@vanehq/js-sdk');
  assert.equal(typeof cjs.VaneClient, 'function');
  assert.equal(cjs.ExperimentationClient, cjs.VaneClient);
  const client = new cjs.VaneClient({ apiUrl: url, apiKey: key });
  assert.equal(await client.isFeatureEnabled('killed', 'user-1'), (await rest('/api/v1/feature-flags/killed/evaluate', { user_id: 'user-1' })).enabled);

  const store = new FlagsStore(new VaneClient({ apiUrl: url, apiKey: key }), { user_id: 'user-1' });
  assert.equal(store.getSnapshot().isLoading, true);
  const done = new Promise((resolve) => {
    const off = store.subscribe(() => { if (!store.getSnapshot().isLoading) { off(); resolve(); } });
  });
  await done;
  assert.deepEqual(store.getSnapshot().data, await rest('/api/v1/feature-flags/evaluate', { user_id: 'user-1' }));
  const failing = new FlagsStore(new VaneClient({ apiUrl: 'http://127.0.0.1:9', apiKey: key }));
  await new Promise((resolve) => {
    const off = failing.subscribe(() => { if (!failing.getSnapshot().isLoading) { off(); resolve(); } });
  });
  assert.ok(failing.getSnapshot().error);
});

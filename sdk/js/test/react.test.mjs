// The React binding in real React (react-test-renderer, a dev dependency): source 003's
// `const { data: flags } = useFeatureFlags();` under a VaneProvider, against the seeded server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import TestRenderer from 'react-test-renderer';
import { VaneClient } from '@vanehq/js-sdk';
import { VaneProvider, useFeatureFlags } from '@vanehq/js-sdk/react';

const { VANE_URL: url, VANE_SDK_KEY: key } = process.env;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

async function rest(body) {
  const res = await fetch(url + '/api/v1/feature-flags/evaluate', { method: 'POST', headers: { 'X-API-Key': key }, body: JSON.stringify(body) });
  return res.json();
}

async function until(check) {
  for (let i = 0; i < 500 && !check(); i++) {
    await TestRenderer.act(() => new Promise((r) => setTimeout(r, 10)));
  }
  assert.ok(check(), 'the hook did not settle');
}

test("useFeatureFlags() renders the flags the REST API answers, and follows the provider's context", async () => {
  const client = new VaneClient({ apiUrl: url, apiKey: key });
  const seen = [];
  function Dashboard() {
    const { data: flags, isLoading, error } = useFeatureFlags();
    seen.push({ flags, isLoading, error });
    return React.createElement('div', null, flags?.layout ?? 'loading');
  }
  const tree = (user) => React.createElement(VaneProvider, { client, context: { user_id: user } }, React.createElement(Dashboard));
  let r;
  await TestRenderer.act(async () => { r = TestRenderer.create(tree('user-1')); });
  await until(() => seen.at(-1).flags !== undefined);
  assert.equal(seen[0].isLoading, true);
  const want1 = await rest({ user_id: 'user-1' });
  assert.deepEqual(seen.at(-1).flags, want1);
  assert.equal(r.toJSON().children[0], want1.layout);

  await TestRenderer.act(async () => { r.update(tree('user-7')); }); // another user: fetched again
  const want7 = await rest({ user_id: 'user-7' });
  await until(() => JSON.stringify(seen.at(-1).flags) === JSON.stringify(want7));
  assert.equal(r.toJSON().children[0], want7.layout);
  await TestRenderer.act(async () => r.unmount());
});

test('useFeatureFlags reports a failure as error, with no data', async () => {
  const client = new VaneClient({ apiUrl: 'http://127.0.0.1:9', apiKey: key, timeoutMs: 2000 });
  let last;
  function C() {
    last = useFeatureFlags(client, { user_id: 'u' });
    return null;
  }
  let r;
  await TestRenderer.act(async () => { r = TestRenderer.create(React.createElement(C)); });
  await until(() => !last.isLoading);
  assert.ok(last.error);
  assert.equal(last.data, undefined);
  await TestRenderer.act(async () => r.unmount());
});

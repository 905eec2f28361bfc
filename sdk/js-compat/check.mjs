// Runs the official OpenFeature OFREP provider for JavaScript, unmodified, against a Vane server.
// VANE_URL and VANE_SDK_KEY come from the Go test that started the server (api/ofrep_javascript_test.go);
// it seeded flag "checkout": true for plan=pro, a 50/50 split for everyone else.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const baseUrl = process.env.VANE_URL;
const key = process.env.VANE_SDK_KEY;
if (!baseUrl || !key) {
  console.error('VANE_URL and VANE_SDK_KEY are required');
  process.exit(2);
}
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers: [['X-API-Key', key]] }));
const client = OpenFeature.getClient();
const failures = [];
const expect = (name, got, want) => {
  for (const [k, v] of Object.entries(want)) {
    if (got[k] !== v) failures.push(`${name}: ${k} = ${JSON.stringify(got[k])}, want ${JSON.stringify(v)}`);
  }
};

expect('pro user', await client.getBooleanDetails('checkout', false, { targetingKey: 'u1', plan: 'pro' }),
  { value: true, reason: 'TARGETING_MATCH', variant: 'true' });
const split = await client.getBooleanDetails('checkout', false, { targetingKey: 'u2' });
expect('split', split, { reason: 'SPLIT' });
const again = await client.getBooleanDetails('checkout', false, { targetingKey: 'u2' });
expect('sticky', again, { value: split.value });
expect('missing flag', await client.getBooleanDetails('nope', true, { targetingKey: 'u1' }),
  { value: true, errorCode: 'FLAG_NOT_FOUND' });
expect('no targeting key', await client.getBooleanDetails('checkout', false, { plan: 'free' }),
  { value: false, errorCode: 'TARGETING_KEY_MISSING' });

await OpenFeature.close();
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('ok: the OFREP JavaScript provider works against Vane');

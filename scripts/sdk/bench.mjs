// Time isFeatureEnabled in the JavaScript SDK's three modes against a running server:
//   make sdk-js && VANE_URL=http://localhost:8000 VANE_SDK_KEY=srv-… VANE_FLAG=new-checkout-flow node scripts/sdk/bench.mjs
import { VaneClient } from '../../sdk/js/dist/esm/index.js';

const { VANE_URL: url = 'http://localhost:8000', VANE_SDK_KEY: key, VANE_FLAG: flag = 'new-checkout-flow' } = process.env;
const n = Number(process.env.N ?? 2000);
for (const [name, opts] of [['direct (cache: false)', { cache: false }], ['cached, revalidated (304)', {}], ['cached + stream', { stream: true }]]) {
  const c = new VaneClient({ apiUrl: url, apiKey: key, ...opts });
  await c.isFeatureEnabled(flag, 'user-14', { plan: 'enterprise' });
  await new Promise((r) => setTimeout(r, 300)); // the stream connects
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await c.isFeatureEnabled(flag, 'user-14', { plan: 'enterprise' });
  console.log(name.padEnd(28), ((performance.now() - t0) * 1000 / n).toFixed(1), `µs per isFeatureEnabled (sequential, n=${n})`);
  c.close();
}

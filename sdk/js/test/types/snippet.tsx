// Type-checked by `npm run typecheck` (tsc --noEmit): source 000's snippet and source 003's hook as a
// TypeScript application writes them, against the built declarations.
import { ExperimentationClient, VaneClient, type EvaluationDetail } from '@vanehq/js-sdk';
import { VaneProvider, useFeatureFlags } from '@vanehq/js-sdk/react';

declare function showNewCheckoutFlow(): void;
declare function showCurrentCheckoutFlow(): void;

export async function checkout(): Promise<void> {
  const client = new ExperimentationClient({
    apiUrl: 'https://your-platform.example.com',
    apiKey: 'your-api-key',
  });
  const isEnabled = await client.isFeatureEnabled('new-checkout-flow', 'user-123', {
    plan: 'enterprise',
    country: 'US',
  });
  if (isEnabled) {
    showNewCheckoutFlow();
  } else {
    showCurrentCheckoutFlow();
  }
  const layout: string = await client.getValue('checkout-layout', { key: 'user-123' }, 'classic');
  const detail: EvaluationDetail<number> = await client.getDetail<number>('max-items', { key: 'user-123' });
  void layout;
  void detail;
}

const client = new VaneClient({ apiUrl: 'https://flags.example.com', apiKey: 'cli-…', stream: true });

function Dashboard() {
  const { data: flags } = useFeatureFlags();
  return <div>{flags?.new_dashboard ? 'new' : 'legacy'}</div>;
}

export const app = (
  <VaneProvider client={client} context={{ user_id: 'u1', org_id: 47 }}>
    <Dashboard />
  </VaneProvider>
);

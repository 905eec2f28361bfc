/**
 * Source 003's hook: `const { data: flags } = useFeatureFlags();` inside a `<VaneProvider client={…} context={…}>`.
 * `data` is every flag as `{key: value}` (getAllFlags), fetched on mount, when the context changes and,
 * with the client's `stream` option, whenever the server says the configuration changed; `refetch()`
 * fetches again (source 003's manual invalidation).
 */
import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type ReactElement, type ReactNode } from 'react';
import { contextKey, FlagsStore, type EvaluationContext, type FeatureFlagsResult, type VaneClient } from './index.js';

export { FlagsStore, type FeatureFlagsResult, type FeatureFlagsState } from './index.js';

interface Binding { client: VaneClient; context: EvaluationContext }

const VaneContext = createContext<Binding | null>(null);

/** Makes a client and the current user's context available to useFeatureFlags below it. */
export function VaneProvider(props: { client: VaneClient; context?: EvaluationContext; children?: ReactNode }): ReactElement {
  const key = contextKey(props.context ?? {});
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const value = useMemo(() => ({ client: props.client, context: props.context ?? {} }), [props.client, key]);
  return createElement(VaneContext.Provider, { value }, props.children);
}

/** Every flag for the provider's context (source 003's hook); a client and context may be passed instead. */
export function useFeatureFlags(client?: VaneClient, context?: EvaluationContext): FeatureFlagsResult {
  const bound = useContext(VaneContext);
  const c = client ?? bound?.client;
  if (!c) throw new Error('useFeatureFlags: wrap the component in <VaneProvider client={…}> or pass a client');
  const ctx = context ?? bound?.context ?? {};
  const key = contextKey(ctx);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const store = useMemo(() => new FlagsStore(c, ctx), [c, key]);
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return { ...state, refetch: store.refetch };
}

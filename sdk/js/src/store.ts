import type { EvaluationContext, VaneClient } from './index.js';

export interface FeatureFlagsState {
  data: Record<string, unknown> | undefined;
  error: unknown;
  isLoading: boolean;
}

export interface FeatureFlagsResult extends FeatureFlagsState {
  refetch: () => Promise<void>;
}

/** The state behind the hook, usable without React: fetches a context's flags and tells subscribers. */
export class FlagsStore {
  private state: FeatureFlagsState = { data: undefined, error: undefined, isLoading: true };
  private readonly subscribers = new Set<() => void>();
  private seq = 0;
  private unlisten?: () => void;

  constructor(private readonly client: VaneClient, private readonly context: EvaluationContext = {}) {}

  getSnapshot = (): FeatureFlagsState => this.state;

  subscribe = (onChange: () => void): (() => void) => {
    this.subscribers.add(onChange);
    if (this.subscribers.size === 1) {
      this.unlisten = this.client.onChange(() => void this.refetch());
      void this.refetch();
    }
    return () => {
      this.subscribers.delete(onChange);
      if (this.subscribers.size === 0) this.unlisten?.();
    };
  };

  /** Fetches again; the last request started wins. */
  refetch = async (): Promise<void> => {
    const seq = ++this.seq;
    this.set({ ...this.state, isLoading: this.state.data === undefined });
    try {
      const data = await this.client.fetchAllFlags(this.context);
      if (seq === this.seq) this.set({ data, error: undefined, isLoading: false });
    } catch (error) {
      if (seq === this.seq) this.set({ data: this.state.data, error, isLoading: false });
    }
  };

  private set(next: FeatureFlagsState): void {
    this.state = next;
    for (const s of [...this.subscribers]) s();
  }
}


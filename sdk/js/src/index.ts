/**
 * Vane feature flags for JavaScript and TypeScript: remote evaluation against a Vane server.
 *
 * ```ts
 * import { VaneClient } from '@vanehq/js-sdk';
 * const client = new VaneClient({ apiUrl: 'http://localhost:8000', apiKey: 'cli-…' });
 * const isEnabled = await client.isFeatureEnabled('new-checkout-flow', 'user-123', { plan: 'enterprise' });
 * ```
 *
 * No call throws: a failed evaluation (network, timeout, refused key, unknown flag) answers the
 * fallback, as source 000 asks ("the flag evaluation call fails (error fallback)").
 */

/** An evaluation context: attributes, and the key rollouts bucket by (`key`, `targetingKey`, `user_id` or `user.key`). */
export type EvaluationContext = Record<string, unknown>;

/** What an evaluation answered. `errorCode` is set when the value is the fallback. */
export interface EvaluationDetail<T = unknown> {
  flagKey: string;
  value: T;
  variation?: string;
  /** DISABLED, TARGETING_MATCH, SPLIT, DEFAULT, STATIC, ERROR */
  reason: string;
  ruleId?: string;
  /** FLAG_NOT_FOUND, TARGETING_KEY_MISSING, TYPE_MISMATCH, INVALID_CONTEXT, GENERAL (network, timeout, refused key) */
  errorCode?: string;
  version?: number;
}

export interface VaneClientOptions {
  /** The server, e.g. `https://flags.example.com` (no path). */
  apiUrl: string;
  /** An SDK key of one environment: `cli-…` in browsers, `srv-…` on servers. */
  apiKey: string;
  /** Each request's timeout (default 5000 ms). */
  timeoutMs?: number;
  /**
   * Cache the bulk evaluation (OFREP) per context (default true). A cached context is revalidated with
   * `If-None-Match` (a 304 sends no body back); within `cacheTtlMs` or, with `stream`, until the server
   * says the configuration changed, it is served with no request at all.
   */
  cache?: boolean;
  /** Serve a cached context without asking for this long (default 0: revalidate on every call). */
  cacheTtlMs?: number;
  /** Contexts kept (default 1000; the oldest goes first). */
  maxCacheEntries?: number;
  /** Listen to `GET /ofrep/v1/stream`: cached answers stay valid until a `refetchEvaluation` event (default false). */
  stream?: boolean;
  /** Called with every error that was turned into a fallback. */
  onError?: (error: unknown) => void;
  /** A fetch implementation (default the platform's). */
  fetch?: typeof fetch;
}

interface CacheEntry {
  etag?: string;
  flags: Map<string, OfrepFlag>;
  fetchedAt: number;
  generation: number;
}

interface OfrepFlag {
  key: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  metadata?: { version?: number; ruleId?: string };
}

interface RestEvaluation {
  flag_key: string;
  enabled: boolean;
  value: unknown;
  variation?: string;
  reason: string;
  rule_id?: string;
  error_code?: string;
  version?: number;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`HTTP ${status}`);
  }
}

/** A stable key for a context: its JSON with object keys sorted. */
export function contextKey(value: unknown): string {
  if (Array.isArray(value)) return '[' + value.map(contextKey).join(',') + ']';
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return '{' + Object.keys(o).filter((k) => o[k] !== undefined).sort()
      .map((k) => JSON.stringify(k) + ':' + contextKey(o[k])).join(',') + '}';
  }
  return JSON.stringify(value ?? null);
}

/** The context source 000's `isFeatureEnabled(flag, userId, attributes)` stands for (as the REST API builds it). */
export function userContext(userId: string | number | null | undefined, attributes?: Record<string, unknown> | null): EvaluationContext {
  const ctx: EvaluationContext = { ...(attributes ?? {}) };
  if (userId !== undefined && userId !== null && userId !== '') {
    ctx.user_id = String(userId);
    ctx.key = String(userId);
  }
  return ctx;
}

type Listener = () => void;

export class VaneClient {
  private readonly apiUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly useCache: boolean;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly onError?: (error: unknown) => void;
  private readonly fetchImpl: typeof fetch;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<CacheEntry>>();
  private readonly listeners = new Set<Listener>();
  private generation = 0; // bumped by each refetchEvaluation event: older entries must revalidate
  private streamLive = false;
  private closed = false;
  private readonly streamAbort?: AbortController;

  constructor(options: VaneClientOptions) {
    if (!options || !options.apiUrl) throw new TypeError('VaneClient: apiUrl is required');
    if (!options.apiKey) throw new TypeError('VaneClient: apiKey is required');
    this.apiUrl = options.apiUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.useCache = options.cache ?? true;
    this.ttlMs = options.cacheTtlMs ?? 0;
    this.maxEntries = Math.max(1, options.maxCacheEntries ?? 1000);
    this.onError = options.onError;
    const f = options.fetch ?? (typeof fetch === 'function' ? fetch : undefined);
    if (!f) throw new TypeError('VaneClient: no fetch in this environment; pass options.fetch');
    this.fetchImpl = f.bind(globalThis);
    if (options.stream && this.useCache) {
      this.streamAbort = new AbortController();
      void this.runStream(this.streamAbort.signal);
    }
  }

  /** Source 000: whether the flag is on for this user. Never throws; false when the evaluation fails. */
  async isFeatureEnabled(flagKey: string, userId?: string | number | null, attributes?: Record<string, unknown> | null): Promise<boolean> {
    try {
      const ctx = userContext(userId, attributes);
      if (this.useCache) {
        const d = await this.getDetail(flagKey, ctx);
        if (typeof d.value === 'boolean' || d.errorCode) return d.value === true && !d.errorCode;
        // a non-boolean flag is enabled when it serves other than its default: only the server knows which that is
      }
      const r = await this.evaluateOne(flagKey, ctx);
      return r.enabled === true;
    } catch (err) {
      this.report(err);
      return false;
    }
  }

  /** The flag's value for the context, or `fallback` when it cannot be evaluated or has another type. */
  async getValue<T>(flagKey: string, context: EvaluationContext | null | undefined, fallback: T): Promise<T> {
    const d = await this.getDetail(flagKey, context);
    if (d.errorCode || d.value === undefined || d.value === null) return fallback;
    if (fallback !== undefined && fallback !== null && typeOf(d.value) !== typeOf(fallback)) return fallback;
    return d.value as T;
  }

  /** Value, variation, reason, rule and error code. Never throws: errors are `reason: 'ERROR'` with an `errorCode`. */
  async getDetail<T = unknown>(flagKey: string, context?: EvaluationContext | null): Promise<EvaluationDetail<T>> {
    const ctx = context ?? {};
    try {
      if (!this.useCache) return fromRest(await this.evaluateOne(flagKey, ctx)) as EvaluationDetail<T>;
      const entry = await this.bulk(ctx);
      const f = entry.flags.get(flagKey);
      if (!f) return { flagKey, value: undefined as T, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' };
      if (f.errorCode) return { flagKey, value: undefined as T, reason: 'ERROR', errorCode: f.errorCode, version: f.metadata?.version };
      return {
        flagKey, value: f.value as T, variation: f.variant, reason: f.reason ?? 'UNKNOWN',
        ruleId: f.metadata?.ruleId, version: f.metadata?.version,
      };
    } catch (err) {
      this.report(err);
      return { flagKey, value: undefined as T, reason: 'ERROR', errorCode: errorCodeOf(err) };
    }
  }

  /** Source 003: every flag as `{key: value}` (boolean flags true/false). `{}` when the call fails. */
  async getAllFlags(context?: EvaluationContext | null): Promise<Record<string, unknown>> {
    try {
      return await this.fetchAllFlags(context);
    } catch (err) {
      this.report(err);
      return {};
    }
  }

  /** As getAllFlags, but a failure rejects (the React hook shows it). */
  async fetchAllFlags(context?: EvaluationContext | null): Promise<Record<string, unknown>> {
    const res = await this.request('/api/v1/feature-flags/evaluate', { attributes: context ?? {} });
    return (await res.json()) as Record<string, unknown>;
  }

  /** Whether the event stream (the `stream` option) is connected: cached answers are then served with no request. */
  get streaming(): boolean {
    return this.streamLive;
  }

  /** Called after the server said the configuration changed (with `stream`); returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops the cache and stops the stream. Evaluations after close still work, uncached. */
  close(): void {
    this.closed = true;
    this.streamAbort?.abort();
    this.cache.clear();
    this.listeners.clear();
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err);
    } catch {
      // a failing onError must not break the fallback
    }
  }

  private async evaluateOne(flagKey: string, ctx: EvaluationContext): Promise<RestEvaluation> {
    const res = await this.request(`/api/v1/feature-flags/${encodeURIComponent(flagKey)}/evaluate`, { context: ctx });
    return (await res.json()) as RestEvaluation;
  }

  private async bulk(ctx: EvaluationContext): Promise<CacheEntry> {
    const body = JSON.stringify({ context: ctx });
    const key = contextKey(ctx);
    const cached = this.cache.get(key);
    if (cached && !this.closed && cached.generation === this.generation &&
        ((this.streamLive) || (this.ttlMs > 0 && Date.now() - cached.fetchedAt < this.ttlMs))) {
      return cached;
    }
    const running = this.inflight.get(key);
    if (running) return running;
    const p = (async () => {
      const generation = this.generation;
      const headers: Record<string, string> = {};
      if (cached?.etag) headers['If-None-Match'] = cached.etag;
      let res: Response;
      try {
        res = await this.send('/ofrep/v1/evaluate/flags', body, headers);
      } catch (err) {
        if (cached) { // the server's last answer beats the fallback
          this.report(err);
          return cached;
        }
        throw err;
      }
      let entry: CacheEntry;
      if (res.status === 304 && cached) {
        entry = { ...cached, fetchedAt: Date.now(), generation };
      } else {
        const data = (await res.json()) as { flags?: OfrepFlag[] };
        const flags = new Map<string, OfrepFlag>();
        for (const f of data.flags ?? []) flags.set(f.key, f);
        entry = { etag: res.headers.get('ETag') ?? undefined, flags, fetchedAt: Date.now(), generation };
      }
      if (!this.closed) {
        this.cache.delete(key);
        this.cache.set(key, entry);
        while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
      }
      return entry;
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async request(path: string, payload: unknown): Promise<Response> {
    return this.send(path, JSON.stringify(payload), {});
  }

  private async send(path: string, body: string, extra: Record<string, string>): Promise<Response> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`Vane: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const res = await this.fetchImpl(this.apiUrl + path, {
        method: 'POST', body, signal: ctl.signal,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-API-Key': this.apiKey, ...extra },
      });
      if (res.status === 304) return res;
      if (!res.ok) {
        let detail: unknown;
        try { detail = await res.json(); } catch { detail = undefined; }
        throw new HttpError(res.status, detail);
      }
      return res;
    } finally {
      clearTimeout(timer);
    }
  }

  private async runStream(signal: AbortSignal): Promise<void> {
    let delay = 500;
    while (!signal.aborted) {
      try {
        const res = await this.fetchImpl(this.apiUrl + '/ofrep/v1/stream', {
          headers: { Accept: 'text/event-stream', 'X-API-Key': this.apiKey }, signal,
        });
        if (!res.ok || !res.body) throw new HttpError(res.status, undefined);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        let data: string[] = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).replace(/\r$/, '');
            buf = buf.slice(nl + 1);
            if (line === '') {
              if (data.length) this.onStreamEvent(data.join('\n'));
              data = [];
            } else if (line.startsWith('data:')) {
              data.push(line.slice(5).replace(/^ /, ''));
            }
          }
        }
        throw new Error('Vane: the event stream ended');
      } catch (err) {
        this.streamLive = false;
        if (signal.aborted) return;
        this.report(err);
        this.invalidate(); // changes may be missed while away: revalidate everything
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  private onStreamEvent(data: string): void {
    let ev: { type?: string };
    try { ev = JSON.parse(data); } catch { return; }
    if (ev.type !== 'refetchEvaluation') return;
    this.invalidate();
    this.streamLive = true;
  }

  private invalidate(): void {
    this.generation++;
    for (const l of [...this.listeners]) {
      try { l(); } catch (err) { this.report(err); }
    }
  }
}

/** Source 000's name: its snippet runs with only the import changed. */
export { VaneClient as ExperimentationClient };
export { FlagsStore, type FeatureFlagsResult, type FeatureFlagsState } from './store.js';

function typeOf(v: unknown): string {
  return Array.isArray(v) ? 'array' : typeof v;
}

function errorCodeOf(err: unknown): string {
  if (err instanceof HttpError) {
    if (err.status === 404) return 'FLAG_NOT_FOUND';
    if (err.status === 400 || err.status === 422) return 'INVALID_CONTEXT';
  }
  return 'GENERAL';
}

function fromRest(r: RestEvaluation): EvaluationDetail {
  const d: EvaluationDetail = { flagKey: r.flag_key, value: r.value, reason: r.reason };
  if (r.variation) d.variation = r.variation;
  if (r.rule_id) d.ruleId = r.rule_id;
  if (r.error_code) d.errorCode = r.error_code;
  else if (r.reason === 'FLAG_NOT_FOUND') { d.reason = 'ERROR'; d.errorCode = 'FLAG_NOT_FOUND'; }
  if (r.version) d.version = r.version;
  return d;
}

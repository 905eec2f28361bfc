/** InsightBucket is one hour's evaluations by variation id, as the insights endpoint serves it. */
export type InsightBucket = { hour: string; counts: Record<string, number> };

const HOUR = 3_600_000;

/** hourlySeries lays the served buckets (hours without evaluations left out) on the last n hours
 * ending with the hour of now, one entry per hour, oldest first. */
export function hourlySeries(buckets: InsightBucket[], now: Date, n: number): InsightBucket[] {
  const end = Math.floor(now.getTime() / HOUR) * HOUR;
  const byHour = new Map(buckets.map((b) => [Math.floor(new Date(b.hour).getTime() / HOUR) * HOUR, b.counts]));
  const out: InsightBucket[] = [];
  for (let t = end - (n - 1) * HOUR; t <= end; t += HOUR) {
    out.push({ hour: new Date(t).toISOString(), counts: byHour.get(t) ?? {} });
  }
  return out;
}

/** totalsOf sums each variation's evaluations over a series. */
export function totalsOf(series: InsightBucket[], ids: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  for (const s of series) {
    for (const [id, n] of Object.entries(s.counts)) out[id] = (out[id] ?? 0) + n;
  }
  return out;
}

/** InsightBucket is one hour's evaluations by variation id, as the insights endpoint serves it. */
export type InsightBucket = { hour: string; counts: Record<string, number> };

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** bucketSeries lays the served hourly buckets on slots of step (an hour or a UTC day) from the slot
 * of from up to to (exclusive), one entry per slot, oldest first; counts in one slot add up. */
export function bucketSeries(buckets: InsightBucket[], from: Date, to: Date, step: number): InsightBucket[] {
  const out: InsightBucket[] = [];
  const slot = new Map<number, number>();
  for (let t = Math.floor(from.getTime() / step) * step; t < to.getTime(); t += step) {
    slot.set(t, out.length);
    out.push({ hour: new Date(t).toISOString(), counts: {} });
  }
  for (const b of buckets) {
    const i = slot.get(Math.floor(new Date(b.hour).getTime() / step) * step);
    if (i === undefined) continue;
    for (const [id, n] of Object.entries(b.counts)) out[i].counts[id] = (out[i].counts[id] ?? 0) + n;
  }
  return out;
}

/** hourlySeries lays the served buckets (hours without evaluations left out) on the last n hours
 * ending with the hour of now, one entry per hour, oldest first. */
export function hourlySeries(buckets: InsightBucket[], now: Date, n: number): InsightBucket[] {
  const end = Math.floor(now.getTime() / HOUR) * HOUR;
  return bucketSeries(buckets, new Date(end - (n - 1) * HOUR), new Date(end + HOUR), HOUR);
}

/** InsightRange is the window the chart shows: the last 24 hours, 7 or 30 days, or a custom one. */
export type InsightRange = { kind: "24h" | "7d" | "30d" } | { kind: "custom"; from: Date; to: Date };

/** windowOf turns a range into the endpoint's [from, to) and the chart's step: hours up to 7 days,
 * days beyond. A custom window that ends before it starts is undefined. */
export function windowOf(r: InsightRange, now: Date): { from: Date; to: Date; step: number } | undefined {
  const hour = Math.floor(now.getTime() / HOUR) * HOUR;
  switch (r.kind) {
    case "24h":
      return { from: new Date(hour - 23 * HOUR), to: now, step: HOUR };
    case "7d":
      return { from: new Date(hour - (7 * 24 - 1) * HOUR), to: now, step: HOUR };
    case "30d":
      return { from: new Date(Math.floor(now.getTime() / DAY) * DAY - 29 * DAY), to: now, step: DAY };
    case "custom":
      if (!(r.from < r.to)) return undefined;
      return { from: r.from, to: r.to, step: r.to.getTime() - r.from.getTime() > 7 * DAY ? DAY : HOUR };
  }
}

/** totalsOf sums each variation's evaluations over a series. */
export function totalsOf(series: InsightBucket[], ids: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  for (const s of series) {
    for (const [id, n] of Object.entries(s.counts)) out[id] = (out[id] ?? 0) + n;
  }
  return out;
}

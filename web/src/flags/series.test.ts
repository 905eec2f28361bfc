import { describe, expect, it } from "vitest";
import { bucketSeries, DAY, hourlySeries, totalsOf, windowOf } from "./series";

describe("hourlySeries", () => {
  it("lays the served hours on the last n hours and fills the gaps", () => {
    const now = new Date("2026-11-22T05:30:00Z");
    const s = hourlySeries([
      { hour: "2026-11-22T03:00:00Z", counts: { on: 2 } },
      { hour: "2026-11-22T05:00:00Z", counts: { on: 1, off: 4 } },
      { hour: "2026-11-21T01:00:00Z", counts: { on: 9 } }, // outside the window
    ], now, 3);
    expect(s.map((b) => b.hour)).toEqual(["2026-11-22T03:00:00.000Z", "2026-11-22T04:00:00.000Z", "2026-11-22T05:00:00.000Z"]);
    expect(s.map((b) => b.counts)).toEqual([{ on: 2 }, {}, { on: 1, off: 4 }]);
    expect(totalsOf(s, ["on", "off", "other"])).toEqual({ on: 3, off: 4, other: 0 });
  });
});

describe("bucketSeries", () => {
  it("adds the hours of one day up", () => {
    const s = bucketSeries([
      { hour: "2026-11-20T01:00:00Z", counts: { on: 2 } },
      { hour: "2026-11-20T23:00:00Z", counts: { on: 3, off: 1 } },
      { hour: "2026-11-22T00:00:00Z", counts: { off: 5 } },
    ], new Date("2026-11-20T12:00:00Z"), new Date("2026-11-22T08:00:00Z"), DAY);
    expect(s.map((b) => b.hour.slice(0, 10))).toEqual(["2026-11-20", "2026-11-21", "2026-11-22"]);
    expect(s.map((b) => b.counts)).toEqual([{ on: 5, off: 1 }, {}, { off: 5 }]);
  });
});

describe("windowOf", () => {
  const now = new Date("2026-11-22T05:30:00Z");
  it("gives each range its window and step", () => {
    expect(windowOf({ kind: "24h" }, now)).toEqual({ from: new Date("2026-11-21T06:00:00Z"), to: now, step: 3_600_000 });
    expect(windowOf({ kind: "7d" }, now)?.from).toEqual(new Date("2026-11-15T06:00:00Z"));
    expect(windowOf({ kind: "30d" }, now)).toEqual({ from: new Date("2026-10-24T00:00:00Z"), to: now, step: DAY });
    const from = new Date("2026-11-01T00:00:00Z");
    expect(windowOf({ kind: "custom", from, to: new Date("2026-11-03T00:00:00Z") }, now)?.step).toBe(3_600_000);
    expect(windowOf({ kind: "custom", from, to: new Date("2026-11-20T00:00:00Z") }, now)?.step).toBe(DAY);
    expect(windowOf({ kind: "custom", from, to: from }, now)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { hourlySeries, totalsOf } from "./series";

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

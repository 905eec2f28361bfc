import { describe, expect, it } from "vitest";
import { guardSummary, shortDuration, why } from "./Guards";

describe("guard words", () => {
  it("shortens Go durations", () => {
    expect(["5m0s", "1h0m0s", "1h30m0s", "90s", "0s", ""].map((d) => shortDuration(d))).toEqual(["5m", "1h", "1h30m", "90s", "0s", ""]);
  });
  it("says when a guard acts", () => {
    expect(guardSummary({ metric: "error_rate", comparator: "gte", threshold: 0.025, window: "10m0s", min_sample: 50 }))
      .toBe("Error rate of the rolled-out cohort ≥ 2.5% over 10m, at least 50 evaluations");
    expect(guardSummary({ metric: "error_rate_ratio", comparator: "gt", threshold: 2, window: "5m0s", min_sample: 100 }))
      .toBe("Error rate relative to the other users > 2× over 5m, at least 100 evaluations");
  });
  it("says why a rollback happened", () => {
    expect(why({ trigger: true })).toBe("Its trigger URL was called");
    expect(why({ metric: "error_rate", value: 0.2, threshold: 0.05, sample: 200 })).toBe("20% errors, threshold 5%, over 200 evaluations");
    expect(why({ metric: "error_rate_ratio", value: 3.5, threshold: 2, sample: 400 }))
      .toBe("3.5× the other users' error rate, threshold 2×, over 400 evaluations");
  });
});

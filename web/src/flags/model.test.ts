import { describe, expect, it } from "vitest";
import { changedFields, keyFromName, moveItem, percentServe, shares, verbsFor } from "./model";

describe("keyFromName", () => {
  it.each([
    ["New Checkout Flow", "new-checkout-flow"],
    ["  Dark mode (v2)!  ", "dark-mode-v2"],
    ["Café crème", "cafe-creme"],
    ["", ""],
    ["a".repeat(70), "a".repeat(64)],
  ])("keyFromName(%j) = %j", (name, want) => {
    expect(keyFromName(name)).toBe(want);
  });
});

describe("verbsFor", () => {
  it("offers only legal moves", () => {
    expect(verbsFor("DRAFT")).toEqual(["activate"]);
    expect(verbsFor("ENABLED")).toEqual(["disable", "rollout"]);
    expect(verbsFor("ARCHIVED")).toEqual([]);
  });
});

describe("rollouts", () => {
  it("percentServe splits by relative weights", () => {
    expect(percentServe("on", "off", 10)).toEqual({
      rollout: { variations: [{ variation: "on", weight: 10000 }, { variation: "off", weight: 90000 }] },
    });
    expect(percentServe("on", "off", 100)).toEqual({ variation: "on" });
    expect(percentServe("on", "off", 0)).toEqual({ variation: "off" });
  });
  it("shares previews percentages of relative weights", () => {
    expect(shares([1, 4])).toEqual([20, 80]);
    expect(shares([0, 0])).toEqual([0, 0]);
  });
});

describe("editing", () => {
  it("moveItem reorders", () => {
    expect(moveItem(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(moveItem(["a", "b"], 0, -1)).toEqual(["a", "b"]);
  });
  it("changedFields names the differences", () => {
    const base = { rules: [], fallthrough: { variation: "false" }, targets: [], bucket_by: "key", salt: "", default_variation: "false" };
    expect(changedFields(base, { ...base, salt: "x" })).toEqual(["salt"]);
  });
});

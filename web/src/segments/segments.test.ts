import { expect, it } from "vitest";
import { parseKeys } from "./Segments";

it("parseKeys reads pasted keys once each", () => {
  expect(parseKeys("u1\nu2, u3;u4  u5\n\nu1")).toEqual(["u1", "u2", "u3", "u4", "u5"]);
  expect(parseKeys("  ")).toEqual([]);
});

import { expect, it } from "vitest";
import { diff } from "./diff";

it("diff lists changed, added and removed fields", () => {
  expect(diff({ status: "DRAFT", rules: [], salt: "x" }, { status: "ACTIVE", rules: [], bucket_by: "org" })).toEqual([
    { field: "bucket_by", before: undefined, after: '"org"' },
    { field: "salt", before: '"x"', after: undefined },
    { field: "status", before: '"DRAFT"', after: '"ACTIVE"' },
  ]);
  expect(diff(null, { key: "a" })).toEqual([{ field: "key", before: undefined, after: '"a"' }]);
});

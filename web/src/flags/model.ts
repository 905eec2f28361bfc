import type { Condition, Flag, FlagConfig, Rule, Serve, Variation } from "../api/client";

/** keyFromName is the flag key a name suggests: lowercase letters, digits and hyphens, at most 64. */
export function keyFromName(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}

export type Verb = "activate" | "enable" | "disable" | "pause" | "resume" | "rollout" | "archive";

/** verbsFor is what a status may legally do next (the server's status machine). */
export function verbsFor(status?: string): Verb[] {
  switch (status) {
    case "DRAFT":
      return ["activate"];
    case "ACTIVE":
      return ["enable", "disable"];
    case "ENABLED":
      return ["disable", "rollout"];
    case "DISABLED":
      return ["enable", "pause", "archive"];
    case "PAUSED":
      return ["resume"];
    case "ROLLED_OUT":
      return ["disable", "archive"];
    default:
      return [];
  }
}

export const verbLabels: Record<Verb, string> = {
  activate: "Activate",
  enable: "Enable",
  disable: "Kill switch",
  pause: "Pause",
  resume: "Resume",
  rollout: "Roll out to everyone",
  archive: "Archive",
};

export const operators = [
  "equals", "not_equals", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with",
  "greater_than", "greater_than_or_equal", "less_than", "less_than_or_equal", "matches_regex",
  "before", "after", "semver_equals", "semver_greater_than", "semver_less_than", "exists",
];

/** conditionValue reads a chip as JSON when it is a number or boolean, otherwise as a string. */
export function conditionValue(chip: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(chip)) return Number(chip);
  if (chip === "true" || chip === "false") return chip === "true";
  return chip;
}

export function chipOf(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function newCondition(): Condition {
  return { attribute: "", operator: "in", values: [] };
}

/** percentServe gives pct percent of the contexts "on" and the rest "off" (weights are relative). */
export function percentServe(on: string, off: string, pct: number): Serve {
  if (pct >= 100) return { variation: on };
  if (pct <= 0) return { variation: off };
  const w = Math.round(pct * 1000);
  return { rollout: { variations: [{ variation: on, weight: w }, { variation: off, weight: 100000 - w }] } };
}

/** shares is each weighted variation's percentage of the total (the live preview). */
export function shares(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + Math.max(0, b || 0), 0);
  return weights.map((w) => (total > 0 ? (Math.max(0, w || 0) * 100) / total : 0));
}

/** onOff is the boolean flag's true and false variation ids. */
export function onOff(flag: Flag): { on: string; off: string } {
  const vs = flag.variations ?? [];
  const on = vs.find((v) => (v.value as unknown) === true)?.id ?? vs[0]?.id ?? "true";
  const off = vs.find((v) => (v.value as unknown) === false)?.id ?? vs[1]?.id ?? "false";
  return { on, off };
}

export function variationLabel(vs: Variation[] | undefined, id?: string): string {
  const v = vs?.find((x) => x.id === id);
  return v ? v.name || v.id || "" : id ?? "";
}

/** editable is the part of a configuration the editor changes. */
export type Editable = Pick<FlagConfig, "rules" | "fallthrough" | "targets" | "bucket_by" | "salt" | "default_variation">;

export function editableOf(c: FlagConfig): Editable {
  return {
    rules: (c.rules ?? []).map((r) => stripPercent(r)),
    fallthrough: stripServe(c.fallthrough ?? {}),
    targets: c.targets ?? [],
    bucket_by: c.bucket_by ?? "key",
    salt: c.salt ?? "",
    default_variation: c.default_variation ?? "",
  };
}

function stripServe(s: Serve): Serve {
  if (!s.rollout) return { variation: s.variation };
  return {
    rollout: {
      bucket_by: s.rollout.bucket_by,
      variations: (s.rollout.variations ?? []).map((v) => ({ variation: v.variation, weight: v.weight })),
    },
  };
}

function stripPercent(r: Rule): Rule {
  return { ...r, serve: stripServe(r.serve ?? {}) };
}

/** changedFields names the fields where two configurations differ (what a conflict shows). */
export function changedFields(a: Editable, b: Editable): string[] {
  return (Object.keys(a) as (keyof Editable)[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

export function moveItem<T>(items: T[], from: number, to: number): T[] {
  if (to < 0 || to >= items.length || from === to) return items;
  const next = items.slice();
  const [x] = next.splice(from, 1);
  next.splice(to, 0, x);
  return next;
}

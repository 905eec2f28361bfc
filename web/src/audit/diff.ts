/** FieldChange is one top-level field that differs between an audit event's before and after. */
export type FieldChange = { field: string; before?: string; after?: string };

const show = (v: unknown) => (v === undefined ? undefined : JSON.stringify(v));

/** diff lists the fields that an audit event changed, in a stable order. */
export function diff(before: unknown, after: unknown): FieldChange[] {
  const b = (before && typeof before === "object" ? before : {}) as Record<string, unknown>;
  const a = (after && typeof after === "object" ? after : {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .sort()
    .filter((k) => show(b[k]) !== show(a[k]))
    .map((k) => ({ field: k, before: show(b[k]), after: show(a[k]) }));
}

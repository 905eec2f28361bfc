import { Button, Group, NativeSelect, Stack, TagsInput, TextInput } from "@mantine/core";
import type { Condition } from "../api/client";
import { chipOf, conditionValue, newCondition, operators } from "./model";

/**
 * ConditionsEditor edits conditions that must all match, one row each: an attribute, an operator and
 * values as chips, or (where segments are offered) a segment. A flag's rules and a segment use it.
 */
export function ConditionsEditor({ conditions, onChange, segments = [], readOnly }: {
  conditions: Condition[]; onChange: (c: Condition[]) => void; segments?: string[]; readOnly?: boolean;
}) {
  const setCond = (k: number, patch: Partial<Condition>) => onChange(conditions.map((x, j) => (j === k ? { ...x, ...patch } : x)));
  return (
    <Stack gap="xs">
      {conditions.map((c, k) => (
        <Group key={k} align="end" gap="xs" wrap="wrap" role="group" aria-label={`Condition ${k + 1}`}>
          {c.segment !== undefined ? (
            <NativeSelect label="Segment" disabled={readOnly} value={c.segment ?? ""} data={["", ...segments]}
              onChange={(e) => setCond(k, { segment: e.currentTarget.value })} />
          ) : (
            <>
              <TextInput label="Attribute" placeholder="country" disabled={readOnly} value={c.attribute ?? ""}
                onChange={(e) => setCond(k, { attribute: e.currentTarget.value })} />
              <NativeSelect label="Operator" disabled={readOnly} value={c.operator ?? "in"} data={operators}
                onChange={(e) => setCond(k, { operator: e.currentTarget.value })} />
              <TagsInput label="Values" placeholder="Type, then Enter" disabled={readOnly} w={260}
                value={(c.values ?? []).map(chipOf)} splitChars={[",", " "]}
                onChange={(vals) => setCond(k, { values: vals.map(conditionValue) as never[] })} />
            </>
          )}
          {!readOnly && (
            <Button size="xs" variant="subtle" onClick={() => onChange(conditions.filter((_, j) => j !== k))}>
              Remove condition
            </Button>
          )}
        </Group>
      ))}
      {!readOnly && (
        <Group gap="xs">
          <Button size="xs" variant="light" onClick={() => onChange([...conditions, newCondition()])}>
            Add condition
          </Button>
          {segments.length > 0 && (
            <Button size="xs" variant="light" onClick={() => onChange([...conditions, { segment: segments[0] }])}>
              Add segment condition
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

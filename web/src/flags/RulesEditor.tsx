import { ActionIcon, Button, Group, NativeSelect, NumberInput, Paper, Stack, Text } from "@mantine/core";
import { useState } from "react";
import type { Rule, Serve, Variation } from "../api/client";
import { ConditionsEditor } from "./ConditionsEditor";
import { moveItem, newCondition, shares } from "./model";

type Props = {
  rules: Rule[];
  onChange: (rules: Rule[]) => void;
  variations: Variation[];
  segments?: string[];
  readOnly?: boolean;
  /** newServe is what a new rule serves. */
  newServe: () => Serve;
};

/**
 * RulesEditor edits ordered targeting rules: conditions (attribute, operator, values as chips, or a
 * segment) and what each rule serves. Rules reorder by drag and drop or with the move buttons
 * (Alt+ArrowUp / Alt+ArrowDown on a rule).
 */
export function RulesEditor({ rules, onChange, variations, segments = [], readOnly, newServe }: Props) {
  const [dragging, setDragging] = useState<number | null>(null);
  const set = (i: number, r: Rule) => onChange(rules.map((x, j) => (j === i ? r : x)));
  return (
    <Stack gap="sm">
      {rules.map((rule, i) => (
        <Paper
          key={rule.id || `new-${i}`}
          withBorder
          p="sm"
          draggable={!readOnly}
          onDragStart={() => setDragging(i)}
          onDragOver={(e) => e.preventDefault()}
          onDrop={() => {
            if (dragging !== null) onChange(moveItem(rules, dragging, i));
            setDragging(null);
          }}
          onKeyDown={(e) => {
            if (readOnly || !e.altKey) return;
            if (e.key === "ArrowUp") onChange(moveItem(rules, i, i - 1));
            if (e.key === "ArrowDown") onChange(moveItem(rules, i, i + 1));
          }}
          role="group"
          aria-label={`Rule ${i + 1}`}
        >
          <Stack gap="xs">
            <Group justify="space-between">
              <Text fw={600} size="sm">
                Rule {i + 1}
                {rule.description ? `: ${rule.description}` : ""}
              </Text>
              {!readOnly && (
                <Group gap={4}>
                  <ActionIcon variant="default" aria-label={`Move rule ${i + 1} up`} disabled={i === 0} onClick={() => onChange(moveItem(rules, i, i - 1))}>↑</ActionIcon>
                  <ActionIcon variant="default" aria-label={`Move rule ${i + 1} down`} disabled={i === rules.length - 1} onClick={() => onChange(moveItem(rules, i, i + 1))}>↓</ActionIcon>
                  <Button size="xs" variant="subtle" color="red" onClick={() => onChange(rules.filter((_, j) => j !== i))}>
                    Remove rule {i + 1}
                  </Button>
                </Group>
              )}
            </Group>
            <ConditionsEditor conditions={rule.conditions ?? []} segments={segments} readOnly={readOnly}
              onChange={(conditions) => set(i, { ...rule, conditions })} />
            <ServeEditor label={`Rule ${i + 1} serves`} serve={rule.serve ?? {}} variations={variations} readOnly={readOnly}
              onChange={(serve) => set(i, { ...rule, serve })} />
          </Stack>
        </Paper>
      ))}
      {!readOnly && (
        <Button variant="light" onClick={() => onChange([...rules, { conditions: [newCondition()], serve: newServe() }])} w="fit-content">
          Add Rule
        </Button>
      )}
    </Stack>
  );
}

/** ServeEditor chooses one variation or a weighted rollout, with a live percentage preview. */
export function ServeEditor({ label, serve, onChange, variations, readOnly }: {
  label: string; serve: Serve; onChange: (s: Serve) => void; variations: Variation[]; readOnly?: boolean;
}) {
  const mode = serve.rollout ? "__rollout" : serve.variation ?? "";
  const weights = (serve.rollout?.variations ?? []).map((v) => v.weight ?? 0);
  const pcts = shares(weights);
  return (
    <Stack gap={4}>
      <NativeSelect label={label} disabled={readOnly} value={mode}
        data={[...variations.map((v) => ({ value: v.id ?? "", label: `Serve ${v.name || v.id}` })), { value: "__rollout", label: "Percentage rollout" }]}
        onChange={(e) => {
          const v = e.currentTarget.value;
          onChange(v === "__rollout"
            ? { rollout: { variations: variations.map((x, j) => ({ variation: x.id, weight: j === 0 ? 1 : 0 })) } }
            : { variation: v });
        }} />
      {serve.rollout && (
        <Group gap="xs" wrap="wrap">
          {(serve.rollout.variations ?? []).map((wv, j) => (
            <NumberInput key={j} w={150} min={0} disabled={readOnly}
              label={`Weight of ${variations.find((x) => x.id === wv.variation)?.name || wv.variation}`}
              description={`${pcts[j].toFixed(1)}%`} value={wv.weight ?? 0}
              onChange={(n) => onChange({ rollout: { ...serve.rollout, variations: (serve.rollout?.variations ?? []).map((x, k) => (k === j ? { ...x, weight: Number(n) || 0 } : x)) } })} />
          ))}
        </Group>
      )}
    </Stack>
  );
}

import { Alert, Button, Group, NativeSelect, NumberInput, SegmentedControl, Slider, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, ApiError, call, type Rule, type Variation } from "../api/client";
import { canWrite } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { keyFromName, onOff, percentServe } from "./model";
import { RulesEditor } from "./RulesEditor";

type FlagType = "boolean" | "string" | "number" | "json";

/**
 * NewFlag walks source 000's dashboard steps: Key, Name, Description, the default value, optional
 * targeting rules (Add Rule), the rollout percentage, then Save as Draft or Activate — for the
 * environment chosen in the header.
 */
export function NewFlag() {
  const { org, project, env, envKey, role } = useProject();
  const nav = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [keyEdited, setKeyEdited] = useState(false);
  const [description, setDescription] = useState("");
  const [type, setType] = useState<FlagType>("boolean");
  const [variations, setVariations] = useState<Variation[]>([
    { id: "control", name: "control", value: "control" as never, description: "" },
    { id: "treatment", name: "treatment", value: "treatment" as never, description: "" },
  ]);
  const [defaultOn, setDefaultOn] = useState(false);
  const [defaultVariation, setDefaultVariation] = useState("control");
  const [rules, setRules] = useState<Rule[]>([]);
  const [pct, setPct] = useState(0);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const shownKey = keyEdited ? key : keyFromName(name);

  const save = async (activate: boolean) => {
    setBusy(true);
    setError(undefined);
    const path = { org, project };
    try {
      const isBool = type === "boolean";
      const body = {
        key: shownKey, name, description, type,
        ...(isBool ? {} : { variations: variations.map((v) => ({ ...v, value: parseValue(type, v.value) })) }),
      };
      const flag = await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/flags", { params: { path }, body: body as never }));
      const { on, off } = isBool ? onOff(flag) : { on: variations.find((v) => v.id !== defaultVariation)?.id ?? "", off: defaultVariation };
      const def = isBool ? (defaultOn ? on : off) : defaultVariation;
      const p = { path: { ...path, flag: flag.key!, env: envKey } };
      const rulesToSave = rules.map((r) => ({ ...r, serve: r.serve?.rollout || r.serve?.variation ? r.serve : percentServe(on, off, pct) }));
      await call(() =>
        api.PATCH("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}", {
          params: p,
          body: rules.length > 0
            ? { default_variation: def, rules: rulesToSave, fallthrough: { variation: def } }
            : { default_variation: def, rollout_percentage: pct },
        }),
      );
      if (activate) {
        await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/activate", { params: p }));
      }
      await qc.invalidateQueries({ queryKey: ["flags", org, project] });
      nav(`/orgs/${org}/projects/${project}/flags/${flag.key}?env=${envKey}`);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
      else throw err;
    } finally {
      setBusy(false);
    }
  };
  const varOptions = variations.map((v) => ({ value: v.id ?? "", label: v.name || v.id || "" }));
  const boolVariations: Variation[] = [{ id: "__on", name: "on" }, { id: "__off", name: "off" }];
  if (!canWrite(role) && role) return <Alert color="yellow">Your role ({role}) cannot create flags.</Alert>;

  return (
    <form onSubmit={(e: FormEvent) => e.preventDefault()}>
      <Stack maw={860}>
        <Title order={1} size="h2">New Flag</Title>
        <Text c="dimmed" size="sm">
          Configured in <b>{env?.name ?? envKey}</b>{env?.production ? " (production)" : ""}; other environments start as drafts.
        </Text>
        {error && error.status !== 422 && <Alert color="red" role="alert">{error.message}</Alert>}
        {error && error.status === 422 && (
          <Alert color="red" role="alert">
            {error.message}
            {(error.body.details ?? []).map((d) => <div key={d.field}>{d.field}: {d.message}</div>)}
          </Alert>
        )}
        <Section>
            <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)}
              description="Human-readable label shown in the dashboard" error={error?.field("name")} />
            <TextInput label="Key" required value={shownKey} onChange={(e) => { setKey(e.currentTarget.value); setKeyEdited(true); }}
              description="Unique identifier used in code; generated from the name; cannot be changed after saving"
              error={error?.field("key")} />
            <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)}
              description="What this flag controls and when it should be removed" />
            <NativeSelect label="Type" value={type} onChange={(e) => setType(e.currentTarget.value as FlagType)}
              data={[{ value: "boolean", label: "Boolean" }, { value: "string", label: "String" }, { value: "number", label: "Number" }, { value: "json", label: "JSON" }]} />
        </Section>
        {type !== "boolean" && (
          <Section title="Variations" gap="xs">
              <Text size="xs" c="dimmed">The name "off" is reserved.</Text>
              {variations.map((v, i) => (
                <Group key={i} align="end" gap="xs">
                  <TextInput label={`Variation ${i + 1} name`} value={v.name ?? ""} error={error?.field(`variations[${i}].name`)}
                    onChange={(e) => setVariations(variations.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value, id: e.currentTarget.value } : x)))} />
                  <TextInput label={`Variation ${i + 1} value`} value={String(v.value ?? "")} error={error?.field(`variations[${i}].value`)}
                    onChange={(e) => setVariations(variations.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value as never } : x)))} />
                  <TextInput label={`Variation ${i + 1} description`} value={v.description ?? ""}
                    onChange={(e) => setVariations(variations.map((x, j) => (j === i ? { ...x, description: e.currentTarget.value } : x)))} />
                  {variations.length > 2 && (
                    <Button variant="subtle" color="red" onClick={() => setVariations(variations.filter((_, j) => j !== i))}>Remove</Button>
                  )}
                </Group>
              ))}
              <Button variant="light" w="fit-content" onClick={() => setVariations([...variations, { id: `v${variations.length + 1}`, name: `v${variations.length + 1}`, value: "" as never }])}>
                Add variation
              </Button>
          </Section>
        )}
        <Section title="Default value">
            {type === "boolean" ? (
              <SegmentedControl aria-label="Default value" value={defaultOn ? "on" : "off"} onChange={(v) => setDefaultOn(v === "on")}
                data={[{ value: "off", label: "Default: OFF" }, { value: "on", label: "Default: ON" }]} w="fit-content" />
            ) : (
              <NativeSelect label="Default variation" value={defaultVariation} data={varOptions} onChange={(e) => setDefaultVariation(e.currentTarget.value)} />
            )}
            <Text size="xs" c="dimmed">What users outside the rollout, not matching the rules, or evaluating a draft get.</Text>
        </Section>
        <Section title="Targeting rules (optional)">
            <Text size="xs" c="dimmed">Users who match no rule see the default value. Conditions of one rule are AND-ed; rules are OR-ed in order.</Text>
            <RulesEditor rules={rules} onChange={setRules} variations={type === "boolean" ? boolVariations : variations}
              newServe={() => ({})} />
        </Section>
        <Section>
            <NumberInput label="Rollout percentage" min={0} max={100} step={1} suffix="%" w={200} value={pct}
              onChange={(n) => setPct(Math.max(0, Math.min(100, Number(n) || 0)))} error={error?.field("rollout_percentage")}
              description="How many eligible users see the feature" />
            <Slider aria-label="Rollout percentage slider" value={pct} onChange={setPct} min={0} max={100}
              marks={[{ value: 0, label: "0%" }, { value: 50, label: "50%" }, { value: 100, label: "100%" }]} />
        </Section>
        <Group>
          <Button variant="default" onClick={() => save(false)} loading={busy}>Save as Draft</Button>
          <Button onClick={() => save(true)} loading={busy} color={env?.production ? "red" : undefined}>Activate</Button>
        </Group>
      </Stack>
    </form>
  );
}

function parseValue(type: FlagType, v: unknown): unknown {
  if (type === "number") return Number(v);
  if (type === "json") {
    try {
      return JSON.parse(String(v));
    } catch {
      return v;
    }
  }
  return v;
}

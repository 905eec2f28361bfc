import { Alert, Badge, Button, Group, NumberInput, Stack, Text, TextInput, Timeline } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, call } from "../api/client";
import { Section } from "../layout/Section";
import { Guards, Rollbacks } from "./Guards";

type Path = { org: string; project: string; flag: string; env: string };
type StageForm = { percentage: number; after: string };
type Verb = "start" | "pause" | "resume" | "cancel";

const verbsByState: Record<string, Verb[]> = { DRAFT: ["start"], RUNNING: ["pause", "cancel"], PAUSED: ["resume", "cancel"] };

/**
 * RolloutPlan edits a flag's staged rollout in one environment (percentages, each after a delay from
 * the start), starts, pauses, resumes and cancels it, and shows the timeline of applied and pending
 * stages as the worker moves it forward.
 */
export function RolloutPlan({ path, writable }: { path: Path; writable: boolean }) {
  const qc = useQueryClient();
  const key = ["plan", path.org, path.project, path.flag, path.env];
  const plan = useQuery({
    queryKey: key,
    retry: false,
    queryFn: async () => {
      try {
        return await call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan", { params: { path } }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
    refetchInterval: (q) => (q.state.data?.state === "RUNNING" ? 1000 : false),
  });
  const [stages, setStages] = useState<StageForm[]>([{ percentage: 10, after: "" }, { percentage: 50, after: "24h" }, { percentage: 100, after: "48h" }]);
  const [error, setError] = useState<string>();
  const p = plan.data;
  const editable = writable && (!p || !["RUNNING", "PAUSED"].includes(p.state ?? ""));
  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      await qc.invalidateQueries({ queryKey: key });
      qc.invalidateQueries({ queryKey: ["config", path.org, path.project, path.flag, path.env] });
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message}${(err.body.details ?? []).map((d) => ` ${d.field}: ${d.message}`).join(";")}` : String(err));
    }
  };
  const save = () => run(() => call(() => api.PUT("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan", {
    params: { path }, body: { stages: stages.map((s) => ({ percentage: s.percentage, ...(s.after ? { after: s.after } : {}) })) },
  })));
  const verb = (v: Verb) => run(() => call(() => api.POST(`/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/${v}` as "/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/start", { params: { path } })));
  const applied = (p?.stages ?? []).filter((s) => s.applied_at).length;
  return (
    <>
      <Section title="Rollout plan">
        {error && <Alert color="red" role="alert" withCloseButton onClose={() => setError(undefined)}>{error}</Alert>}
        {p && (
          <Group>
            <Badge data-testid="plan-state" color={p.state === "RUNNING" ? "blue" : p.state === "ROLLED_BACK" ? "red" : "gray"}>{p.state}</Badge>
            {p.reason && <Text size="sm">{p.reason}</Text>}
            {writable && (verbsByState[p.state ?? ""] ?? []).map((v) => (
              <Button key={v} size="xs" variant={v === "cancel" ? "subtle" : "filled"} color={v === "cancel" ? "red" : undefined} onClick={() => verb(v)}>
                {v === "start" ? "Start rollout" : v === "pause" ? "Pause rollout" : v === "resume" ? "Resume rollout" : "Cancel rollout"}
              </Button>
            ))}
          </Group>
        )}
        {p && (p.stages ?? []).length > 0 && (
          <Timeline active={applied - 1} bulletSize={16} aria-label="Stages">
            {(p.stages ?? []).map((s, i) => (
              <Timeline.Item key={i} title={`Stage ${i + 1}: ${s.percentage}%`}>
                <Text size="xs" c="dimmed">
                  {s.applied_at ? `applied ${new Date(s.applied_at).toLocaleString()}`
                    : s.due_at ? `due ${new Date(s.due_at).toLocaleString()}`
                    : s.after ? `${s.after} after the start` : s.at ? `at ${new Date(s.at).toLocaleString()}` : "at the start"}
                </Text>
              </Timeline.Item>
            ))}
          </Timeline>
        )}
        {editable && (
          <Stack gap="xs">
            {stages.map((s, i) => (
              <Group key={i} align="end" gap="xs">
                <NumberInput label={`Stage ${i + 1} percentage`} min={0} max={100} suffix="%" w={170} value={s.percentage}
                  onChange={(n) => setStages(stages.map((x, j) => (j === i ? { ...x, percentage: Number(n) || 0 } : x)))} />
                <TextInput label={`Stage ${i + 1} after`} placeholder="at the start" description="delay from the start, e.g. 24h" w={200} value={s.after}
                  onChange={(e) => setStages(stages.map((x, j) => (j === i ? { ...x, after: e.currentTarget.value } : x)))} />
                {stages.length > 1 && <Button size="xs" variant="subtle" color="red" onClick={() => setStages(stages.filter((_, j) => j !== i))}>Remove stage {i + 1}</Button>}
              </Group>
            ))}
            <Group>
              <Button size="xs" variant="light" onClick={() => setStages([...stages, { percentage: 100, after: "" }])}>Add stage</Button>
              <Button size="xs" onClick={save}>Save plan</Button>
            </Group>
          </Stack>
        )}
      </Section>
      <Guards path={path} planKey={key} writable={writable} />
      <Rollbacks path={path} planKey={key} planState={p?.state} />
    </>
  );
}

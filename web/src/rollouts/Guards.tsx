import { Alert, Button, Code, Group, Modal, NativeSelect, NumberInput, Stack, Table, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, call, type Schemas } from "../api/client";
import { Section } from "../layout/Section";
import { ShownOnce } from "../layout/ShownOnce";
import { useAction } from "../layout/useAction";
import { ModalActions } from "../layout/ModalActions";

type Path = { org: string; project: string; flag: string; env: string };
type Guard = Schemas["api.GuardResponse"];
type Rollback = Schemas["api.RollbackResponse"];
type GuardRequest = Schemas["api.GuardRequest"];

export const actionLabels: Record<string, string> = {
  rollback_to_previous_stage: "Roll back to the previous stage",
  rollback_to_zero: "Roll back to 0%",
  kill_switch: "Turn the flag off (kill switch)",
};
const metricLabels: Record<string, string> = {
  error_rate: "Error rate of the rolled-out cohort",
  error_rate_ratio: "Error rate relative to the other users",
};

/** shortDuration drops a Go duration's empty tail: 5m0s → 5m, 1h0m0s → 1h. */
export function shortDuration(d = ""): string {
  return d.replace(/(\d[hm])0s$/, "$1").replace(/(\d)h0m$/, "$1h");
}

/** guardSummary says in words when a guard acts, as the guard list shows it. */
export function guardSummary(g: Guard): string {
  const cmp = g.comparator === "gte" ? "≥" : ">";
  const limit = g.metric === "error_rate" ? `${+((g.threshold ?? 0) * 100).toFixed(4)}%` : `${g.threshold}×`;
  return `${metricLabels[g.metric ?? ""] ?? g.metric} ${cmp} ${limit} over ${shortDuration(g.window)}, at least ${g.min_sample} evaluations`;
}

/**
 * Guards are a flag's safety guards in one environment: the list, a form that adds one (its trigger
 * URL shown once, with a copy button, like an API key), deleting one and rotating its trigger URL.
 * The queries sit under the plan's key so that a plan change refreshes them too.
 */
export function Guards({ path, planKey, writable }: { path: Path; planKey: unknown[]; writable: boolean }) {
  const key = [...planKey, "guards"];
  const guards = useQuery({
    queryKey: key,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards", { params: { path } })),
  });
  const { act, error } = useAction(key);
  const [metric, setMetric] = useState("error_rate");
  const [comparator, setComparator] = useState("gt");
  const [threshold, setThreshold] = useState<number | string>(5);
  const [windowText, setWindowText] = useState("5m");
  const [minSample, setMinSample] = useState<number | string>(100);
  const [action, setAction] = useState("rollback_to_zero");
  const [cooldown, setCooldown] = useState("");
  const [shown, setShown] = useState<{ what: string; url: string }>();
  const [deleting, setDeleting] = useState<Guard>();
  const rate = metric === "error_rate";
  const absolute = (u: string) => new URL(u, window.location.origin).toString();

  const create = (e: FormEvent) => {
    e.preventDefault();
    act(async () => {
      const g = await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards", {
        params: { path },
        body: {
          metric: metric as GuardRequest["metric"], comparator: comparator as GuardRequest["comparator"],
          action: action as GuardRequest["action"], threshold: rate ? Number(threshold) / 100 : Number(threshold),
          window: windowText || undefined, min_sample: Number(minSample) || undefined, cooldown: cooldown || undefined,
        },
      }));
      setShown({ what: "new guard", url: absolute(g.trigger_url ?? "") });
    });
  };
  const rotate = (g: Guard) =>
    act(async () => {
      const r = await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards/{guard}/trigger/rotate", {
        params: { path: { ...path, guard: g.id! } },
      }));
      setShown({ what: "guard's new", url: absolute(r.trigger_url ?? "") });
    });
  const remove = (g: Guard) =>
    act(async () => {
      await call(() => api.DELETE("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards/{guard}", {
        params: { path: { ...path, guard: g.id! } },
      }));
      setDeleting(undefined);
    });

  const items = guards.data ?? [];
  return (
    <Section title="Safety guards">
      <Text size="sm" c="dimmed">
        While the rollout plan runs, a guard watches the errors the SDKs report and rolls the rollout back when they cross
        its threshold. Its trigger URL lets any monitoring tool force the same rollback with a POST.
      </Text>
      {error && <Alert color="red" role="alert">{error.message}{(error.body.details ?? []).map((d) => ` ${d.field}: ${d.message}`).join(";")}</Alert>}
      {shown && (
        <ShownOnce title={`Trigger URL of the ${shown.what} (shown once)`}
          note="POST to it from your monitoring to roll back. Copy it now: Vane keeps only a hash and cannot show it again."
          value={shown.url} copyLabel="Copy trigger URL" testId="guard-trigger-url" onClose={() => setShown(undefined)} />
      )}
      {items.length > 0 ? (
        <Table striped aria-label="Safety guards">
          <Table.Thead>
            <Table.Tr><Table.Th>Rolls back when</Table.Th><Table.Th>Action</Table.Th><Table.Th>Last triggered</Table.Th><Table.Th /></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((g, i) => (
              <Table.Tr key={g.id}>
                <Table.Td>{guardSummary(g)}{g.cooldown && g.cooldown !== "0s" ? `; cooldown ${shortDuration(g.cooldown)}` : ""}</Table.Td>
                <Table.Td>{actionLabels[g.action ?? ""] ?? g.action}</Table.Td>
                <Table.Td>{g.last_triggered_at ? new Date(g.last_triggered_at).toLocaleString() : "never"}</Table.Td>
                <Table.Td>
                  {writable && (
                    <Group gap="xs" wrap="nowrap">
                      <Button size="xs" variant="light" onClick={() => rotate(g)}>New trigger URL for guard {i + 1}</Button>
                      <Button size="xs" variant="subtle" color="red" onClick={() => setDeleting(g)}>Delete guard {i + 1}</Button>
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        guards.isSuccess && <Text size="sm" c="dimmed">No guards: nothing rolls this rollout back automatically.</Text>
      )}
      {writable && (
        <form onSubmit={create} aria-label="Add a guard">
          <Group align="end" wrap="wrap" gap="xs">
            <NativeSelect label="Metric" value={metric} onChange={(e) => setMetric(e.currentTarget.value)}
              data={Object.entries(metricLabels).map(([value, label]) => ({ value, label }))} />
            <NativeSelect label="Comparison" value={comparator} onChange={(e) => setComparator(e.currentTarget.value)}
              data={[{ value: "gt", label: "above" }, { value: "gte", label: "at or above" }]} />
            <NumberInput label={rate ? "Threshold (%)" : "Threshold (times the other users' rate)"} w={rate ? 130 : 250} min={0}
              max={rate ? 100 : undefined} decimalScale={4} value={threshold} onChange={setThreshold} error={error?.field("threshold")} />
            <TextInput label="Window" description="e.g. 5m" w={110} value={windowText} onChange={(e) => setWindowText(e.currentTarget.value)}
              error={error?.field("window")} />
            <NumberInput label="Minimum sample" w={140} min={1} value={minSample} onChange={setMinSample} error={error?.field("min_sample")} />
            <NativeSelect label="Action" value={action} onChange={(e) => setAction(e.currentTarget.value)}
              data={Object.entries(actionLabels).map(([value, label]) => ({ value, label }))} />
            <TextInput label="Cooldown" description="optional, e.g. 10m" w={130} value={cooldown} onChange={(e) => setCooldown(e.currentTarget.value)}
              error={error?.field("cooldown")} />
            <Button type="submit">Add guard</Button>
          </Group>
        </form>
      )}
      <Modal opened={!!deleting} onClose={() => setDeleting(undefined)} title="Delete this guard?">
        <Stack>
          <Text>{deleting && guardSummary(deleting)}. Nothing watches for it any more, and its trigger URL stops working.</Text>
          <ModalActions onCancel={() => setDeleting(undefined)}>
            <Button color="red" onClick={() => deleting && remove(deleting)}>Delete guard</Button>
          </ModalActions>
        </Stack>
      </Modal>
    </Section>
  );
}

/** Rollbacks is the history of a flag's automatic rollbacks in one environment: when, what, why, who reported. */
export function Rollbacks({ path, planKey, planState }: { path: Path; planKey: unknown[]; planState?: string }) {
  const history = useQuery({
    queryKey: [...planKey, "rollbacks", planState], // a plan rolled back while shown brings its rollback
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollbacks", { params: { path } })),
  });
  const items = history.data?.items ?? [];
  return (
    <Section title="Rollback history">
      {history.error && <Alert color="red" role="alert">{history.error.message}</Alert>}
      {history.isSuccess && items.length === 0 && <Text size="sm" c="dimmed">No rollbacks in this environment.</Text>}
      {items.length > 0 && (
        <Table striped aria-label="Rollbacks">
          <Table.Thead>
            <Table.Tr><Table.Th>When</Table.Th><Table.Th>What</Table.Th><Table.Th>Why</Table.Th><Table.Th>Reported by</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((r, i) => (
              <Table.Tr key={i}>
                <Table.Td>{r.at ? new Date(r.at).toLocaleString() : ""}</Table.Td>
                <Table.Td>{actionLabels[r.action ?? ""] ?? r.action}</Table.Td>
                <Table.Td>{why(r)}</Table.Td>
                <Table.Td>{reportedBy(r)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Section>
  );
}

/** why puts a rollback's cause in words: the trigger URL, or the measured value against the threshold. */
export function why(r: Rollback): string {
  if (r.trigger) return "Its trigger URL was called";
  const pct = (v?: number) => `${+((v ?? 0) * 100).toFixed(2)}%`;
  const shown = r.metric === "error_rate" ? `${pct(r.value)} errors, threshold ${pct(r.threshold)}` : `${+(r.value ?? 0).toFixed(2)}× the other users' error rate, threshold ${r.threshold}×`;
  return `${shown}, over ${r.sample} evaluations`;
}

/** reportedBy names who reported the figures: the SDK keys (masked) and their share, or the trigger's caller. */
export function reportedBy(r: Rollback) {
  if (r.trigger) return <>the trigger URL, called from <Code>{r.caller || "an unknown address"}</Code></>;
  const reps = r.reporters ?? [];
  if (reps.length === 0) return "—";
  return (
    <Stack gap={2}>
      {reps.map((p, i) => (
        <Text size="sm" key={i}>
          <Code>{p.sdk_key}</Code> reported {p.errors} errors in {p.sample} evaluations of <Code>{p.variation}</Code>
        </Text>
      ))}
    </Stack>
  );
}

import { Group, NativeSelect, Table, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Variation } from "../api/client";
import { Section } from "../layout/Section";
import { bucketSeries, HOUR, totalsOf, windowOf, type InsightBucket, type InsightRange } from "./series";

const palette = ["#228be6", "#40c057", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#e64980", "#fd7e14"];
const rangeLabels: Record<string, string> = { "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", custom: "Custom" };

/** localInput is a time as a datetime-local input shows it (local time, to the minute). */
function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Insights shows how often each variation was served in the environment over a chosen range (the
 * last 24 hours, 7 or 30 days, or custom dates), per hour or per day, and when the flag was last
 * evaluated. Counts arrive in the server's 10 s batches, so a range ending now refreshes as often. */
export function Insights({ path, variations }: { path: { org: string; project: string; flag: string; env: string }; variations: Variation[] }) {
  const [kind, setKind] = useState<InsightRange["kind"]>("24h");
  const [customFrom, setCustomFrom] = useState(() => localInput(new Date(Date.now() - 3 * 24 * HOUR)));
  const [customTo, setCustomTo] = useState(() => localInput(new Date()));
  const range: InsightRange = kind === "custom" ? { kind, from: new Date(customFrom), to: new Date(customTo) } : { kind };
  const q = useQuery({
    queryKey: ["insights", path.org, path.project, path.flag, path.env, kind, kind === "custom" ? `${customFrom}/${customTo}` : ""],
    enabled: kind !== "custom" || !!windowOf(range, new Date()),
    refetchInterval: kind === "custom" ? false : 10_000,
    queryFn: () => {
      const w = windowOf(range, new Date())!;
      return call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/insights", {
        params: { path, query: { from: w.from.toISOString(), to: w.to.toISOString() } },
      }));
    },
  });
  // The chart's window is the one the data was asked for (a range ending now moves with each refresh).
  const win = windowOf(range, new Date(q.dataUpdatedAt || Date.now()));
  const buckets: InsightBucket[] = (q.data?.buckets ?? []).map((b) => ({ hour: b.hour ?? "", counts: b.counts ?? {} }));
  const ids = [...new Set([...variations.map((v) => v.id ?? ""), ...buckets.flatMap((b) => Object.keys(b.counts))])].filter(Boolean);
  const nameOf = (id: string) => variations.find((v) => v.id === id)?.name || id;
  const colorOf = (id: string) => palette[ids.indexOf(id) % palette.length];
  const series = win ? bucketSeries(buckets, win.from, win.to, win.step) : [];
  const totals = totalsOf(series, ids);
  const total = Object.values(totals).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...series.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0)));
  const last = q.data?.last_evaluated_at;
  const daily = win?.step !== HOUR;
  const unit = daily ? "Day" : "Hour";
  const when = kind === "custom" ? `from ${new Date(customFrom).toLocaleString()} to ${new Date(customTo).toLocaleString()}` : `in the ${rangeLabels[kind].toLowerCase()}`;
  const W = 720, H = 120, bar = W / Math.max(1, series.length);
  const labelEvery = Math.max(1, Math.ceil(series.length / 6));
  const label = (iso: string) => {
    const d = new Date(iso);
    if (daily) return d.toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" });
    return series.length <= 24 ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit" });
  };
  const slotName = (iso: string) => (daily ? new Date(iso).toLocaleDateString([], { timeZone: "UTC" }) : new Date(iso).toLocaleString());

  return (
    <Section title="Insights">
      <Group align="end" gap="sm" data-view-controls>
        <NativeSelect label="Range" value={kind} onChange={(e) => setKind(e.currentTarget.value as InsightRange["kind"])}
          data={Object.entries(rangeLabels).map(([value, label]) => ({ value, label }))} />
        {kind === "custom" && (
          <>
            <TextInput label="From" type="datetime-local" value={customFrom} onChange={(e) => setCustomFrom(e.currentTarget.value)}
              error={win ? undefined : "must be before To"} />
            <TextInput label="To" type="datetime-local" value={customTo} onChange={(e) => setCustomTo(e.currentTarget.value)} />
          </>
        )}
      </Group>
      <Text size="sm" data-testid="last-evaluated">
        {last ? `Last evaluated ${new Date(last).toLocaleString()}` : "Never evaluated in this environment"}
      </Text>
      {q.error && <Text c="red" size="sm" role="alert">{q.error.message}</Text>}
      <Text size="sm" fw={600}>
        Evaluations {when}: <span data-testid="insights-total">{total}</span>
      </Text>
      <Group gap="md">
        {ids.map((id) => (
          <Group key={id} gap={4}>
            <svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill={colorOf(id)} /></svg>
            <Text size="sm">{nameOf(id)}: {totals[id] ?? 0}</Text>
          </Group>
        ))}
      </Group>
      <svg viewBox={`0 0 ${W} ${H + 16}`} width="100%" role="img"
        aria-label={`Evaluations per ${unit.toLowerCase()} ${when}, ${total} in all`}>
        <line x1={0} y1={H} x2={W} y2={H} stroke="currentColor" strokeOpacity={0.3} />
        {series.map((s, i) => {
          let y = H;
          return (
            <g key={s.hour}>
              <title>{`${slotName(s.hour)}: ${ids.map((id) => `${nameOf(id)} ${s.counts[id] ?? 0}`).join(", ")}`}</title>
              {ids.map((id) => {
                const n = s.counts[id] ?? 0;
                if (!n) return null;
                const h = (n / max) * (H - 4);
                y -= h;
                return <rect key={id} x={i * bar + 1} y={y} width={bar - 2} height={h} fill={colorOf(id)} />;
              })}
              {i % labelEvery === 0 && (
                <text x={i * bar + 1} y={H + 12} fontSize={10} fill="currentColor" fillOpacity={0.6}>
                  {label(s.hour)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <details>
        <summary>Show as a table</summary>
        <Table striped withTableBorder aria-label={`Evaluations per ${unit.toLowerCase()}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{unit}</Table.Th>
              {ids.map((id) => <Table.Th key={id}>{nameOf(id)}</Table.Th>)}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {series.filter((s) => Object.keys(s.counts).length > 0).map((s) => (
              <Table.Tr key={s.hour}>
                <Table.Td>{slotName(s.hour)}</Table.Td>
                {ids.map((id) => <Table.Td key={id}>{s.counts[id] ?? 0}</Table.Td>)}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </details>
    </Section>
  );
}

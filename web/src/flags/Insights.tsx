import { Group, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Variation } from "../api/client";
import { Section } from "../layout/Section";
import { hourlySeries, totalsOf, type InsightBucket } from "./series";

const palette = ["#228be6", "#40c057", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#e64980", "#fd7e14"];
const HOURS = 24;

/** Insights shows how often each variation was served in the environment per hour, and when the flag
 * was last evaluated. Counts arrive in the server's 10 s batches, so the page refreshes as often. */
export function Insights({ path, variations }: { path: { org: string; project: string; flag: string; env: string }; variations: Variation[] }) {
  const q = useQuery({
    queryKey: ["insights", path.org, path.project, path.flag, path.env],
    refetchInterval: 10_000,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/insights", { params: { path } })),
  });
  const buckets: InsightBucket[] = (q.data?.buckets ?? []).map((b) => ({ hour: b.hour ?? "", counts: b.counts ?? {} }));
  const ids = [...new Set([...variations.map((v) => v.id ?? ""), ...buckets.flatMap((b) => Object.keys(b.counts))])].filter(Boolean);
  const nameOf = (id: string) => variations.find((v) => v.id === id)?.name || id;
  const colorOf = (id: string) => palette[ids.indexOf(id) % palette.length];
  const series = hourlySeries(buckets, new Date(), HOURS);
  const totals = totalsOf(series, ids);
  const total = Object.values(totals).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...series.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0)));
  const last = q.data?.last_evaluated_at;
  const W = 720, H = 120, bar = W / HOURS;

  return (
    <Section title="Insights">
      <Text size="sm" data-testid="last-evaluated">
        {last ? `Last evaluated ${new Date(last).toLocaleString()}` : "Never evaluated in this environment"}
      </Text>
      {q.error && <Text c="red" size="sm" role="alert">{q.error.message}</Text>}
      <Text size="sm" fw={600}>
        Evaluations in the last {HOURS} hours: <span data-testid="insights-total">{total}</span>
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
        aria-label={`Evaluations per hour over the last ${HOURS} hours, ${total} in all`}>
        <line x1={0} y1={H} x2={W} y2={H} stroke="currentColor" strokeOpacity={0.3} />
        {series.map((s, i) => {
          let y = H;
          return (
            <g key={s.hour}>
              <title>{`${new Date(s.hour).toLocaleString()}: ${ids.map((id) => `${nameOf(id)} ${s.counts[id] ?? 0}`).join(", ")}`}</title>
              {ids.map((id) => {
                const n = s.counts[id] ?? 0;
                if (!n) return null;
                const h = (n / max) * (H - 4);
                y -= h;
                return <rect key={id} x={i * bar + 1} y={y} width={bar - 2} height={h} fill={colorOf(id)} />;
              })}
              {i % 6 === 0 && (
                <text x={i * bar + 1} y={H + 12} fontSize={10} fill="currentColor" fillOpacity={0.6}>
                  {new Date(s.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <details>
        <summary>Show as a table</summary>
        <Table striped withTableBorder aria-label="Evaluations per hour">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Hour</Table.Th>
              {ids.map((id) => <Table.Th key={id}>{nameOf(id)}</Table.Th>)}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {series.filter((s) => Object.keys(s.counts).length > 0).map((s) => (
              <Table.Tr key={s.hour}>
                <Table.Td>{new Date(s.hour).toLocaleString()}</Table.Td>
                {ids.map((id) => <Table.Td key={id}>{s.counts[id] ?? 0}</Table.Td>)}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </details>
    </Section>
  );
}

import { Badge, Button, Checkbox, Group, NativeSelect, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useDeferredValue, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { api, call, type Flag } from "../api/client";
import { canWrite } from "../auth/session";
import { useProject } from "../layout/context";

export const statusColor: Record<string, string> = {
  DRAFT: "gray", ACTIVE: "teal", ENABLED: "green", DISABLED: "red", PAUSED: "yellow", ROLLED_OUT: "blue", ARCHIVED: "dark",
};

/** FLAG_PAGE is the page size the flag list asks for: the largest the API allows. The first page is
 * smaller (FIRST_PAGE): it comes back soon with the total, and the rest are then asked for at once. */
const FLAG_PAGE = 1000;
const FIRST_PAGE = 250;

/**
 * fetchAllFlags reads every flag of the project; each carries every environment's status. The first
 * page says how many there are, and the other pages are then asked for at once, by offset. The
 * environment is sent only when the order or the stale filter needs it.
 */
async function fetchAllFlags(org: string, project: string, env: string, stale: boolean, sort: string): Promise<Flag[]> {
  const page = (offset: number, limit = FLAG_PAGE) =>
    call(() =>
      api.GET("/api/v1/orgs/{org}/projects/{project}/flags", {
        params: { path: { org, project }, query: { limit, sort, ...(offset ? { offset } : {}), ...(env ? { environment: env } : {}), ...(stale ? { stale: true } : {}) } },
      }),
    );
  const first = await page(0, FIRST_PAGE);
  const offsets: number[] = [];
  if (first.next_cursor) for (let o = FIRST_PAGE; o < (first.total ?? 0); o += FLAG_PAGE) offsets.push(o);
  const rest = await Promise.all(offsets.map((o) => page(o)));
  // A flag created between two pages can shift another onto the next page: each key is kept once.
  const byKey = new Map<string, Flag>();
  for (const p of [first, ...rest]) for (const f of p.items ?? []) if (!byKey.has(f.key ?? "")) byKey.set(f.key ?? "", f);
  return [...byKey.values()];
}

/** FlagList is the project's flags in the chosen environment: search, filters, sort; virtualised. */
export function FlagList() {
  const { org, project, envKey, role } = useProject();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const [tag, setTag] = useState("");
  const [stale, setStale] = useState(false);
  const [sort, setSort] = useState("key");
  const q = useDeferredValue(search.trim().toLowerCase());
  // Sorted by key or update, all flags come without waiting for the environments: each flag carries
  // every environment's status. Evaluations and staleness are per environment.
  const byEnv = stale || sort === "evaluations";
  const flagsEnv = byEnv ? envKey : "";
  const flags = useQuery({
    queryKey: ["flags", org, project, flagsEnv, stale, sort],
    enabled: !byEnv || !!envKey,
    queryFn: () => fetchAllFlags(org, project, flagsEnv, stale, sort),
  });
  const rows = useMemo(() => {
    return (flags.data ?? []).filter((f) => {
      const st = f.environments?.[envKey]?.status;
      if (status && st !== status) return false;
      if (type && f.type !== type) return false;
      if (tag && !(f.tags ?? []).includes(tag)) return false;
      if (q && !`${f.key} ${f.name} ${f.description}`.toLowerCase().includes(q)) return false;
      return true;
    });
  }, [flags.data, envKey, status, type, tag, q]);
  const tags = useMemo(() => [...new Set((flags.data ?? []).flatMap((f) => f.tags ?? []))].sort(), [flags.data]);
  const parent = useRef<HTMLDivElement>(null);
  const virt = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => 56, overscan: 10 });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">Feature Flags</Title>
        {canWrite(role) && (
          <Button component={Link} to={`new?env=${envKey}`}>New Flag</Button>
        )}
      </Group>
      <Group align="end" gap="sm" wrap="wrap">
        <TextInput label="Search flags" placeholder="key, name or description" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={260} />
        <NativeSelect label="Status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}
          data={[{ value: "", label: "Any" }, ...Object.keys(statusColor).map((s) => ({ value: s, label: s }))]} />
        <NativeSelect label="Type" value={type} onChange={(e) => setType(e.currentTarget.value)}
          data={[{ value: "", label: "Any" }, "boolean", "string", "number", "json"]} />
        <NativeSelect label="Tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)} data={[{ value: "", label: "Any" }, ...tags]} />
        <NativeSelect label="Sort by" value={sort} onChange={(e) => setSort(e.currentTarget.value)}
          data={[{ value: "key", label: "Key" }, { value: "evaluations", label: "Evaluations" }, { value: "updated_at", label: "Recently updated" }]} />
        <Checkbox label="Stale only" checked={stale} onChange={(e) => setStale(e.currentTarget.checked)} mb={8} />
      </Group>
      <Text size="sm" c="dimmed" aria-live="polite" data-testid="flag-count">
        {flags.isLoading ? "Loading…" : `${rows.length} of ${flags.data?.length ?? 0} flags`}
      </Text>
      <div role="table" aria-label="Feature flags" aria-rowcount={rows.length}>
        <Group role="row" px="sm" py={6} style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }} wrap="nowrap">
          <Text role="columnheader" fw={600} size="sm" style={{ flex: 3 }}>Flag</Text>
          <Text role="columnheader" fw={600} size="sm" style={{ flex: 1 }}>Status</Text>
          <Text role="columnheader" fw={600} size="sm" style={{ flex: 1 }}>Rollout</Text>
          <Text role="columnheader" fw={600} size="sm" style={{ flex: 1 }} ta="right">Evaluations</Text>
        </Group>
        <div ref={parent} style={{ height: "calc(100vh - 320px)", minHeight: 300, overflow: "auto" }} data-testid="flag-scroll">
          <div style={{ height: virt.getTotalSize(), position: "relative" }}>
            {virt.getVirtualItems().map((item) => {
              const f = rows[item.index];
              const s = f.environments?.[envKey];
              return (
                <Group key={f.key} role="row" wrap="nowrap" px="sm" align="center"
                  style={{ position: "absolute", top: 0, left: 0, right: 0, height: item.size, transform: `translateY(${item.start}px)`,
                    borderBottom: "1px solid var(--mantine-color-default-border)" }}>
                  <div role="cell" style={{ flex: 3, minWidth: 0 }}>
                    <Text component={Link} to={`${f.key}?env=${envKey}`} fw={600} size="sm" truncate="end">{f.name || f.key}</Text>
                    <Text size="xs" c="dimmed" ff="monospace" truncate="end">{f.key}{(f.tags ?? []).length > 0 ? ` · ${f.tags!.join(", ")}` : ""}</Text>
                  </div>
                  <div role="cell" style={{ flex: 1 }}>
                    <Badge color={statusColor[s?.status ?? ""] ?? "gray"} variant="light">{s?.status ?? "—"}</Badge>
                  </div>
                  <Text role="cell" size="sm" style={{ flex: 1 }}>{s ? `${s.rollout_percentage}%` : "—"}</Text>
                  <Text role="cell" size="sm" style={{ flex: 1 }} ta="right">{(s?.evaluations ?? 0).toLocaleString()}</Text>
                </Group>
              );
            })}
          </div>
        </div>
      </div>
    </Stack>
  );
}

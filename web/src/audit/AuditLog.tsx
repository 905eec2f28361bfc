import { Accordion, Badge, Code, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useDeferredValue, useState } from "react";
import { api, call } from "../api/client";
import { useProject } from "../layout/context";
import { diff } from "./diff";

/** AuditEvents lists audit events (newest first) with each one's before/after diff. */
export function AuditEvents({ resource, action, actor }: { resource?: string; action?: string; actor?: string }) {
  const { org } = useProject();
  const events = useQuery({
    queryKey: ["audit", org, resource, action, actor],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/audit-events", {
      params: { path: { org }, query: { resource: resource || undefined, action: action || undefined, actor: actor || undefined, limit: 100 } },
    })),
  });
  const items = events.data?.items ?? [];
  if (events.isLoading) return <Text size="sm">Loading…</Text>;
  if (items.length === 0) return <Text size="sm" c="dimmed">No events.</Text>;
  return (
    <Accordion variant="separated" multiple aria-label="Audit events">
      {items.map((e) => {
        const changes = diff(e.before, e.after);
        return (
          <Accordion.Item key={e.id} value={e.id ?? ""}>
            <Accordion.Control>
              <Group gap="xs" wrap="nowrap">
                <Badge variant="light">{e.action}</Badge>
                <Text size="sm">{e.resource?.key || e.resource?.id}</Text>
                <Text size="xs" c="dimmed">by {e.actor?.name || e.actor?.type} · {e.created_at ? new Date(e.created_at).toLocaleString() : ""}</Text>
              </Group>
            </Accordion.Control>
            <Accordion.Panel>
              {changes.length === 0 ? (
                <Text size="sm" c="dimmed">No field changed.</Text>
              ) : (
                <Table aria-label="Changes">
                  <Table.Thead><Table.Tr><Table.Th>Field</Table.Th><Table.Th>Before</Table.Th><Table.Th>After</Table.Th></Table.Tr></Table.Thead>
                  <Table.Tbody>
                    {changes.map((c) => (
                      <Table.Tr key={c.field}>
                        <Table.Td><Code>{c.field}</Code></Table.Td>
                        <Table.Td style={{ color: "var(--mantine-color-red-7)", wordBreak: "break-all" }}>{c.before ?? "—"}</Table.Td>
                        <Table.Td style={{ color: "var(--mantine-color-green-8)", wordBreak: "break-all" }}>{c.after ?? "—"}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
              <Text size="xs" c="dimmed" mt="xs">Request {e.request_id} from {e.ip}</Text>
            </Accordion.Panel>
          </Accordion.Item>
        );
      })}
    </Accordion>
  );
}

/** AuditLog is the organisation's audit log with filters. */
export function AuditLog() {
  const [resource, setResource] = useState("");
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const r = useDeferredValue(resource);
  const a = useDeferredValue(action);
  const who = useDeferredValue(actor);
  return (
    <Stack>
      <Title order={1} size="h2">Audit log</Title>
      <Group>
        <TextInput label="Resource" placeholder="key, id or type" value={resource} onChange={(e) => setResource(e.currentTarget.value)} />
        <TextInput label="Action" placeholder="feature_flag.killed" value={action} onChange={(e) => setAction(e.currentTarget.value)} />
        <TextInput label="Actor" placeholder="email or key name" value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
      </Group>
      <AuditEvents resource={r} action={a} actor={who} />
    </Stack>
  );
}

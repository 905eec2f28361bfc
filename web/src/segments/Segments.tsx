import { Alert, Badge, Button, Group, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, call, type Condition } from "../api/client";
import { canWrite } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { keyFromName } from "../flags/model";
import { ConditionsEditor } from "../flags/ConditionsEditor";

type SegmentForm = { name: string; key: string; description: string; included: string; excluded: string; conditions: Condition[] };

/** parseKeys reads pasted keys: one per line, or separated by commas, semicolons or spaces. */
export function parseKeys(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((k) => k.trim()).filter(Boolean))];
}

/**
 * Segments lists the project's reusable audiences and edits their conditions (rows of attribute,
 * operator and values) and their included and excluded keys (bulk paste). A segment still used by a flag cannot be deleted: the refusal names where it is used.
 */
export function Segments() {
  const { org, project, role } = useProject();
  const qc = useQueryClient();
  const writable = canWrite(role);
  const segments = useQuery({
    queryKey: ["segments", org, project],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/segments", { params: { path: { org, project } } })),
  });
  const [editing, setEditing] = useState<string | null>(null); // a segment key, or "" for a new one
  const [form, setForm] = useState<SegmentForm>({ name: "", key: "", description: "", included: "", excluded: "", conditions: [] });
  const [error, setError] = useState<ApiError>();
  const [usedBy, setUsedBy] = useState<{ key: string; by: string[] }>();
  const open = (key: string) => {
    const s = segments.data?.items?.find((x) => x.key === key);
    setForm({ name: s?.name ?? "", key: s?.key ?? "", description: s?.description ?? "",
      included: (s?.included ?? []).join("\n"), excluded: (s?.excluded ?? []).join("\n"), conditions: s?.conditions ?? [] });
    setEditing(key);
    setError(undefined);
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const body = { name: form.name, description: form.description, conditions: form.conditions, included: parseKeys(form.included), excluded: parseKeys(form.excluded) };
    const path = { org, project };
    try {
      if (editing) {
        await call(() => api.PATCH("/api/v1/orgs/{org}/projects/{project}/segments/{segment}", { params: { path: { ...path, segment: editing } }, body }));
      } else {
        await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/segments", { params: { path }, body: { ...body, key: form.key || keyFromName(form.name) } }));
      }
      setEditing(null);
      qc.invalidateQueries({ queryKey: ["segments", org, project] });
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  const remove = async (key: string) => {
    setUsedBy(undefined);
    try {
      await call(() => api.DELETE("/api/v1/orgs/{org}/projects/{project}/segments/{segment}", { params: { path: { org, project, segment: key } } }));
      qc.invalidateQueries({ queryKey: ["segments", org, project] });
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setUsedBy({ key, by: err.body.used_by ?? [] });
      else if (err instanceof ApiError) setError(err);
    }
  };
  const conditionErrors = (error?.body.details ?? []).filter((d) => d.field?.startsWith("conditions"));
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">Segments</Title>
        {writable && editing === null && <Button onClick={() => open("")}>New Segment</Button>}
      </Group>
      {usedBy && (
        <Alert color="orange" role="alert" withCloseButton onClose={() => setUsedBy(undefined)} title={`${usedBy.key} is still used`}>
          Used by: {usedBy.by.join(", ") || "flags of this project"}. Remove it from their rules first.
        </Alert>
      )}
      {editing !== null && (
        <Section title={editing ? `Segment ${editing}` : "New Segment"}>
          <form onSubmit={save}>
            <Stack>
              {error && error.status !== 422 && <Alert color="red" role="alert">{error.message}</Alert>}
              <TextInput label="Segment name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={error?.field("name")} />
              {!editing && (
                <TextInput label="Segment key" placeholder={keyFromName(form.name) || "from the name"} value={form.key}
                  onChange={(e) => setForm({ ...form, key: e.currentTarget.value })} error={error?.field("key")} />
              )}
              <TextInput label="Segment description" value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} />
              <Stack gap={4}>
                <Text size="sm" fw={500}>Conditions</Text>
                <Text size="xs" c="dimmed">A context is in the segment when it matches every condition (the included keys are in, the excluded keys out, whatever it matches).</Text>
                <ConditionsEditor conditions={form.conditions} onChange={(conditions) => setForm({ ...form, conditions })} />
                {conditionErrors.length > 0 && (
                  <Alert color="red" role="alert">{conditionErrors.map((d) => `${d.field}: ${d.message}`).join("; ")}</Alert>
                )}
              </Stack>
              <Textarea label="Included keys" description={`Paste keys: one per line or separated by commas (${parseKeys(form.included).length} keys)`}
                autosize minRows={3} maxRows={12} value={form.included} onChange={(e) => setForm({ ...form, included: e.currentTarget.value })} error={error?.field("included")} />
              <Textarea label="Excluded keys" description={`Always outside the segment (${parseKeys(form.excluded).length} keys)`}
                autosize minRows={2} maxRows={8} value={form.excluded} onChange={(e) => setForm({ ...form, excluded: e.currentTarget.value })} error={error?.field("excluded")} />
              <Group>
                <Button type="submit">Save segment</Button>
                <Button variant="default" onClick={() => setEditing(null)}>Cancel</Button>
              </Group>
            </Stack>
          </form>
        </Section>
      )}
      <Table striped aria-label="Segments">
        <Table.Thead>
          <Table.Tr><Table.Th>Segment</Table.Th><Table.Th>Included</Table.Th><Table.Th>Excluded</Table.Th><Table.Th>Conditions</Table.Th><Table.Th /></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(segments.data?.items ?? []).map((s) => (
            <Table.Tr key={s.key}>
              <Table.Td><Text fw={600} size="sm">{s.name || s.key}</Text><Text size="xs" c="dimmed" ff="monospace">{s.key}</Text></Table.Td>
              <Table.Td><Badge variant="light">{s.included?.length ?? 0}</Badge></Table.Td>
              <Table.Td><Badge variant="light" color="gray">{s.excluded?.length ?? 0}</Badge></Table.Td>
              <Table.Td>{s.conditions?.length ?? 0}</Table.Td>
              <Table.Td>
                {writable && (
                  <Group gap="xs">
                    <Button size="xs" variant="subtle" onClick={() => open(s.key!)}>Edit {s.key}</Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => remove(s.key!)}>Delete {s.key}</Button>
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

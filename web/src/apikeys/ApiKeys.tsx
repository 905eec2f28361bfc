import { Alert, Badge, Button, Checkbox, Code, Group, Table, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, call } from "../api/client";
import { isAdmin } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { ShownOnce } from "../layout/ShownOnce";
import { useAction } from "../layout/useAction";

/** ApiKeys creates API keys (scopes, optional project binding, expiry; the secret shown once) and revokes them. */
export function ApiKeys() {
  const { org, project, role } = useProject();
  const keys = useQuery({
    queryKey: ["api-keys", org],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/api-keys", { params: { path: { org } } })),
  });
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["read"]);
  const [bound, setBound] = useState(false);
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<string>();
  const { act, error } = useAction(["api-keys", org]);
  const create = (e: FormEvent) => {
    e.preventDefault();
    act(async () => {
      const k = await call(() => api.POST("/api/v1/orgs/{org}/api-keys", {
        params: { path: { org } },
        body: { name, scopes, ...(bound ? { project } : {}), ...(expires ? { expires_at: new Date(expires).toISOString() } : {}) },
      }));
      setSecret(k.secret);
      setName("");
    });
  };
  if (!isAdmin(role)) return <Alert color="yellow">API keys are managed by ADMINs.</Alert>;
  return (
    <>
      <Title order={1} size="h2" mb="md">API keys</Title>
      {error && <Alert color="red" role="alert" mb="md">{error.message}</Alert>}
      <Section title="Create an API key">
        <form onSubmit={create}>
          <Group align="end" wrap="wrap">
            <TextInput label="Key name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={error?.field("name")} />
            <Checkbox.Group label="Scopes" value={scopes} onChange={setScopes}>
              <Group mt={6}>
                <Checkbox value="read" label="read" />
                <Checkbox value="write" label="write" />
                <Checkbox value="admin" label="admin" />
              </Group>
            </Checkbox.Group>
            <Checkbox label={`Only project ${project}`} checked={bound} onChange={(e) => setBound(e.currentTarget.checked)} mb={8} />
            <TextInput label="Expires on" type="date" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
            <Button type="submit">Create key</Button>
          </Group>
        </form>
        {secret && (
          <ShownOnce title="Your new API key (shown once)" note="Copy it now: Vane keeps only a hash and cannot show it again."
            value={secret} copyLabel="Copy key" testId="api-key-secret" onClose={() => setSecret(undefined)} />
        )}
      </Section>
      <Table mt="md" striped aria-label="API keys">
        <Table.Thead>
          <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Key</Table.Th><Table.Th>Scopes</Table.Th><Table.Th>Status</Table.Th><Table.Th>Last used</Table.Th><Table.Th /></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(keys.data?.items ?? []).map((k) => (
            <Table.Tr key={k.id}>
              <Table.Td>{k.name}</Table.Td>
              <Table.Td><Code>{k.prefix}…</Code></Table.Td>
              <Table.Td>{(k.scopes ?? []).join(", ")}</Table.Td>
              <Table.Td><Badge color={k.status === "active" ? "green" : "gray"} variant="light">{k.status}</Badge></Table.Td>
              <Table.Td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "never"}</Table.Td>
              <Table.Td>
                {k.status === "active" && (
                  <Button size="xs" variant="subtle" color="red" onClick={() => act(() => call(() => api.DELETE("/api/v1/orgs/{org}/api-keys/{key}", { params: { path: { org, key: k.id! } } })))}>
                    Revoke {k.name}
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </>
  );
}

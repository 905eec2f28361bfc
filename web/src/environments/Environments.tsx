import { Alert, Badge, Button, Checkbox, Code, CopyButton, Group, Modal, NativeSelect, Stack, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, call, type Schemas } from "../api/client";
import { isAdmin } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";

type Env = Schemas["api.EnvironmentResponse"];
type SDKKey = Schemas["api.SDKKeyResponse"];

/** mask shows a key's kind prefix and last four characters. */
export function mask(key: string): string {
  return key.length <= 8 ? "••••" : `${key.slice(0, 4)}••••••••${key.slice(-4)}`;
}

/** Environments lists the project's environments with their SDK keys, snippets and key rotation. */
export function Environments() {
  const { org, project, envs, role } = useProject();
  const qc = useQueryClient();
  const [form, setForm] = useState({ name: "", key: "", production: false });
  const [error, setError] = useState<ApiError>();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/environments", {
        params: { path: { org, project } }, body: { name: form.name, key: form.key || undefined, production: form.production },
      }));
      setForm({ name: "", key: "", production: false });
      qc.invalidateQueries({ queryKey: ["environments", org, project] });
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <Stack>
      <Title order={1} size="h2">Environments and SDK keys</Title>
      {error && error.status !== 422 && <Alert color="red" role="alert">{error.message}</Alert>}
      {envs.map((e) => <EnvironmentCard key={e.id} env={e} admin={isAdmin(role)} writable={isAdmin(role)} />)}
      {isAdmin(role) && ( // environments and SDK keys are ADMIN's to change
        <Section title="New environment">
          <form onSubmit={create}>
            <Group align="end">
              <TextInput label="Environment name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={error?.field("name")} />
              <TextInput label="Environment key" placeholder="from the name" value={form.key} onChange={(e) => setForm({ ...form, key: e.currentTarget.value })} error={error?.field("key")} />
              <Checkbox label="Production" checked={form.production} onChange={(e) => setForm({ ...form, production: e.currentTarget.checked })} mb={8} />
              <Button type="submit">Create environment</Button>
            </Group>
          </form>
        </Section>
      )}
    </Stack>
  );
}

function EnvironmentCard({ env, admin, writable }: { env: Env; admin: boolean; writable: boolean }) {
  const { org, project } = useProject();
  const qc = useQueryClient();
  const [revealed, setRevealed] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [kind, setKind] = useState<"server" | "client" | "both">("server");
  const [grace, setGrace] = useState("24h");
  const [error, setError] = useState<string>();
  const keys = env.sdk_keys ?? [];
  const server = keys.find((k) => k.kind === "server" && !k.expires_at) ?? keys.find((k) => k.kind === "server");
  const rotate = async () => {
    setError(undefined);
    try {
      await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/environments/{env}/sdk-keys/rotate", {
        params: { path: { org, project, env: env.key! } }, body: { kind, grace_period: grace || undefined },
      }));
      setRotating(false);
      qc.invalidateQueries({ queryKey: ["environments", org, project] });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const shown = (k: SDKKey) => (k.masked || !(revealed || k.kind === "client") ? mask(k.key ?? "") : k.key ?? "");
  const sample = server && !server.masked && revealed ? server.key! : "<server SDK key>";
  return (
    <Section title={`${env.name} (${env.key})`}>
      {env.production && <Badge color="red" variant="filled" w="fit-content">Production</Badge>}
      {keys.map((k) => (
        <Group key={k.key} gap="xs">
          <Text size="sm" w={170}>{k.kind === "server" ? "Server-side SDK key" : "Client-side SDK key"}</Text>
          <Code data-testid={`sdk-key-${env.key}-${k.kind}`}>{shown(k)}</Code>
          {k.expires_at && <Badge color="yellow" variant="light">old key, works until {new Date(k.expires_at).toLocaleString()}</Badge>}
          {!k.masked && (
            <CopyButton value={k.key ?? ""}>{({ copied, copy }) => <Button size="xs" variant="default" onClick={copy}>{copied ? "Copied" : "Copy"}</Button>}</CopyButton>
          )}
        </Group>
      ))}
      <Group>
        {admin && (
          <Button size="xs" variant="light" onClick={() => setRevealed(!revealed)}>
            {revealed ? "Hide keys" : `Reveal keys of ${env.key}`}
          </Button>
        )}
        {writable && <Button size="xs" variant="light" color="orange" onClick={() => setRotating(true)}>Rotate keys of {env.key}</Button>}
      </Group>
      <Modal opened={rotating} onClose={() => setRotating(false)} title={`Rotate the SDK keys of ${env.name}`}>
        <Stack>
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <NativeSelect label="Which key" value={kind} onChange={(e) => setKind(e.currentTarget.value as typeof kind)}
            data={[{ value: "server", label: "Server-side key" }, { value: "client", label: "Client-side key" }, { value: "both", label: "Both" }]} />
          <TextInput label="Grace period" description="How long the old key keeps working (e.g. 24h; empty stops it now; at most 720h)"
            value={grace} onChange={(e) => setGrace(e.currentTarget.value)} />
          <Text size="sm">Applications using the old key must switch to the new one before the grace period ends.</Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setRotating(false)}>Cancel</Button>
            <Button color="orange" onClick={rotate}>Rotate</Button>
          </Group>
        </Stack>
      </Modal>
      <Tabs defaultValue="curl">
        <Tabs.List>
          <Tabs.Tab value="curl">curl</Tabs.Tab>
          <Tabs.Tab value="ofrep">OpenFeature (OFREP)</Tabs.Tab>
          <Tabs.Tab value="go">Go</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="curl" pt="xs">
          <Code block>{`curl -X POST ${location.origin}/api/v1/feature-flags/<flag-key>/evaluate \\
  -H "X-API-Key: ${sample}" -H "Content-Type: application/json" \\
  -d '{"user_id": "user-123", "attributes": {"plan": "enterprise", "country": "US"}}'`}</Code>
        </Tabs.Panel>
        <Tabs.Panel value="ofrep" pt="xs">
          <Code block>{`import { OpenFeature } from "@openfeature/server-sdk";
import { OFREPProvider } from "@openfeature/ofrep-provider";

OpenFeature.setProvider(new OFREPProvider({
  baseUrl: "${location.origin}",
  headers: [["Authorization", "Bearer ${sample}"]],
}));
const enabled = await OpenFeature.getClient().getBooleanValue("<flag-key>", false, { targetingKey: "user-123" });`}</Code>
        </Tabs.Panel>
        <Tabs.Panel value="go" pt="xs">
          <Code block>{`provider := ofrep.NewProvider("${location.origin}", ofrep.WithBearerToken("${sample}"))
openfeature.SetProviderAndWait(provider)
enabled, _ := openfeature.NewDefaultClient().BooleanValue(ctx, "<flag-key>", false,
	openfeature.NewEvaluationContext("user-123", nil))`}</Code>
        </Tabs.Panel>
      </Tabs>
    </Section>
  );
}

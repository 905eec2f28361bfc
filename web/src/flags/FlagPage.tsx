import {
  Accordion, Affix, Alert, Badge, Button, Code, Group, Modal, Paper, Stack, Text, TextInput, Textarea, Title,
} from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useParams } from "react-router";
import { api, ApiError, call, type FlagConfig, type Schemas } from "../api/client";
import { canWrite, isAdmin } from "../auth/session";
import { AuditEvents } from "../audit/AuditLog";
import { RolloutPlan } from "../rollouts/RolloutPlan";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { statusColor } from "./FlagList";
import { changedFields, editableOf, verbLabels, verbsFor, type Editable, type Verb } from "./model";
import { Insights } from "./Insights";
import { RulesEditor, ServeEditor } from "./RulesEditor";

/** FlagPage is one flag in one environment: status and its legal verbs, targeting, test a context. */
export function FlagPage() {
  const { flag: flagKey = "" } = useParams();
  const { org, project, env, envKey, role } = useProject();
  const qc = useQueryClient();
  const path = { org, project, flag: flagKey, env: envKey };
  const flag = useQuery({
    queryKey: ["flag", org, project, flagKey],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}", { params: { path: { org, project, flag: flagKey } } })),
  });
  const config = useQuery({
    queryKey: ["config", org, project, flagKey, envKey],
    enabled: !!envKey,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}", { params: { path } })),
  });
  const segments = useQuery({
    queryKey: ["segments", org, project],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/segments", { params: { path: { org, project } } })),
  });
  const [base, setBase] = useState<FlagConfig>();
  const [draft, setDraft] = useState<Editable>();
  const [conflict, setConflict] = useState<{ latest: FlagConfig; fields: string[] }>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [confirmKill, setConfirmKill] = useState(false);
  const [busy, setBusy] = useState(false);
  const writable = canWrite(role);

  // A configuration from the server becomes the base of the editor unless there are unsaved edits.
  useEffect(() => {
    if (!config.data) return;
    if (!base || !draft || changedFields(editableOf(base), draft).length === 0 || config.data.version === base.version) {
      setBase(config.data);
      setDraft(editableOf(config.data));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config.data]);

  if (flag.error || config.error) return <Alert color="red" role="alert">{(flag.error ?? config.error)?.message}</Alert>;
  if (!flag.data || !base || !draft) return <Text>Loading…</Text>;
  const f = flag.data;
  const dirty = changedFields(editableOf(base), draft);
  const variations = f.variations ?? [];

  const accept = (c: FlagConfig) => {
    setBase(c);
    setDraft(editableOf(c));
    setConflict(undefined);
    qc.setQueryData(["config", org, project, flagKey, envKey], c);
    qc.invalidateQueries({ queryKey: ["flags", org, project] });
    if (c.notice) setNotice(c.notice);
  };
  const onConflict = async (err: unknown) => {
    if (err instanceof ApiError && err.status === 412) {
      const latest = await call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}", { params: { path } }));
      setConflict({ latest, fields: [...changedFields(editableOf(base), editableOf(latest)), ...(latest.status !== base.status ? ["status"] : [])] });
      return;
    }
    setError(err instanceof ApiError ? err.message : String(err));
  };
  const headers = { "If-Match": String(base.version ?? 0) };
  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      accept(await call(() => api.PATCH("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}", {
        params: { path, header: headers } as never,
        headers,
        body: { rules: draft.rules, fallthrough: draft.fallthrough, targets: draft.targets, bucket_by: draft.bucket_by, salt: draft.salt, default_variation: draft.default_variation },
      })));
    } catch (err) {
      await onConflict(err);
    } finally {
      setBusy(false);
    }
  };
  const verb = async (v: Verb) => {
    setBusy(true);
    setError(undefined);
    try {
      accept(await call(() => api.POST(`/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/${v}` as "/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/activate", {
        params: { path, header: headers } as never,
        headers,
      })));
    } catch (err) {
      await onConflict(err);
    } finally {
      setBusy(false);
      setConfirmKill(false);
    }
  };

  return (
    <Stack maw={960} pb={80}>
      <Group justify="space-between" align="start">
        <div>
          <Title order={1} size="h2">{f.name || f.key}</Title>
          <Text ff="monospace" size="sm" c="dimmed">{f.key} · {f.type}</Text>
          {f.description && <Text size="sm">{f.description}</Text>}
        </div>
        <Group>
          <Badge color={env?.production ? "red" : "gray"} variant={env?.production ? "filled" : "light"}>{env?.name ?? envKey}</Badge>
          <Badge size="lg" color={statusColor[base.status ?? ""]} data-testid="flag-status">{base.status}</Badge>
        </Group>
      </Group>
      {notice && <Alert color="blue" withCloseButton onClose={() => setNotice(undefined)}>{notice}</Alert>}
      {error && <Alert color="red" role="alert" withCloseButton onClose={() => setError(undefined)}>{error}</Alert>}
      {conflict && (
        <Alert color="orange" role="alert" title="Someone else changed this flag while you were editing">
          <Text size="sm">
            {envKey} is now at version {conflict.latest.version} (you started from version {base.version}).
            {conflict.fields.length > 0 ? ` Changed: ${conflict.fields.join(", ")}.` : ""} Nothing of yours was saved.
          </Text>
          <Button mt="sm" size="xs" onClick={() => accept(conflict.latest)}>Reload the latest version</Button>
        </Alert>
      )}
      {writable && (
        <Group>
          {verbsFor(base.status).map((v) =>
            v === "disable" ? (
              <Button key={v} color="red" onClick={() => setConfirmKill(true)} loading={busy}>{verbLabels[v]}</Button>
            ) : (
              <Button key={v} variant={v === "activate" || v === "enable" ? "filled" : "default"} onClick={() => verb(v)} loading={busy}>
                {verbLabels[v]}
              </Button>
            ),
          )}
        </Group>
      )}
      <Modal opened={confirmKill} onClose={() => setConfirmKill(false)} title={`Turn off ${f.key} in ${env?.name ?? envKey}?`}>
        <Stack>
          <Text>Everyone gets the default value right away. The rules are kept: turning the flag back on serves them again.</Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirmKill(false)}>Cancel</Button>
            <Button color="red" onClick={() => verb("disable")} loading={busy}>Turn off</Button>
          </Group>
        </Stack>
      </Modal>

      <Section title="Targeting rules">
          <RulesEditor rules={draft.rules ?? []} onChange={(rules) => setDraft({ ...draft, rules })} variations={variations}
            segments={(segments.data?.items ?? []).map((s) => s.key ?? "")} readOnly={!writable}
            newServe={() => ({ variation: variations[0]?.id })} />
      </Section>
      <Section title="All other users">
          <ServeEditor label="All other users get" serve={draft.fallthrough ?? {}} variations={variations} readOnly={!writable}
            onChange={(fallthrough) => setDraft({ ...draft, fallthrough })} />
          <TextInput label="Bucket by" description="The context attribute that keeps a user in the same bucket (key, company_id …)"
            value={draft.bucket_by ?? ""} disabled={!writable} onChange={(e) => setDraft({ ...draft, bucket_by: e.currentTarget.value })} w={300} />
          <Accordion variant="separated">
            <Accordion.Item value="advanced">
              <Accordion.Control>Advanced</Accordion.Control>
              <Accordion.Panel>
                <Alert color="yellow" mb="xs">Changing the salt reshuffles every user between rollout buckets.</Alert>
                <TextInput label="Salt" value={draft.salt ?? ""} disabled={!writable} onChange={(e) => setDraft({ ...draft, salt: e.currentTarget.value })} />
              </Accordion.Panel>
            </Accordion.Item>
          </Accordion>
      </Section>
      <Insights path={path} variations={variations} />
      <RolloutPlan path={path} writable={writable} />
      <TestContext path={path} />
      {isAdmin(role) && (
        <Section title="History">
          <Text size="sm" fw={600}>In {env?.name ?? envKey}</Text>
          <AuditEvents resource={`${f.key}/${envKey}`} />
          <Text size="sm" fw={600}>The flag's definition (all environments)</Text>
          <AuditEvents resource={f.id} />
        </Section>
      )}
      {writable && dirty.length > 0 && (
        <Affix position={{ bottom: 0, left: 0, right: 0 }}>
          <Paper shadow="md" p="sm" withBorder role="region" aria-label="Unsaved changes">
            <Group justify="center">
              <Text fw={600}>You have unsaved changes ({dirty.join(", ")})</Text>
              <Button variant="default" onClick={() => setDraft(editableOf(base))}>Discard</Button>
              <Button onClick={save} loading={busy}>Save changes</Button>
            </Group>
          </Paper>
        </Affix>
      )}
    </Stack>
  );
}

/** TestContext evaluates a context against the configuration without serving it (drafts too). */
function TestContext({ path }: { path: { org: string; project: string; flag: string; env: string } }) {
  const [text, setText] = useState('{\n  "key": "user-123",\n  "country": "US"\n}');
  const [result, setResult] = useState<Schemas["api.DryRunResponse"]>();
  const [error, setError] = useState<string>();
  const run = async () => {
    setError(undefined);
    let ctx: Record<string, unknown>;
    try {
      ctx = JSON.parse(text);
    } catch {
      setError("The context is not valid JSON");
      return;
    }
    try {
      setResult(await call(() => api.POST("/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/evaluate", { params: { path }, body: { context: ctx } })));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <Section title="Test a context">
        <Textarea label="Context (JSON)" autosize minRows={3} value={text} onChange={(e) => setText(e.currentTarget.value)} ff="monospace" error={error} />
        <Button variant="light" w="fit-content" onClick={run}>Test</Button>
        {result && (
          <Text role="status" size="sm">
            Variation <Code>{result.variation}</Code> (value <Code>{JSON.stringify(result.value)}</Code>), reason <Code>{result.reason}</Code>
            {result.rule_id ? <> by rule <Code>{result.rule_id}</Code></> : null}
          </Text>
        )}
    </Section>
  );
}

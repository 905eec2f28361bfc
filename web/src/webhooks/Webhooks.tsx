import { Alert, Badge, Button, Code, Group, Modal, Stack, Table, TagsInput, Text, TextInput, Title } from "@mantine/core";
import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, call, type Schemas } from "../api/client";
import { isAdmin } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { ShownOnce } from "../layout/ShownOnce";
import { useAction } from "../layout/useAction";
import { ModalActions } from "../layout/ModalActions";

type Webhook = Schemas["api.WebhookResponse"];
type DeliveryList = Schemas["api.DeliveryList"];

const eventSuggestions = [
  "*", "feature_flag.*", "feature_flag.created", "feature_flag.updated", "feature_flag.activated", "feature_flag.killed",
  "feature_flag.enabled", "feature_flag.paused", "feature_flag.rolled_out", "feature_flag.archived", "feature_flag.deleted",
  "feature_flag.auto_rolled_back", "segment.*",
];
const deliveryColor: Record<string, string> = { succeeded: "green", failed: "red", pending: "gray" };

/** Webhooks (ADMIN) adds webhooks (URL, events; the signing secret shown once), lists them with
 * their delivery logs, turns one off and on, edits its URL and events, sends a failed delivery again
 * and deletes a webhook. */
export function Webhooks() {
  const { org, role } = useProject();
  const hooks = useQuery({
    queryKey: ["webhooks", org],
    enabled: isAdmin(role),
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/webhooks", { params: { path: { org } } })),
  });
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>(["feature_flag.*"]);
  const [secret, setSecret] = useState<string>();
  const { act, error, setError } = useAction(["webhooks", org]);
  const [open, setOpen] = useState<string>();
  const [deleting, setDeleting] = useState<Webhook>();
  const [editing, setEditing] = useState<Webhook>();
  const qc = useQueryClient();
  // change sends the webhook's changes against the version shown: someone else's change first is a 412.
  const change = (w: Webhook, body: { url?: string; events?: string[]; active?: boolean }, done?: () => void) =>
    act(async () => {
      try {
        await call(() => api.PATCH("/api/v1/orgs/{org}/webhooks/{webhook}", {
          params: { path: { org, webhook: w.id! } }, headers: { "If-Match": String(w.version ?? 0) }, body: body as Schemas["api.WebhookRequest"],
        }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) qc.invalidateQueries({ queryKey: ["webhooks", org] }); // show their change
        throw err;
      }
      done?.();
    });
  const create = (e: FormEvent) => {
    e.preventDefault();
    act(async () => {
      const w = await call(() => api.POST("/api/v1/orgs/{org}/webhooks", { params: { path: { org } }, body: { url, events } }));
      setSecret(w.secret);
      setUrl("");
    });
  };
  const remove = (w: Webhook) =>
    act(async () => {
      await call(() => api.DELETE("/api/v1/orgs/{org}/webhooks/{webhook}", { params: { path: { org, webhook: w.id! } } }));
      setDeleting(undefined);
      if (open === w.id) setOpen(undefined);
    });

  if (!isAdmin(role)) return <Alert color="yellow">Webhooks are managed by ADMINs.</Alert>;
  const eventsError = error?.field("events") ?? error?.field("events[0]");
  return (
    <>
      <Title order={1} size="h2" mb="md">Webhooks</Title>
      {error && !editing && <Alert color="red" role="alert" mb="md">{staleOr(error)}</Alert>}
      <Section title="Add a webhook">
        <form onSubmit={create}>
          <Stack>
            <TextInput label="Payload URL" required placeholder="https://hooks.example.com/vane" value={url}
              onChange={(e) => setUrl(e.currentTarget.value)} error={error?.field("url")} />
            <TagsInput label="Events" description="Names (feature_flag.killed), prefixes (feature_flag.*) or * for every event; Enter adds one"
              data={eventSuggestions} value={events} onChange={setEvents} error={eventsError} clearable />
            <Button type="submit" w="fit-content">Add webhook</Button>
          </Stack>
        </form>
        {secret && (
          <ShownOnce title="Signing secret (shown once)"
            note="Deliveries carry X-Vane-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of “<t>.<body>” with this secret>. Copy it now: it is not shown again."
            value={secret} copyLabel="Copy secret" testId="webhook-secret" onClose={() => setSecret(undefined)} />
        )}
      </Section>
      <Table mt="md" striped aria-label="Webhooks">
        <Table.Thead>
          <Table.Tr><Table.Th>URL</Table.Th><Table.Th>Events</Table.Th><Table.Th>Status</Table.Th><Table.Th>Added</Table.Th><Table.Th /></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(hooks.data ?? []).map((w) => (
            <Table.Tr key={w.id}>
              <Table.Td><Code>{w.url}</Code></Table.Td>
              <Table.Td>{(w.events ?? []).join(", ")}</Table.Td>
              <Table.Td><Badge color={w.active ? "green" : "gray"} variant="light" data-testid="webhook-status">{w.active ? "active" : "inactive"}</Badge></Table.Td>
              <Table.Td>{w.created_at ? new Date(w.created_at).toLocaleString() : ""}</Table.Td>
              <Table.Td>
                <Group gap="xs">
                  <Button size="xs" variant="light" onClick={() => setOpen(open === w.id ? undefined : w.id)} aria-expanded={open === w.id}>
                    Deliveries of {w.url}
                  </Button>
                  <Button size="xs" variant="default" onClick={() => change(w, { active: !w.active })}>
                    {w.active ? "Turn off" : "Turn on"} {w.url}
                  </Button>
                  <Button size="xs" variant="default" onClick={() => { setError(undefined); setEditing(w); }}>Edit {w.url}</Button>
                  <Button size="xs" variant="subtle" color="red" onClick={() => setDeleting(w)}>Delete {w.url}</Button>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {hooks.data?.length === 0 && <Text c="dimmed" mt="sm">No webhooks yet.</Text>}
      {open && <Deliveries org={org} webhook={(hooks.data ?? []).find((w) => w.id === open)} onError={setError} />}
      {editing && (
        <EditWebhook webhook={editing} error={error} onClose={() => setEditing(undefined)}
          onSave={(body) => change(editing, body, () => setEditing(undefined))} />
      )}
      <Modal opened={!!deleting} onClose={() => setDeleting(undefined)} title="Delete this webhook?">
        <Stack>
          <Text>{deleting?.url} stops receiving events, and its delivery log is deleted with it.</Text>
          <ModalActions onCancel={() => setDeleting(undefined)}>
            <Button color="red" onClick={() => deleting && remove(deleting)}>Delete webhook</Button>
          </ModalActions>
        </Stack>
      </Modal>
    </>
  );
}

/** staleOr says what a refused change means: someone else's change first (412), or the server's message. */
function staleOr(error: ApiError): string {
  return error.status === 412 ? "Someone else changed this webhook meanwhile; nothing was saved. The list now shows their change." : error.message;
}

/** EditWebhook changes a webhook's URL and events; the signing secret stays. */
function EditWebhook({ webhook, error, onClose, onSave }: {
  webhook: Webhook; error?: ApiError; onClose: () => void; onSave: (body: { url: string; events: string[] }) => void;
}) {
  const [url, setUrl] = useState(webhook.url ?? "");
  const [events, setEvents] = useState<string[]>(webhook.events ?? []);
  return (
    <Modal opened onClose={onClose} title="Edit webhook" size="lg">
      <form onSubmit={(e) => { e.preventDefault(); onSave({ url, events }); }}>
        <Stack>
          {error && <Alert color={error.status === 412 ? "orange" : "red"} role="alert">{staleOr(error)}{error.status === 412 ? " Cancel, then edit it again to start from theirs." : ""}</Alert>}
          <TextInput label="New payload URL" required value={url} onChange={(e) => setUrl(e.currentTarget.value)} error={error?.field("url")} data-autofocus />
          <TagsInput label="New events" description="Names, prefixes (feature_flag.*) or *; Enter adds one" data={eventSuggestions}
            value={events} onChange={setEvents} error={error?.field("events") ?? error?.field("events[0]")} clearable />
          <Text size="sm" c="dimmed">The signing secret stays the same.</Text>
          <ModalActions onCancel={onClose}>
            <Button type="submit">Save webhook</Button>
          </ModalActions>
        </Stack>
      </form>
    </Modal>
  );
}

/** Deliveries is one webhook's delivery log, newest first, a page at a time; a failed delivery can be sent again. */
function Deliveries({ org, webhook, onError }: { org: string; webhook?: Webhook; onError: (e: ApiError) => void }) {
  const qc = useQueryClient();
  const id = webhook?.id ?? "";
  const log = useInfiniteQuery({
    queryKey: ["deliveries", org, id],
    enabled: !!id,
    initialPageParam: "",
    getNextPageParam: (last: DeliveryList) => last.next_cursor || undefined,
    queryFn: ({ pageParam }): Promise<DeliveryList> => call(() => api.GET("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries", {
      params: { path: { org, webhook: id }, query: { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } },
    })),
  });
  const redeliver = async (delivery: string) => {
    try {
      await call(() => api.POST("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver", { params: { path: { org, webhook: id, delivery } } }));
    } catch (err) {
      if (err instanceof ApiError) onError(err);
    }
    qc.invalidateQueries({ queryKey: ["deliveries", org, id] });
  };
  if (!webhook) return null;
  const items = (log.data?.pages ?? []).flatMap((p) => p.items ?? []);
  return (
    <Section title={`Deliveries of ${webhook.url}`}>
      {log.error && <Alert color="red" role="alert">{log.error.message}</Alert>}
      {log.isSuccess && items.length === 0 && <Text c="dimmed">Nothing delivered yet.</Text>}
      {items.length > 0 && (
        <Table striped aria-label="Deliveries">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Event</Table.Th><Table.Th>Status</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Last answer</Table.Th>
              <Table.Th>Created</Table.Th><Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((d) => (
              <Table.Tr key={d.id}>
                <Table.Td><Code>{d.event}</Code></Table.Td>
                <Table.Td><Badge color={deliveryColor[d.status ?? ""]} variant="light" data-testid="delivery-status">{d.status}</Badge></Table.Td>
                <Table.Td>{d.attempts}{d.redeliveries ? ` (${d.redeliveries} redelivered)` : ""}</Table.Td>
                <Table.Td>
                  {d.last_status_code ? `HTTP ${d.last_status_code}` : ""}
                  {d.latency_ms ? ` in ${d.latency_ms} ms` : ""}
                  {d.last_error ? <Text size="xs" c="red">{d.last_error}</Text> : null}
                </Table.Td>
                <Table.Td>{d.created_at ? new Date(d.created_at).toLocaleString() : ""}</Table.Td>
                <Table.Td>
                  {d.status === "failed" && <Button size="xs" variant="light" onClick={() => redeliver(d.id!)}>Redeliver</Button>}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group>
        <Button size="xs" variant="default" onClick={() => log.refetch()} loading={log.isFetching && !log.isFetchingNextPage}>Refresh</Button>
        {log.hasNextPage && <Button size="xs" variant="default" onClick={() => log.fetchNextPage()} loading={log.isFetchingNextPage}>Load more</Button>}
      </Group>
    </Section>
  );
}

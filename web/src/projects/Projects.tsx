import { Alert, Anchor, Button, Code, Group, Modal, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api, ApiError, call, type Schemas } from "../api/client";
import { isAdmin } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { useAction } from "../layout/useAction";
import { ModalActions } from "../layout/ModalActions";

type Project = Schemas["api.ProjectResponse"];

/**
 * Projects lists the organisation's projects; an ADMIN also creates, renames and deletes them (the
 * deletion confirmed by typing the project's key). Everyone else sees the list only.
 */
export function Projects() {
  const { org, project: current, role } = useProject();
  const nav = useNavigate();
  const key = ["projects", org]; // the project switcher's query too: it follows every change
  const projects = useQuery({
    queryKey: key,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects", { params: { path: { org }, query: { limit: 200 } } })),
  });
  const { act, error, setError } = useAction(key);
  const [form, setForm] = useState({ name: "", key: "", description: "" });
  const [created, setCreated] = useState<Project>();
  const [renaming, setRenaming] = useState<Project>();
  const [deleting, setDeleting] = useState<Project>();
  const admin = isAdmin(role);

  const create = (e: FormEvent) => {
    e.preventDefault();
    act(async () => {
      const p = await call(() => api.POST("/api/v1/orgs/{org}/projects", {
        params: { path: { org } }, body: { name: form.name, key: form.key || undefined, description: form.description },
      }));
      setCreated(p);
      setForm({ name: "", key: "", description: "" });
    });
  };
  const remove = (p: Project, confirm: string) =>
    act(async () => {
      await call(() => api.DELETE("/api/v1/orgs/{org}/projects/{project}", { params: { path: { org, project: p.key! }, query: { confirm } } }));
      setDeleting(undefined);
      if (p.key === current) nav("/", { replace: true }); // this page's project is gone: open the first one left
    });

  const items = projects.data?.items ?? [];
  return (
    <Stack>
      <Title order={1} size="h2">Projects</Title>
      <Text size="sm" c="dimmed">
        A project holds flags and segments, shared by its environments. {admin ? "" : "ADMINs create, rename and delete projects."}
      </Text>
      {error && !renaming && !deleting && <Alert color="red" role="alert">{error.message}</Alert>}
      {projects.error && <Alert color="red" role="alert">{projects.error.message}</Alert>}
      <Table striped aria-label="Projects">
        <Table.Thead>
          <Table.Tr><Table.Th>Project</Table.Th><Table.Th>Key</Table.Th><Table.Th>Description</Table.Th><Table.Th>Created</Table.Th><Table.Th /></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((p) => (
            <Table.Tr key={p.id}>
              <Table.Td>
                <Anchor component={Link} to={`/orgs/${org}/projects/${p.key}/flags`} fw={600}>{p.name || p.key}</Anchor>
                {p.key === current && <Text span size="xs" c="dimmed"> (open)</Text>}
              </Table.Td>
              <Table.Td><Code>{p.key}</Code></Table.Td>
              <Table.Td>{p.description}</Table.Td>
              <Table.Td>{p.created_at ? new Date(p.created_at).toLocaleDateString() : ""}</Table.Td>
              <Table.Td>
                {admin && (
                  <Group gap="xs" wrap="nowrap">
                    <Button size="xs" variant="light" onClick={() => { setError(undefined); setRenaming(p); }}>Rename {p.key}</Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => { setError(undefined); setDeleting(p); }}>Delete {p.key}</Button>
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {admin && (
        <Section title="New project">
          <Text size="sm" c="dimmed">It starts with the environments development, staging and production, each with its own SDK keys.</Text>
          <form onSubmit={create}>
            <Group align="start" wrap="wrap">
              <TextInput label="Project name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
                error={error?.field("name")} />
              <TextInput label="Project key" placeholder="from the name; it cannot change" w={240} value={form.key}
                onChange={(e) => setForm({ ...form, key: e.currentTarget.value })} error={error?.field("key")} />
              <TextInput label="Project description" w={320} value={form.description}
                onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} error={error?.field("description")} />
              <Button type="submit" mt={25}>Create project</Button>
            </Group>
          </form>
          {created && (
            <Alert color="green" role="status" withCloseButton onClose={() => setCreated(undefined)}>
              Project {created.name} (<Code>{created.key}</Code>) is ready.{" "}
              <Anchor component={Link} to={`/orgs/${org}/projects/${created.key}/flags`}>Open {created.name}</Anchor>
            </Alert>
          )}
        </Section>
      )}
      {renaming && (
        <RenameProject org={org} project={renaming} error={error} onClose={() => setRenaming(undefined)}
          onSave={(body) => act(async () => {
            await call(() => api.PATCH("/api/v1/orgs/{org}/projects/{project}", {
              params: { path: { org, project: renaming.key! } }, headers: { "If-Match": String(renaming.version ?? 0) }, body,
            }));
            setRenaming(undefined);
          })} />
      )}
      {deleting && <DeleteProject project={deleting} error={error} onClose={() => setDeleting(undefined)} onDelete={(confirm) => remove(deleting, confirm)} />}
    </Stack>
  );
}

/** RenameProject changes a project's name and description; someone else's change first (412) is said, not overwritten. */
function RenameProject({ org, project, error, onClose, onSave }: {
  org: string; project: Project; error?: ApiError; onClose: () => void; onSave: (body: { name: string; description: string }) => void;
}) {
  const [name, setName] = useState(project.name ?? "");
  const [description, setDescription] = useState(project.description ?? "");
  return (
    <Modal opened onClose={onClose} title={`Rename ${project.key}`}>
      <form onSubmit={(e) => { e.preventDefault(); onSave({ name, description }); }}>
        <Stack>
          {error && (
            <Alert color={error.status === 412 ? "orange" : "red"} role="alert">
              {error.status === 412 ? "Someone else changed this project meanwhile; nothing was saved. Close and open it again to see their change." : error.message}
            </Alert>
          )}
          <Text size="sm" c="dimmed">The key <Code>{project.key}</Code> stays: SDKs and URLs of {org} use it.</Text>
          <TextInput label="New project name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={error?.field("name")} data-autofocus />
          <Textarea label="New project description" autosize value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={error?.field("description")} />
          <ModalActions onCancel={onClose}>
            <Button type="submit">Save project</Button>
          </ModalActions>
        </Stack>
      </form>
    </Modal>
  );
}

/** DeleteProject asks for the project's key before deleting it with everything in it. */
function DeleteProject({ project, error, onClose, onDelete }: {
  project: Project; error?: ApiError; onClose: () => void; onDelete: (confirm: string) => void;
}) {
  const [typed, setTyped] = useState("");
  return (
    <Modal opened onClose={onClose} title={`Delete ${project.name || project.key}?`}>
      <form onSubmit={(e) => { e.preventDefault(); onDelete(typed); }}>
        <Stack>
          {error && <Alert color="red" role="alert">{error.message}</Alert>}
          <Text>
            Its environments, SDK keys, flags, segments and rollout plans are deleted with it, and SDKs using its keys get nothing
            from then on. This cannot be undone.
          </Text>
          <TextInput label="Type the project key to confirm" placeholder={project.key} value={typed} onChange={(e) => setTyped(e.currentTarget.value)}
            error={error?.field("confirm")} data-autofocus />
          <ModalActions onCancel={onClose}>
            <Button type="submit" color="red" disabled={typed !== project.key}>Delete project</Button>
          </ModalActions>
        </Stack>
      </form>
    </Modal>
  );
}

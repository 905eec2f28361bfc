import { Alert, Badge, Button, Group, NativeSelect, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, call } from "../api/client";
import { isAdmin } from "../auth/session";
import { useProject } from "../layout/context";
import { Section } from "../layout/Section";
import { ShownOnce } from "../layout/ShownOnce";

const roles = ["VIEWER", "DEVELOPER", "ADMIN"] as const;
type Role = (typeof roles)[number];

/**
 * Members lists the organisation's members and pending invitations. An ADMIN invites (the link is
 * shown once), changes roles and removes members; the last ADMIN cannot be demoted or removed.
 */
export function Members() {
  const { org, role } = useProject();
  const qc = useQueryClient();
  const admin = isAdmin(role);
  const members = useQuery({
    queryKey: ["members", org],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/members", { params: { path: { org } } })),
  });
  const invitations = useQuery({
    queryKey: ["invitations", org],
    enabled: admin,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/invitations", { params: { path: { org } } })),
  });
  const [email, setEmail] = useState("");
  const [inviteRole, setInviteRole] = useState<Role>("DEVELOPER");
  const [link, setLink] = useState<string>();
  const [error, setError] = useState<ApiError>();
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ["members", org] });
    qc.invalidateQueries({ queryKey: ["invitations", org] });
  };
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      refresh();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  const invite = (e: FormEvent) => {
    e.preventDefault();
    act(async () => {
      const inv = await call(() => api.POST("/api/v1/orgs/{org}/members", { params: { path: { org } }, body: { email, role: inviteRole } }));
      setLink(`${window.location.origin}/accept-invite?token=${encodeURIComponent(inv.token ?? "")}`);
      setEmail("");
    });
  };
  return (
    <>
      <Title order={1} size="h2" mb="md">Members</Title>
      {error && <Alert color="red" role="alert" mb="md">{error.message}</Alert>}
      {admin && (
        <Section title="Invite a member">
          <form onSubmit={invite}>
            <Group align="end">
              <TextInput label="Email" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} error={error?.field("email")} />
              <NativeSelect label="Role" value={inviteRole} data={[...roles]} onChange={(e) => setInviteRole(e.currentTarget.value as Role)} />
              <Button type="submit">Invite</Button>
            </Group>
          </form>
          {link && (
            <ShownOnce title="Invitation link (shown once)" value={link} copyLabel="Copy link" testId="invitation-link"
              note="Send this link to the new member. It works once and expires in 7 days; Vane will not show it again." />
          )}
        </Section>
      )}
      <Table mt="md" striped aria-label="Members">
        <Table.Thead>
          <Table.Tr><Table.Th>Member</Table.Th><Table.Th>Role</Table.Th>{admin && <Table.Th />}</Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(members.data?.items ?? []).map((m) => (
            <Table.Tr key={m.id}>
              <Table.Td>{m.name ? `${m.name} · ` : ""}{m.email}</Table.Td>
              <Table.Td>
                {admin ? (
                  <NativeSelect aria-label={`Role of ${m.email}`} value={m.role} data={[...roles]}
                    onChange={(e) => { const r = e.currentTarget.value as Role; act(() => call(() => api.PATCH("/api/v1/orgs/{org}/members/{member}", { params: { path: { org, member: m.id! } }, body: { role: r } }))); }} />
                ) : (
                  <Badge variant="light">{m.role}</Badge>
                )}
              </Table.Td>
              {admin && (
                <Table.Td>
                  <Button size="xs" variant="subtle" color="red" onClick={() => act(() => call(() => api.DELETE("/api/v1/orgs/{org}/members/{member}", { params: { path: { org, member: m.id! } } })))}>
                    Remove {m.email}
                  </Button>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
          {(invitations.data?.items ?? []).map((i) => (
            <Table.Tr key={i.id}>
              <Table.Td>{i.email} <Badge color="gray" variant="outline">invited</Badge></Table.Td>
              <Table.Td>{i.role}</Table.Td>
              <Table.Td>
                <Button size="xs" variant="subtle" onClick={() => act(() => call(() => api.DELETE("/api/v1/orgs/{org}/invitations/{invitation}", { params: { path: { org, invitation: i.id! } } })))}>
                  Revoke invitation
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed" mt="sm">An organisation always keeps at least one ADMIN: the last one cannot be demoted or removed.</Text>
    </>
  );
}

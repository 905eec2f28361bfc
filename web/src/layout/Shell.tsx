import {
  ActionIcon, AppShell, Avatar, Badge, Group, Menu, NativeSelect, NavLink, Text, Tooltip, UnstyledButton,
  useComputedColorScheme, useMantineColorScheme,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { isAdmin, useSession } from "../auth/session";
import { useProject } from "./context";

/** Shell is the signed-in layout: left navigation, the switchers, the user menu. */
export function Shell() {
  const { org, project, envs, env, setEnv, role } = useProject();
  const { me, signOut } = useSession();
  const nav = useNavigate();
  const loc = useLocation();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const projects = useQuery({
    queryKey: ["projects", org],
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects", { params: { path: { org } } })),
  });
  const base = `/orgs/${org}/projects/${project}`;
  const q = env ? `?env=${env.key}` : "";
  const production = !!env?.production;
  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 220, breakpoint: "sm" }} padding="md">
      <AppShell.Header
        style={production ? { borderBottom: "4px solid var(--mantine-color-red-6)" } : undefined}
        data-production={production || undefined}
      >
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap" gap="sm">
            <Text fw={700} size="lg" component={Link} to="/">
              Vane
            </Text>
            <NativeSelect aria-label="Organisation" size="xs" value={org}
              data={(me?.memberships ?? []).map((m) => ({ value: m.organization?.slug ?? "", label: m.organization?.name ?? "" }))}
              onChange={(e) => nav(`/orgs/${e.currentTarget.value}`)} />
            <NativeSelect aria-label="Project" size="xs" value={project}
              data={(projects.data?.items ?? []).map((p) => ({ value: p.key ?? "", label: p.name || p.key || "" }))}
              onChange={(e) => nav(`/orgs/${org}/projects/${e.currentTarget.value}/flags`)} />
            <NativeSelect aria-label="Environment" size="xs" value={env?.key ?? ""}
              data={envs.map((e) => ({ value: e.key ?? "", label: (e.name || e.key || "") + (e.production ? " (production)" : "") }))}
              onChange={(e) => setEnv(e.currentTarget.value)}
              styles={production ? { input: { borderColor: "var(--mantine-color-red-6)", color: "var(--mantine-color-red-7)", fontWeight: 700 } } : undefined} />
            {production && (
              <Badge color="red" variant="filled" aria-label="Production environment">
                Production
              </Badge>
            )}
          </Group>
          <Group wrap="nowrap" gap="xs">
            <Tooltip label={scheme === "dark" ? "Light mode" : "Dark mode"}>
              <ActionIcon variant="default" aria-label="Toggle dark mode" onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}>
                {scheme === "dark" ? "☀" : "☾"}
              </ActionIcon>
            </Tooltip>
            <Menu position="bottom-end">
              <Menu.Target>
                <UnstyledButton aria-label="User menu">
                  <Group gap={6} wrap="nowrap">
                    <Avatar size="sm" radius="xl">{(me?.user?.email ?? "?").slice(0, 1).toUpperCase()}</Avatar>
                    <Text size="sm" visibleFrom="md">{me?.user?.email}</Text>
                    {role && <Badge variant="light" size="sm">{role}</Badge>}
                  </Group>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item component={Link} to="/account/password">Change password</Menu.Item>
                <Menu.Item onClick={async () => { await signOut(); nav("/sign-in"); }}>Sign out</Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        <NavLink component={Link} to={`${base}/flags${q}`} label="Feature Flags" active={loc.pathname.startsWith(`${base}/flags`)} />
        <NavLink component={Link} to={`${base}/segments${q}`} label="Segments" active={loc.pathname.startsWith(`${base}/segments`)} />
        <NavLink component={Link} to={`${base}/environments${q}`} label="Environments" active={loc.pathname.startsWith(`${base}/environments`)} />
        <NavLink component={Link} to={`${base}/projects${q}`} label="Projects" active={loc.pathname.startsWith(`${base}/projects`)} />
        <NavLink component={Link} to={`${base}/members${q}`} label="Members" active={loc.pathname.startsWith(`${base}/members`)} />
        {isAdmin(role) && (
          <>
            <NavLink component={Link} to={`${base}/api-keys${q}`} label="API keys" active={loc.pathname.startsWith(`${base}/api-keys`)} />
            <NavLink component={Link} to={`${base}/webhooks${q}`} label="Webhooks" active={loc.pathname.startsWith(`${base}/webhooks`)} />
            <NavLink component={Link} to={`${base}/audit${q}`} label="Audit log" active={loc.pathname.startsWith(`${base}/audit`)} />
          </>
        )}
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}

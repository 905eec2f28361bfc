import { createTheme, Loader, Center, MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation, useParams } from "react-router";
import { api, ApiError, call } from "./api/client";
import { AcceptInvite } from "./auth/AcceptInvite";
import { ChangePassword } from "./auth/ChangePassword";
import { SessionProvider, useSession } from "./auth/session";
import { SignIn } from "./auth/SignIn";
import { SignUp } from "./auth/SignUp";
import { FlagList } from "./flags/FlagList";
import { FlagPage } from "./flags/FlagPage";
import { NewFlag } from "./flags/NewFlag";
import { Shell } from "./layout/Shell";
import { Members } from "./members/Members";
import { ApiKeys } from "./apikeys/ApiKeys";
import { Environments } from "./environments/Environments";
import { Segments } from "./segments/Segments";
import { AuditLog } from "./audit/AuditLog";
import { Webhooks } from "./webhooks/Webhooks";
import { Projects } from "./projects/Projects";

const theme = createTheme({ primaryColor: "blue", defaultRadius: "sm" });
const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 2,
      refetchOnWindowFocus: true,
    },
  },
});

export function App() {
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <QueryClientProvider client={queryClient}>
        <SessionProvider>
          <BrowserRouter>
            <Routes>
              <Route path="/sign-in" element={<SignIn />} />
              <Route path="/sign-up" element={<SignUp />} />
              <Route path="/accept-invite" element={<AcceptInvite />} />
              <Route path="/account/password" element={<Private><ChangePassword /></Private>} />
              <Route path="/orgs/:org/projects/:project" element={<Private><Shell /></Private>}>
                <Route index element={<Navigate to="flags" replace />} />
                <Route path="flags" element={<FlagList />} />
                <Route path="flags/new" element={<NewFlag />} />
                <Route path="flags/:flag" element={<FlagPage />} />
                <Route path="segments" element={<Segments />} />
                <Route path="audit" element={<AuditLog />} />
                <Route path="environments" element={<Environments />} />
                <Route path="members" element={<Members />} />
                <Route path="api-keys" element={<ApiKeys />} />
                <Route path="webhooks" element={<Webhooks />} />
                <Route path="projects" element={<Projects />} />
              </Route>
              <Route path="/orgs/:org" element={<Private><Home /></Private>} />
              <Route path="*" element={<Private><Home /></Private>} />
            </Routes>
          </BrowserRouter>
        </SessionProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}

function Loading() {
  return (
    <Center h="100vh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

/** Private shows its page to a signed-in user and sends everyone else to sign in. */
function Private({ children }: { children: ReactNode }) {
  const { ready, signedIn } = useSession();
  const loc = useLocation();
  if (!ready) return <Loading />;
  if (!signedIn) return <Navigate to={`/sign-in?next=${encodeURIComponent(loc.pathname + loc.search)}`} replace />;
  return <>{children}</>;
}

/** Home opens the first project of the organisation in the path (the organisation switcher's), or of the first one. */
function Home() {
  const { me } = useSession();
  const { org: chosen } = useParams();
  const org = chosen ?? me?.memberships?.[0]?.organization?.slug;
  const projects = useQuery({
    queryKey: ["projects", org],
    enabled: !!org,
    queryFn: () => call(() => api.GET("/api/v1/orgs/{org}/projects", { params: { path: { org: org! } } })),
  });
  if (me && !org) return <Center h="100vh">You are not a member of any organisation yet.</Center>;
  const project = projects.data?.items?.[0]?.key;
  if (projects.isSuccess && !project) return <Center h="100vh">This organisation has no projects yet.</Center>;
  if (!project) return <Loading />;
  return <Navigate to={`/orgs/${org}/projects/${project}/flags`} replace />;
}

import { useQuery } from "@tanstack/react-query";
import { useParams, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { roleIn, useSession } from "../auth/session";

/** useProject is the organisation and project of the page, its environments and the chosen one. */
export function useProject() {
  const { org = "", project = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const { me } = useSession();
  const envs = useQuery({
    queryKey: ["environments", org, project],
    queryFn: () =>
      call(() => api.GET("/api/v1/orgs/{org}/projects/{project}/environments", { params: { path: { org, project } } })),
  });
  const items = envs.data?.items ?? [];
  const chosen = params.get("env");
  const env = items.find((e) => e.key === chosen) ?? items.find((e) => !e.production) ?? items[0];
  const setEnv = (key: string) => {
    const next = new URLSearchParams(params);
    next.set("env", key);
    setParams(next);
  };
  return { org, project, envs: items, env, envKey: env?.key ?? "", setEnv, role: roleIn(me, org) };
}

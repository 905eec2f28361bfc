import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, hasAccessToken, onSessionChange, refreshSession, setAccessToken, SESSION_HEADER, type Me, type Tokens } from "../api/client";

type Session = { ready: boolean; signedIn: boolean; me?: Me; signOut: () => Promise<void> };
const SessionContext = createContext<Session>({ ready: false, signedIn: false, signOut: async () => {} });

/** startSession keeps the access token of a sign-in answer (the refresh token is in the cookie). */
export function startSession(t: Tokens) {
  setAccessToken(t.access_token ?? null);
}

/** SessionProvider restores the session from the refresh cookie on load (a reload keeps it). */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [ready, setReady] = useState(false);
  const [signedIn, setSignedIn] = useState(hasAccessToken());
  const qc = useQueryClient();
  useEffect(() => {
    const off = onSessionChange(setSignedIn);
    refreshSession().finally(() => setReady(true));
    return () => {
      off();
    };
  }, []);
  const me = useQuery({
    queryKey: ["me", signedIn],
    enabled: signedIn,
    queryFn: () => call(() => api.GET("/api/v1/me")),
  });
  const signOut = async () => {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { [SESSION_HEADER]: "cookie", "Content-Type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    setAccessToken(null);
    qc.clear();
  };
  return (
    <SessionContext.Provider value={{ ready, signedIn, me: me.data, signOut }}>{children}</SessionContext.Provider>
  );
}

export function useSession() {
  return useContext(SessionContext);
}

/** roleIn is the signed-in user's role in an organisation (by slug). */
export function roleIn(me: Me | undefined, org: string | undefined): string | undefined {
  return me?.memberships?.find((m) => m.organization?.slug === org || m.organization?.id === org)?.role;
}

export const canWrite = (role?: string) => role === "ADMIN" || role === "DEVELOPER";
export const isAdmin = (role?: string) => role === "ADMIN";

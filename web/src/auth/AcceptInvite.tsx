import { Alert, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, ApiError, call } from "../api/client";
import { AuthPage } from "./Page";
import { startSession, useSession } from "./session";

/** AcceptInvite redeems the invitation link (/accept-invite?token=…): a new account chooses a password. */
export function AcceptInvite() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { signedIn } = useSession();
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<ApiError>();
  const nav = useNavigate();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const t = await call(() =>
        api.POST("/api/v1/auth/accept-invite", { body: signedIn ? { token } : { token, password, name } }),
      );
      startSession(t);
      nav(t.organization?.slug ? `/orgs/${t.organization.slug}/projects/default/flags` : "/", { replace: true });
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <AuthPage title="Join your team on Vane">
      <form onSubmit={submit}>
        <Stack>
          {!token && <Alert color="red">This link has no invitation token. Ask for a new invitation.</Alert>}
          {error && !error.field("password") && <Alert color="red" role="alert">{error.message}</Alert>}
          {signedIn ? (
            <Text>You are signed in: accepting adds this account to the organisation.</Text>
          ) : (
            <>
              <TextInput label="Your name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
              <PasswordInput label="Choose a password" description="At least 10 characters" required value={password}
                onChange={(e) => setPassword(e.currentTarget.value)} error={error?.field("password")} />
            </>
          )}
          <Button type="submit" disabled={!token}>
            Accept invitation
          </Button>
        </Stack>
      </form>
    </AuthPage>
  );
}

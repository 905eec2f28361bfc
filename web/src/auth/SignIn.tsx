import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, ApiError, call } from "../api/client";
import { AuthPage } from "./Page";
import { startSession } from "./session";

export function SignIn() {
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const nav = useNavigate();
  const [params] = useSearchParams();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const t = await call(() => api.POST("/api/v1/auth/login", { body: { username: login, password } }));
      startSession(t);
      const next = params.get("next");
      nav(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "Vane could not be reached");
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthPage title="Sign in to Vane">
      <form onSubmit={submit}>
        <Stack>
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <TextInput label="Username or email" autoComplete="username" required value={login} onChange={(e) => setLogin(e.currentTarget.value)} />
          <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          <Button type="submit" loading={busy}>
            Sign in
          </Button>
          <Text size="sm">
            New to Vane? <Anchor component={Link} to="/sign-up">Create an account</Anchor>
          </Text>
        </Stack>
      </form>
    </AuthPage>
  );
}

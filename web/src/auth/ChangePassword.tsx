import { Alert, Anchor, Button, PasswordInput, Stack } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ApiError, call } from "../api/client";
import { AuthPage } from "./Page";
import { startSession } from "./session";

export function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const t = await call(() => api.POST("/api/v1/auth/password", { body: { current_password: current, new_password: next } }));
      startSession(t);
      setDone(true);
      setCurrent("");
      setNext("");
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <AuthPage title="Change password">
      <form onSubmit={submit}>
        <Stack>
          {done && <Alert color="green" role="status">Password changed. Your other sessions were signed out.</Alert>}
          {error && error.status !== 422 && <Alert color="red" role="alert">{error.message}</Alert>}
          <PasswordInput label="Current password" autoComplete="current-password" required value={current}
            onChange={(e) => setCurrent(e.currentTarget.value)} error={error?.field("current_password")} />
          <PasswordInput label="New password" autoComplete="new-password" description="At least 10 characters" required value={next}
            onChange={(e) => setNext(e.currentTarget.value)} error={error?.field("new_password")} />
          <Button type="submit">Change password</Button>
          <Anchor component={Link} to="/">Back to Vane</Anchor>
        </Stack>
      </form>
    </AuthPage>
  );
}

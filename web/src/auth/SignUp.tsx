import { Alert, Button, PasswordInput, Stack, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, ApiError, call } from "../api/client";
import { AuthPage } from "./Page";
import { startSession } from "./session";

export function SignUp() {
  const [form, setForm] = useState({ email: "", name: "", password: "", org: "" });
  const [error, setError] = useState<ApiError>();
  const nav = useNavigate();
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [k]: e.currentTarget.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const t = await call(() =>
        api.POST("/api/v1/auth/signup", {
          body: { email: form.email, name: form.name, password: form.password, organization: { name: form.org } },
        }),
      );
      startSession(t);
      nav("/", { replace: true });
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <AuthPage title="Create your Vane account">
      <form onSubmit={submit}>
        <Stack>
          {error && error.status !== 422 && <Alert color="red" role="alert">{error.status === 403 ? "Sign-up is turned off on this server." : error.message}</Alert>}
          <TextInput label="Email" type="email" required value={form.email} onChange={set("email")} error={error?.field("email")} />
          <TextInput label="Your name" value={form.name} onChange={set("name")} error={error?.field("name")} />
          <PasswordInput label="Password" description="At least 10 characters" required value={form.password} onChange={set("password")} error={error?.field("password")} />
          <TextInput label="Organisation name" required value={form.org} onChange={set("org")} error={error?.field("organization.name")} />
          <Button type="submit">Create account</Button>
        </Stack>
      </form>
    </AuthPage>
  );
}

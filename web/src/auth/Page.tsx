import { Center, Paper, Stack, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** AuthPage is the centred card of the pages before sign-in. */
export function AuthPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={400} component="main">
        <Stack>
          <Title order={1} size="h2">
            {title}
          </Title>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

import { Paper, Stack, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** Section is a titled, bordered part of a page. */
export function Section({ title, children, gap }: { title?: string; children: ReactNode; gap?: string }) {
  return (
    <Paper withBorder p="md">
      <Stack gap={gap}>
        {title && (
          <Title order={2} size="h4">
            {title}
          </Title>
        )}
        {children}
      </Stack>
    </Paper>
  );
}

import { Alert, Button, Code, CopyButton, Group, Text } from "@mantine/core";

/** ShownOnce shows a secret the server returns only once (an API key, an invitation link) with a copy button. */
export function ShownOnce({ title, note, value, copyLabel, testId, onClose }: {
  title: string; note: string; value: string; copyLabel: string; testId: string; onClose?: () => void;
}) {
  return (
    <Alert color="green" title={title} role="status" withCloseButton={!!onClose} onClose={onClose}>
      <Text size="sm">{note}</Text>
      <Group mt="xs" wrap="nowrap">
        <Code data-testid={testId} style={{ wordBreak: "break-all" }}>{value}</Code>
        <CopyButton value={value}>{({ copied, copy }) => <Button size="xs" onClick={copy}>{copied ? "Copied" : copyLabel}</Button>}</CopyButton>
      </Group>
    </Alert>
  );
}

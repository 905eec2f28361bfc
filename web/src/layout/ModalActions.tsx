import { Button, Group } from "@mantine/core";
import type { ReactNode } from "react";

/** ModalActions is the foot of a dialog: Cancel, then the action (a button the caller gives). */
export function ModalActions({ onCancel, children }: { onCancel: () => void; children: ReactNode }) {
  return (
    <Group justify="end">
      <Button variant="default" onClick={onCancel}>Cancel</Button>
      {children}
    </Group>
  );
}

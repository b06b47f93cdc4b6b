import { Text } from "@mantine/core";
import { modals } from "@mantine/modals";
import type { ReactNode } from "react";

interface ConfirmOptions {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  danger?: boolean;
}

/** Ask before something destructive; resolves true when confirmed. */
export function confirm({ title, message, confirmLabel, danger = true }: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    modals.openConfirmModal({
      title,
      centered: true,
      children: typeof message === "string" ? <Text size="sm">{message}</Text> : message,
      labels: { confirm: confirmLabel, cancel: "Cancel" },
      confirmProps: { color: danger ? "red" : undefined, "data-autofocus": true },
      onConfirm: () => resolve(true),
      onCancel: () => resolve(false),
      onClose: () => resolve(false),
    });
  });
}

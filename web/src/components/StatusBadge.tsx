import { Badge } from "@mantine/core";
import type { RunStatus } from "../api/types";
import { STATUS_COLORS, statusLabel } from "../lib/format";

export function StatusBadge({ status }: { status: RunStatus | string }) {
  const color = STATUS_COLORS[status as RunStatus] ?? "gray";
  return (
    <Badge color={color} variant={status === "running" ? "filled" : "light"} data-status={status}>
      {statusLabel(status)}
    </Badge>
  );
}

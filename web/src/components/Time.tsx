import { Tooltip } from "@mantine/core";
import { formatDateTime, formatRelative, formatUtc } from "../lib/format";

interface TimeProps {
  iso: string | null | undefined;
  /** Show "in 5 minutes" instead of the full date (the date is still in the tooltip). */
  relative?: boolean;
  /** Render in this IANA zone instead of the browser's. */
  timeZone?: string;
}

/** A timestamp in the browser's zone; hovering (or focusing) shows it in UTC. */
export function Time({ iso, relative = false, timeZone }: TimeProps) {
  if (!iso) return <span aria-label="none">—</span>;
  const local = formatDateTime(iso, timeZone);
  const utc = formatUtc(iso);
  const text = relative ? formatRelative(iso) : local;
  const label = relative ? `${local} (${utc})` : utc;
  return (
    <Tooltip label={label} withArrow openDelay={200} events={{ hover: true, focus: true, touch: true }}>
      <time dateTime={iso} title={label} tabIndex={0} style={{ whiteSpace: "nowrap" }}>
        {text}
      </time>
    </Tooltip>
  );
}

import { formatDateTime, formatRelative, formatUtc } from "../lib/format";

interface TimeProps {
  iso: string | null | undefined;
  /** Show "in 5 minutes" instead of the full date (the date is still in the hover text). */
  relative?: boolean;
  /** Render in this IANA zone instead of the browser's. */
  timeZone?: string;
}

/**
 * A timestamp in the browser's zone; hovering shows it in UTC. A native title (not a tooltip widget) keeps
 * long tables cheap to render; screen readers get the same text through aria-label.
 */
export function Time({ iso, relative = false, timeZone }: TimeProps) {
  if (!iso) return <span aria-label="none">—</span>;
  const local = formatDateTime(iso, timeZone);
  const utc = formatUtc(iso);
  const text = relative ? formatRelative(iso) : local;
  const label = relative ? `${local} (${utc})` : utc;
  return (
    <time dateTime={iso} title={label} aria-label={`${text}, ${label}`} style={{ whiteSpace: "nowrap", cursor: "help" }}>
      {text}
    </time>
  );
}

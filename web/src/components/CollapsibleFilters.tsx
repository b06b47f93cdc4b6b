import { Button, Group } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { IconChevronDown, IconChevronUp, IconFilter } from "@tabler/icons-react";
import { useId, type ReactNode } from "react";
import { usePhone } from "../lib/usePhone";

interface CollapsibleFiltersProps {
  /** How many filters narrow the list now: the folded button says so. */
  active: number;
  /** The accessible name of the search region ("Filter tasks"). */
  label: string;
  /** How the fields line up in their row (as Mantine's Group `align`). */
  align?: "flex-start" | "flex-end";
  children: ReactNode;
  "data-testid"?: string;
}

/**
 * A list's filters: laid out in a row on wide screens; on a phone folded behind a "Filters (N active)"
 * button, so the list itself starts on the first screen. The fields stay mounted while folded (a draft
 * typed into one survives folding), and the region keeps role="search" for the `/` shortcut.
 */
export function CollapsibleFilters({ active, label, align = "flex-start", children, "data-testid": testId }: CollapsibleFiltersProps) {
  const phone = usePhone();
  const [opened, { toggle }] = useDisclosure(false);
  const id = useId();
  const shown = !phone || opened;
  return (
    <div>
      {phone && (
        <Button
          variant="default"
          fullWidth
          justify="space-between"
          leftSection={<IconFilter size={16} aria-hidden />}
          rightSection={opened ? <IconChevronUp size={16} aria-hidden /> : <IconChevronDown size={16} aria-hidden />}
          aria-expanded={opened}
          aria-controls={id}
          onClick={toggle}
          data-testid="filters-toggle"
          mb={opened ? "sm" : 0}
        >
          {active ? `Filters (${active} active)` : "Filters"}
        </Button>
      )}
      {/* Hidden, not unmounted (Mantine's Collapse without a transition unmounts): drafts survive. */}
      <div id={id} hidden={!shown}>
        <Group gap="sm" align={align} wrap="wrap" role="search" aria-label={label} data-testid={testId} className="filter-fields">
          {children}
        </Group>
      </div>
    </div>
  );
}

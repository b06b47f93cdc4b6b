import { Group, Title } from "@mantine/core";
import { useEffect, useRef, type ReactNode } from "react";
import { takeNavigationFocus } from "../lib/navigationFocus";

/** The page's heading; also sets the document title so screen readers announce the page, and takes the
 * focus after a navigation within the app (tabIndex -1: focusable by script, not in the Tab order). */
export function PageTitle({ title, children }: { title: string; children?: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · tasksched`;
    if (takeNavigationFocus()) heading.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <Group justify="space-between" mb="md" wrap="wrap" gap="sm">
      <Title order={1} size="h2" ref={heading} tabIndex={-1} className="page-heading">
        {title}
      </Title>
      {children && <Group gap="xs">{children}</Group>}
    </Group>
  );
}

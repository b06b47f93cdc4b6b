import { useMantineTheme } from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";

/**
 * Whether the screen is narrower than the theme's `sm` breakpoint (a phone): lists then show cards and
 * filters fold away. Read at the first render (not in an effect) so a phone never draws the table first.
 */
export function usePhone(): boolean {
  const theme = useMantineTheme();
  return useMediaQuery(`(max-width: calc(${theme.breakpoints.sm} - 0.1px))`, false, { getInitialValueInEffect: false }) ?? false;
}

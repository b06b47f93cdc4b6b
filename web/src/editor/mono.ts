/** Monospace for the input itself (not its label or description), for code-like values. */
export const MONO = { input: { fontFamily: "var(--mantine-font-family-monospace)" } } as const;

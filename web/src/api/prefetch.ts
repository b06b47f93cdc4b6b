// Answers that the inline script in index.html started before the bundle loaded, taken once each by URL.
type Pending = Record<string, Promise<unknown> | undefined>;

function pending(): Pending | undefined {
  return (window as unknown as { __tasksched_prefetch?: Pending }).__tasksched_prefetch;
}

/** Wait (at most `timeoutMs`) for the prefetched answers; resolves to those that arrived and succeeded. */
export async function takePrefetched(timeoutMs: number): Promise<Map<string, unknown>> {
  const all = pending();
  const result = new Map<string, unknown>();
  if (!all) return result;
  (window as unknown as { __tasksched_prefetch?: Pending }).__tasksched_prefetch = undefined;
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutMs));
  await Promise.all(
    Object.entries(all).map(async ([url, promise]) => {
      const value = await Promise.race([promise ?? Promise.resolve(null), timeout]);
      if (value !== null && value !== undefined) result.set(url, value);
    }),
  );
  return result;
}

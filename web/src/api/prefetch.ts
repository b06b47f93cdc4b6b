// Answers that the inline script in index.html started before the bundle loaded, taken once each by URL.
type Pending = Record<string, Promise<unknown> | undefined>;

function pending(): Pending | undefined {
  return (window as unknown as { __tasksched_prefetch?: Pending }).__tasksched_prefetch;
}

export interface Prefetched {
  /** The answers that arrived (and succeeded) in time, by URL. */
  ready: Map<string, unknown>;
  /** The requests still on their way, by URL: each resolves to its answer, or null when it failed. */
  pending: Map<string, Promise<unknown>>;
}

/**
 * Wait (at most `timeoutMs`) for the prefetched answers. Those that are late are handed over as
 * promises, so that the page waits for the request already made rather than asking a second time.
 */
export async function takePrefetched(timeoutMs: number): Promise<Prefetched> {
  const all = pending();
  const result: Prefetched = { ready: new Map(), pending: new Map() };
  if (!all) return result;
  (window as unknown as { __tasksched_prefetch?: Pending }).__tasksched_prefetch = undefined;
  const late = Symbol("late");
  const timeout = new Promise<typeof late>((resolve) => setTimeout(() => resolve(late), timeoutMs));
  await Promise.all(
    Object.entries(all).map(async ([url, promise]) => {
      const request = promise ?? Promise.resolve(null);
      const value = await Promise.race([request, timeout]);
      if (value === late) result.pending.set(url, request);
      else if (value !== null && value !== undefined) result.ready.set(url, value);
    }),
  );
  return result;
}

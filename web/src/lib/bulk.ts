export interface BulkResult<T> {
  ok: T[];
  failed: { item: T; error: unknown }[];
}

/** Run `work` for every item, a few at a time, collecting successes and failures. */
export async function runBulk<T>(items: T[], work: (item: T) => Promise<unknown>, concurrency = 4): Promise<BulkResult<T>> {
  const result: BulkResult<T> = { ok: [], failed: [] };
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
        result.ok.push(item);
      } catch (error) {
        result.failed.push({ item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return result;
}

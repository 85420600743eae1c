/**
 * Starts several processes at once (engines), all or none: if any fails to start, those that did are
 * stopped with `stop` and the first failure is thrown.
 */
export async function startAll<E>(count: number, start: () => Promise<E>, stop: (started: E) => unknown): Promise<E[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, start));
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(running.map(stop));
    throw failed.reason;
  }
  return running;
}

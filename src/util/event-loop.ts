/**
 * Long CPU-bound loops whose awaits all resolve at once (the cpu backend's downloads) never give the
 * event loop a turn, so signal handlers (withScratchDir's cleanup, the trainer's save on Ctrl-C) would
 * wait for the whole computation. Awaiting this between units of work lets them run.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

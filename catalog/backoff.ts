// Exponential backoff with jitter, as one pure function: the network layer (publisher/net), event
// delivery and the catalog's commit retries all wait by it. It lives at the bottom layer so catalog/
// can use it without importing publisher/.

/**
 * The wait before retry number `attempt` (1 = the first retry): a random point between 50% and 100%
 * of `min(maxMs, baseMs · 2^(attempt-1))` ("equal jitter": never less than half the step, so retries
 * spread out without collapsing to zero). Pure given `rand`.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  rand: () => number = Math.random,
): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step * (0.5 + rand() / 2));
}

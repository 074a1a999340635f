/**
 * Half the 1 s that SPEC 11 allows (and below Kubernetes' default probe timeout of 1 s): a Redis
 * that takes longer to answer PING is not one to send traffic through.
 */
export const HEALTH_TIMEOUT_MS = 500;

/** Probes arriving while a check runs share it, so a probe storm during a Redis hang costs one PING. */
export function coalesced(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () =>
    (running ??= run().finally(() => {
      running = undefined;
    }));
}

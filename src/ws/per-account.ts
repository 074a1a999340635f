/**
 * Open sockets per account on this worker, for SENDER_MAX_CONNECTIONS_PER_ACCOUNT (per-account
 * fairness: one tenant cannot take the whole per-worker limit). Counted from `open` to `close`, like
 * the worker's SocketSet, so a check and the 101 that follows see the same numbers.
 */
export class AccountConnections {
  private readonly open = new Map<string, number>();

  count(account: string): number {
    return this.open.get(account) ?? 0;
  }

  opened(account: string): void {
    this.open.set(account, this.count(account) + 1);
  }

  closed(account: string): void {
    const n = this.count(account) - 1;
    if (n <= 0) this.open.delete(account);
    else this.open.set(account, n);
  }
}

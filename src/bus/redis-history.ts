import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { BusUnavailableError, compareIds, type DeliveredEvent, type Retention } from './bus.js';
import { decodeEntry } from './entry.js';
import { createRedis, redisReason, withTimeout } from './redis-client.js';

const PAGE = 1000;

/**
 * Reads of the stream's own history for resumes older than a worker's memory (Bus.range and
 * Bus.retained). A connection of its own, opened at the first use: a page of XRANGE can be large,
 * and it must not sit in front of publishes on the publisher's connection, nor wait behind the
 * reader's BLOCK.
 */
export class RedisHistory {
  private readonly key: string;
  private conn: Redis | undefined;
  private closed = false;

  constructor(private readonly config: Config) {
    this.key = config.SENDER_STREAM_KEY;
  }

  private redis(): Redis {
    if (this.closed) throw new BusUnavailableError('redis: bus closed');
    if (this.conn === undefined) {
      // Commands wait in the offline queue while it connects; the caller's timeout bounds them,
      // and a lost connection rejects them at once (no retries).
      this.conn = createRedis(this.config, 'history', { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
      this.conn.on('error', () => {}); // surfaced by the rejected commands
    }
    return this.conn;
  }

  private async bounded<T>(work: (r: Redis) => Promise<T>, timeoutMs: number): Promise<T> {
    try {
      const r = this.redis();
      return await withTimeout(work(r), timeoutMs, undefined, () => new BusUnavailableError(`redis: timeout after ${timeoutMs}ms`));
    } catch (err) {
      if (err instanceof BusUnavailableError) throw err;
      throw new BusUnavailableError(`redis: ${redisReason(err)}`);
    }
  }

  /** XRANGE `(afterId` .. uptoId in pages; malformed entries are skipped, as the reader skips them. */
  range(afterId: string, uptoId: string, timeoutMs: number): Promise<DeliveredEvent[]> {
    return this.bounded(async (r) => {
      const out: DeliveredEvent[] = [];
      if (compareIds(afterId, uptoId) >= 0) return out;
      let start = `(${afterId}`;
      for (;;) {
        const page = (await r.xrangeBuffer(this.key, start, uptoId, 'COUNT', PAGE)) as unknown as [Buffer, Buffer[]][];
        for (const [rawId, fields] of page) {
          const ev = decodeEntry(rawId.toString('latin1'), fields);
          if (typeof ev !== 'string') out.push(ev);
        }
        if (page.length < PAGE) return out;
        start = `(${page[page.length - 1][0].toString('latin1')}`;
      }
    }, timeoutMs);
  }

  /**
   * From XINFO STREAM. Trimming removes entries from the head only; XDEL anywhere, and Redis 7
   * records the greatest id it removed in `max-deleted-entry-id` (trimming does not move it, as
   * checked on 7.0). So: `ahead` past the last-generated-id; `trimmed` when XDEL removed an entry
   * after `id`; `retained` when nothing was ever removed (Redis 7 `entries-added` equals `length`),
   * or when the oldest entry is at or before `id` (a head trim cannot have reached past it), or
   * when the stream is empty and `id` is its last id. Otherwise `trimmed`, also in the one case
   * where that is too careful: `id` itself trimmed and the oldest entry left its direct successor,
   * which XINFO cannot tell apart from a trim past `id` (a refusal, never a partial replay).
   * Redis 7.0.15 reports `entries-added`, `recorded-first-entry-id` and `max-deleted-entry-id`
   * (trimming leaves the last alone): they place the oldest entry, not `id`. Deciding that case
   * exactly needs each entry to name its predecessor, written by the publish script after an
   * XREVRANGE COUNT 1; tried and measured at +57 % Redis time per publish script (7.5 -> 11.8 us,
   * 600-byte frames; +52 % at 4 KB), too much for a refusal that is rare and safe.
   */
  retained(id: string, timeoutMs: number): Promise<Retention> {
    return this.bounded(async (r) => {
      let raw: unknown[];
      try {
        raw = (await r.call('XINFO', 'STREAM', this.key)) as unknown[];
      } catch (err) {
        if (!/no such key/i.test((err as Error).message)) throw err;
        return compareIds(id, '0-0') > 0 ? 'ahead' : 'retained';
      }
      const m = new Map<string, unknown>();
      for (let i = 0; i + 1 < raw.length; i += 2) m.set(String(raw[i]), raw[i + 1]);
      const lastGenerated = String(m.get('last-generated-id') ?? '0-0');
      if (compareIds(id, lastGenerated) > 0) return 'ahead';
      const maxDeleted = m.get('max-deleted-entry-id');
      if (maxDeleted !== undefined && compareIds(String(maxDeleted), id) > 0) return 'trimmed';
      const added = m.get('entries-added');
      if (added !== undefined && Number(added) === Number(m.get('length') ?? 0)) return 'retained';
      const first = m.get('first-entry') as unknown[] | null | undefined;
      if (!Array.isArray(first)) return compareIds(lastGenerated, id) === 0 ? 'retained' : 'trimmed';
      return compareIds(String(first[0]), id) <= 0 ? 'retained' : 'trimmed';
    }, timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.conn?.disconnect();
  }
}

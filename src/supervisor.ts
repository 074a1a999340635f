import type { Config } from './config/index.js';
import type { Logger } from './log.js';

/** Placeholder until the multi-worker supervisor lands (issue 4). */
export async function runSupervisor(_config: Config, _n: number, log: Logger): Promise<void> {
  log.error('multi-worker mode is not implemented yet; set SENDER_WORKERS=1');
  process.exit(1);
}

import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Network namespaces for tests that need real hosts and real links (root and iproute2 only).
 *
 * The topology: one switch namespace holding a bridge, one namespace per host with its `eth0`
 * veth'd to that bridge, and one veth from the test's own (root) namespace to the bridge, so the
 * test process reaches every host at its address directly. Every host gets `10.77.<k>.<n>/24`;
 * `<k>` is one that no route of the root namespace covers yet (so parallel runs and the machine's
 * own networks never overlap), the test itself is `.1`. Names carry the pid: a run only ever
 * creates, cuts and deletes its own.
 */
export interface Topology {
  /** `10.77.<k>` */
  readonly prefix: string;
  /** Host name -> its namespace and address. */
  readonly hosts: ReadonlyMap<string, { ns: string; addr: string }>;
  ns(host: string): string;
  addr(host: string): string;
  /** `ip link set eth0 down` inside the host: every packet to or from it is dropped from now on. */
  cut(host: string): Promise<void>;
  restore(host: string): Promise<void>;
  /** Deletes the namespaces and the root veth; safe to call twice and after a partial set-up. */
  destroy(): Promise<void>;
}

export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

const quietly = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    () => undefined,
  );

/**
 * Undefined when this process can create network namespaces, else why not (for a test's `skip`):
 * not root, no `ip`, or the kernel refuses.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const probe = `lsn${process.pid}-probe`;
  await quietly(ip('netns', 'del', probe));
  try {
    await ip('netns', 'add', probe);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
  await ip('netns', 'del', probe);
  return undefined;
}

/** A /24 of 10.77.0.0/16 that no route of this namespace touches. */
async function freePrefix(): Promise<string> {
  const routes = await ip('-4', 'route', 'show', 'table', 'all');
  const used = (k: number) => routes.includes(`10.77.${k}.`) || /(^|\s)10\.77\.0\.0\/16/.test(routes) || /(^|\s)10\.0\.0\.0\/8/.test(routes);
  for (let i = 0; i < 250; i++) {
    const k = ((process.pid + i) % 250) + 1;
    if (!used(k)) return `10.77.${k}`;
  }
  throw new Error('no free 10.77.x.0/24');
}

export async function createTopology(hostNames: readonly string[]): Promise<Topology> {
  const tag = `lsn${process.pid}`;
  const sw = `${tag}-sw`;
  const rootLink = `${tag}t`; // at most 15 characters: "lsn" + pid (<= 7 digits) + "t"
  const all = [sw, ...hostNames.map((h) => `${tag}-${h}`)];

  const destroy = async () => {
    // Processes still inside (ours: the test started them) would keep nothing alive once the
    // namespace is gone, but they would keep running; the caller stops them first, this is the net.
    for (const ns of all) {
      const pids = await ip('netns', 'pids', ns).catch(() => '');
      for (const pid of pids.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
      await quietly(ip('netns', 'del', ns));
    }
    await quietly(ip('link', 'del', rootLink));
  };

  await destroy(); // leftovers of an earlier run with the same pid
  const prefix = await freePrefix();
  const hosts = new Map(hostNames.map((h, i) => [h, { ns: `${tag}-${h}`, addr: `${prefix}.${i + 2}` }]));
  try {
    for (const ns of all) await ip('netns', 'add', ns);
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    let port = 0;
    for (const { ns, addr } of hosts.values()) {
      const p = `p${port++}`;
      await ip('-n', sw, 'link', 'add', p, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', sw, 'link', 'set', p, 'master', 'br0', 'up');
      await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'ptest', 'netns', sw);
    await ip('-n', sw, 'link', 'set', 'ptest', 'master', 'br0', 'up');
    await ip('addr', 'add', `${prefix}.1/24`, 'dev', rootLink);
    await ip('link', 'set', rootLink, 'up');
  } catch (err) {
    await destroy();
    throw err;
  }
  const host = (h: string) => {
    const x = hosts.get(h);
    if (x === undefined) throw new Error(`no host ${h}`);
    return x;
  };
  return {
    prefix,
    hosts,
    ns: (h) => host(h).ns,
    addr: (h) => host(h).addr,
    cut: async (h) => void (await ip('-n', host(h).ns, 'link', 'set', 'eth0', 'down')),
    restore: async (h) => void (await ip('-n', host(h).ns, 'link', 'set', 'eth0', 'up')),
    destroy,
  };
}

/** Resolves true when a TCP connection to addr:port opens within `ms`, false on an error or no answer. */
export function tcpOpens(addr: string, port: number, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = connect({ host: addr, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

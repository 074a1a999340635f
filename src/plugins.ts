import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from './config/index.js';
import type { Logger } from './log.js';

/**
 * The plugin hook interface. A plugin is an ES module named in SENDER_PLUGINS that exports
 * `plugin` (an object implementing SenderPlugin) or `createPlugin(ctx)` returning one (or a
 * promise of one). Every hook is optional and is called synchronously on the worker's event loop;
 * a hook that throws (or returns a rejected promise) marks the plugin `running: 0` and it is not
 * called again; the worker goes on. Hooks must be cheap: `onEvent` runs once per event read from
 * the bus, before the fan-out.
 */
export interface SenderPlugin {
  readonly name?: string;
  /** An event read from the bus: its account and the exact frame bytes subscribers receive. */
  onEvent?(account: string, frame: Uint8Array): void | Promise<void>;
  /** A subscriber connected (after its 101). */
  onConnect?(info: ConnectionInfo): void | Promise<void>;
  /** A subscriber's socket closed, with the close code. */
  onDisconnect?(info: ConnectionInfo, code: number): void | Promise<void>;
  /** Called once on shutdown. */
  close?(): void | Promise<void>;
}

export interface ConnectionInfo {
  readonly account: string;
  readonly requestId: string;
  /** The canonical key of the subscriber's normalised filter. */
  readonly filterKey: string;
}

export interface PluginContext {
  readonly config: Config;
  readonly log: Logger;
}

interface Loaded {
  readonly name: string;
  running: boolean;
  readonly plugin: SenderPlugin;
}

type Hook = 'onEvent' | 'onConnect' | 'onDisconnect';

export class Plugins {
  private readonly loaded: Loaded[] = [];
  /** Per hook, the running plugins that implement it: the hot path never looks at the others. */
  private active: Record<Hook, Loaded[]> = { onEvent: [], onConnect: [], onDisconnect: [] };

  constructor(private readonly log: Logger) {}

  get hasEventHooks(): boolean {
    return this.active.onEvent.length > 0;
  }

  async load(specs: string, ctx: PluginContext): Promise<void> {
    for (const spec of specs
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')) {
      const name = spec.replace(/^.*[\\/]/, '').replace(/\.[cm]?js$/, '');
      try {
        const url = spec.startsWith('.') || spec.startsWith('/') ? pathToFileURL(resolve(spec)).href : spec;
        const mod = (await import(url)) as { plugin?: SenderPlugin; createPlugin?: (c: PluginContext) => SenderPlugin | Promise<SenderPlugin> };
        const plugin = mod.createPlugin ? await mod.createPlugin(ctx) : mod.plugin;
        if (plugin === undefined || plugin === null || typeof plugin !== 'object') throw new Error('module exports neither `plugin` nor `createPlugin`');
        this.loaded.push({ name: plugin.name ?? name, running: true, plugin });
      } catch (err) {
        this.log.error({ plugin: spec, err }, 'plugin failed to load; marked not running');
        this.loaded.push({ name, running: false, plugin: {} });
      }
    }
    this.refresh();
  }

  list(): { name: string; running: 0 | 1 }[] {
    return this.loaded.map((p) => ({ name: p.name, running: p.running ? 1 : 0 }));
  }

  emitEvent(account: string, frame: Uint8Array): void {
    for (const p of this.active.onEvent) this.call(p, 'onEvent', () => p.plugin.onEvent!(account, frame));
  }

  emitConnect(info: ConnectionInfo): void {
    for (const p of this.active.onConnect) this.call(p, 'onConnect', () => p.plugin.onConnect!(info));
  }

  emitDisconnect(info: ConnectionInfo, code: number): void {
    for (const p of this.active.onDisconnect) this.call(p, 'onDisconnect', () => p.plugin.onDisconnect!(info, code));
  }

  async close(): Promise<void> {
    for (const p of this.loaded) {
      if (!p.running || !p.plugin.close) continue;
      try {
        await p.plugin.close();
      } catch (err) {
        this.log.warn({ plugin: p.name, err }, 'plugin close failed');
      }
    }
  }

  private call(p: Loaded, hook: Hook, fn: () => void | Promise<void>): void {
    try {
      const out = fn();
      if (out instanceof Promise) out.catch((err: unknown) => this.crash(p, hook, err));
    } catch (err) {
      this.crash(p, hook, err);
    }
  }

  private crash(p: Loaded, hook: Hook, err: unknown): void {
    if (!p.running) return;
    p.running = false;
    this.log.error({ plugin: p.name, hook, err }, 'plugin hook threw; plugin marked not running');
    this.refresh();
  }

  private refresh(): void {
    const pick = (hook: Hook) => this.loaded.filter((p) => p.running && typeof p.plugin[hook] === 'function');
    this.active = { onEvent: pick('onEvent'), onConnect: pick('onConnect'), onDisconnect: pick('onDisconnect') };
  }
}

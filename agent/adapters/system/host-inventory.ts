/**
 * The host inventory for `info` (CPU, memory, OS, GPU name, VRAM, driver) from systeminformation.
 * Gathered at start and on request, cached, never in the control loop: si.graphics() runs lspci,
 * dmidecode and nvidia-smi with execSync/execFileSync and blocks the event loop meanwhile.
 * A part that fails leaves its fields null; refresh() never rejects.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AgentError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { HostInfoDoc, HostInfoPort } from '../../ports/host-info.js';

/** The part of systeminformation used here (tests hand in their own). */
export interface InventorySource {
  cpu(): Promise<{ manufacturer: string; brand: string; cores: number }>;
  mem(): Promise<{ total: number }>;
  osInfo(): Promise<{ distro: string; release: string; kernel: string; arch: string }>;
  graphics(): Promise<{ controllers: Array<{ vendor: string; model: string; name?: string; vram: number | null; driverVersion?: string; busAddress?: string; pciBus?: string }> }>;
}

export class HostInventory implements HostInfoPort {
  private readonly log: Logger;
  private readonly source: InventorySource;
  private doc: HostInfoDoc | null = null;
  private inflight: Promise<HostInfoDoc> | null = null;
  /** Duration of the last refresh (ms): how long it may have held the event loop. */
  lastRefreshMs: number | null = null;

  constructor(opts: { log: Logger; source?: InventorySource }) {
    this.log = opts.log.child({ component: 'host-inventory' });
    this.source = opts.source ?? childProcessSource();
  }

  current(): HostInfoDoc | null {
    return this.doc;
  }

  /** Gathers the inventory again (concurrent calls share one run). */
  refresh(): Promise<HostInfoDoc> {
    this.inflight ??= this.gather().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async gather(): Promise<HostInfoDoc> {
    const t0 = Date.now();
    const part = async <T>(name: string, f: () => Promise<T>): Promise<T | null> => {
      try {
        return await f();
      } catch (err) {
        this.log.warn({ part: name, err: errorMessage(err) }, 'host inventory: part unavailable');
        return null;
      }
    };
    const [cpu, mem, os] = await Promise.all([part('cpu', () => this.source.cpu()), part('mem', () => this.source.mem()), part('os', () => this.source.osInfo())]);
    const graphics = await part('graphics', () => this.source.graphics());
    const text = (s: string | undefined | null) => (s && s.trim() !== '' ? s.trim() : null);
    const doc: HostInfoDoc = {
      cpu: cpu ? text(`${cpu.manufacturer} ${cpu.brand}`) : null,
      cores: cpu && Number.isFinite(cpu.cores) ? cpu.cores : null,
      mem_mib: mem && Number.isFinite(mem.total) ? Math.round(mem.total / 1048576) : null,
      os: os ? text(`${os.distro} ${os.release}`) : null,
      kernel: os ? text(os.kernel) : null,
      arch: os ? text(os.arch) : null,
      gpus: (graphics?.controllers ?? []).map((c) => ({
        name: text(c.name) ?? text(c.model),
        vendor: text(c.vendor),
        vram_mib: typeof c.vram === 'number' && Number.isFinite(c.vram) ? c.vram : null,
        driver: text(c.driverVersion),
        bus: text(c.pciBus) ?? text(c.busAddress),
      })),
    };
    this.doc = doc;
    this.lastRefreshMs = Date.now() - t0;
    this.log.info({ cpu: doc.cpu, mem_mib: doc.mem_mib, os: doc.os, gpus: doc.gpus.map((g) => g.name), ms: this.lastRefreshMs }, 'host inventory');
    return doc;
  }
}

/** Longest wait for the inventory child (lspci and nvidia-smi can be slow on a busy host). */
const CHILD_TIMEOUT_MS = 30_000;

/**
 * systeminformation in a child process (host-inventory-child): one run answers the four calls.
 * Works from source (tsx) and from the compiled dist alike.
 */
export function childProcessSource(): InventorySource {
  let run: Promise<Record<string, unknown>> | null = null;
  const gather = (): Promise<Record<string, unknown>> => {
    run ??= new Promise<Record<string, unknown>>((resolve, reject) => {
      const here = fileURLToPath(import.meta.url);
      const script = here.replace(/host-inventory\.(ts|js)$/, 'host-inventory-child.$1');
      const execArgv = here.endsWith('.ts') ? ['--import', 'tsx'] : [];
      execFile(process.execPath, [...execArgv, script], { timeout: CHILD_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout) => {
        run = null;
        if (err) return reject(new AgentError('inventory_failed', `host inventory child failed: ${errorMessage(err)}`));
        try {
          resolve(JSON.parse(stdout) as Record<string, unknown>);
        } catch (e) {
          reject(new AgentError('inventory_failed', `host inventory child printed no JSON: ${errorMessage(e)}`));
        }
      });
    });
    return run;
  };
  const part = <T>(key: string) => async (): Promise<T> => {
    const v = (await gather())[key];
    if (v === null || v === undefined) throw new AgentError('inventory_failed', `no ${key} in the inventory`);
    return v as T;
  };
  return { cpu: part('cpu'), mem: part('mem'), osInfo: part('osInfo'), graphics: part('graphics') };
}

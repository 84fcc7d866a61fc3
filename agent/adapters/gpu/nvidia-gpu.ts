/**
 * The daemon's `nvidia` heater backend: a real card read through nvidia-smi.
 *
 * start(): one query of the card (name, UUID, driver, VRAM, power range, power management), the
 * minimum (safe) limit applied at once — a reboot or driver reload leaves the card at its
 * default, often above the site ceiling — then the long-lived telemetry stream.
 * setPowerLimit(): clamped to the card's range, written through heater.power_limit_method
 * (helper | direct | none), one write at a time (a newer value replaces a queued one).
 * stop(): the minimum limit again (the unit's ExecStopPost does it too, after a crash).
 *
 * A card without power management (or method none) reports `powerManagement: false`: the
 * decision then cycles it on and off instead of modulating, and says why (`no_power_management`).
 * Nothing here throws on a missing or odd card: the agent keeps running and reports.
 */
import { AgentError, errorMessage } from '../../errors.js';
import type { CardLimits, GpuTelemetry } from '../../core/types.js';
import type { Clock } from '../../ports/clock.js';
import type { GpuInventory, HeaterPort } from '../../ports/heater.js';
import type { Logger } from '../../log.js';
import { execFileResult, type ExecFn } from '../system/exec-file.js';
import {
  NVIDIA_QUERY_FIELDS,
  clampToRange,
  classifyQueryFailure,
  deriveLimits,
  parseCsv,
  queryArgs,
  telemetryFrom,
  type DerivedLimits,
  type NvidiaField,
  type NvidiaSample,
} from './nvidia-smi-parser.js';
import { NvidiaSmiStream, type StreamSample } from './nvidia-smi-stream.js';
import { createPowerLimitWriter, type PowerLimitMethod, type PowerLimitWriter } from './power-limit-writers.js';

export interface NvidiaGpuOptions {
  /** heater.gpu: the UUID wins over the index when set. */
  gpu: { index: number; uuid: string | null };
  method: PowerLimitMethod;
  /** heater.max_power_w: the nominal limit reported while the card says nothing. */
  siteMaxW: number;
  clock: Clock;
  log: Logger;
  /** nvidia-smi (default: `nvidia-smi` on PATH). */
  binary?: string;
  /** The helper's directory (default /run/anchiale/power-limit). */
  powerLimitDir?: string;
  helperTimeoutMs?: number;
  /** Telemetry period (default 1000 ms). */
  periodMs?: number;
  /** Silence after which the stream process is restarted (default max(5 s, 5 periods)). */
  staleAfterMs?: number;
  /** Retry period of the card query when it failed at start (default 15 s). */
  probeRetryMs?: number;
  /** Longest wait for the minimum limit at stop (default 10 s: inside run's 20 s stop budget). */
  stopTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
  /** A writer built by the caller (tests). */
  writer?: PowerLimitWriter;
}

/** Whether the agent can set the limit, and why not. */
export interface PowerControl {
  method: PowerLimitMethod;
  supported: boolean;
  /** null when supported; else a stable reason (power_management_unsupported, power_limit_method_none, gpu_unavailable, …). */
  reason: string | null;
  detail: string | null;
}

/** What checkLimitBeforeLoad() found and did. */
export interface LimitCheck {
  ok: boolean;
  action: 'match' | 'rewritten' | 'skipped' | 'query_failed' | 'rewrite_failed';
  /** The limit the agent last set (or the minimum when it set none yet). */
  expectedW: number | null;
  /** The limit the card reported. */
  foundW: number | null;
  message: string | null;
}

const LIMIT_FIELDS: readonly NvidiaField[] = ['power.limit', 'enforced.power.limit'];

export class NvidiaGpu implements HeaterPort {
  private readonly log: Logger;
  private readonly binary: string;
  private readonly gpuId: string;
  private readonly exec: ExecFn;
  private readonly writer: PowerLimitWriter;
  private readonly stream: NvidiaSmiStream;
  private card: NvidiaSample | null = null;
  private derived: DerivedLimits | null = null;
  private probeError: { code: string; message: string } | null = null;
  /** Set when a write answered that the card cannot take a limit after all. */
  private writeUnsupported: string | null = null;
  private last: StreamSample | null = null;
  private lastWrittenW: number | null = null;
  private queue: { watts: number; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | null = null;
  private active: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private running = false;
  /** Age (s) after which a sample's limit is no longer taken as read back. */
  private readonly limitTrustS: number;

  constructor(private readonly opts: NvidiaGpuOptions) {
    this.log = opts.log.child({ component: 'nvidia-gpu' });
    this.binary = opts.binary ?? 'nvidia-smi';
    this.gpuId = opts.gpu.uuid ?? String(opts.gpu.index);
    this.exec = opts.exec ?? execFileResult;
    this.limitTrustS = (opts.staleAfterMs ?? Math.max(5000, 5 * (opts.periodMs ?? 1000))) / 1000;
    this.writer =
      opts.writer ??
      createPowerLimitWriter(opts.method, { gpuId: this.gpuId, binary: this.binary, dir: opts.powerLimitDir, helperTimeoutMs: opts.helperTimeoutMs, env: opts.env, exec: this.exec });
    this.stream = new NvidiaSmiStream({
      binary: this.binary,
      gpuId: this.gpuId,
      periodMs: opts.periodMs,
      staleAfterMs: opts.staleAfterMs,
      clock: opts.clock,
      log: opts.log,
      env: opts.env,
      exec: this.exec,
    });
  }

  async start(): Promise<void> {
    this.running = true;
    this.unsubscribe = this.stream.onSample((s) => {
      this.last = s;
    });
    this.stream.start();
    if (await this.probe()) await this.applyMinimum('start');
    else this.scheduleProbe();
  }

  /** Restores the minimum (safe) limit, then stops the stream. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const timeoutMs = this.opts.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.applyMinimum('stop'),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.error({ timeout_ms: timeoutMs }, 'minimum power limit not confirmed in time at stop (ExecStopPost restores it)');
          resolve();
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.unsubscribe?.();
    await this.stream.stop();
  }

  limits(): CardLimits {
    const pc = this.powerControl();
    if (!this.derived) {
      const w = this.opts.siteMaxW;
      return { minLimitW: w, maxLimitW: w, defaultLimitW: w, powerManagement: false };
    }
    return { ...this.derived.limits, powerManagement: pc.supported };
  }

  powerControl(): PowerControl {
    const method = this.opts.method;
    if (!this.derived) {
      return { method, supported: false, reason: 'gpu_unavailable', detail: this.probeError ? `${this.probeError.code}: ${this.probeError.message}` : 'not queried yet' };
    }
    if (this.derived.problem) return { method, supported: false, reason: this.derived.problem, detail: 'the card reports no usable power range: on/off cycling' };
    if (this.writeUnsupported) return { method, supported: false, reason: 'power_management_unsupported', detail: this.writeUnsupported };
    if (method === 'none') return { method, supported: false, reason: 'power_limit_method_none', detail: 'heater.power_limit_method is none: the limit is only read' };
    return { method, supported: true, reason: null, detail: null };
  }

  /**
   * The last sample with the time it was received (the core judges its age). Its limit is only
   * reported while the sample is recent: a limit read long ago is no read-back, and must not stop a
   * safety reduction from being written.
   */
  telemetry(): GpuTelemetry | null {
    if (!this.last) return null;
    const t = telemetryFrom(this.last.sample, this.last.atMonoS);
    if (this.opts.clock.monoS() - t.atMonoS > this.limitTrustS) t.limitW = null;
    return t;
  }

  async setPowerLimit(watts: number): Promise<void> {
    const pc = this.powerControl();
    if (!pc.supported || !this.derived?.range) {
      throw new AgentError('power_management_unavailable', `the power limit cannot be set (${pc.reason ?? 'unknown'})`, { reason: pc.reason });
    }
    const w = clampToRange(watts, this.derived.range);
    return new Promise<void>((resolve, reject) => {
      if (this.queue) {
        this.queue.watts = w;
        this.queue.waiters.push({ resolve, reject });
      } else this.queue = { watts: w, waiters: [{ resolve, reject }] };
      this.active ??= this.drain();
    });
  }

  inventory(): GpuInventory {
    const c = this.card;
    return {
      name: c?.name ?? null,
      uuid: c?.uuid ?? null,
      driver: c?.driver ?? null,
      vramMib: c?.memTotalMib ?? null,
      minLimitW: c?.minLimitW ?? null,
      maxLimitW: c?.maxLimitW ?? null,
      defaultLimitW: c?.defaultLimitW ?? null,
    };
  }

  /** Stream statistics (doctor, tests). */
  streamStats(): ReturnType<NvidiaSmiStream['stats']> {
    return this.stream.stats();
  }

  /** The limit the agent last wrote successfully (null before the first). */
  get lastWrittenLimitW(): number | null {
    return this.lastWrittenW;
  }

  /**
   * Before every model load (the job runtime calls it): a driver re-initialisation resets the
   * limit to the card's default. Reads the limit now; on a mismatch writes the expected one back.
   */
  async checkLimitBeforeLoad(): Promise<LimitCheck> {
    const pc = this.powerControl();
    if (!pc.supported || !this.derived?.range) return { ok: true, action: 'skipped', expectedW: null, foundW: null, message: pc.reason };
    const expected = this.lastWrittenW ?? this.derived.range.minW;
    const q = await this.query(LIMIT_FIELDS);
    if (!q.ok) return { ok: false, action: 'query_failed', expectedW: expected, foundW: null, message: q.message };
    const found = q.sample.powerLimitW ?? q.sample.enforcedLimitW;
    if (found !== null && Math.abs(found - expected) <= 1) return { ok: true, action: 'match', expectedW: expected, foundW: found, message: null };
    this.log.warn({ expected_w: expected, found_w: found }, 'power limit changed behind the agent (driver re-initialisation?): writing it again before the model load');
    try {
      await this.setPowerLimit(expected);
      return { ok: true, action: 'rewritten', expectedW: expected, foundW: found, message: null };
    } catch (err) {
      return { ok: false, action: 'rewrite_failed', expectedW: expected, foundW: found, message: errorMessage(err) };
    }
  }

  /* ---------------- internals ---------------- */

  private async drain(): Promise<void> {
    while (this.queue) {
      const job = this.queue;
      this.queue = null;
      try {
        const r = await this.writer.write(job.watts);
        // The helper may clamp further (its site ceiling file): expect what the card took.
        this.lastWrittenW = r.appliedW ?? job.watts;
        this.log.info({ watts: job.watts, applied_w: r.appliedW, method: this.writer.method }, 'power limit set');
        for (const w of job.waiters) w.resolve();
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'power_management_unsupported') {
          this.writeUnsupported = errorMessage(err);
          this.log.warn({ reason: this.writeUnsupported }, 'the card refuses power limits: on/off cycling from now on');
        }
        for (const w of job.waiters) w.reject(err);
      }
    }
    this.active = null;
  }

  /** The card's minimum limit (idle/safe); errors are logged, never thrown. */
  private async applyMinimum(when: 'start' | 'stop'): Promise<void> {
    const pc = this.powerControl();
    if (!pc.supported || !this.derived?.range) return;
    try {
      await this.setPowerLimit(this.derived.range.minW);
    } catch (err) {
      this.log.error({ when, watts: this.derived.range.minW, code: (err as { code?: string }).code, err: errorMessage(err) }, 'could not set the minimum power limit');
    }
  }

  /** One query of the whole card; false when it failed (retried later). */
  private async probe(): Promise<boolean> {
    const q = await this.query(NVIDIA_QUERY_FIELDS);
    if (!q.ok) {
      const first = this.probeError === null;
      this.probeError = { code: q.code, message: q.message };
      if (first) this.log.error({ gpu: this.gpuId, code: q.code, err: q.message }, 'GPU query failed: no heat until it answers (retrying)');
      return false;
    }
    this.probeError = null;
    this.card = q.sample;
    this.derived = deriveLimits(q.sample, this.opts.siteMaxW);
    this.last ??= { sample: q.sample, atMonoS: this.opts.clock.monoS() };
    const pc = this.powerControl();
    this.log.info(
      { gpu: this.gpuId, name: q.sample.name, uuid: q.sample.uuid, driver: q.sample.driver, limits: this.derived.limits, method: pc.method, persistence: q.sample.persistenceMode },
      'GPU found',
    );
    if (!pc.supported) this.log.warn({ reason: pc.reason, detail: pc.detail }, 'power limit not managed: the heater cycles on and off');
    const current = q.sample.powerLimitW ?? q.sample.enforcedLimitW;
    if (!pc.supported && current !== null && current > this.opts.siteMaxW) {
      this.log.error({ current_w: current, site_max_w: this.opts.siteMaxW }, 'the card may draw more than the site ceiling (heater.max_power_w) and the agent cannot lower it');
    }
    return true;
  }

  private scheduleProbe(): void {
    if (!this.running) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.probe().then(async (ok) => {
        if (ok && this.running) await this.applyMinimum('start');
        else this.scheduleProbe();
      });
    }, this.opts.probeRetryMs ?? 15_000);
    this.retryTimer.unref();
  }

  private async query(fields: readonly NvidiaField[]): Promise<{ ok: true; sample: NvidiaSample } | { ok: false; code: string; message: string }> {
    const r = await this.exec(this.binary, [...queryArgs(fields), '-i', this.gpuId], { timeoutMs: 15_000, env: this.opts.env });
    if (r.error === 'ENOENT') return { ok: false, code: 'nvidia_smi_missing', message: `${this.binary} not found` };
    if (r.error === 'ETIMEDOUT') return { ok: false, code: 'nvidia_smi_timeout', message: `${this.binary} did not answer within 15 s` };
    if (r.code !== 0) return { ok: false, ...classifyQueryFailure(r.code, `${r.stdout}\n${r.stderr}`) };
    const parsed = parseCsv(r.stdout, fields);
    const sample = parsed.samples[0];
    if (!sample) return { ok: false, code: 'nvidia_smi_unparsable', message: parsed.errors[0] ?? 'no output' };
    return { ok: true, sample };
  }
}

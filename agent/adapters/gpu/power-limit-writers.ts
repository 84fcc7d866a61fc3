/**
 * The three ways the agent sets the GPU power limit (heater.power_limit_method):
 *
 * - `helper`: the agent has no capability. It writes the watts to `<dir>/request` (a temporary
 *   file renamed over it); `anchiale-power-limit.path` starts the root oneshot
 *   (provisioning/power-limit-helper.sh), which validates, clamps to the site ceiling and the
 *   card's range, applies, reads back, and writes `<dir>/result`
 *   `{ok, requested_w, applied_w, error?, message?, limits?, ts}`.
 * - `direct`: the agent is root and runs `nvidia-smi -i GPU -pl W`, then reads the limit back
 *   (some drivers print a warning and exit 0 without applying).
 * - `none`: read-only; writes are refused.
 *
 * A writer only writes and reports; when to write is the core's limit actuator's business.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../../errors.js';
import { execFileResult, type ExecFn } from '../system/exec-file.js';
import { classifyPl, classifyQueryFailure, parseCsvLine } from './nvidia-smi-parser.js';

export type PowerLimitMethod = 'helper' | 'direct' | 'none';

export interface PowerLimitWrite {
  requestedW: number;
  /** The limit the card reports afterwards (W), when known. */
  appliedW: number | null;
}

export interface PowerLimitWriter {
  readonly method: PowerLimitMethod;
  /** Writes a whole number of watts; rejects with an AgentError carrying a stable code. */
  write(watts: number): Promise<PowerLimitWrite>;
}

export const DEFAULT_POWER_LIMIT_DIR = '/run/anchiale/power-limit';

/** The helper's answer (provisioning/README.md). */
export interface HelperResult {
  ok: boolean;
  requested_w: number | null;
  applied_w: number | null;
  error?: string;
  message?: string;
  limits?: { card_min_w?: number; card_max_w?: number; site_max_w?: number };
  ts: string;
}

export interface HelperWriterOptions {
  /** Directory shared with the root helper (default /run/anchiale/power-limit). */
  dir?: string;
  /** How long to wait for the helper's result (default 15 s). */
  timeoutMs?: number;
  /** How often the result file is looked at (default 100 ms). */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class HelperPowerLimitWriter implements PowerLimitWriter {
  readonly method = 'helper' as const;
  readonly dir: string;
  private readonly timeoutMs: number;
  private readonly pollMs: number;

  constructor(opts: HelperWriterOptions = {}) {
    this.dir = opts.dir ?? DEFAULT_POWER_LIMIT_DIR;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 100;
  }

  async write(watts: number): Promise<PowerLimitWrite> {
    const w = wholeWatts(watts);
    const st = await stat(this.dir).catch(() => null);
    if (!st?.isDirectory()) {
      throw new AgentError(
        'power_limit_helper_missing',
        `${this.dir} does not exist: the power-limit helper is not installed (provisioning/install.sh makes it with tmpfiles.d; or set heater.power_limit_method)`,
        { dir: this.dir },
      );
    }
    const before = await this.resultKey();
    const request = path.join(this.dir, 'request');
    const tmp = path.join(this.dir, `.request.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(tmp, `${w}\n`, { mode: 0o640, flag: 'wx' });
      await rename(tmp, request);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new AgentError('power_limit_request_failed', `cannot write ${request}: ${code}`, { dir: this.dir, errno: code });
    }
    const deadline = Date.now() + this.timeoutMs;
    while (Date.now() < deadline) {
      await sleep(this.pollMs);
      const now = await this.readResult();
      if (!now || now.key === before) continue;
      const r = now.result;
      // Another request's answer (a late one, after a timeout): wait for ours.
      if (r.requested_w !== null && r.requested_w !== w) continue;
      if (r.ok) return { requestedW: w, appliedW: typeof r.applied_w === 'number' ? r.applied_w : null };
      throw new AgentError(r.error ?? 'power_limit_helper_failed', r.message ?? 'the power-limit helper refused the request', {
        requested_w: w,
        ...(r.limits ? { limits: r.limits } : {}),
      });
    }
    throw new AgentError(
      'power_limit_helper_timeout',
      `no answer from the power-limit helper within ${Math.round(this.timeoutMs / 1000)} s (is anchiale-power-limit.path active? systemctl status anchiale-power-limit.path)`,
      { requested_w: w, dir: this.dir },
    );
  }

  /** The helper's last result, if any and readable. */
  async lastResult(): Promise<HelperResult | null> {
    return (await this.readResult())?.result ?? null;
  }

  private async resultKey(): Promise<string | null> {
    return (await this.readResult())?.key ?? null;
  }

  private async readResult(): Promise<{ key: string; result: HelperResult } | null> {
    const file = path.join(this.dir, 'result');
    try {
      const st = await stat(file);
      const result = JSON.parse(await readFile(file, 'utf8')) as HelperResult;
      if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') return null;
      return { key: `${st.ino}:${st.mtimeMs}:${String(result.ts)}`, result };
    } catch {
      return null;
    }
  }
}

export interface DirectWriterOptions {
  binary?: string;
  gpuId: string;
  exec?: ExecFn;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class DirectPowerLimitWriter implements PowerLimitWriter {
  readonly method = 'direct' as const;
  private readonly binary: string;
  private readonly exec: ExecFn;

  constructor(private readonly opts: DirectWriterOptions) {
    this.binary = opts.binary ?? 'nvidia-smi';
    this.exec = opts.exec ?? execFileResult;
  }

  async write(watts: number): Promise<PowerLimitWrite> {
    const w = wholeWatts(watts);
    const run = (args: string[]) => this.exec(this.binary, args, { timeoutMs: this.opts.timeoutMs ?? 15_000, env: this.opts.env });
    const r = await run(['-i', this.opts.gpuId, '-pl', String(w)]);
    if (r.error === 'ENOENT') throw new AgentError('nvidia_smi_missing', `${this.binary} not found`);
    if (r.error === 'ETIMEDOUT') throw new AgentError('nvidia_smi_timeout', `${this.binary} -pl did not answer in time`);
    const outcome = classifyPl(r.code, r.stdout, r.stderr);
    if (!outcome.ok) throw new AgentError(outcome.code, outcome.message, { requested_w: w });
    // Exit 0 is not proof: read the limit back.
    const back = await run(['--query-gpu=power.limit', '--format=csv,noheader,nounits', '-i', this.opts.gpuId]);
    if (back.code !== 0) {
      const f = classifyQueryFailure(back.code, `${back.stdout}\n${back.stderr}`);
      throw new AgentError('power_limit_readback_failed', `could not read the limit back: ${f.message}`, { requested_w: w });
    }
    const line = back.stdout.split('\n').find((l) => l.trim() !== '') ?? '';
    const parsed = parseCsvLine(line, ['power.limit']);
    const applied = parsed.ok ? parsed.sample.powerLimitW : null;
    if (applied === null) throw new AgentError('power_limit_readback_failed', `the card reports no power limit after setting ${w} W`, { requested_w: w });
    if (Math.abs(applied - w) > 1) {
      throw new AgentError('power_limit_not_applied', `the card reports ${applied} W after setting ${w} W`, { requested_w: w, applied_w: applied });
    }
    return { requestedW: w, appliedW: applied };
  }
}

export class NoPowerLimitWriter implements PowerLimitWriter {
  readonly method = 'none' as const;

  async write(watts: number): Promise<PowerLimitWrite> {
    throw new AgentError('power_limit_read_only', 'heater.power_limit_method is none: the agent does not set the power limit', { requested_w: watts });
  }
}

export interface PowerLimitWriterOptions {
  gpuId: string;
  binary?: string;
  dir?: string;
  helperTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

export function createPowerLimitWriter(method: PowerLimitMethod, o: PowerLimitWriterOptions): PowerLimitWriter {
  switch (method) {
    case 'helper':
      return new HelperPowerLimitWriter({ dir: o.dir, timeoutMs: o.helperTimeoutMs });
    case 'direct':
      return new DirectPowerLimitWriter({ binary: o.binary, gpuId: o.gpuId, env: o.env, exec: o.exec });
    case 'none':
      return new NoPowerLimitWriter();
  }
}

function wholeWatts(watts: number): number {
  if (!Number.isFinite(watts) || watts < 0) throw new AgentError('power_limit_invalid', `not a power limit: ${String(watts)}`);
  return Math.round(watts);
}

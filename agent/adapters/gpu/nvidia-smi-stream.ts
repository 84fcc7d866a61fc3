/**
 * One long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -i ID -lms PERIOD`
 * process: a line per period, far cheaper than spawning nvidia-smi every second.
 *
 * - The process is started again when it dies (exponential backoff while runs print nothing;
 *   at once after a run that worked).
 * - A process that stays alive but goes silent (a hung driver call) is killed after
 *   `staleAfterMs` and started again. The last sample keeps the time it was received, so the
 *   core sees its age grow and stops heating (`gpu_telemetry_stale`) on its own rule.
 * - If runs stay alive but print nothing (output held back in a pipe buffer by some driver
 *   version), it falls back to one query per period.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../log.js';
import { execFileResult, type ExecFn } from '../system/exec-file.js';
import { NVIDIA_STREAM_FIELDS, parseCsvLine, queryArgs, type NvidiaField, type NvidiaSample } from './nvidia-smi-parser.js';

export interface StreamSample {
  sample: NvidiaSample;
  /** Monotonic time the line was received (s). */
  atMonoS: number;
}

export interface NvidiaSmiStreamOptions {
  /** The nvidia-smi program (default `nvidia-smi`, looked up on PATH). */
  binary?: string;
  /** An index or a UUID (`-i`). */
  gpuId: string;
  /** Period of the stream (ms, default 1000). */
  periodMs?: number;
  fields?: readonly NvidiaField[];
  /** No line for this long → kill and start again (default max(5 s, 5 periods)). */
  staleAfterMs?: number;
  /** Restart delay range (default 500 ms … 30 s). */
  backoff?: { minMs: number; maxMs: number };
  /** Consecutive runs killed for silence before falling back to polling (default 3). */
  pollAfterSilentRuns?: number;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
  spawn?: typeof nodeSpawn;
}

export interface NvidiaSmiStreamStats {
  mode: 'stream' | 'poll';
  pid: number | null;
  /** Processes started (stream mode). */
  starts: number;
  lines: number;
  parseErrors: number;
  /** How the last process ended. */
  lastExit: { code: number | null; signal: string | null; stderr: string } | null;
}

const STDERR_KEEP = 2048;

export class NvidiaSmiStream {
  private readonly binary: string;
  private readonly periodMs: number;
  private readonly fields: readonly NvidiaField[];
  private readonly staleAfterMs: number;
  private readonly backoff: { minMs: number; maxMs: number };
  private readonly pollAfterSilentRuns: number;
  private readonly log: Logger;
  private readonly exec: ExecFn;
  private readonly spawnFn: typeof nodeSpawn;
  private child: ChildProcess | null = null;
  private running = false;
  private mode: 'stream' | 'poll' = 'stream';
  private last: StreamSample | null = null;
  private listeners: Array<(s: StreamSample) => void> = [];
  private restartTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private polling = false;
  /** Runs in a row that printed nothing (backoff). */
  private failures = 0;
  /** Runs in a row killed for silence while alive (poll fallback). */
  private silentKills = 0;
  private runLines = 0;
  private runStartedMs = 0;
  private lastLineMs = 0;
  private killedForSilence = false;
  private closed: Promise<void> = Promise.resolve();
  private counters = { starts: 0, lines: 0, parseErrors: 0 };
  private lastExit: NvidiaSmiStreamStats['lastExit'] = null;
  private parseWarned = false;

  constructor(private readonly opts: NvidiaSmiStreamOptions) {
    this.binary = opts.binary ?? 'nvidia-smi';
    this.periodMs = opts.periodMs ?? 1000;
    this.fields = opts.fields ?? NVIDIA_STREAM_FIELDS;
    this.staleAfterMs = opts.staleAfterMs ?? Math.max(5000, 5 * this.periodMs);
    this.backoff = opts.backoff ?? { minMs: 500, maxMs: 30_000 };
    this.pollAfterSilentRuns = opts.pollAfterSilentRuns ?? 3;
    this.log = opts.log.child({ component: 'nvidia-smi-stream' });
    this.exec = opts.exec ?? execFileResult;
    this.spawnFn = opts.spawn ?? nodeSpawn;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.launch();
    const every = Math.max(50, Math.min(1000, Math.floor(this.staleAfterMs / 4)));
    this.watchTimer = setInterval(() => this.checkSilence(), every);
    this.watchTimer.unref();
  }

  /** Stops the process (SIGTERM, SIGKILL after 2 s) and every timer. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of [this.restartTimer, this.watchTimer, this.pollTimer]) if (t) clearTimeout(t);
    this.restartTimer = this.watchTimer = this.pollTimer = null;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      const hard = setTimeout(() => c.kill('SIGKILL'), 2000);
      await this.closed;
      clearTimeout(hard);
    }
  }

  /** The last sample received (null before the first). */
  latest(): StreamSample | null {
    return this.last;
  }

  onSample(fn: (s: StreamSample) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  stats(): NvidiaSmiStreamStats {
    return { mode: this.mode, pid: this.child?.pid ?? null, starts: this.counters.starts, lines: this.counters.lines, parseErrors: this.counters.parseErrors, lastExit: this.lastExit };
  }

  /* ---------------- stream mode ---------------- */

  private launch(): void {
    if (!this.running) return;
    if (this.mode === 'poll') return this.schedulePoll(0);
    const args = [...queryArgs(this.fields), '-i', this.opts.gpuId, '-lms', String(this.periodMs)];
    let child: ChildProcess;
    try {
      child = this.spawnFn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.opts.env ?? process.env });
    } catch (err) {
      this.lastExit = { code: null, signal: null, stderr: String(err) };
      this.failures += 1;
      return this.scheduleRestart();
    }
    this.child = child;
    this.counters.starts += 1;
    this.runLines = 0;
    this.runStartedMs = Date.now();
    this.killedForSilence = false;
    let stderr = '';
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(line);
      }
      if (buf.length > 64 * 1024) buf = '';
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    let spawnError: string | null = null;
    child.on('error', (err) => {
      spawnError = err.message;
    });
    this.closed = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (this.child === child) this.child = null;
        this.lastExit = { code, signal, stderr: (spawnError ?? stderr).trim() };
        resolve();
        this.onClose(code, signal);
      });
    });
    this.log.debug({ pid: child.pid, args }, 'nvidia-smi stream started');
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    const r = parseCsvLine(line, this.fields);
    if (!r.ok) {
      this.counters.parseErrors += 1;
      if (!this.parseWarned) {
        this.parseWarned = true;
        this.log.warn({ reason: r.reason }, 'nvidia-smi printed a line that does not parse (further ones logged at debug)');
      } else this.log.debug({ reason: r.reason }, 'nvidia-smi line does not parse');
      return;
    }
    this.runLines += 1;
    this.counters.lines += 1;
    this.lastLineMs = Date.now();
    this.failures = 0;
    this.silentKills = 0;
    this.deliver({ sample: r.sample, atMonoS: this.opts.clock.monoS() });
  }

  private deliver(s: StreamSample): void {
    this.last = s;
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        this.log.error({ err: String(err) }, 'stream listener failed');
      }
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.running) return;
    const exit = this.lastExit;
    if (this.runLines === 0) {
      this.failures += 1;
      if (this.killedForSilence) this.silentKills += 1;
    }
    this.log.warn({ code, signal, lines: this.runLines, stderr: exit?.stderr.slice(0, 300) }, 'nvidia-smi stream ended: starting it again');
    if (this.silentKills >= this.pollAfterSilentRuns) {
      this.mode = 'poll';
      this.log.warn({ runs: this.silentKills }, 'nvidia-smi stays silent in loop mode: polling once per period instead');
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (!this.running) return;
    const delay = this.failures === 0 ? this.backoff.minMs : Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** (this.failures - 1));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.launch();
    }, delay);
  }

  /** A live process that prints nothing for staleAfterMs is killed (then started again). */
  private checkSilence(): void {
    const c = this.child;
    if (!this.running || this.mode !== 'stream' || !c || c.exitCode !== null || c.signalCode !== null) return;
    const since = Math.max(this.runStartedMs, this.lastLineMs);
    const silentMs = Date.now() - since;
    if (silentMs < this.staleAfterMs) return;
    this.killedForSilence = true;
    this.log.warn({ pid: c.pid, silent_ms: silentMs }, 'nvidia-smi stream silent: killing it');
    c.kill('SIGKILL');
  }

  /* ---------------- poll mode (fallback) ---------------- */

  private schedulePoll(delayMs: number): void {
    if (!this.running) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.pollOnce().finally(() => this.schedulePoll(this.failures === 0 ? this.periodMs : Math.min(this.backoff.maxMs, this.periodMs * 2 ** this.failures)));
    }, delayMs);
  }

  private async pollOnce(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const r = await this.exec(this.binary, [...queryArgs(this.fields), '-i', this.opts.gpuId], {
        timeoutMs: Math.max(2000, 3 * this.periodMs),
        env: this.opts.env,
      });
      const line = r.code === 0 ? r.stdout.split('\n').find((l) => l.trim() !== '') : undefined;
      if (line === undefined) {
        this.failures += 1;
        this.lastExit = { code: r.code, signal: r.signal, stderr: (r.error ?? r.stderr).trim() };
        return;
      }
      this.onLine(line);
    } finally {
      this.polling = false;
    }
  }
}

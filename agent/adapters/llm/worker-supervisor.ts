import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AgentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import {
  generateRequestSchema,
  loadRequestSchema,
  parseWorkerEvent,
  type Backend,
  type DoneEvent,
  type GenerateRequest,
  type GpuLayers,
  type GpuSetting,
  type LoadedEvent,
  type LoadRequest,
  type WorkerEvent,
  type WorkerRequest,
} from './worker-protocol.js';

export interface LoadOptions {
  /** Tokens per sequence. */
  contextSize: number;
  sequences: number;
  gpuLayers?: GpuLayers;
  /** null/undefined: node-llama-cpp's default. Use 1–2 on a small CPU box. */
  threads?: number | null;
  gpu?: GpuSetting;
}

export type LoadedInfo = Omit<LoadedEvent, 'type' | 'requestId'>;
export type JobDone = Omit<DoneEvent, 'type'>;
export interface JobChunk {
  jobId: string;
  text: string;
  /** Generated pieces (about one token each) in `text`. */
  tokens: number;
}
export interface JobError {
  jobId: string;
  code: string;
  message: string;
}
export interface WorkerCrash {
  activeJobIds: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}
/** A job as the supervisor takes it: seed and stream may be left out. */
export type JobRequest = Omit<GenerateRequest, 'type' | 'seed' | 'stream'> & { seed?: number | null; stream?: boolean };

export interface WorkerSupervisorEvents {
  /** A worker process is up (first start and every restart). */
  started: [{ pid: number }];
  load_progress: [{ progress: number }];
  loaded: [LoadedInfo];
  load_failed: [{ code: string; message: string }];
  unloaded: [];
  chunk: [JobChunk];
  done: [JobDone];
  job_error: [JobError];
  /** The worker died without being asked to; its active jobs each got job_error worker_crashed. */
  crashed: [WorkerCrash];
}

export interface WorkerSupervisorOptions {
  log?: Logger;
  /** The worker entry (default: worker.ts/worker.js next to this file). */
  workerPath?: string;
  /** Node flags for the worker (default: `--import tsx` when running from .ts sources, else none). */
  execArgv?: string[];
  /** How often the parent pings (default 2000 ms). */
  heartbeatIntervalMs?: number;
  /** The worker exits when it hears nothing for this long (default 15000 ms). */
  heartbeatTimeoutMs?: number;
  /** A worker that answers nothing for this long is killed as hung (default 60000 ms). */
  hangTimeoutMs?: number;
  /** Restart delays after crashes: initial, doubled each time up to max (defaults 250 ms, 30000 ms). */
  restartBackoffMs?: { initial: number; max: number };
  /** A worker up this long resets the backoff (default 60000 ms). */
  stableAfterMs?: number;
  /** Worker log level (default 'info'). */
  workerLogLevel?: string;
}

interface PendingLoad {
  requestId: number;
  resolve: (info: LoadedInfo) => void;
  reject: (err: AgentError) => void;
}

interface DesiredModel {
  modelPath: string;
  opts: Omit<LoadRequest, 'type' | 'requestId' | 'modelPath'>;
}

const here = fileURLToPath(import.meta.url);
const runningFromTs = here.endsWith('.ts');

function defaultWorkerPath(): string {
  return fileURLToPath(new URL(runningFromTs ? './worker.ts' : './worker.js', import.meta.url));
}

function defaultExecArgv(): string[] {
  if (!runningFromTs) return [];
  let tsx = 'tsx';
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    // fall back to resolving from the working directory
  }
  return ['--import', tsx];
}

/**
 * Parent side of the LLM worker: forks it, pings it, restarts it with backoff when it dies (and
 * reloads the model it had), and turns its IPC messages into typed events. Every job it forwarded
 * ends with exactly one `done` or `job_error` event, crashes included.
 *
 * The worker process exists only while a model is wanted: forked by load(), ended by kill() (the
 * way a model is unloaded). An idle heater then carries no second Node process with
 * node-llama-cpp in it (about 70 MiB), at the cost of forking one (under a second, next to the
 * model's own load time) when the room asks for heat again.
 */
export class WorkerSupervisor extends EventEmitter<WorkerSupervisorEvents> {
  private readonly log: Logger;
  private child: ChildProcess | null = null;
  private childReady = false;
  private startedAt = 0;
  private lastHeardAt = 0;
  private running = false;
  private crashes = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private nextRequestId = 1;
  private pendingLoads: PendingLoad[] = [];
  private pendingUnloads: Array<{ requestId: number; resolve: () => void }> = [];
  private readyWaiters: Array<() => void> = [];
  private desired: DesiredModel | null = null;
  /** gpu/threads of the Llama in the current worker process (a change needs a fresh process). */
  private processBackendKey: string | null = null;
  private readonly jobs = new Set<string>();
  private expectedExit: { code: string; message: string; keepLoads: boolean } | null = null;

  private _loaded = false;
  private _loading = false;
  private _backend: Backend | null = null;
  private _model: string | null = null;
  private _sequences = 0;

  constructor(private readonly opts: WorkerSupervisorOptions = {}) {
    super();
    this.log = opts.log ?? silentLogger();
  }

  get loaded(): boolean {
    return this._loaded;
  }
  get loading(): boolean {
    return this._loading;
  }
  get backend(): Backend | null {
    return this._backend;
  }
  /** Model id loaded (file stem), or null. */
  get model(): string | null {
    return this._model;
  }
  get activeJobs(): number {
    return this.jobs.size;
  }
  get activeJobIds(): string[] {
    return [...this.jobs];
  }
  /** Sequences free now (0 while not loaded). */
  get freeSlots(): number {
    return this._loaded ? Math.max(0, this._sequences - this.jobs.size) : 0;
  }
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Arms the supervisor; the worker is forked by the first load(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const interval = this.opts.heartbeatIntervalMs ?? 2000;
    this.heartbeat = setInterval(() => this.tick(), interval);
    this.heartbeat.unref();
  }

  /** Stop for good: active jobs get job_error worker_stopped; resolves once the worker has exited. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.heartbeat = null;
    this.restartTimer = null;
    this.desired = null;
    await this.terminate('worker_stopped', 'the LLM worker was stopped', 'SIGTERM', false);
    for (const w of this.readyWaiters.splice(0)) w();
  }

  /**
   * Kill the worker now (the surest way to idle the card: no model, no GPU context); the next
   * load() forks a new one. Active jobs get job_error worker_stopped; resolves once the process
   * has exited.
   */
  async kill(): Promise<void> {
    this.desired = null;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    await this.terminate('worker_stopped', 'the LLM worker was killed', 'SIGKILL', false);
  }

  /**
   * Load a model (replacing any other; running jobs end as done/cancelled). Resolves when loaded;
   * rejects with AgentError: model_not_found, no_backend, load_failed, invalid_request,
   * worker_crashed, worker_stopped, superseded (a newer load replaced it), not_started.
   */
  load(modelPath: string, opts: LoadOptions): Promise<LoadedInfo> {
    if (!this.running) return Promise.reject(new AgentError('not_started', 'the worker supervisor is not started'));
    const parsed = loadRequestSchema.safeParse({
      type: 'load',
      requestId: 0,
      modelPath,
      contextSize: opts.contextSize,
      sequences: opts.sequences,
      gpuLayers: opts.gpuLayers ?? 'max',
      threads: opts.threads ?? null,
      gpu: opts.gpu ?? 'auto',
    });
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return Promise.reject(new AgentError('invalid_request', `invalid load options: ${message}`));
    }
    const { type: _type, requestId: _id, modelPath: path, ...loadOpts } = parsed.data;
    const desired: DesiredModel = { modelPath: path, opts: loadOpts };
    this.desired = desired;
    return new Promise<LoadedInfo>((resolve, reject) => {
      const requestId = this.nextRequestId++;
      this.pendingLoads.push({ requestId, resolve, reject });
      this._loading = true;
      void this.sendLoad(desired, requestId);
    });
  }

  /** Unload the model (running jobs end as done/cancelled); resolves when the worker confirms. */
  unload(): Promise<void> {
    this.desired = null;
    if (!this.child || !this.childReady) {
      this.markUnloaded();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const requestId = this.nextRequestId++;
      this.pendingUnloads.push({ requestId, resolve });
      this.sendToChild({ type: 'unload', requestId });
    });
  }

  /**
   * Run a job; it answers through `chunk`, `done` and `job_error` events (never synchronously).
   * Throws AgentError('duplicate_job') when a job with this id is still running: an answer with
   * that id would be taken for the running job's.
   */
  generate(req: JobRequest): void {
    if (typeof req.jobId === 'string' && this.jobs.has(req.jobId)) {
      throw new AgentError('duplicate_job', `job ${req.jobId} is already running`, { jobId: req.jobId });
    }
    const parsed = generateRequestSchema.safeParse({ ...req, type: 'generate', seed: req.seed ?? null, stream: req.stream ?? false });
    if (!parsed.success) {
      const jobId = typeof req.jobId === 'string' ? req.jobId : '';
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      queueMicrotask(() => this.emit('job_error', { jobId, code: 'invalid_request', message }));
      return;
    }
    const request = parsed.data;
    if (!this.child || !this.childReady) {
      queueMicrotask(() => this.emit('job_error', { jobId: request.jobId, code: 'not_loaded', message: 'the LLM worker is not running' }));
      return;
    }
    this.jobs.add(request.jobId);
    this.sendToChild(request);
  }

  cancel(jobId: string): void {
    if (this.jobs.has(jobId)) this.sendToChild({ type: 'cancel', jobId });
  }

  private async sendLoad(desired: DesiredModel, requestId: number): Promise<void> {
    const key = JSON.stringify({ gpu: desired.opts.gpu, threads: desired.opts.threads });
    if (this.processBackendKey !== null && this.processBackendKey !== key) {
      // One Llama backend per process: a different gpu/threads setting gets a fresh worker.
      await this.terminate('worker_stopped', 'the LLM worker restarts for a new backend setting', 'SIGKILL', true);
    }
    // No worker yet (or any more): fork one, unless a restart after a crash is already due.
    if (this.running && !this.child && !this.restartTimer) this.spawn();
    await this.whenReady();
    if (!this.running || (this.desired !== desired && !this.pendingLoads.some((p) => p.requestId === requestId))) {
      // Superseded (unloaded, killed or replaced) before the worker was ready.
      this._loading = this.pendingLoads.length > 0;
      return;
    }
    this.processBackendKey = key;
    this.sendToChild({ type: 'load', requestId, modelPath: desired.modelPath, ...desired.opts });
  }

  private whenReady(): Promise<void> {
    if (this.child && this.childReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private spawn(): void {
    const workerPath = this.opts.workerPath ?? defaultWorkerPath();
    const args = ['--heartbeat-timeout-ms', String(this.opts.heartbeatTimeoutMs ?? 15000), '--log-level', this.opts.workerLogLevel ?? 'info'];
    const child = fork(workerPath, args, {
      execArgv: this.opts.execArgv ?? defaultExecArgv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.childReady = false;
    this.startedAt = Date.now();
    this.lastHeardAt = Date.now();
    this.processBackendKey = null;
    const wlog = this.log.child({ component: 'llm-worker', pid: child.pid });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => forwardWorkerLine(wlog, line));
    }
    child.on('message', (raw: unknown) => {
      if (this.child !== child) return;
      this.lastHeardAt = Date.now();
      const parsed = parseWorkerEvent(raw);
      if (!parsed.ok) {
        this.log.warn({ error: parsed.error }, 'invalid message from LLM worker');
        return;
      }
      this.onEvent(parsed.message);
    });
    child.on('error', (err) => this.log.warn({ err: err.message }, 'LLM worker process error'));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onEvent(ev: WorkerEvent): void {
    switch (ev.type) {
      case 'ready': {
        this.childReady = true;
        this.emit('started', { pid: ev.pid });
        const waiters = this.readyWaiters.splice(0);
        for (const w of waiters) w();
        return;
      }
      case 'pong':
        return;
      case 'load_progress':
        this.emit('load_progress', { progress: ev.progress });
        return;
      case 'loaded': {
        this._loaded = true;
        this._backend = ev.backend;
        this._model = ev.model;
        this._sequences = ev.sequences;
        const { type: _t, requestId, ...info } = ev;
        this.settleLoad(requestId, (p) => p.resolve(info));
        this._loading = this.pendingLoads.length > 0;
        this.crashes = 0;
        this.emit('loaded', info);
        return;
      }
      case 'load_failed': {
        this.markUnloaded();
        const err = new AgentError(ev.code, ev.message);
        this.settleLoad(ev.requestId, (p) => p.reject(err));
        this._loading = this.pendingLoads.length > 0;
        if (ev.requestId === null || this.pendingLoads.length === 0) this.desired = null;
        this.emit('load_failed', { code: ev.code, message: ev.message });
        return;
      }
      case 'unloaded': {
        this.markUnloaded();
        const i = this.pendingUnloads.findIndex((u) => u.requestId === ev.requestId);
        if (i >= 0) this.pendingUnloads.splice(i, 1)[0]!.resolve();
        this.emit('unloaded');
        return;
      }
      case 'chunk':
        if (this.jobs.has(ev.jobId)) this.emit('chunk', { jobId: ev.jobId, text: ev.text, tokens: ev.tokens });
        return;
      case 'done': {
        if (!this.jobs.delete(ev.jobId)) return;
        const { type: _t, ...done } = ev;
        this.emit('done', done);
        return;
      }
      case 'job_error':
        if (!this.jobs.delete(ev.jobId)) return;
        this.emit('job_error', { jobId: ev.jobId, code: ev.code, message: ev.message });
        return;
    }
  }

  /** Loads are answered in order; an answer settles its own request and any older ones. */
  private settleLoad(requestId: number | null, settle: (p: PendingLoad) => void): void {
    if (requestId === null) return;
    while (this.pendingLoads.length > 0 && this.pendingLoads[0]!.requestId <= requestId) {
      const p = this.pendingLoads.shift()!;
      if (p.requestId === requestId) settle(p);
      else p.reject(new AgentError('superseded', 'a newer load replaced this one'));
    }
  }

  private markUnloaded(): void {
    const was = this._loaded;
    this._loaded = false;
    this._backend = null;
    this._model = null;
    this._sequences = 0;
    if (was) this.log.info('model unloaded');
  }

  private tick(): void {
    const child = this.child;
    if (!child || !this.childReady) return;
    const hang = this.opts.hangTimeoutMs ?? 60000;
    if (Date.now() - this.lastHeardAt > hang) {
      this.log.error({ pid: child.pid, hangTimeoutMs: hang }, 'LLM worker does not answer: killing it');
      child.kill('SIGKILL');
      return;
    }
    this.sendToChild({ type: 'ping' });
  }

  private sendToChild(msg: WorkerRequest): void {
    const child = this.child;
    if (!child || !child.connected) return;
    try {
      child.send(msg);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err), type: msg.type }, 'could not send to LLM worker');
    }
  }

  /** End the current worker on purpose; its jobs (and pending loads unless kept) get `code`. */
  private async terminate(code: string, message: string, signal: NodeJS.Signals, keepLoads: boolean): Promise<void> {
    const child = this.child;
    if (!child) {
      this.failPending(code, message, keepLoads);
      return;
    }
    this.expectedExit = { code, message, keepLoads };
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill(signal);
    const grace = signal === 'SIGKILL' ? null : setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    if (grace) clearTimeout(grace);
  }

  private failPending(code: string, message: string, keepLoads: boolean): void {
    const jobIds = [...this.jobs];
    this.jobs.clear();
    for (const jobId of jobIds) this.emit('job_error', { jobId, code, message });
    if (!keepLoads) {
      const loads = this.pendingLoads.splice(0);
      for (const p of loads) p.reject(new AgentError(code, message));
      this._loading = false;
    }
    const unloads = this.pendingUnloads.splice(0);
    for (const u of unloads) u.resolve();
    const wasLoaded = this._loaded;
    this.markUnloaded();
    if (wasLoaded) this.emit('unloaded');
  }

  private onExit(child: ChildProcess, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    this.childReady = false;
    this.processBackendKey = null;
    const expected = this.expectedExit;
    this.expectedExit = null;
    if (expected) {
      this.log.info({ pid: child.pid, exitCode, signal }, 'LLM worker ended');
      this.failPending(expected.code, expected.message, expected.keepLoads);
      return;
    }
    const activeJobIds = [...this.jobs];
    const wasLoading = this._loading;
    this.log.error({ pid: child.pid, exitCode, signal, activeJobIds }, 'LLM worker crashed');
    this.emit('crashed', { activeJobIds, exitCode, signal });
    this.failPending('worker_crashed', `the LLM worker died (exit ${exitCode ?? signal})`, false);
    // A crash while loading is not retried (a model that aborts the process would loop).
    if (wasLoading) this.desired = null;
    if (!this.running) return;
    const lived = Date.now() - this.startedAt;
    if (lived >= (this.opts.stableAfterMs ?? 60000)) this.crashes = 0;
    const backoff = this.opts.restartBackoffMs ?? { initial: 250, max: 30000 };
    const delay = Math.min(backoff.max, backoff.initial * 2 ** this.crashes);
    this.crashes++;
    this.log.warn({ delayMs: delay, crashes: this.crashes }, 'restarting LLM worker');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.running || this.child) return;
      this.spawn();
      const desired = this.desired;
      if (desired) {
        // Reload what was loaded before the crash (an internal load: no caller waits on it).
        this._loading = true;
        void this.sendLoad(desired, this.nextRequestId++);
      }
    }, delay);
  }
}

/** Worker stdout/stderr: pino JSON lines keep their level and fields; anything else is a warning. */
function forwardWorkerLine(log: Logger, line: string): void {
  if (line.trim() === '') return;
  let obj: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    obj = parsed as Record<string, unknown>;
  } catch {
    log.warn({ line }, 'LLM worker output');
    return;
  }
  const { level, msg, time: _time, pid: _pid, component: _component, ...fields } = obj;
  const text = typeof msg === 'string' ? msg : 'LLM worker log';
  if (level === 'error' || level === 'fatal') log.error(fields, text);
  else if (level === 'warn') log.warn(fields, text);
  else if (level === 'debug' || level === 'trace') log.debug(fields, text);
  else log.info(fields, text);
}

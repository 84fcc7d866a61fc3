/**
 * The heater side of the inference job protocol (spec/mqtt-api.md "Inference jobs"): real
 * inference in the supervised LLM worker, steered by the heat decision.
 *
 * - Models: GGUF files in llm.models_dir, id = file stem; the heater's model is llm.default_model or
 *   the only (else the first) one. Loaded when the decision wants the model (heat demand, then
 *   keep-alive), with one context of llm.max_parallel sequences; unloaded (worker killed: no model,
 *   no GPU context) when it is no longer wanted and nothing runs. Whether it fits is node-llama-cpp's
 *   own estimate from the GGUF header, KV cache included (its memory safety checks at load).
 *   A GPU heater (heater.backend nvidia) that ends up on the CPU is a fault (`cpu_fallback`).
 * - Jobs: `<base>/<id>/jobs/submit` always (to answer), the fleet `$share/<group>/<base>/jobs/<model>/submit`
 *   while the decision accepts (status().accepting turns true once the SUBACK is in), cancels on
 *   `<base>/<id>/jobs/cancel`. FIFO queue (jobs.max_queue), runs as many as the decision's sequences
 *   and the worker's free sequences allow; chunks coalesced (≤ every 100 ms or 64 tokens); terminal
 *   answers (done / error) through the durable outbox; accepted ids remembered (JobIdMemory).
 * - When the decision stops accepting: new jobs rejected, queued ones end `error: preempted`,
 *   running ones get jobs.drain_timeout_s, then end `done` with finish_reason `preempted`.
 * - energy_j: the heat estimate (powerW) integrated over the job's run, shared among the busy sequences.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { AgentConfig } from '../config/schema.js';
import { AgentError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { nodeTopics, type NodeTopics } from '../adapters/mqtt/topics.js';
import type { JsonFileStore } from '../adapters/system/json-file-store.js';
import { Outbox } from '../adapters/system/outbox.js';
import { WorkerSupervisor, type JobChunk, type JobDone, type JobError, type LoadedInfo, type WorkerCrash } from '../adapters/llm/worker-supervisor.js';
import type { BusMessage, BusPublishProperties, MessageBus, Unsubscribe } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { InferenceControl, InferencePort, InferenceStatus } from '../ports/inference.js';
import type { Severity } from './event-publisher.js';
import { JobIdMemory } from './job-ids.js';
import { MODEL_ID_PATTERN, parseCancelRequest, parseJobRequest, type JobReplyTarget, type JobRequest, type JobRequestLimits } from './job-request.js';

/** Chunks: at most one message every CHUNK_INTERVAL_MS, or at once when CHUNK_TOKENS are waiting. */
export const CHUNK_INTERVAL_MS = 100;
export const CHUNK_TOKENS = 64;
/** Housekeeping period: ttl, drain timeout, energy integration, tokens/s. */
const HOUSEKEEPING_MS = 200;
const TOKENS_WINDOW_S = 10;
/** A job the worker could not take (busy / not loaded: a race) is queued again this many times. */
const MAX_REQUEUES = 3;
/** Retry delays after a fault (load failed, CPU fallback, no model): initial, doubled, max (s). */
const FAULT_RETRY_S = { initial: 30, max: 1800 };
/** This many worker crashes within CRASH_WINDOW_S is a crash loop (fault). */
const CRASH_LOOP_COUNT = 5;
const CRASH_WINDOW_S = 600;
/** On stop: how long running jobs get to answer after their cancel, and the outbox to empty. */
const STOP_GRACE_MS = 5000;
const STOP_OUTBOX_DRAIN_MS = 2000;

export type EmitEvent = (type: string, severity: Severity, fields?: Record<string, unknown>) => void;

export interface JobRuntimeDeps {
  config: AgentConfig;
  bus: MessageBus;
  log: Logger;
  clock: Clock;
  /** The state dir's store (remembered job ids). */
  store: JsonFileStore;
  /** The LLM worker supervisor, or a factory (default: a WorkerSupervisor with the default worker). */
  supervisor?: WorkerSupervisor | (() => WorkerSupervisor);
  emitEvent: EmitEvent;
  /** The unit's heat estimate now (W), for energy_j; null when unknown. */
  powerW: () => number | null;
  /**
   * A job was queued: the heat decision should look again now rather than at the next tick (it
   * loads a model unloaded for want of jobs, and sizes the sequences for the queue).
   */
  workQueued?: () => void;
  /** On stop, how long running jobs get to answer their cancel (default 5000 ms). */
  stopGraceMs?: number;
  /**
   * Called before every model load: a driver re-initialisation resets the power limit to the
   * card's default, so the heater checks (and rewrites) it first. Its failure is logged, not fatal.
   */
  beforeLoad?: () => Promise<unknown>;
}

export interface ModelFile {
  name: string;
  path: string;
  sizeBytes: number;
}

interface Job {
  req: JobRequest;
  source: 'direct' | 'fleet';
  receivedS: number;
  startedS: number | null;
  energyJ: number;
  /** Next chunk seq. */
  seq: number;
  buf: string;
  bufTokens: number;
  flushTimer: NodeJS.Timeout | null;
  lastFlushMs: number;
  tokensCounted: number;
  firstTokenS: number | null;
  /** Cancelled by the heater to end a drain: a `cancelled` finish becomes `preempted`. */
  preempted: boolean;
  requeues: number;
}

type FleetState = { filter: string; gen: number; confirmed: boolean };

export class JobRuntime implements InferencePort {
  private readonly log: Logger;
  private cfg: AgentConfig;
  private readonly topics: NodeTopics;
  private limits: JobRequestLimits;
  private readonly ids: JobIdMemory;
  private readonly outbox: Outbox;
  private readonly expectGpu: boolean;
  private sup: WorkerSupervisor | null = null;
  private modelFiles: ModelFile[] = [];
  private model: ModelFile | null = null;
  private modelId: string | null = null;
  private control: InferenceControl = { sequences: 0, accepting: false, modelWanted: false };
  private wantAccept = false;
  private drainSinceS: number | null = null;
  /** Set by ops `drain {timeout_s}` for the current drain. */
  private drainTimeoutOverrideS: number | null = null;
  /** A model loaded on request (ops model_load) stays at least until then. */
  private holdUntilS = 0;
  private readonly queue: Job[] = [];
  private readonly running = new Map<string, Job>();
  private fleet: FleetState | null = null;
  private fleetGen = 0;
  private loadRequested = false;
  private unloading = false;
  private awaitingRestart = false;
  private fault: string | null = null;
  private faultRetryAtS = 0;
  private faultBackoffS: number = FAULT_RETRY_S.initial;
  private crashTimesS: number[] = [];
  private jobsDone = 0;
  private tokensPending = 0;
  private tokensTotal = 0;
  private tokenSamples: Array<{ s: number; total: number }> = [];
  private lastAccrueS: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribers: Unsubscribe[] = [];
  private started = false;
  private stopping = false;

  constructor(private readonly deps: JobRuntimeDeps) {
    const cfg = deps.config;
    this.cfg = cfg;
    this.log = deps.log.child({ component: 'jobs' });
    this.topics = nodeTopics(cfg.mqtt.base_topic, cfg.node.id, cfg.jobs.reply_prefix);
    this.limits = this.requestLimits(cfg);
    this.expectGpu = cfg.heater.backend === 'nvidia';
    this.ids = new JobIdMemory(deps.store, {
      log: this.log,
      onError: (e) => deps.emitEvent('state_write_failed', 'error', { file: 'job-ids.json', code: e.code, message: e.message }),
    });
    this.outbox = new Outbox({
      dir: cfg.state.dir,
      maxEntries: cfg.state.outbox_max_entries,
      maxBytes: cfg.state.outbox_max_bytes,
      bus: deps.bus,
      log: deps.log,
      onError: (e) => deps.emitEvent(e.code, 'error', { message: e.message }),
    });
  }

  /* ---------------- InferencePort ---------------- */

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { bus, clock } = this.deps;
    await this.scanModels();
    await this.ids.load(clock.wallMs());
    await this.outbox.start();
    const s = this.deps.supervisor;
    this.sup = typeof s === 'function' ? s() : (s ?? new WorkerSupervisor({ log: this.deps.log }));
    this.attachSupervisor(this.sup);
    this.sup.start();
    this.unsubscribers.push(
      bus.onMessage((m) => this.onMessage(m)),
      bus.onConnect(() => this.onConnect()),
      bus.onDisconnect(() => {
        if (this.fleet) this.fleet.confirmed = false;
      }),
    );
    void this.subscribe(this.topics.jobsSubmit);
    void this.subscribe(this.topics.jobsCancel);
    this.timer = setInterval(() => this.safely('housekeeping', () => this.housekeeping()), HOUSEKEEPING_MS);
    this.timer.unref();
    this.log.info({ model: this.modelId, models: this.modelFiles.map((m) => m.name), fleet: this.cfg.jobs.fleet }, 'job runtime started');
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.preemptQueued('the heater is stopping');
    for (const job of this.running.values()) {
      job.preempted = true;
      this.sup?.cancel(job.req.jobId);
    }
    const deadline = Date.now() + (this.deps.stopGraceMs ?? STOP_GRACE_MS);
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.leaveFleet();
    for (const u of this.unsubscribers.splice(0)) u();
    await this.deps.bus.unsubscribe(this.topics.jobsSubmit).catch(() => undefined);
    await this.deps.bus.unsubscribe(this.topics.jobsCancel).catch(() => undefined);
    await this.sup?.stop(); // jobs still running end as job_error worker_stopped → error preempted
    await this.ids.flush();
    if (this.deps.bus.connected) await this.outbox.drain(STOP_OUTBOX_DRAIN_MS);
    await this.outbox.stop();
    this.log.info({ jobs_done: this.jobsDone }, 'job runtime stopped');
  }

  private requestLimits(cfg: AgentConfig): JobRequestLimits {
    return { replyPrefix: this.topics.replyPrefix, maxRequestBytes: cfg.jobs.max_request_bytes, maxTokensLimit: cfg.jobs.max_tokens_limit };
  }

  /** Config reload: the job limits and the keep-alive take effect for the next job (the model, its context and the fleet subscription stay). */
  applyConfig(config: AgentConfig): void {
    this.cfg = config;
    this.limits = this.requestLimits(config);
  }

  status(): InferenceStatus {
    const sup = this.sup;
    const loaded = sup?.loaded ?? false;
    return {
      model: this.modelId,
      modelLoaded: loaded,
      modelLoading: (sup?.loading ?? false) || (this.loadRequested && !loaded),
      busy: this.running.size,
      queued: this.queue.length,
      oldestWaitS: this.queue.length > 0 ? Math.max(0, this.deps.clock.monoS() - this.queue[0]!.receivedS) : 0,
      slots: loaded ? Math.max(0, this.allowedSlots() - this.running.size) : 0,
      maxSlots: this.cfg.llm.max_parallel,
      accepting: this.accepting(),
      jobsDone: this.jobsDone,
      tokensPerS: this.tokensPerS(),
      fault: this.fault,
      assumeWork: false,
    };
  }

  apply(control: InferenceControl, nowS: number): void {
    this.control = control;
    this.accrue(nowS);
    this.retryFault(nowS);
    this.steerModel();
    const want = control.accepting && this.modelId !== null && this.fault === null && !this.stopping;
    if (want !== this.wantAccept) {
      this.wantAccept = want;
      if (want) {
        this.drainSinceS = null;
        this.drainTimeoutOverrideS = null;
        this.log.info({ model: this.modelId }, 'taking jobs');
      } else {
        this.log.info({ running: this.running.size, queued: this.queue.length, draining: control.draining ?? false }, 'no longer taking jobs');
        this.drainSinceS = nowS;
        this.preemptQueued(control.draining ? 'the heater is draining' : 'the room no longer asks for heat');
      }
    }
    this.steerFleet();
    this.pump();
  }

  takeTokens(): number {
    const t = this.tokensPending;
    this.tokensPending = 0;
    return t;
  }

  /** The models in models_dir (for `info`). */
  models(): { name: string; size_bytes: number }[] {
    return this.modelFiles.map((m) => ({ name: m.name, size_bytes: m.sizeBytes }));
  }

  /** Ops `drain {timeout_s}`: the running jobs of this drain get this long (until jobs are taken again). */
  setDrainTimeout(timeoutS: number): void {
    this.drainTimeoutOverrideS = Math.max(0, timeoutS);
  }

  /**
   * Ops `model_load {model}`: makes `model` (an id in models_dir) this heater's model and loads it now;
   * it stays loaded at least llm.keep_alive_s, then the decision decides. Rejects with AgentError
   * unknown_model, busy (jobs on another model), draining, or the worker's load error codes.
   */
  async loadModel(model: string): Promise<void> {
    const sup = this.sup;
    if (!sup || this.stopping) throw new AgentError('draining', 'the job runtime is not running');
    await this.scanModels();
    const file = this.modelFiles.find((m) => m.name === model);
    if (!file) throw new AgentError('unknown_model', `model ${model} is not in ${this.cfg.llm.models_dir}`);
    if (file.name !== this.modelId) {
      if (this.running.size + this.queue.length > 0) throw new AgentError('busy', `jobs are running on model ${this.modelId}`);
      this.leaveFleet(); // joined again with the new model at the next decision
      this.log.info({ from: this.modelId, to: file.name }, 'switching the model (operator request)');
      if (sup.loaded || sup.loading) await sup.kill();
    }
    this.model = file;
    this.modelId = file.name;
    if (this.fault === 'no_model' || this.fault === 'model_load_failed') this.clearFault();
    this.holdUntilS = this.deps.clock.monoS() + this.cfg.llm.keep_alive_s;
    if (sup.loaded && sup.model === file.name) return;
    await this.load(file);
  }

  /** Ops `model_unload`: unloads now (the decision loads it again when the room asks for heat). Rejects busy while jobs run. */
  async unloadModel(): Promise<void> {
    const sup = this.sup;
    if (!sup) return;
    if (this.running.size + this.queue.length > 0) throw new AgentError('busy', `${this.running.size} running and ${this.queue.length} queued jobs`);
    this.holdUntilS = 0;
    if (sup.loaded || sup.loading) {
      this.log.info({ model: this.modelId }, 'unloading the model (operator request)');
      await sup.kill();
    }
  }

  /** The worker's pid (tests, diagnostics). */
  get workerPid(): number | null {
    return this.sup?.pid ?? null;
  }

  /* ---------------- models ---------------- */

  private async scanModels(): Promise<void> {
    const dir = this.cfg.llm.models_dir;
    const found: ModelFile[] = [];
    try {
      for (const name of (await readdir(dir)).sort()) {
        if (extname(name).toLowerCase() !== '.gguf') continue;
        const stem = name.slice(0, -'.gguf'.length);
        if (!MODEL_ID_PATTERN.test(stem)) {
          this.log.warn({ file: name }, 'model file name is not a model id ([a-z0-9._-]+): ignored');
          continue;
        }
        const path = join(dir, name);
        try {
          const st = await stat(path);
          if (st.isFile()) found.push({ name: stem, path, sizeBytes: st.size });
        } catch (err) {
          this.log.warn({ file: path, err: errorMessage(err) }, 'model file unreadable: ignored');
        }
      }
    } catch (err) {
      this.log.error({ dir, err: errorMessage(err) }, 'models_dir unreadable');
    }
    this.modelFiles = found;
    const wanted = this.cfg.llm.default_model?.replace(/\.gguf$/i, '') ?? null;
    const model = wanted !== null ? (found.find((m) => m.name === wanted) ?? null) : (found[0] ?? null);
    this.modelId = wanted ?? model?.name ?? null;
    this.model = model;
    if (model === null) {
      const message = wanted !== null ? `llm.default_model ${wanted}.gguf is not in ${dir}` : `no .gguf model in ${dir}`;
      if (this.fault !== 'no_model') {
        this.log.error({ dir, default_model: wanted }, message);
        this.deps.emitEvent('model_missing', 'error', { model: wanted, models_dir: dir, message });
      }
      this.setFault('no_model');
    } else if (wanted === null && found.length > 1) {
      this.log.info({ model: model.name, models: found.map((m) => m.name) }, 'several models and no llm.default_model: using the first');
    }
  }

  private steerModel(): void {
    const sup = this.sup;
    if (!sup || this.stopping) return;
    if (this.control.modelWanted && this.fault === null) {
      if (sup.loaded || sup.loading || this.loadRequested || this.unloading || this.awaitingRestart || !this.model) return;
      this.load(this.model).catch((err: unknown) => this.log.debug({ code: (err as { code?: string }).code, err: errorMessage(err) }, 'model load did not complete'));
    } else if (
      !this.control.modelWanted &&
      (sup.loaded || sup.loading) &&
      this.running.size === 0 &&
      this.queue.length === 0 &&
      !this.unloading &&
      !this.loadRequested &&
      this.deps.clock.monoS() >= this.holdUntilS
    ) {
      this.unload('not wanted any more (keep-alive over)');
    }
  }

  /** One context of llm.max_parallel sequences; node-llama-cpp checks that model + KV cache fit (its own estimates). */
  private async load(model: ModelFile): Promise<void> {
    const sup = this.sup as WorkerSupervisor;
    this.loadRequested = true;
    this.log.info({ model: model.name, path: model.path, sequences: this.cfg.llm.max_parallel, context_size: this.cfg.llm.context_size }, 'loading the model');
    if (this.deps.beforeLoad) {
      const check = await this.deps.beforeLoad().catch((err: unknown) => ({ error: errorMessage(err) }));
      this.log.info({ check }, 'power limit checked before the model load');
    }
    try {
      await sup.load(model.path, {
        contextSize: this.cfg.llm.context_size,
        sequences: this.cfg.llm.max_parallel,
        gpuLayers: this.cfg.llm.gpu_layers,
        threads: this.cfg.llm.threads,
        gpu: this.cfg.heater.backend === 'sim' ? false : 'auto',
      });
    } catch (err) {
      // load_failed events are handled by their listener; a crash while loading has no such event.
      if (err instanceof AgentError && err.code === 'worker_crashed') this.onLoadFailed({ code: err.code, message: err.message });
      throw err;
    } finally {
      this.loadRequested = false;
    }
  }

  /** Kills the worker (frees the model and any GPU context); the next load forks a new one. */
  private unload(why: string): void {
    const sup = this.sup;
    if (!sup) return;
    this.unloading = true;
    this.log.info({ model: this.modelId, why }, 'unloading the model');
    sup.kill().finally(() => {
      this.unloading = false;
    });
  }

  private attachSupervisor(sup: WorkerSupervisor): void {
    sup.on('started', ({ pid }) => {
      this.awaitingRestart = false;
      this.log.info({ pid }, 'LLM worker up');
    });
    sup.on('load_progress', ({ progress }) => this.log.info({ model: this.modelId, progress: Math.round(progress * 100) / 100 }, 'model loading'));
    sup.on('loaded', (info) => this.safely('loaded', () => this.onLoaded(info)));
    sup.on('load_failed', (f) => this.safely('load_failed', () => this.onLoadFailed(f)));
    sup.on('unloaded', () => {
      this.log.info({ model: this.modelId }, 'model unloaded');
      this.deps.emitEvent('model_unloaded', 'info', { model: this.modelId });
    });
    sup.on('chunk', (c) => this.safely('chunk', () => this.onChunk(c)));
    sup.on('done', (d) => this.safely('done', () => this.onDone(d)));
    sup.on('job_error', (e) => this.safely('job_error', () => this.onJobError(e)));
    sup.on('crashed', (c) => this.safely('crashed', () => this.onCrashed(c)));
  }

  private onLoaded(info: LoadedInfo): void {
    const fields = {
      model: info.model,
      backend: info.backend,
      load_ms: Math.round(info.loadMs),
      context_size: info.contextSize,
      sequences: info.sequences,
      pid: this.sup?.pid ?? null,
      ...(info.vramState ? { vram_used_mib: Math.round(info.vramState.used / 1048576), vram_total_mib: Math.round(info.vramState.total / 1048576) } : {}),
    };
    if (this.expectGpu && info.backend === 'cpu') {
      // A GPU heater inferring on the CPU makes no useful heat: a fault, said loudly.
      this.log.error({ ...fields }, 'CPU FALLBACK: the model loaded on the CPU, not the GPU; inference stopped (fault cpu_fallback)');
      this.deps.emitEvent('cpu_fallback', 'error', { ...fields, message: 'the model loaded on the CPU on a GPU heater' });
      this.setFault('cpu_fallback');
      this.unload('cpu fallback');
      return;
    }
    this.faultBackoffS = FAULT_RETRY_S.initial;
    if (this.fault === 'model_load_failed') this.clearFault();
    this.log.info(fields, 'model loaded');
    this.deps.emitEvent('model_loaded', 'info', fields);
    this.pump();
  }

  private onLoadFailed(f: { code: string; message: string }): void {
    this.log.error({ model: this.modelId, code: f.code, err: f.message }, 'model load failed');
    this.deps.emitEvent('model_load_failed', 'error', { model: this.modelId, code: f.code, message: f.message });
    this.setFault('model_load_failed');
  }

  private onCrashed(c: WorkerCrash): void {
    const now = this.deps.clock.monoS();
    this.awaitingRestart = true;
    this.crashTimesS = [...this.crashTimesS.filter((t) => now - t < CRASH_WINDOW_S), now];
    this.log.error({ exit_code: c.exitCode, signal: c.signal, jobs: c.activeJobIds }, 'LLM worker crashed: its jobs end with worker_crashed, it is restarted');
    this.deps.emitEvent('worker_crashed', 'error', {
      exit_code: c.exitCode,
      signal: c.signal,
      jobs: c.activeJobIds.length,
      job_ids: c.activeJobIds.slice(0, 20),
    });
    if (this.crashTimesS.length >= CRASH_LOOP_COUNT) {
      this.log.error({ crashes: this.crashTimesS.length, window_s: CRASH_WINDOW_S }, 'LLM worker crash loop');
      this.setFault('worker_crash_loop');
    }
  }

  private setFault(fault: string): void {
    const now = this.deps.clock.monoS();
    if (this.fault !== fault) this.log.warn({ fault, retry_in_s: this.faultBackoffS }, 'inference fault');
    this.fault = fault;
    this.faultRetryAtS = now + this.faultBackoffS;
    this.faultBackoffS = Math.min(FAULT_RETRY_S.max, this.faultBackoffS * 2);
  }

  private clearFault(): void {
    if (this.fault === null) return;
    this.log.info({ fault: this.fault }, 'inference fault cleared');
    this.fault = null;
  }

  /** A fault is retried after its backoff: the decision then asks for the model again. */
  private retryFault(nowS: number): void {
    if (this.fault === null || nowS < this.faultRetryAtS) return;
    const fault = this.fault;
    if (fault === 'no_model') {
      void this.scanModels().then(() => {
        if (this.model !== null && this.fault === 'no_model') this.clearFault();
      });
      this.faultRetryAtS = nowS + this.faultBackoffS;
      return;
    }
    if (fault === 'worker_crash_loop') this.crashTimesS = [];
    this.log.info({ fault }, 'retrying after an inference fault');
    this.fault = null;
  }

  /* ---------------- fleet subscription ---------------- */

  private accepting(): boolean {
    if (!this.wantAccept || !this.deps.bus.connected) return false;
    if (!this.cfg.jobs.fleet) return true;
    return this.fleet?.confirmed === true;
  }

  private steerFleet(): void {
    if (!this.cfg.jobs.fleet) return;
    if (this.wantAccept && !this.fleet && this.modelId !== null) this.joinFleet();
    else if (!this.wantAccept && this.fleet) this.leaveFleet();
  }

  private joinFleet(): void {
    const filter = this.topics.sharedFleetSubmit(this.cfg.jobs.share_group, this.modelId as string);
    const f: FleetState = { filter, gen: ++this.fleetGen, confirmed: false };
    this.fleet = f;
    this.confirmFleet(f);
  }

  private confirmFleet(f: FleetState): void {
    this.deps.bus.subscribe(f.filter, 1).then(
      ({ granted }) => {
        if (this.fleet !== f) return;
        f.confirmed = granted;
        if (granted) this.log.info({ filter: f.filter }, 'joined the fleet');
        else {
          this.log.error({ filter: f.filter }, 'the broker refused the fleet subscription (ACL?)');
          this.deps.emitEvent('fleet_subscription_refused', 'error', { filter: f.filter });
        }
      },
      (err: unknown) => this.log.warn({ filter: f.filter, err: errorMessage(err) }, 'fleet subscribe failed'),
    );
  }

  private leaveFleet(): void {
    const f = this.fleet;
    if (!f) return;
    this.fleet = null;
    this.log.info({ filter: f.filter }, 'leaving the fleet');
    this.deps.bus.unsubscribe(f.filter).catch((err: unknown) => this.log.warn({ filter: f.filter, err: errorMessage(err) }, 'fleet unsubscribe failed'));
  }

  private onConnect(): void {
    // The bus renewed every subscription; ask again to learn whether the broker granted the fleet one.
    const f = this.fleet;
    if (f) {
      f.confirmed = false;
      this.confirmFleet(f);
    }
  }

  private async subscribe(filter: string): Promise<void> {
    try {
      const { granted } = await this.deps.bus.subscribe(filter, 1);
      if (!granted) this.log.error({ filter }, 'subscription refused by the broker (ACL?)');
    } catch (err) {
      this.log.warn({ filter, err: errorMessage(err) }, 'subscribe failed');
    }
  }

  /* ---------------- requests ---------------- */

  private onMessage(m: BusMessage): void {
    if (m.topic === this.topics.jobsSubmit) this.onSubmit(m, null);
    else if (m.topic === this.topics.jobsCancel) this.onCancel(m);
    // Also after leaving the fleet: one still in flight is answered (rejected), so its client retries at once.
    else if (this.modelId !== null && m.topic === this.topics.fleetSubmit(this.modelId)) this.onSubmit(m, this.modelId);
  }

  private onSubmit(m: BusMessage, fleetModel: string | null): void {
    const nowS = this.deps.clock.monoS();
    const parsed = parseJobRequest(m, this.limits);
    if (!parsed.ok) {
      const p = parsed.problem;
      this.log.warn({ topic: m.topic, job_id: p.jobId, field: p.field, reason: p.message, answered: p.answerable }, 'job request rejected: invalid');
      if (p.answerable && p.reply && p.jobId !== null) this.reject(p.jobId, p.reply, 'invalid_request', p.message, { field: p.field });
      else this.deps.emitEvent('job_rejected', 'warning', { job_id: p.jobId, reason: p.reason, field: p.field, message: p.message, topic: m.topic });
      return;
    }
    const req = parsed.request;
    const rejectAs = (reason: string, message: string, extra: Record<string, unknown> = {}): void => {
      this.log.info({ job_id: req.jobId, reason, message }, 'job rejected');
      this.reject(req.jobId, req.reply, reason, message, extra);
    };
    if (fleetModel !== null && req.model !== null && req.model !== fleetModel) {
      return rejectAs('invalid_request', `model ${req.model} does not match the fleet topic's model ${fleetModel}`, { field: 'model' });
    }
    if (this.isActive(req.jobId) || this.ids.has(req.jobId, this.deps.clock.wallMs())) {
      this.log.info({ job_id: req.jobId }, 'job already accepted: repeat ignored');
      return;
    }
    const model = req.model ?? this.modelId;
    if (model === null || model !== this.modelId) {
      if (model !== null && this.modelFiles.some((f) => f.name === model)) return rejectAs('model_not_loaded', `model ${model} is not this heater's model (${this.modelId})`);
      return rejectAs('unknown_model', model === null ? 'this heater has no model' : `model ${model} is not on this heater`);
    }
    if (this.stopping) return rejectAs('draining', 'the heater is stopping');
    if (!this.wantAccept) {
      if (this.control.draining) return rejectAs('draining', 'the heater is draining');
      if (this.fault !== null) return rejectAs('no_heat_demand', `the heater takes no jobs (fault ${this.fault})`);
      return rejectAs('no_heat_demand', 'the room does not ask for heat');
    }
    const startNow = this.queue.length === 0 && this.canStartOne();
    if (!startNow && this.queue.length >= this.cfg.jobs.max_queue) {
      return rejectAs('busy', `${this.running.size} running and ${this.queue.length} queued (jobs.max_queue ${this.cfg.jobs.max_queue})`);
    }
    // Accepted: remembered at once, so a repeat is never run twice.
    this.ids.remember(req.jobId, this.deps.clock.wallMs());
    const job: Job = {
      req,
      source: fleetModel !== null ? 'fleet' : 'direct',
      receivedS: nowS,
      startedS: null,
      energyJ: 0,
      seq: 0,
      buf: '',
      bufTokens: 0,
      flushTimer: null,
      lastFlushMs: 0,
      tokensCounted: 0,
      firstTokenS: null,
      preempted: false,
      requeues: 0,
    };
    const position = startNow ? 0 : this.queue.length + 1;
    this.log.info(
      { job_id: req.jobId, source: job.source, queue_position: position, max_tokens: req.maxTokens, ...(req.maxTokens !== req.maxTokensAsked ? { max_tokens_asked: req.maxTokensAsked } : {}) },
      'job accepted',
    );
    this.send(req.jobId, req.reply, { type: 'accepted', queue_position: position });
    if (startNow) this.startJob(job, nowS);
    else {
      this.queue.push(job);
      this.deps.workQueued?.();
    }
  }

  private onCancel(m: BusMessage): void {
    const parsed = parseCancelRequest(m.payload);
    if (!parsed.ok) {
      this.log.warn({ topic: m.topic, field: parsed.field, reason: parsed.message }, 'cancel ignored: invalid');
      return;
    }
    const id = parsed.jobId;
    const i = this.queue.findIndex((j) => j.req.jobId === id);
    if (i >= 0) {
      const [job] = this.queue.splice(i, 1);
      this.log.info({ job_id: id }, 'job cancelled while queued');
      this.finishError(job!, 'cancelled', 'cancelled while queued');
      return;
    }
    if (this.running.has(id)) {
      this.log.info({ job_id: id }, 'cancelling a running job');
      this.sup?.cancel(id);
      return;
    }
    this.log.debug({ job_id: id }, 'cancel for a job that is not here (finished, or never accepted)');
  }

  private isActive(id: string): boolean {
    return this.running.has(id) || this.queue.some((j) => j.req.jobId === id);
  }

  /* ---------------- running ---------------- */

  private allowedSlots(): number {
    return Math.max(0, Math.min(this.control.sequences, this.cfg.llm.max_parallel));
  }

  private canStartOne(): boolean {
    const sup = this.sup;
    return !!sup && sup.loaded && !this.stopping && this.running.size < this.allowedSlots() && sup.freeSlots > 0;
  }

  private pump(): void {
    const now = this.deps.clock.monoS();
    while (this.queue.length > 0 && this.canStartOne()) this.startJob(this.queue.shift()!, now);
  }

  private startJob(job: Job, nowS: number): void {
    this.accrue(nowS);
    job.startedS = nowS;
    this.running.set(job.req.jobId, job);
    const r = job.req;
    try {
      // Always streamed from the worker (tokens counted live); chunks go out only for stream jobs.
      this.sup!.generate({
        jobId: r.jobId,
        ...(r.prompt !== null ? { prompt: r.prompt } : { messages: r.messages ?? [] }),
        maxTokens: r.maxTokens,
        temperature: r.temperature,
        seed: r.seed,
        stream: true,
      });
    } catch (err) {
      this.running.delete(r.jobId);
      this.finishError(job, 'internal', errorMessage(err));
    }
  }

  private onChunk(c: JobChunk): void {
    const job = this.running.get(c.jobId);
    if (!job) return;
    job.tokensCounted += c.tokens;
    this.tokensPending += c.tokens;
    this.tokensTotal += c.tokens;
    job.firstTokenS ??= this.deps.clock.monoS();
    if (!job.req.stream) return;
    job.buf += c.text;
    job.bufTokens += c.tokens;
    if (job.bufTokens >= CHUNK_TOKENS) this.flush(job);
    else if (!job.flushTimer) {
      const wait = Math.max(0, job.lastFlushMs + CHUNK_INTERVAL_MS - Date.now());
      job.flushTimer = setTimeout(() => this.flush(job), wait);
    }
  }

  private flush(job: Job): void {
    if (job.flushTimer) clearTimeout(job.flushTimer);
    job.flushTimer = null;
    if (job.buf === '') return;
    const text = job.buf;
    job.buf = '';
    job.bufTokens = 0;
    job.lastFlushMs = Date.now();
    this.send(job.req.jobId, job.req.reply, { type: 'chunk', seq: job.seq++, text });
  }

  private onDone(d: JobDone): void {
    const job = this.running.get(d.jobId);
    if (!job) return;
    const now = this.deps.clock.monoS();
    this.accrue(now);
    this.running.delete(d.jobId);
    this.flush(job);
    const extra = d.usage.completionTokens - job.tokensCounted;
    if (extra > 0) {
      this.tokensPending += extra;
      this.tokensTotal += extra;
    }
    const finishReason = job.preempted && d.finishReason === 'cancelled' ? 'preempted' : d.finishReason;
    const startedS = job.startedS ?? now;
    const queueMs = Math.round((startedS - job.receivedS) * 1000);
    const body = {
      type: 'done',
      text: d.text,
      finish_reason: finishReason,
      usage: { prompt_tokens: d.usage.promptTokens, completion_tokens: d.usage.completionTokens },
      timing: { queue_ms: queueMs, ttft_ms: Math.round(queueMs + d.ttftMs), total_ms: Math.round((now - job.receivedS) * 1000) },
      energy_j: Math.round(job.energyJ * 10) / 10,
    };
    this.jobsDone++;
    this.log.info({ job_id: d.jobId, finish_reason: finishReason, usage: body.usage, timing: body.timing, energy_j: body.energy_j }, 'job done');
    this.terminal(job, body);
    this.pump();
  }

  private onJobError(e: JobError): void {
    const job = this.running.get(e.jobId);
    if (!job) return;
    this.accrue(this.deps.clock.monoS());
    this.running.delete(e.jobId);
    if ((e.code === 'busy' || e.code === 'not_loaded') && job.requeues < MAX_REQUEUES && !this.stopping && this.wantAccept) {
      // The worker could not take it now (a race with a load or a restart): back to the head of the queue.
      job.requeues++;
      job.startedS = null;
      this.log.warn({ job_id: e.jobId, code: e.code }, 'worker could not take the job now: queued again');
      this.queue.unshift(job);
      return;
    }
    this.flush(job);
    let code: string;
    if (e.code === 'worker_crashed' || e.code === 'invalid_request') code = e.code;
    else if (e.code === 'worker_stopped' && (this.stopping || job.preempted)) code = 'preempted';
    else if ((e.code === 'busy' || e.code === 'not_loaded') && !this.wantAccept) code = 'preempted';
    else code = 'internal';
    this.finishError(job, code, e.message);
    this.pump();
  }

  private finishError(job: Job, code: string, message: string): void {
    if (job.flushTimer) clearTimeout(job.flushTimer);
    job.flushTimer = null;
    const level = code === 'cancelled' || code === 'expired' || code === 'preempted' ? 'info' : 'warn';
    this.log[level]({ job_id: job.req.jobId, code, message }, 'job ended with an error');
    if (code === 'internal' || code === 'invalid_request' || code === 'worker_crashed') {
      this.deps.emitEvent('job_failed', 'warning', { job_id: job.req.jobId, code, message });
    }
    this.terminal(job, { type: 'error', code, message });
  }

  private preemptQueued(why: string): void {
    for (const job of this.queue.splice(0)) this.finishError(job, 'preempted', `preempted while queued: ${why}`);
  }

  private housekeeping(): void {
    const now = this.deps.clock.monoS();
    this.accrue(now);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const job = this.queue[i]!;
      const ttl = job.req.ttlS;
      if (ttl !== null && now - job.receivedS >= ttl) {
        this.queue.splice(i, 1);
        this.finishError(job, 'expired', `ttl_s (${ttl} s) passed while queued`);
      }
    }
    const drainTimeoutS = this.drainTimeoutOverrideS ?? this.cfg.jobs.drain_timeout_s;
    if (this.drainSinceS !== null && now - this.drainSinceS >= drainTimeoutS) {
      for (const job of this.running.values()) {
        if (job.preempted) continue;
        job.preempted = true;
        this.log.info({ job_id: job.req.jobId, drain_timeout_s: drainTimeoutS }, 'drain timeout: preempting a running job');
        this.sup?.cancel(job.req.jobId);
      }
    }
    this.tokenSamples.push({ s: now, total: this.tokensTotal });
    while (this.tokenSamples.length > 2 && now - this.tokenSamples[1]!.s >= TOKENS_WINDOW_S) this.tokenSamples.shift();
    this.steerModel();
    this.pump();
  }

  /** Energy since the last call, shared equally among the running jobs. */
  private accrue(nowS: number): void {
    const last = this.lastAccrueS;
    this.lastAccrueS = nowS;
    if (last === null || this.running.size === 0) return;
    const dt = nowS - last;
    const p = this.deps.powerW();
    if (!(dt > 0) || p === null || !Number.isFinite(p) || p <= 0) return;
    const share = (p * dt) / this.running.size;
    for (const job of this.running.values()) job.energyJ += share;
  }

  private tokensPerS(): number | null {
    if (!this.sup?.loaded) return null;
    const first = this.tokenSamples[0];
    const last = this.tokenSamples[this.tokenSamples.length - 1];
    if (!first || !last || last.s - first.s <= 0) return 0;
    return Math.round(((last.total - first.total) / (last.s - first.s)) * 10) / 10;
  }

  /* ---------------- replies ---------------- */

  private payload(jobId: string, body: Record<string, unknown>): string {
    const { type, ...rest } = body;
    return JSON.stringify({ type, job_id: jobId, node: this.cfg.node.id, ...rest });
  }

  private properties(reply: JobReplyTarget): BusPublishProperties | undefined {
    return reply.correlationData ? { correlationData: reply.correlationData } : undefined;
  }

  /** A non-terminal reply (accepted, rejected, chunk): published at once, QoS 1. */
  private send(jobId: string, reply: JobReplyTarget, body: Record<string, unknown>): void {
    const properties = this.properties(reply);
    this.deps.bus
      .publish(reply.topic, this.payload(jobId, body), { qos: 1, ...(properties ? { properties } : {}) })
      .catch((err: unknown) => this.log.warn({ job_id: jobId, topic: reply.topic, type: body.type, err: errorMessage(err) }, 'job reply not published'));
  }

  private reject(jobId: string, reply: JobReplyTarget, reason: string, message: string, extra: Record<string, unknown> = {}): void {
    this.send(jobId, reply, { type: 'rejected', reason, message, ...extra });
  }

  /** The one terminal answer of an accepted job (done or error): through the durable outbox. */
  private terminal(job: Job, body: Record<string, unknown>): void {
    const properties = this.properties(job.req.reply);
    void this.outbox.add({ topic: job.req.reply.topic, payload: this.payload(job.req.jobId, body), terminal: true, ...(properties ? { properties } : {}) });
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ what, err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'job runtime handler failed');
    }
  }
}

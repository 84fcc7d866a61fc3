import { EventEmitter } from 'node:events';
import type { Backend } from '../../agent/adapters/llm/worker-protocol.js';
import type { JobRequest, LoadedInfo, LoadOptions, WorkerSupervisor, WorkerSupervisorEvents } from '../../agent/adapters/llm/worker-supervisor.js';

/**
 * A hand-driven stand-in for WorkerSupervisor: records what it is asked, and the test makes the
 * "worker" answer (finishLoad, emit chunk/done/job_error/crashed).
 */
export class FakeSupervisor extends EventEmitter<WorkerSupervisorEvents> {
  loaded = false;
  loading = false;
  backend: Backend | null = null;
  model: string | null = null;
  pid: number | null = 4242;
  sequences = 0;
  readonly jobs = new Map<string, JobRequest>();
  readonly loads: Array<{ path: string; opts: LoadOptions }> = [];
  readonly cancels: string[] = [];
  kills = 0;
  private pendingLoad: { resolve: (i: LoadedInfo) => void; reject: (e: Error) => void } | null = null;

  get activeJobs(): number {
    return this.jobs.size;
  }
  get freeSlots(): number {
    return this.loaded ? Math.max(0, this.sequences - this.jobs.size) : 0;
  }

  start(): void {}
  async stop(): Promise<void> {
    for (const id of [...this.jobs.keys()]) this.error(id, 'worker_stopped', 'stopped');
  }

  load(path: string, opts: LoadOptions): Promise<LoadedInfo> {
    this.loads.push({ path, opts });
    this.loading = true;
    return new Promise((resolve, reject) => {
      this.pendingLoad = { resolve, reject };
    });
  }

  /** The worker answers the pending load. */
  finishLoad(backend: Backend = 'cpu', model = 'tiny'): void {
    const info: LoadedInfo = { model, backend, loadMs: 12, trainContextSize: 2048, contextSize: 512, sequences: this.loads.at(-1)?.opts.sequences ?? 1 };
    this.loaded = true;
    this.loading = false;
    this.backend = backend;
    this.model = model;
    this.sequences = info.sequences;
    this.pendingLoad?.resolve(info);
    this.pendingLoad = null;
    this.emit('loaded', info);
  }

  async unload(): Promise<void> {
    this.markUnloaded();
  }

  async kill(): Promise<void> {
    this.kills++;
    for (const id of [...this.jobs.keys()]) this.error(id, 'worker_stopped', 'killed');
    if (this.loading) {
      this.pendingLoad?.reject(Object.assign(new Error('killed'), { code: 'worker_stopped' }));
      this.pendingLoad = null;
      this.loading = false;
    }
    this.markUnloaded();
  }

  generate(req: JobRequest): void {
    this.jobs.set(req.jobId, req);
  }

  cancel(jobId: string): void {
    this.cancels.push(jobId);
  }

  /** A streamed piece of `tokens` generated tokens (the real worker coalesces them). */
  chunk(jobId: string, text: string, tokens = 1): void {
    this.emit('chunk', { jobId, text, tokens });
  }

  done(jobId: string, finishReason: 'stop' | 'length' | 'cancelled' = 'stop', text = 'ok', completionTokens = 1): void {
    this.jobs.delete(jobId);
    this.emit('done', { jobId, text, finishReason, usage: { promptTokens: 3, completionTokens }, ttftMs: 5, totalMs: 50 });
  }

  error(jobId: string, code: string, message = code): void {
    this.jobs.delete(jobId);
    this.emit('job_error', { jobId, code, message });
  }

  private markUnloaded(): void {
    const was = this.loaded;
    this.loaded = false;
    this.model = null;
    this.backend = null;
    if (was) this.emit('unloaded');
  }

  asSupervisor(): WorkerSupervisor {
    return this as unknown as WorkerSupervisor;
  }
}

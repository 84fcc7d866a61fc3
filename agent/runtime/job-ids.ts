/**
 * The job ids this heater accepted, with the wall time they were accepted, so it never runs the same
 * job_id twice — across restarts too (spec: remembered at least 24 h). Kept in memory (checked at
 * once) and persisted as one JSON document in the state dir, written atomically (JsonFileStore);
 * writes are coalesced: at most one in flight, the next one carries every id remembered meanwhile.
 * Bounded: past `maxEntries` the oldest ids are forgotten first (logged).
 */
import { AgentError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { JsonFileStore } from '../adapters/system/json-file-store.js';

export const JOB_IDS_FILE = 'job-ids.json';
/** Never less than a day (the contract's minimum). */
export const MIN_JOB_ID_RETAIN_S = 24 * 3600;
export const DEFAULT_JOB_ID_RETAIN_S = 26 * 3600;
export const DEFAULT_MAX_JOB_IDS = 50_000;

export interface JobIdMemoryOptions {
  fileName?: string;
  /** How long an id is remembered (s, at least 24 h; default 26 h). */
  retainS?: number;
  /** Ids kept at most (default 50 000). */
  maxEntries?: number;
  log: Logger;
  /** A write failed (coded: state_disk_full, state_write_failed): the caller reports it. Never throws. */
  onError?: (err: AgentError) => void;
}

interface JobIdsDocument {
  version: 1;
  /** id → wall ms when accepted. */
  ids: Record<string, number>;
}

export class JobIdMemory {
  /** In acceptance order (oldest first). */
  private readonly ids = new Map<string, number>();
  private readonly fileName: string;
  private readonly retainMs: number;
  private readonly maxEntries: number;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private evicted = 0;

  constructor(
    private readonly store: JsonFileStore,
    private readonly opts: JobIdMemoryOptions,
  ) {
    this.fileName = opts.fileName ?? JOB_IDS_FILE;
    this.retainMs = Math.max(MIN_JOB_ID_RETAIN_S, opts.retainS ?? DEFAULT_JOB_ID_RETAIN_S) * 1000;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_JOB_IDS);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Ids forgotten early because the memory was full. */
  get evictedCount(): number {
    return this.evicted;
  }

  /** Reads the persisted ids (expired ones dropped). An unreadable file is reported and set aside: it starts empty. */
  async load(nowMs: number): Promise<void> {
    let doc: Partial<JobIdsDocument> | null = null;
    try {
      doc = await this.store.read<Partial<JobIdsDocument>>(this.fileName);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err), file: this.fileName }, 'remembered job ids unreadable: starting with none');
      this.opts.onError?.(err instanceof AgentError ? err : new AgentError('state_read_failed', errorMessage(err)));
      return;
    }
    const ids = doc && typeof doc.ids === 'object' && doc.ids !== null ? doc.ids : {};
    const entries = Object.entries(ids)
      .filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]) && nowMs - e[1] < this.retainMs)
      .sort((a, b) => a[1] - b[1]);
    this.ids.clear();
    for (const [id, at] of entries) this.ids.set(id, at);
    this.trim();
    this.opts.log.debug({ ids: this.ids.size }, 'remembered job ids loaded');
  }

  has(id: string, nowMs: number): boolean {
    const at = this.ids.get(id);
    if (at === undefined) return false;
    if (nowMs - at >= this.retainMs) {
      this.ids.delete(id);
      return false;
    }
    return true;
  }

  /** Remembers an accepted id now (in memory at once) and schedules the write. */
  remember(id: string, nowMs: number): void {
    this.ids.delete(id);
    this.ids.set(id, nowMs);
    this.expire(nowMs);
    this.trim();
    this.schedule();
  }

  /** Resolves once every id remembered so far is on disk (or its write failed and was reported). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private expire(nowMs: number): void {
    for (const [id, at] of this.ids) {
      if (nowMs - at < this.retainMs) break;
      this.ids.delete(id);
    }
  }

  private trim(): void {
    let dropped = 0;
    while (this.ids.size > this.maxEntries) {
      const oldest = this.ids.keys().next().value as string;
      this.ids.delete(oldest);
      dropped++;
    }
    if (dropped > 0) {
      this.evicted += dropped;
      this.opts.log.warn({ dropped, maxEntries: this.maxEntries }, 'job id memory full: the oldest ids were forgotten early');
    }
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const doc: JobIdsDocument = { version: 1, ids: Object.fromEntries(this.ids) };
      try {
        await this.store.write(this.fileName, doc);
      } catch (err) {
        const e = err instanceof AgentError ? err : new AgentError('state_write_failed', errorMessage(err));
        this.opts.log.error({ err: e.message, code: e.code }, 'cannot persist remembered job ids');
        this.opts.onError?.(e);
        return;
      }
    }
  }
}

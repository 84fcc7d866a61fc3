/**
 * A durable outbox: messages that must not be lost (terminal job answers) are appended to a JSON
 * lines file in the state dir and fsync'd before they are published; an entry is removed (an `ack`
 * line) once the broker acknowledged it (PUBACK). On start the file is read and compacted, and every
 * entry left is published again, in order; after every reconnect the entries not in flight are
 * published again (the MQTT client itself re-sends those that were in flight). Delivery is at least
 * once: receivers de-duplicate.
 *
 * Bounded (maxEntries, maxBytes of topic + payload): when full, the oldest NON-terminal entries are
 * dropped first (counted and logged); terminal entries are never dropped (past the bounds they are
 * kept anyway, with a warning). A file that cannot be written (disk full, read-only) never throws:
 * the entry stays in memory (still published while the process lives) and `onError` gets a coded
 * AgentError (`outbox_disk_full`, `outbox_write_failed`, `outbox_read_failed`) for the caller to
 * turn into an event.
 *
 * File lines: {"op":"add","id","topic","payload","properties"?,"terminal","ts"} and {"op":"ack","id"}.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { writeFileDurably } from './json-file-store.js';
import type { BusPublishProperties, MessageBus, Unsubscribe } from '../../ports/bus.js';

export const OUTBOX_FILE = 'outbox.jsonl';
export const OUTBOX_DEFAULTS = {
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  /** The file is compacted once it is this large and mostly acknowledged entries. */
  compactAtBytes: 1024 * 1024,
  /** An entry in flight this long while connected is published again. */
  retryInFlightMs: 30_000,
} as const;

export interface OutboxMessage {
  topic: string;
  payload: string;
  properties?: BusPublishProperties;
  /** A terminal job answer: never dropped to make room. */
  terminal?: boolean;
  retain?: boolean;
}

export interface OutboxOptions {
  /** The state dir. */
  dir: string;
  fileName?: string;
  maxEntries?: number;
  maxBytes?: number;
  compactAtBytes?: number;
  retryInFlightMs?: number;
  bus: MessageBus;
  log: Logger;
  /** A coded problem with the file (never thrown). */
  onError?: (err: AgentError) => void;
}

export interface OutboxAddResult {
  id: string;
  /** On disk (fsync'd); false: in memory only (the write failed and was reported). */
  durable: boolean;
  /** The message was dropped because the outbox was full of other non-terminal messages. */
  dropped: boolean;
}

export interface OutboxStats {
  entries: number;
  bytes: number;
  inFlight: number;
  /** Acknowledged by the broker since start. */
  published: number;
  /** Non-terminal messages dropped because the outbox was full, since start. */
  dropped: number;
  /** Messages the broker refused for good (e.g. ACL), removed, since start. */
  refused: number;
  writeFailures: number;
  fileBytes: number;
}

interface Entry {
  id: string;
  msg: OutboxMessage;
  ts: number;
  bytes: number;
  /** Wall ms of the publish in flight, or null. */
  inFlightSince: number | null;
  /** Connection generation of the publish in flight. */
  attemptGen: number;
}

interface PendingWrite {
  line: string;
  sync: boolean;
  done: (ok: boolean) => void;
}

interface PersistedProperties extends Omit<BusPublishProperties, 'correlationData'> {
  correlationData?: string;
}

function toPersisted(p: BusPublishProperties | undefined): PersistedProperties | undefined {
  if (!p) return undefined;
  const { correlationData, ...rest } = p;
  return correlationData ? { ...rest, correlationData: correlationData.toString('base64') } : rest;
}

function fromPersisted(p: unknown): BusPublishProperties | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const { correlationData, ...rest } = p as PersistedProperties;
  return typeof correlationData === 'string' ? { ...rest, correlationData: Buffer.from(correlationData, 'base64') } : rest;
}

function entryBytes(m: OutboxMessage): number {
  return Buffer.byteLength(m.topic) + Buffer.byteLength(m.payload);
}

function addLine(e: Entry): string {
  const props = toPersisted(e.msg.properties);
  return (
    JSON.stringify({
      op: 'add',
      id: e.id,
      topic: e.msg.topic,
      payload: e.msg.payload,
      ...(props ? { properties: props } : {}),
      terminal: e.msg.terminal === true,
      ...(e.msg.retain ? { retain: true } : {}),
      ts: e.ts,
    }) + '\n'
  );
}

function ioError(err: unknown, what: string): AgentError {
  const errno = (err as NodeJS.ErrnoException).code;
  return new AgentError(errno === 'ENOSPC' || errno === 'EDQUOT' ? 'outbox_disk_full' : 'outbox_write_failed', `outbox: cannot ${what}: ${errorMessage(err)}`, {
    errno: errno ?? null,
  });
}

export class Outbox {
  private readonly entries = new Map<string, Entry>();
  private readonly file: string;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly compactAtBytes: number;
  private readonly retryInFlightMs: number;
  private readonly log: Logger;
  private fh: FileHandle | null = null;
  private started = false;
  private stopped = false;
  private bytes = 0;
  private fileBytes = 0;
  private connGen = 0;
  private queue: PendingWrite[] = [];
  private writer: Promise<void> | null = null;
  /** The file may hold a torn line (a failed write): rewrite it before appending again. */
  private needsRewrite = false;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private readonly counters = { published: 0, dropped: 0, refused: 0, writeFailures: 0 };
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly opts: OutboxOptions) {
    this.file = join(opts.dir, opts.fileName ?? OUTBOX_FILE);
    this.maxEntries = Math.max(1, opts.maxEntries ?? OUTBOX_DEFAULTS.maxEntries);
    this.maxBytes = Math.max(1, opts.maxBytes ?? OUTBOX_DEFAULTS.maxBytes);
    this.compactAtBytes = opts.compactAtBytes ?? OUTBOX_DEFAULTS.compactAtBytes;
    this.retryInFlightMs = opts.retryInFlightMs ?? OUTBOX_DEFAULTS.retryInFlightMs;
    this.log = opts.log.child({ component: 'outbox' });
  }

  stats(): OutboxStats {
    let inFlight = 0;
    for (const e of this.entries.values()) if (e.inFlightSince !== null) inFlight++;
    return { entries: this.entries.size, bytes: this.bytes, inFlight, ...this.counters, fileBytes: this.fileBytes };
  }

  /** Entries waiting for their PUBACK, oldest first (tests, diagnostics). */
  pending(): Array<{ id: string } & OutboxMessage> {
    return [...this.entries.values()].map((e) => ({ id: e.id, ...e.msg }));
  }

  /** Reads and compacts the file, then publishes what it held (now, or at the next connect). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.load();
    await this.rewrite();
    this.unsubscribe = this.opts.bus.onConnect(() => this.onConnect());
    this.timer = setInterval(() => this.retryStuck(), Math.max(50, Math.min(5000, this.retryInFlightMs / 2)));
    this.timer.unref();
    if (this.entries.size > 0) this.log.info({ entries: this.entries.size }, 'outbox: replaying what was not acknowledged');
    if (this.opts.bus.connected) this.onConnect();
  }

  /** Waits for the file writes, then closes the file. Entries left stay on disk for the next start. */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    while (this.writer) await this.writer;
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Resolves true once the outbox is empty, false after timeoutMs. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.entries.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.drainWaiters.indexOf(done);
        if (i >= 0) this.drainWaiters.splice(i, 1);
        resolve(this.entries.size === 0);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(this.entries.size === 0);
      };
      this.drainWaiters.push(done);
    });
  }

  /** Stores the message (fsync'd), then publishes it (QoS 1). Never throws. */
  async add(msg: OutboxMessage): Promise<OutboxAddResult> {
    const id = randomUUID();
    if (!this.started || this.stopped) {
      this.log.error({ topic: msg.topic }, 'outbox used while not started: publishing without durability');
      void this.opts.bus.publish(msg.topic, msg.payload, { qos: 1, retain: msg.retain ?? false, properties: msg.properties }).catch(() => undefined);
      return { id, durable: false, dropped: false };
    }
    const e: Entry = { id, msg, ts: Date.now(), bytes: entryBytes(msg), inFlightSince: null, attemptGen: -1 };
    if (!this.makeRoom(e)) return { id, durable: false, dropped: true };
    this.entries.set(id, e);
    this.bytes += e.bytes;
    const durable = await this.write(addLine(e), true);
    if (this.entries.has(id)) this.publish(e);
    return { id, durable, dropped: false };
  }

  /* ---------------- bounds ---------------- */

  private makeRoom(incoming: Entry): boolean {
    const over = (): boolean => this.entries.size + 1 > this.maxEntries || this.bytes + incoming.bytes > this.maxBytes;
    if (!over()) return true;
    const dropped: Entry[] = [];
    for (const e of this.entries.values()) {
      if (!over()) break;
      if (e.msg.terminal) continue;
      this.entries.delete(e.id);
      this.bytes -= e.bytes;
      dropped.push(e);
    }
    for (const e of dropped) void this.write(JSON.stringify({ op: 'ack', id: e.id }) + '\n', false);
    this.counters.dropped += dropped.length;
    if (dropped.length > 0) {
      this.log.warn({ dropped: dropped.length, topics: dropped.slice(0, 5).map((e) => e.msg.topic), maxEntries: this.maxEntries, maxBytes: this.maxBytes }, 'outbox full: oldest non-terminal messages dropped');
    }
    if (!over()) return true;
    if (incoming.msg.terminal) {
      this.log.warn({ entries: this.entries.size, bytes: this.bytes, maxEntries: this.maxEntries, maxBytes: this.maxBytes }, 'outbox over its bounds: a terminal answer is kept anyway');
      return true;
    }
    this.counters.dropped++;
    this.log.warn({ topic: incoming.msg.topic }, 'outbox full of terminal answers: non-terminal message dropped');
    return false;
  }

  /* ---------------- publishing ---------------- */

  private onConnect(): void {
    if (this.stopped) return;
    this.connGen++;
    for (const e of this.entries.values()) {
      // One in flight from the previous connection is re-sent by the MQTT client itself.
      if (e.inFlightSince === null) this.publish(e);
    }
  }

  private retryStuck(): void {
    if (!this.opts.bus.connected || this.stopped) return;
    const now = Date.now();
    for (const e of this.entries.values()) {
      if (e.inFlightSince !== null && now - e.inFlightSince >= this.retryInFlightMs) {
        this.log.warn({ id: e.id, topic: e.msg.topic }, 'outbox: no acknowledgement, publishing again');
        e.inFlightSince = null;
        this.publish(e);
      }
    }
  }

  private publish(e: Entry): void {
    if (this.stopped || !this.opts.bus.connected || e.inFlightSince !== null) return;
    e.inFlightSince = Date.now();
    e.attemptGen = this.connGen;
    const m = e.msg;
    this.opts.bus.publish(m.topic, m.payload, { qos: 1, retain: m.retain ?? false, ...(m.properties ? { properties: m.properties } : {}) }).then(
      () => {
        this.counters.published++;
        this.remove(e);
      },
      (err: unknown) => {
        if (!this.entries.has(e.id)) return;
        const code = (err as { code?: string }).code;
        if (code === 'mqtt_publish_refused') {
          // The broker will never take it (ACL, invalid topic): keeping it would replay it forever.
          this.counters.refused++;
          this.log.error({ topic: m.topic, err: errorMessage(err) }, 'outbox: the broker refused a message; removed');
          this.remove(e);
          return;
        }
        e.inFlightSince = null;
        this.log.debug({ topic: m.topic, err: errorMessage(err) }, 'outbox: publish failed, kept for the next connection');
      },
    );
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.id) !== e) return;
    this.entries.delete(e.id);
    this.bytes -= e.bytes;
    void this.write(JSON.stringify({ op: 'ack', id: e.id }) + '\n', false);
    if (this.entries.size === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /* ---------------- the file ---------------- */

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      const e = new AgentError('outbox_read_failed', `outbox: cannot read ${this.file}: ${errorMessage(err)}`);
      this.log.error({ err: e.message }, 'outbox unreadable: starting empty (the file is kept aside)');
      this.opts.onError?.(e);
      await rename(this.file, `${this.file}.unreadable-${Date.now()}`).catch(() => undefined);
      return;
    }
    const lines = text.split('\n');
    let bad = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        bad++; // a torn line from a crash or a failed write
        continue;
      }
      if (rec.op === 'ack' && typeof rec.id === 'string') {
        const e = this.entries.get(rec.id);
        if (e) {
          this.entries.delete(rec.id);
          this.bytes -= e.bytes;
        }
      } else if (rec.op === 'add' && typeof rec.id === 'string' && typeof rec.topic === 'string' && typeof rec.payload === 'string') {
        const msg: OutboxMessage = { topic: rec.topic, payload: rec.payload, terminal: rec.terminal === true };
        const props = fromPersisted(rec.properties);
        if (props) msg.properties = props;
        if (rec.retain === true) msg.retain = true;
        const e: Entry = { id: rec.id, msg, ts: typeof rec.ts === 'number' ? rec.ts : 0, bytes: entryBytes(msg), inFlightSince: null, attemptGen: -1 };
        this.entries.set(e.id, e);
        this.bytes += e.bytes;
      } else {
        bad++;
      }
    }
    if (bad > 0) this.log.warn({ lines: bad, file: this.file }, 'outbox: unreadable lines skipped');
  }

  /** Rewrites the file with the live entries (tmp, fsync, rename) and reopens it for appending. */
  private async rewrite(): Promise<boolean> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    const data = [...this.entries.values()].map(addLine).join('');
    try {
      await writeFileDurably(this.file, data);
      this.fh = await open(this.file, 'a', 0o640);
      this.fileBytes = Buffer.byteLength(data);
      this.needsRewrite = false;
      return true;
    } catch (err) {
      this.needsRewrite = true;
      this.reportWriteError(ioError(err, `write ${this.file}`));
      return false;
    }
  }

  private reportWriteError(e: AgentError): void {
    this.counters.writeFailures++;
    this.log.error({ code: e.code, err: e.message }, 'outbox write failed: answers are kept in memory only until it works again');
    this.opts.onError?.(e);
  }

  /** Appends a line (group commit: lines queued meanwhile share one write and one fsync). */
  private write(line: string, sync: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ line, sync, done: resolve });
      if (!this.writer) {
        this.writer = this.writeLoop().finally(() => {
          this.writer = null;
        });
      }
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      let ok: boolean;
      if (this.needsRewrite || !this.fh) {
        // The live entries (those in the batch included) are in memory: rewriting the whole file covers them.
        ok = await this.rewrite();
      } else {
        ok = await this.append(batch);
        if (ok && this.fileBytes >= this.compactAtBytes && this.fileBytes > 4 * (this.bytes + 256 * this.entries.size)) {
          await this.rewrite();
        }
      }
      for (const w of batch) w.done(ok);
    }
  }

  private async append(batch: PendingWrite[]): Promise<boolean> {
    const fh = this.fh as FileHandle;
    const data = batch.map((w) => w.line).join('');
    try {
      await fh.appendFile(data, 'utf8');
      if (batch.some((w) => w.sync)) await fh.sync();
      this.fileBytes += Buffer.byteLength(data);
      return true;
    } catch (err) {
      this.needsRewrite = true;
      this.reportWriteError(ioError(err, `append to ${this.file}`));
      return false;
    }
  }
}

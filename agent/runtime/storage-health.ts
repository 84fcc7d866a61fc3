/**
 * The state directory as the runtime sees it: writable, or failing since when and why. Persisting
 * must never stop the control loop, so every failure lands here instead of escaping:
 * - while writes fail, reason() names the trouble (`state_disk_full`, `state_dir_unwritable`,
 *   `state_write_failed`) and annotate() adds it to the state snapshot's `reasons`;
 * - the first failure of a streak raises one event `state_write_failed` {code, file, message};
 *   the first success after it raises `state_write_restored` {code, failures, since};
 * - status() gives the whole picture (doctor, metrics, tests).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Severity } from './event-publisher.js';

export type StorageReason = 'state_disk_full' | 'state_dir_unwritable' | 'state_write_failed';

export interface StorageStatus {
  ok: boolean;
  /** The trouble of the current streak (the latest failure's), null while writable. */
  reason: StorageReason | null;
  /** Failed writes in the current streak. */
  failures: number;
  /** Wall ms of the streak's first failure, null while writable. */
  sinceMs: number | null;
  /** The latest failure (file and message), kept after the streak ended. */
  last: { file: string; reason: StorageReason; message: string; atMs: number } | null;
  /** Failed writes since start. */
  totalFailures: number;
}

export interface StorageHealthDeps {
  log: Logger;
  /** Wall clock (ms), for the event fields. */
  now: () => number;
  emit: (type: string, severity: Severity, fields: Record<string, unknown>) => void;
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOENT', 'EEXIST', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/** What a failed state write means for an operator: disk full, directory unwritable, or other. */
export function classifyStorageError(err: unknown): StorageReason {
  const e = err as { code?: unknown; details?: { errno?: unknown }; errno?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const errno = typeof e?.details?.errno === 'string' ? e.details.errno : code;
  if (code === 'state_disk_full' || code === 'outbox_disk_full' || DISK_FULL.has(errno)) return 'state_disk_full';
  if (code === 'state_dir_unwritable' || UNWRITABLE.has(errno)) return 'state_dir_unwritable';
  const text = errorMessage(err);
  if (/\bENOSPC\b|\bEDQUOT\b|no space left/i.test(text)) return 'state_disk_full';
  if (/\b(EACCES|EPERM|EROFS|ENOTDIR|ENOENT|EEXIST|EISDIR)\b|read-only file system|permission denied|not a directory/i.test(text)) return 'state_dir_unwritable';
  return 'state_write_failed';
}

export class StorageHealth {
  private readonly log: Logger;
  private reasonNow: StorageReason | null = null;
  private failures = 0;
  private sinceMs: number | null = null;
  private totalFailures = 0;
  private last: StorageStatus['last'] = null;

  constructor(private readonly deps: StorageHealthDeps) {
    this.log = deps.log.child({ component: 'storage' });
  }

  get failing(): boolean {
    return this.reasonNow !== null;
  }

  reason(): StorageReason | null {
    return this.reasonNow;
  }

  /** A write (or the directory check) failed. Never throws. */
  failed(file: string, err: unknown): void {
    const reason = classifyStorageError(err);
    const message = errorMessage(err);
    const atMs = this.deps.now();
    this.totalFailures++;
    this.failures++;
    this.last = { file, reason, message, atMs };
    const first = this.reasonNow === null;
    this.reasonNow = reason;
    if (first) {
      this.sinceMs = atMs;
      this.log.error({ file, code: reason, err: message }, 'state directory not writable: operator state and counters are kept in memory until it works again');
      this.deps.emit('state_write_failed', 'error', { code: reason, file, message });
    } else {
      this.log.debug({ file, code: reason, failures: this.failures }, 'state write failed again');
    }
  }

  /** A write succeeded: ends a failure streak (one event). */
  succeeded(file: string): void {
    if (this.reasonNow === null) return;
    const fields = {
      code: this.reasonNow,
      file,
      failures: this.failures,
      since: new Date(this.sinceMs ?? this.deps.now()).toISOString(),
    };
    this.reasonNow = null;
    this.failures = 0;
    this.sinceMs = null;
    this.log.info(fields, 'state directory writable again');
    this.deps.emit('state_write_restored', 'info', fields);
  }

  /** The snapshot with the storage reason added to `reasons` while writes fail (a new object; the input is not changed). */
  annotate<S extends { reasons: string[] }>(snapshot: S): S {
    const r = this.reasonNow;
    if (r === null || snapshot.reasons.includes(r)) return snapshot;
    return { ...snapshot, reasons: [...snapshot.reasons, r] };
  }

  status(): StorageStatus {
    return {
      ok: this.reasonNow === null,
      reason: this.reasonNow,
      failures: this.failures,
      sinceMs: this.sinceMs,
      last: this.last,
      totalFailures: this.totalFailures,
    };
  }
}

/**
 * Can the agent keep its state here? A real write (a small file, fsync'd, then removed) and the free
 * space (statfs): what the doctor reports before the daemon runs into it. Never throws.
 */
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { classifyStorageError, type StorageReason } from './storage-health.js';

/** Below this much free space the state dir is reported as (nearly) full. */
export const STATE_DIR_MIN_FREE_BYTES = 1024 * 1024;

export interface StateDirProbe {
  ok: boolean;
  /** Why not: the reason code the state snapshot would show. */
  reason: StorageReason | null;
  message: string;
  /** Free bytes for an unprivileged user, when statfs answers. */
  freeBytes: number | null;
}

export async function probeStateDir(dir: string, minFreeBytes = STATE_DIR_MIN_FREE_BYTES): Promise<StateDirProbe> {
  let freeBytes: number | null = null;
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const file = join(dir, `.anchiale-probe-${process.pid}`);
    try {
      const fh = await open(file, 'w', 0o640);
      try {
        await fh.writeFile(Buffer.alloc(4096, 0x20));
        await fh.sync();
      } finally {
        await fh.close();
      }
    } finally {
      await rm(file, { force: true }).catch(() => undefined);
    }
  } catch (err) {
    return { ok: false, reason: classifyStorageError(err), message: `${dir}: ${errorMessage(err)}`, freeBytes };
  }
  try {
    const s = await statfs(dir);
    freeBytes = Number(s.bavail) * Number(s.bsize);
  } catch {
    /* unknown */
  }
  if (freeBytes !== null && freeBytes < minFreeBytes) {
    return { ok: false, reason: 'state_disk_full', message: `${dir}: only ${freeBytes} bytes free (under ${minFreeBytes})`, freeBytes };
  }
  return { ok: true, reason: null, message: `${dir} writable${freeBytes !== null ? `, ${Math.round(freeBytes / 1048576)} MiB free` : ''}`, freeBytes };
}

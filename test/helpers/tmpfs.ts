/**
 * A tiny tmpfs for storage faults (a full disk, a file system turned read-only) where this machine
 * lets us mount one (root with CAP_SYS_ADMIN, as in CI); callers fall back to another way of making
 * the fault when mountTmpfs() answers null.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  readonly dir: string;
  remount(mode: 'ro' | 'rw'): Promise<void>;
  /** Fills the file system (a filler file written until ENOSPC); returns its path. */
  fill(): Promise<string>;
  /** Unmounts (lazily, so an open file cannot block it) and removes the mount point. */
  cleanup(): Promise<void>;
}

/** A fresh tmpfs of `sizeKiB`, or null when this machine does not let us mount one. */
export async function mountTmpfs(sizeKiB = 64): Promise<Tmpfs | null> {
  // ANCHIALE_TEST_NO_TMPFS=1 exercises the callers' fallbacks on a machine that could mount one.
  if (process.env.ANCHIALE_TEST_NO_TMPFS === '1') return null;
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0750`, 'tmpfs', dir], { timeout: 5000 });
  } catch {
    await rm(dir, { recursive: true, force: true });
    return null;
  }
  let mounted = true;
  return {
    dir,
    async remount(mode) {
      await run('mount', ['-o', `remount,${mode}`, dir], { timeout: 5000 });
    },
    async fill() {
      const filler = join(dir, 'filler.bin');
      try {
        await writeFile(filler, Buffer.alloc(sizeKiB * 1024 * 2, 0x55));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
      return filler;
    },
    async cleanup() {
      if (mounted) {
        mounted = false;
        await run('umount', ['-l', dir], { timeout: 5000 }).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError, errorMessage } from '../../errors.js';

/**
 * Small JSON documents in the state directory, written atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory. A crash at any point leaves either
 * the old or the new document, never a torn one.
 */
export class JsonFileStore {
  constructor(private readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  async ensureDir(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new AgentError('state_dir_unwritable', `cannot create state directory ${this.dir}: ${errorMessage(err)}`);
    }
  }

  /** The document, or null when absent. A corrupt file is an error (never silently replaced). */
  async read<T>(name: string): Promise<T | null> {
    const file = this.path(name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new AgentError('state_read_failed', `cannot read ${file}: ${errorMessage(err)}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new AgentError('state_corrupt', `${file} is not valid JSON: ${errorMessage(err)}`);
    }
  }

  async write(name: string, value: unknown): Promise<void> {
    const file = this.path(name);
    const tmp = `${file}.${process.pid}.tmp`;
    const data = JSON.stringify(value, null, 1) + '\n';
    try {
      const fh = await open(tmp, 'w', 0o640);
      try {
        await fh.writeFile(data, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      await syncDir(dirname(file));
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      throw new AgentError(code === 'ENOSPC' ? 'state_disk_full' : 'state_write_failed', `cannot write ${file}: ${errorMessage(err)}`, { errno: code });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError, errorMessage } from '../../errors.js';

/**
 * Small JSON documents in the state directory, written atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory. A crash at any point leaves either
 * the old or the new document, never a torn one.
 */
export class JsonFileStore {
  /** Writes of one document run one after the other, in call order (the last call wins). */
  private readonly chains = new Map<string, Promise<void>>();

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

  write(name: string, value: unknown): Promise<void> {
    let data: string;
    try {
      data = JSON.stringify(value, null, 1) + '\n';
    } catch (err) {
      return Promise.reject(new AgentError('state_write_failed', `cannot serialise ${name}: ${errorMessage(err)}`));
    }
    const previous = this.chains.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.writeNow(name, data));
    this.chains.set(name, next);
    void next.finally(() => {
      if (this.chains.get(name) === next) this.chains.delete(name);
    }).catch(() => undefined);
    return next;
  }

  private async writeNow(name: string, data: string): Promise<void> {
    const file = this.path(name);
    // Writes of one name are serialized (write()), so one temp name per process cannot collide.
    try {
      await writeFileDurably(file, data);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new AgentError(code === 'ENOSPC' ? 'state_disk_full' : 'state_write_failed', `cannot write ${file}: ${errorMessage(err)}`, { errno: code });
    }
  }
}

/**
 * Replaces `file` with `data` so that a crash leaves the old or the new content, never a mix:
 * a temporary file (`<file>.<pid>.tmp`, mode 0640) written and fsynced, renamed over `file`, then
 * the directory fsynced. On failure the temporary file is removed and the error rethrown as is.
 */
export async function writeFileDurably(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
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
    throw err;
  }
}

/** fsync a directory after a rename (best effort). */
export async function syncDir(dir: string): Promise<void> {
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

/**
 * Runs a program without a shell and collects what it printed; never rejects. The event loop is
 * never blocked (unlike execFileSync, which systeminformation uses).
 */
import { execFile } from 'node:child_process';

export interface ExecResult {
  /** Exit status; null when killed by a signal or not started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started (ENOENT, EACCES) or timed out ('ETIMEDOUT'). */
  error: string | null;
}

export interface ExecOptions {
  /** Killed (SIGKILL) after this long (default 10 s). */
  timeoutMs?: number;
  /** Environment (PATH lookup uses its PATH); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Largest output kept per stream (default 1 MiB). */
  maxBuffer?: number;
}

export type ExecFn = (file: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export const execFileResult: ExecFn = (file, args, opts = {}) =>
  new Promise((resolve) => {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    execFile(
      file,
      [...args],
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: opts.maxBuffer ?? 1024 * 1024, env: opts.env ?? process.env, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, signal: null, stdout, stderr, error: null });
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null; killed?: boolean };
        if (typeof e.code === 'string') {
          return resolve({ code: null, signal: null, stdout: stdout ?? '', stderr: stderr ?? '', error: e.code });
        }
        const timedOut = e.killed === true && e.signal === 'SIGKILL';
        resolve({
          code: typeof e.code === 'number' ? e.code : null,
          signal: e.signal ?? null,
          stdout: stdout ?? '',
          stderr: stderr ?? '',
          error: timedOut ? 'ETIMEDOUT' : null,
        });
      },
    );
  });

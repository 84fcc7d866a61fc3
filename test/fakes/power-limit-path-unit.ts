/**
 * Stands in for anchiale-power-limit.path + .service in tests: a temporary root with
 * run/anchiale/power-limit (3770, as tmpfiles.d makes it) and etc/anchiale/site-max-power-w, and a
 * watcher that runs the real provisioning/power-limit-helper.sh --apply whenever the request
 * file changes (PathChanged=), one run at a time, as the oneshot would.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HELPER_SCRIPT = path.join(PROJECT_DIR, 'provisioning', 'power-limit-helper.sh');

export interface PathUnitOptions {
  /** Content of etc/anchiale/site-max-power-w; null: no file. */
  siteMaxW?: number | null;
  /** Environment of the helper (the fake nvidia-smi's state, PATH…). */
  env: NodeJS.ProcessEnv;
  /** nvidia-smi the helper runs. */
  nvidiaSmi: string;
  /** false: nothing answers (the path unit is not active). */
  answer?: boolean;
}

export interface FakePathUnit {
  root: string;
  dir: string;
  /** Helper runs so far. */
  runs(): number;
  /** The helper's last stderr (its log). */
  lastLog(): string;
  result(): Promise<Record<string, unknown> | null>;
  stop(): Promise<void>;
}

export async function startFakePathUnit(o: PathUnitOptions): Promise<FakePathUnit> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'anchiale-helper-root-'));
  const dir = path.join(root, 'run', 'anchiale', 'power-limit');
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o3770);
  await mkdir(path.join(root, 'etc', 'anchiale'), { recursive: true });
  if (o.siteMaxW !== null) {
    const f = path.join(root, 'etc', 'anchiale', 'site-max-power-w');
    await writeFile(f, `${o.siteMaxW ?? 300}\n`);
    await chmod(f, 0o644);
  }
  const uid = String(os.userInfo().uid);
  const env: NodeJS.ProcessEnv = {
    ...o.env,
    ANCHIALE_HELPER_ROOT: root,
    ANCHIALE_TRUSTED_UID: uid,
    ANCHIALE_AGENT_UID: uid,
    ANCHIALE_NVIDIA_SMI: o.nvidiaSmi,
  };
  let runs = 0;
  let log = '';
  let lastKey = '';
  let running: Promise<void> | null = null;
  let stopped = false;
  const request = path.join(dir, 'request');

  const runHelper = () =>
    new Promise<void>((resolve) => {
      runs += 1;
      const child = spawn('bash', [HELPER_SCRIPT, '--apply'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('close', () => {
        log = err;
        resolve();
      });
    });

  const timer = setInterval(() => {
    if (o.answer === false || running || stopped) return;
    void stat(request).then(
      (st) => {
        const key = `${st.ino}:${st.mtimeMs}`;
        if (key === lastKey || running) return;
        lastKey = key;
        running = runHelper().finally(() => {
          running = null;
        });
      },
      () => undefined,
    );
  }, 25);

  return {
    root,
    dir,
    runs: () => runs,
    lastLog: () => log,
    async result() {
      try {
        return JSON.parse(await readFile(path.join(dir, 'result'), 'utf8')) as Record<string, unknown>;
      } catch {
        return null;
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await rm(root, { recursive: true, force: true });
    },
  };
}

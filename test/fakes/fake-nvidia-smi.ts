/**
 * Drives test/fakes/bin/nvidia-smi (a stateful fake, see the script's header): a state directory
 * per test, settings written as files (the script re-reads them on every call and every stream
 * period), and what the fake recorded.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAKE_BIN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin');
export const FAKE_NVIDIA_SMI = path.join(FAKE_BIN_DIR, 'nvidia-smi');

export interface FakeCardSettings {
  name: string;
  uuid: string;
  driver: string;
  vramMib: number;
  minW: number;
  maxW: number;
  defaultW: number;
  /** The current limit (default: defaultW). */
  limitW: number;
  /** false: power fields answer [N/A] (or [Not Supported]) and -pl says "not supported". */
  supported: boolean;
  unsupportedStyle: 'na' | 'not_supported';
  persistence: 'Enabled' | 'Disabled' | 'na';
  /** Load in % (draw, temperature, pstate follow it). */
  loadPct: number;
  idleW: number;
  memUsedMib: number;
  ignorePl: boolean;
  plFail: 'none' | 'permission' | 'lost' | 'driver';
  queryFail: 'none' | 'nodev' | 'lost' | 'driver';
  streamMode: 'normal' | 'frozen' | 'exit';
  /** Ids accepted by -i besides the UUID. */
  indexes: string[];
}

const FILES: Record<keyof FakeCardSettings, string> = {
  name: 'gpu-name',
  uuid: 'gpu-uuid',
  driver: 'gpu-driver',
  vramMib: 'gpu-vram',
  minW: 'gpu-min',
  maxW: 'gpu-max',
  defaultW: 'gpu-default',
  limitW: 'gpu-limit',
  supported: 'gpu-supported',
  unsupportedStyle: 'unsupported-style',
  persistence: 'gpu-persistence',
  loadPct: 'gpu-load',
  idleW: 'gpu-idle-w',
  memUsedMib: 'gpu-mem-used',
  ignorePl: 'gpu-ignore-pl',
  plFail: 'pl-fail',
  queryFail: 'query-fail',
  streamMode: 'stream-mode',
  indexes: 'gpu-indexes',
};

/** Cards as the fake plays them (ranges of common boards). */
export const CARDS = {
  rtx3090: { name: 'NVIDIA GeForce RTX 3090', uuid: 'GPU-3d5e1c2a-8f47-4b19-a6c2-7e91f0b4d2a8', vramMib: 24576, minW: 100, maxW: 400, defaultW: 350 },
  rtx4090: { name: 'NVIDIA GeForce RTX 4090', uuid: 'GPU-9b0f4e61-2c7d-4a8e-b1f3-5d6c7e8f9a0b', vramMib: 24564, minW: 150, maxW: 600, defaultW: 450 },
} satisfies Record<string, Partial<FakeCardSettings>>;

export class FakeNvidiaSmi {
  private constructor(readonly state: string) {}

  static async create(settings: Partial<FakeCardSettings> = {}): Promise<FakeNvidiaSmi> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-fake-smi-'));
    const f = new FakeNvidiaSmi(dir);
    await f.set(settings);
    return f;
  }

  readonly binary = FAKE_NVIDIA_SMI;

  /** Environment for processes that run the fake (PATH has the fake bin first). */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${FAKE_BIN_DIR}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_NVIDIA_SMI_STATE: this.state, ...extra };
  }

  async set(settings: Partial<FakeCardSettings>): Promise<void> {
    for (const [key, value] of Object.entries(settings) as Array<[keyof FakeCardSettings, FakeCardSettings[keyof FakeCardSettings]]>) {
      const text = Array.isArray(value) ? value.join('\n') : typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
      await writeFile(path.join(this.state, FILES[key]), `${text}\n`);
    }
  }

  /** The card's current limit as the fake keeps it (W). */
  async limitW(): Promise<number | null> {
    const t = await readFile(path.join(this.state, 'gpu-limit'), 'utf8').catch(() => null);
    return t === null ? null : Number(t.trim());
  }

  /** The argument lines of every call so far. */
  async calls(): Promise<string[]> {
    const t = await readFile(path.join(this.state, 'calls.log'), 'utf8').catch(() => '');
    return t.split('\n').filter((l) => l.length > 0);
  }

  async plCalls(): Promise<string[]> {
    return (await this.calls()).filter((c) => / -pl /.test(` ${c} `));
  }

  /** PIDs of the stream processes started so far. */
  async streamPids(): Promise<number[]> {
    const t = await readFile(path.join(this.state, 'stream.pids'), 'utf8').catch(() => '');
    return t
      .split('\n')
      .filter((l) => l.length > 0)
      .map(Number);
  }

  async cleanup(): Promise<void> {
    await rm(this.state, { recursive: true, force: true });
  }
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseWorkerEvent, type WorkerEvent } from '../../../agent/adapters/llm/worker-protocol.js';
import { writeTinyLlamaGguf } from '../../../agent/adapters/llm/gguf-writer.js';

const workerPath = fileURLToPath(new URL('../../../agent/adapters/llm/worker.ts', import.meta.url));
const parentPath = fileURLToPath(new URL('./fixtures/worker-parent.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
let dir: string;
let modelPath: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anchiale-worker-'));
  modelPath = join(dir, 'tiny.gguf');
  await writeTinyLlamaGguf(modelPath);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Alive and not a zombie (a dead child of a frozen parent stays a zombie until reaped). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitGone(pid: number, withinMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < withinMs) {
    if (!isAlive(pid)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} still alive after ${withinMs} ms`);
}

/** Start the fixture parent (its worker has the model loaded); resolves with it and its worker's pid. */
async function startParent(heartbeatTimeoutMs: number): Promise<{ parent: ChildProcess; workerPid: number }> {
  const args = ['--import', tsx, parentPath, String(heartbeatTimeoutMs), modelPath];
  const parent = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: parent.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const { workerPid } = JSON.parse(line) as { workerPid: number };
  assert.ok(isAlive(workerPid));
  return { parent, workerPid };
}

test('parent SIGKILLed: the worker exits at once on disconnect, well within its heartbeat timeout', async () => {
  const { parent, workerPid } = await startParent(5000);
  parent.kill('SIGKILL');
  const ms = await waitGone(workerPid, 5000);
  assert.ok(ms < 2000, `gone after ${ms} ms`);
});

test('parent frozen (SIGSTOP, IPC still open): the worker exits when the heartbeat stops', async () => {
  const { parent, workerPid } = await startParent(1000);
  try {
    await new Promise((r) => setTimeout(r, 1200)); // alive past one timeout while pinged
    assert.ok(isAlive(workerPid), 'a pinged worker stays');
    parent.kill('SIGSTOP');
    const ms = await waitGone(workerPid, 3000);
    assert.ok(ms >= 500, `the worker waited for its heartbeat timeout (${ms} ms)`);
  } finally {
    parent.kill('SIGKILL');
  }
});

test('the worker validates what it receives and answers only valid requests', async () => {
  const worker = fork(workerPath, ['--heartbeat-timeout-ms', '10000', '--log-level', 'silent'], {
    execArgv: ['--import', tsx],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const events: WorkerEvent[] = [];
  const waiters: Array<() => void> = [];
  worker.on('message', (raw) => {
    const parsed = parseWorkerEvent(raw);
    assert.ok(parsed.ok, `worker sent an invalid message: ${JSON.stringify(raw)}`);
    events.push(parsed.message);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (type: WorkerEvent['type']): Promise<WorkerEvent> => {
    for (;;) {
      const i = events.findIndex((e) => e.type === type);
      if (i >= 0) return events.splice(i, 1)[0]!;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  try {
    assert.equal(((await next('ready')) as { pid: number }).pid, worker.pid);
    worker.send({ type: 'generate', jobId: 'bad', maxTokens: -1 });
    assert.deepEqual(
      { ...(await next('job_error')), message: '' },
      { type: 'job_error', jobId: 'bad', code: 'invalid_request', message: '' },
    );
    worker.send({ type: 'generate', jobId: 'early', prompt: 'hi', maxTokens: 4, temperature: 0, seed: null, stream: false });
    assert.equal(((await next('job_error')) as { code: string }).code, 'not_loaded');
    worker.send('hello');
    worker.send({ type: 'format_disk' });
    worker.send({ type: 'ping' });
    await next('pong');
    assert.deepEqual(events, [], 'nothing answered the invalid messages');
    const exited = once(worker, 'exit');
    worker.disconnect();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  } finally {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  }
});

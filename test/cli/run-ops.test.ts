import { afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctlCommand } from '../../agent/cli/ctl-command.js';
import type { CliIo } from '../../agent/cli/client-connection.js';
import { connectProbe } from '../helpers/mqtt-probe.js';
import { uniqueBase } from '../runtime/agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read loosely in assertions
type Loose = any;
const json = (m: { text: string }) => JSON.parse(m.text) as Loose;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

it('anchiale run: SIGHUP reloads the file (an invalid one is refused, the agent runs on); restart answers, then the process exits 75', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-run-ops-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const base = uniqueBase();
  const file = join(dir, 'agent.yaml');
  const doc = (comfort: number) =>
    JSON.stringify({
      version: 1,
      node: { id: 'h1' },
      mqtt: { url: BROKER, client_id: `run-ops-${randomUUID().slice(0, 8)}`, base_topic: base, reconnect: { min_s: 0.2, max_s: 2 }, discovery: { enabled: false } },
      inputs: { room_temperature: { topic: `${base}-room/t` } },
      thermostat: { presets: { comfort } },
      heater: { backend: 'sim', sim: { load_s: 0.2 } },
      jobs: { enabled: false },
      state: { dir, interval_s: 30 },
      log: { level: 'warn' },
    });
  await writeFile(file, doc(21));

  const probe = await connectProbe(BROKER);
  await probe.subscribe(`${base}/#`);
  cleanups.push(async () => {
    for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true, qos: 1 });
    await probe.end();
  });

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  await probe.next(`${base}/h1/status`, (m) => m.text === 'online', 15_000);

  await writeFile(file, doc(22.5));
  child.kill('SIGHUP');
  const reloaded = json(await probe.next(`${base}/h1/event`, (m) => json(m).type === 'config_reloaded', 5000));
  assert.deepEqual(reloaded.changed, ['thermostat.presets']);

  await writeFile(file, 'version: 1\nthermostat: {mode: cool}\n');
  child.kill('SIGHUP');
  const failed = json(await probe.next(`${base}/h1/event`, (m) => json(m).type === 'config_reload_failed', 5000));
  assert.ok((failed.errors as Array<{ path: string }>).some((e) => e.path === 'thermostat.mode'));
  assert.equal(child.exitCode, null, 'still running on the previous configuration');

  // restart through the operator CLI: the answer comes first, then the ordered stop and exit 75.
  let out = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {}, defaultConfigPath: join(dir, 'none.yaml') };
  const code = await ctlCommand('h1', 'restart', { mqttUrl: BROKER, baseTopic: base }, io);
  assert.equal(code, 0, out);
  assert.match(out, /^h1 {2}ok\n/);
  assert.match(out, /"restarting": true/);
  assert.equal(await exited, 75, `exit code (stderr: ${err})`);
  await probe.next(`${base}/h1/status`, (m) => m.text === 'offline', 3000);
});

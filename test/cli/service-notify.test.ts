import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { SdNotifier } from '../../agent/adapters/system/sd-notify.js';
import { runAgent } from '../../agent/cli/run-command.js';
import { describeDecision, startServiceNotify } from '../../agent/cli/service-notify.js';
import { createConfigSchema } from '../../agent/config/schema.js';
import type { HeatDecision } from '../../agent/core/types.js';
import { silentLogger } from '../../agent/log.js';
import { buildAgent } from '../../agent/main.js';
import { startNotifySocket, type NotifySocket } from '../fakes/notify-socket.js';
import { waitFor } from '../helpers/wait.js';
import { uniqueBase } from '../runtime/agent-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function receiver(): Promise<NotifySocket> {
  const r = await startNotifySocket();
  cleanups.push(() => r.stop());
  return r;
}

const notifierFor = (rx: NotifySocket, watchdogUsec = 200_000) =>
  new SdNotifier({ log: silentLogger(), env: { PATH: process.env.PATH, NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: String(watchdogUsec) } });

const decision = (over: Partial<HeatDecision> = {}): HeatDecision => ({
  mode: 'auto',
  preset: 'none',
  phase: 'heating',
  action: 'heating',
  setpointC: 21,
  setpointSource: 'input',
  roomTempC: 19.52,
  outdoorTempC: null,
  demand: 0.62,
  heat: true,
  targetLimitW: 250,
  writeLimit: false,
  sequences: 4,
  accepting: true,
  modelWanted: true,
  safeMode: false,
  inputsStale: [],
  reasons: ['below_setpoint', 'cycling'],
  overrideEnded: false,
  events: [],
  ...over,
});

describe('the daemon and systemd (sd_notify)', () => {
  it('status line for systemctl status', () => {
    assert.equal(describeDecision(null), 'running: no decision yet');
    assert.equal(describeDecision(decision()), 'heating, room 19.5 °C → 21.0 °C, limit 250 W, demand 62 % (cycling)');
    assert.equal(describeDecision(decision({ phase: 'fault', roomTempC: null, reasons: ['gpu_telemetry_stale'] })), 'fault, room ? → 21.0 °C, limit 250 W, demand 62 % (gpu_telemetry_stale)');
  });

  it('READY with the status, watchdog pings only while ticks are recent, STATUS on change, STOPPING', async () => {
    const rx = await receiver();
    let now = 100;
    const agent = { start: async () => undefined, lastTickMonoS: 99 as number | null, decision: null as HeatDecision | null };
    const svc = startServiceNotify(agent, notifierFor(rx), { tickS: 5, monoS: () => now, statusEveryMs: 50 });
    cleanups.push(async () => svc.stopped());
    await waitFor(() => rx.messages().includes('WATCHDOG=1'), { what: 'a ping while healthy' });
    assert.equal(rx.messages()[0], 'READY=1\nSTATUS=running: no decision yet');
    agent.decision = decision();
    await waitFor(() => rx.messages().some((m) => m.startsWith('STATUS=heating')), { what: 'status update' });
    now = 111; // last tick 12 s ago > 2 × 5 s: stalled
    await waitFor(() => rx.messages().includes('STATUS=control loop stalled'), { what: 'stalled status' });
    const pings = rx.messages().filter((m) => m === 'WATCHDOG=1').length;
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(rx.messages().filter((m) => m === 'WATCHDOG=1').length, pings, 'no ping while the loop is stalled');
    svc.stopping('SIGTERM');
    await waitFor(() => rx.messages().includes('STATUS=stopping (SIGTERM)\nSTOPPING=1'), { what: 'STOPPING' });
    await waitFor(() => rx.messages().filter((m) => m === 'WATCHDOG=1').length > pings, { what: 'pings while stopping (bounded by the stop timeout)' });
    await svc.stopped();
  });

  it('outside systemd nothing is sent and nothing breaks', async () => {
    const svc = startServiceNotify({ start: async () => undefined }, new SdNotifier({ log: silentLogger(), env: {} }), { tickS: 5, monoS: () => 0 });
    svc.stopping('SIGTERM');
    await svc.stopped();
  });

  it('anchiale run with the real agent: READY after start, pings from the running loop, STOPPING on SIGTERM, exit 0', async () => {
    const rx = await receiver();
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-state-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const config = createConfigSchema({ defaultNodeId: 'h1' }).parse({
      version: 1,
      node: { id: 'h1' },
      mqtt: { url: 'mqtt://127.0.0.1:1883', base_topic: uniqueBase(), discovery: { enabled: false } },
      inputs: { room_temperature: { preset: 'z2m', device: 'notify-test' } },
      heater: { backend: 'sim' },
      jobs: { enabled: false },
      state: { dir: stateDir },
    });
    const done = runAgent(config, silentLogger(), { buildAgent: (c, log) => buildAgent(c, log), notifier: notifierFor(rx) });
    await waitFor(() => rx.messages().some((m) => m.startsWith('READY=1\nSTATUS=')), { what: 'READY', timeoutMs: 5000 });
    await waitFor(() => rx.messages().includes('WATCHDOG=1'), { what: 'a ping from the running agent' });
    process.kill(process.pid, 'SIGTERM'); // runAgent's own handler stops the agent
    assert.equal(await done, 0);
    assert.ok(rx.messages().includes('STATUS=stopping (SIGTERM)\nSTOPPING=1'), rx.messages().join(' | '));
    // runAgent resolves only once its sends have ended: nothing may come after it, for 6 watchdog
    // intervals (100 ms each).
    const after = rx.messages().length;
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(rx.messages().length, after, `nothing after the stop: ${rx.messages().slice(after).join(' | ')}`);
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { SdNotifier, loopHealthy, statusText } from '../../../agent/adapters/system/sd-notify.js';
import { silentLogger } from '../../../agent/log.js';
import { waitFor } from '../../helpers/wait.js';
import { startNotifySocket, type NotifySocket } from '../../fakes/notify-socket.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function startReceiver(mode: 'answer' | 'hold' = 'answer'): Promise<NotifySocket> {
  const r = await startNotifySocket(mode);
  cleanups.push(() => r.stop());
  return r;
}

const notifier = (env: NodeJS.ProcessEnv, o: { timeoutMs?: number; pid?: number } = {}) =>
  new SdNotifier({ log: silentLogger(), env: { PATH: process.env.PATH, ...env }, ...o });

describe('sd_notify through systemd-notify', () => {
  it('READY with a status, STATUS, WATCHDOG and STOPPING reach the socket in order', async () => {
    const rx = await startReceiver();
    const n = notifier({ NOTIFY_SOCKET: rx.socket });
    assert.equal(n.enabled, true);
    assert.equal(await n.ready('running: node h1'), true);
    assert.equal(await n.status('heating, 250 W\nsecond line'), true);
    assert.equal(await n.watchdog(), true);
    assert.equal(await n.stopping('stopping: SIGTERM'), true);
    assert.deepEqual(rx.messages(), ['READY=1\nSTATUS=running: node h1', 'STATUS=heating, 250 W second line', 'WATCHDOG=1', 'STATUS=stopping: SIGTERM\nSTOPPING=1']);
    assert.equal(rx.barriers(), 4, 'each send waited for the manager (no --no-block)');
    assert.equal(n.sent, 4);
  });

  it('sends made at once are serialised, none lost', async () => {
    const rx = await startReceiver();
    const n = notifier({ NOTIFY_SOCKET: rx.socket });
    const results = await Promise.all([n.status('a'), n.status('b'), n.status('c'), n.watchdog()]);
    assert.deepEqual(results, [true, true, true, true]);
    assert.deepEqual(rx.messages(), ['STATUS=a', 'STATUS=b', 'STATUS=c', 'WATCHDOG=1']);
  });

  it('without NOTIFY_SOCKET every call is a no-op (nothing spawned)', async () => {
    let spawned = 0;
    const n = new SdNotifier({
      log: silentLogger(),
      env: {},
      spawn: ((...args: Parameters<typeof spawn>) => {
        spawned += 1;
        return spawn(...args);
      }) as typeof spawn,
    });
    assert.equal(n.enabled, false);
    assert.equal(await n.ready('x'), false);
    assert.equal(await n.watchdog(), false);
    assert.equal(n.watchdogIntervalMs(), null);
    assert.equal(n.startWatchdog(() => true)(), undefined);
    assert.equal(spawned, 0);
  });

  it('a manager that never answers the barrier: the send is killed after the timeout, later sends still go', async () => {
    const rx = await startReceiver('hold');
    const n = notifier({ NOTIFY_SOCKET: rx.socket }, { timeoutMs: 400 });
    const t0 = Date.now();
    assert.equal(await n.ready('r'), false);
    assert.ok(Date.now() - t0 < 2000, 'bounded by our timeout, not the 5 s barrier');
    assert.deepEqual(rx.messages(), ['READY=1\nSTATUS=r'], 'the message itself was delivered');
    assert.equal(await n.status('s'), false);
    assert.deepEqual(rx.messages(), ['READY=1\nSTATUS=r', 'STATUS=s']);
  });

  it('a socket nobody listens on: false, no throw', async () => {
    const n = notifier({ NOTIFY_SOCKET: path.join(os.tmpdir(), 'anchiale-no-such-socket') });
    assert.equal(await n.ready(), false);
  });

  const intervals: Array<[string, NodeJS.ProcessEnv, number | null]> = [
    ['WatchdogSec=30 → every 15 s', { WATCHDOG_USEC: '30000000' }, 15000],
    ['for this process', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }, 15000],
    ['for another process', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, null],
    ['no watchdog', {}, null],
    ['garbage', { WATCHDOG_USEC: 'abc' }, null],
  ];
  for (const [what, env, want] of intervals) {
    it(`watchdog period: ${what}`, () => {
      assert.equal(notifier({ NOTIFY_SOCKET: '/run/systemd/notify', ...env }, { pid: 4242 }).watchdogIntervalMs(), want);
    });
  }

  it('the watchdog pings only while the loop is healthy', async () => {
    const rx = await startReceiver();
    const n = notifier({ NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: '160000' }); // every 80 ms
    let healthy = false;
    const stop = n.startWatchdog(() => healthy);
    cleanups.push(async () => stop());
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(rx.messages(), [], 'stalled loop: no ping');
    healthy = true;
    await waitFor(() => rx.messages().length >= 2, { what: 'pings once healthy' });
    stop();
    await new Promise((r) => setTimeout(r, 150));
    const count = rx.messages().length;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(rx.messages().length, count, 'no ping after stop');
    assert.ok(rx.messages().every((m) => m === 'WATCHDOG=1'));
  });

  const health: Array<[number | null, number, number, boolean]> = [
    [null, 10, 5, false],
    [100, 105, 5, true],
    [100, 110, 5, true],
    [100, 110.1, 5, false],
  ];
  for (const [last, now, tick, want] of health) {
    it(`loop healthy: last tick ${String(last)}, now ${now}, period ${tick} → ${want}`, () => assert.equal(loopHealthy(last, now, tick), want));
  }

  it('status text is one bounded line', () => {
    assert.equal(statusText('a\r\nb\nc'), 'a b c');
    assert.equal(statusText('x'.repeat(500)).length, 200);
  });
});

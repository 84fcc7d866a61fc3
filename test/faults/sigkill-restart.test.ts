/**
 * Fault: the agent process is SIGKILLed (mid-run, and again while starting) and started again.
 * Kept: operator state (mode, manual setpoint, power cap) and the energy counter, which never goes
 * back; the files are never torn. Reported: `offline` through the last will at once, `online`
 * and a full state again after the restart.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { uniqueBase } from '../runtime/agent-harness.js';
import { BROKER, clearRetained, json, readJsonFile, reasons, sleep, trv } from './fault-kit.js';

/** Longer than one control period (5 s): energy is integrated tick by tick. */
const HEAT_MS = 5500;

describe('fault: agent SIGKILLed and restarted', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('keeps counters and operator state; offline by the last will, then online again', async (t) => {
    const base = uniqueBase();
    const node = `${base}/h1`;
    const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-fault-kill-'));
    const probe = await connectProbe(BROKER);
    await probe.subscribe(`${base}/#`);
    const procs: AgentProcess[] = [];
    // Messages of an earlier run are never taken for the next one's.
    let mark = 0;
    const fresh = (m: ProbeMessage) => probe.messages.indexOf(m) >= mark;
    cleanups.push(async () => {
      for (const p of procs) await p.cleanup();
      await clearRetained(probe, node);
      await probe.end();
      await rm(stateDir, { recursive: true, force: true });
    });
    const start = async () => {
      mark = probe.messages.length;
      const p = await spawnAgent({ url: BROKER, base, stateDir });
      procs.push(p);
      return p;
    };
    const status = (text: string, ms = 15_000) => probe.next(`${node}/status`, (m) => fresh(m) && m.text === text, ms);
    const isOperatorState = (m: ProbeMessage) => {
      if (!fresh(m)) return false;
      const s = JSON.parse(m.text) as Record<string, unknown>;
      return s.mode === 'heat' && s.setpoint_c === 23.5;
    };
    const heatingCapped = (roomC: number) => (m: ProbeMessage) =>
      isOperatorState(m) && json(m).room_temp_c === roomC && json(m).action === 'heating' && reasons(m).includes('power_capped');

    // Run 1: operator commands, some heat, a clean stop (counters persisted).
    const a = await start();
    await status('online');
    await probe.publish(a.roomTopic, trv(18));
    await probe.publish(`${node}/set/mode`, 'heat');
    await probe.publish(`${node}/set/setpoint`, '23.5');
    await probe.publish(`${node}/set/power_cap`, '250');
    const s1 = await probe.next(`${node}/state`, heatingCapped(18), 15_000);
    assert.equal(json(s1).setpoint_source, 'manual');
    await sleep(HEAT_MS);
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
    await status('offline');
    const e1 = (await readJsonFile(stateDir, 'counters.json')).energyKwh as number;
    assert.ok(e1 > 0.00005, `energy counted in run 1 (${e1} kWh)`);
    assert.equal((await readJsonFile(stateDir, 'operator.json')).mode, 'heat');

    // Run 2: restored, heating, then SIGKILL mid-run.
    const b = await start();
    await status('online');
    const s2 = await probe.next(`${node}/state`, isOperatorState, 15_000);
    assert.notEqual(json(s2).action, 'heating', 'no heat after a restart until a room value arrives');
    assert.ok((json(s2).energy_kwh as number) >= Math.floor(e1 * 1e4) / 1e4, 'energy restored, not restarted from zero');
    await probe.publish(b.roomTopic, trv(18.5));
    await probe.next(`${node}/state`, heatingCapped(18.5), 15_000);
    await sleep(HEAT_MS);
    const publishedBeforeKill = json(probe.received(`${node}/state`).at(-1)!).energy_kwh as number;
    b.kill('SIGKILL');
    assert.equal((await b.waitExit()).signal, 'SIGKILL');
    const will = await status('offline', 5000);
    assert.equal(will.retain, false, 'the last will, live');
    const afterKill = await readJsonFile(stateDir, 'counters.json');
    assert.ok((afterKill.energyKwh as number) >= e1, 'counters.json never goes back');
    assert.equal((await readJsonFile(stateDir, 'operator.json')).manualSetpointC, 23.5);

    // Run 3: killed while starting (restore, first connect).
    const c = await start();
    await sleep(700);
    c.kill('SIGKILL');
    await c.waitExit();
    const files = await readdir(stateDir);
    assert.deepEqual(files.filter((f) => f.endsWith('.tmp')).length <= 1, true, `at most one stray temp file (${files.join(', ')})`);
    assert.ok(((await readJsonFile(stateDir, 'counters.json')).energyKwh as number) >= e1);

    // Run 4: everything back, energy keeps counting from where it was.
    const d = await start();
    await status('online');
    const s4 = await probe.next(`${node}/state`, isOperatorState, 15_000);
    // Counters are persisted every 60 s and at a clean stop: what a kill loses is at most that much energy.
    t.diagnostic(`published energy_kwh ${publishedBeforeKill} before the SIGKILL, ${String(json(s4).energy_kwh)} after the restart (counters.json: ${e1})`);
    assert.equal(json(s4).phase, 'safe', 'no room value yet after the restart: safe');
    assert.ok(reasons(s4).includes('input_missing') || reasons(s4).includes('input_stale'), reasons(s4).join(','));
    assert.ok((json(s4).energy_kwh as number) >= Math.floor(e1 * 1e4) / 1e4);
    await probe.publish(d.roomTopic, trv(19));
    await probe.next(`${node}/state`, heatingCapped(19), 15_000);
    await sleep(1500);
    assert.deepEqual(await d.stop(), { code: 0, signal: null });
    const e4 = (await readJsonFile(stateDir, 'counters.json')).energyKwh as number;
    assert.ok(e4 > e1, `energy went on counting (${e1} → ${e4})`);
    assert.deepEqual(
      procs.map((p) => p.stderr().trim()).filter((s) => s !== ''),
      [],
      'nothing on stderr',
    );
    for (const p of procs) assert.ok(!p.logs.some((l) => l.level === 'fatal'), 'no fatal log line');
  });
});

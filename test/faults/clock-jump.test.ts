/**
 * Fault: the wall clock steps (NTP correction, RTC reset) by ±1 h while monotonic time goes on.
 * Kept: input ages (monotonic: a fresh value stays fresh, a stale one stays stale) and the energy
 * counter (integrated over monotonic time: no jump). Followed: the schedule and the timestamps
 * (wall time), at once.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../agent/ports/clock.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { uniqueBase } from '../runtime/agent-harness.js';
import { BROKER, clearRetained, json, since, sleep, startFaultAgent } from './fault-kit.js';

/** Real monotonic time; wall time = real wall time + a settable offset. */
class SteppingClock implements Clock {
  offsetMs = 0;
  monoS(): number {
    return performance.now() / 1000;
  }
  wallMs(): number {
    return Date.now() + this.offsetMs;
  }
}

const HOUR_MS = 3_600_000;
/** The schedule: 19 °C from every even UTC hour, 22 °C from every odd one. */
const scheduledSetpoint = (wallMs: number) => (new Date(wallMs).getUTCHours() % 2 === 0 ? 19 : 22);
const room = (c: number) => JSON.stringify({ temperature: c });

describe('fault: wall clock jumps ±1 h', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('inputs neither go stale nor fresh, energy does not jump, the schedule follows wall time', async () => {
    const clock = new SteppingClock();
    const probe = await connectProbe(BROKER);
    cleanups.push(() => probe.end());
    const base = uniqueBase();
    const node = `${base}/h1`;
    const roomTopic = `${base}-sensors/room`;
    await probe.subscribe(`${base}/#`);
    const a = await startFaultAgent({
      base,
      build: { clock },
      config: {
        inputs: { room_temperature: { topic: roomTopic, path: 'temperature', max_age_s: 4 }, setpoint: undefined },
        thermostat: {
          optimal_start: false,
          schedule: { timezone: 'UTC', entries: [{ cron: '0 0-22/2 * * *', setpoint_c: 19 }, { cron: '0 1-23/2 * * *', setpoint_c: 22 }] },
        },
      },
    });
    cleanups.push(async () => {
      await a.cleanup();
      await clearRetained(probe, node);
    });
    const stateAt = (pred: (m: ProbeMessage) => boolean, ref?: ProbeMessage) =>
      probe.next(`${node}/state`, ref ? since(probe, ref, pred) : pred, 5000);
    const onSchedule = (m: ProbeMessage) => json(m).setpoint_c === scheduledSetpoint(Date.parse(json(m).ts as string));
    const tsOffsetMs = (m: ProbeMessage) => Date.parse(json(m).ts as string) - Date.now();

    await probe.publish(roomTopic, room(20));
    const s0 = await stateAt((m) => json(m).room_temp_c === 20 && onSchedule(m));
    assert.equal(json(s0).setpoint_source, 'schedule');
    assert.ok(Math.abs(tsOffsetMs(s0)) < 2000);

    for (const offsetH of [+1, -1, 0]) {
      const e0 = a.agent.energy.energyKwh;
      clock.offsetMs = offsetH * HOUR_MS;
      a.agent.requestTick();
      await sleep(500); // a few ticks with the new wall time
      const snap = a.agent.snapshot!;
      const shifted = Date.parse(snap.ts) - Date.now();
      assert.ok(Math.abs(shifted - offsetH * HOUR_MS) < 2000, `state ts follows the wall clock (${offsetH} h)`);
      assert.equal(snap.setpoint_c, scheduledSetpoint(Date.parse(snap.ts)), `the schedule follows the wall clock (${offsetH} h)`);
      assert.deepEqual(snap.inputs_stale, [], `the room value stays fresh (${offsetH} h)`);
      assert.equal(snap.room_temp_c, 20);
      assert.equal(snap.safe_mode, false);
      const de = a.agent.energy.energyKwh - e0;
      // 0.5 s at ≤ 350 W is ≤ 0.00005 kWh; a step counted as elapsed time would be ≥ 0.015 kWh (1 h at 15 W).
      assert.ok(de >= 0 && de < 0.001, `energy moved by ${de} kWh across a ${offsetH} h step`);
      if (offsetH === 1) {
        // A schedule change is a decision change: published at once.
        const s = await stateAt((m) => Math.abs(tsOffsetMs(m) - HOUR_MS) < 2000 && onSchedule(m), s0);
        assert.notEqual(json(s).setpoint_c, json(s0).setpoint_c);
      }
    }

    // A stale value does not become fresh when the wall clock goes back.
    const stale = await stateAt((m) => (json(m).inputs_stale as string[]).includes('room_temperature'), s0);
    assert.equal(json(stale).safe_mode, true);
    clock.offsetMs = -HOUR_MS;
    a.agent.requestTick();
    await sleep(600);
    assert.ok(a.agent.decision!.inputsStale.includes('room_temperature'), 'still stale after the wall clock went back');
    assert.equal(a.agent.decision!.safeMode, true);
    // And a fresh value is fresh again, whatever the wall clock says.
    await probe.publish(roomTopic, room(20.5));
    const fresh = await stateAt((m) => json(m).room_temp_c === 20.5, stale);
    assert.deepEqual(json(fresh).inputs_stale, []);
  });
});

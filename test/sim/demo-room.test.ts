import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DemoRoom, type DemoRoomOptions } from '../../agent/sim/demo-room.js';
import { DEFAULT_ROOM_PARAMS, RoomModel } from '../../agent/sim/room-model.js';
import { AgentError } from '../../agent/errors.js';

const SIM_START = Date.UTC(2026, 0, 5, 7, 0, 0);

/** A DemoRoom on a fake real clock whose timer never fires on its own (tickMs huge). */
function fakeRoom(t: TestContext, opts: Partial<DemoRoomOptions> = {}) {
  const clock = { real: 0 };
  const room = new DemoRoom({
    speed: 60,
    heatW: () => 0,
    simStartMs: SIM_START,
    tickMs: 1e9,
    realNowMs: () => clock.real,
    ...opts,
  });
  t.after(() => room.stop());
  return { room, clock };
}

describe('DemoRoom', () => {
  describe('accelerated clock', () => {
    const cases: Array<[number, number, number]> = [
      // [speed, real ms elapsed, simulated s expected]
      [60, 1000, 60],
      [60, 250, 15],
      [3600, 500, 1800],
      [1, 2500, 2.5],
    ];
    for (const [speed, realMs, simS] of cases) {
      it(`speed ${speed}: ${realMs} real ms → ${simS} simulated s`, (t) => {
        const { room, clock } = fakeRoom(t, { speed });
        room.start();
        clock.real = realMs;
        assert.ok(Math.abs(room.simElapsedS - simS) < 1e-9);
        assert.ok(Math.abs(room.simNowMs() - (SIM_START + simS * 1000)) < 1e-6);
        assert.equal(room.snapshot().realElapsedMs, realMs);
      });
    }

    it('before start, the clock shows the simulated start and nothing moves', (t) => {
      const { room, clock } = fakeRoom(t);
      clock.real = 5000;
      assert.equal(room.simNowMs(), SIM_START);
      assert.equal(room.simElapsedS, 0);
      assert.equal(room.tiC, 19);
    });

    it('simulated time starts at the real wall time by default', (t) => {
      const { room, clock } = fakeRoom(t, { simStartMs: undefined, wallNowMs: () => 1_700_000_000_000 });
      room.start();
      clock.real = 1000;
      assert.equal(room.simNowMs(), 1_700_000_000_000 + 60_000);
    });

    it('setSpeed keeps the simulated time reached and changes the rate from then on', (t) => {
      const { room, clock } = fakeRoom(t, { speed: 60 });
      room.start();
      clock.real = 1000;
      room.setSpeed(600);
      assert.equal(room.speed, 600);
      clock.real = 2000;
      assert.ok(Math.abs(room.simElapsedS - 660) < 1e-9);
    });

    it('a stalled event loop is caught up at most maxCatchUpS per advance', (t) => {
      const { room, clock } = fakeRoom(t, { speed: 3600, maxCatchUpS: 100 });
      room.start();
      clock.real = 1000; // 3600 s due
      assert.equal(room.simElapsedS, 100);
      assert.equal(room.simElapsedS, 200);
    });

    it('simClock() reads simulated time (ports Clock)', (t) => {
      const { room, clock } = fakeRoom(t);
      const c = room.simClock();
      room.start();
      clock.real = 1500;
      assert.equal(c.monoS(), 90);
      assert.equal(c.wallMs(), SIM_START + 90_000);
    });
  });

  describe('room physics', () => {
    it('matches the 2R2C model stepped directly with the same inputs', (t) => {
      const { room, clock } = fakeRoom(t, { speed: 60, heatW: () => 500, outdoorC: [[0, 3]], gainsW: [[0, 100]], baseHeatingW: [[0, 150]], ti0C: 18, tm0C: 17 });
      const ref = new RoomModel(DEFAULT_ROOM_PARAMS, 18, 17);
      room.start(); // samples 500 W
      for (let ms = 100; ms <= 2000; ms += 100) {
        clock.real = ms;
        void room.tiC; // a read advances
      }
      for (let i = 0; i < 120; i += 1) ref.step(1, { toC: 3, qUnitW: 500, qBaseW: 150, qGainsW: 100 });
      assert.ok(Math.abs(room.tiC - ref.ti) < 1e-9, `${room.tiC} vs ${ref.ti}`);
      assert.ok(Math.abs(room.tmC - ref.tm) < 1e-9);
      assert.ok(room.tiC > 18, 'heated');
      assert.ok(Math.abs(room.snapshot().heatKwh - (500 * 120) / 3.6e6) < 1e-12);
    });

    it('the heat input is sampled after each advance and held over the next (causal)', (t) => {
      let heat = 0;
      const { room, clock } = fakeRoom(t, { heatW: () => heat });
      room.start();
      clock.real = 500;
      heat = 1000; // changes during [0, 30 s]: that interval still integrates 0 W
      const s1 = room.snapshot(); // advanced to 30 s, sampled 1000 W
      assert.equal(s1.heatW, 1000);
      assert.equal(s1.heatKwh, 0);
      clock.real = 1000;
      assert.ok(Math.abs(room.snapshot().heatKwh - (1000 * 30) / 3.6e6) < 1e-12);
    });

    it('more heat, warmer room', (t) => {
      const temps = [0, 300, 1000].map((w) => {
        const { room, clock } = fakeRoom(t, { speed: 3600, heatW: () => w });
        room.start();
        clock.real = 1000;
        return room.tiC;
      });
      assert.ok(temps[0]! < temps[1]! && temps[1]! < temps[2]!, temps.join(' < '));
    });

    const badHeat: Array<[string, () => number]> = [
      ['NaN', () => Number.NaN],
      ['negative', () => -5],
      ['a throw', () => {
        throw new Error('sensor gone');
      }],
    ];
    for (const [name, later] of badHeat) {
      it(`a heat callback giving ${name} keeps the previous value`, (t) => {
        let fn: () => number = () => 400;
        const { room, clock } = fakeRoom(t, { heatW: () => fn() });
        room.start();
        fn = later;
        clock.real = 1000;
        assert.equal(room.snapshot().heatW, 400);
      });
    }
  });

  describe('profiles', () => {
    it('outdoor is linear, gains and base heating are held, from startHour', (t) => {
      const { room, clock } = fakeRoom(t, {
        speed: 3600,
        startHour: 7,
        outdoorC: [[7, 0], [9, 10]],
        gainsW: [[0, 0], [8, 150], [12, 50]],
        baseHeatingW: [[0, 200], [7.5, 0]],
      });
      room.start();
      const rows: Array<[number, number, number, number]> = [
        // [real ms, hour, outdoor, gains, ] + base checked below
        [0, 7, 0, 0],
        [500, 7.5, 2.5, 0],
        [1000, 8, 5, 150],
        [2000, 9, 10, 150],
        [6000, 13, 10, 50],
      ];
      for (const [ms, hour, outdoor, gains] of rows) {
        clock.real = ms;
        const s = room.snapshot();
        assert.ok(Math.abs(s.hour - hour) < 1e-9, `hour at ${ms} ms`);
        assert.ok(Math.abs(s.outdoorC - outdoor) < 1e-9, `outdoor at hour ${hour}`);
        assert.equal(room.outdoorC, s.outdoorC);
        assert.equal(s.gainsW, gains, `gains at hour ${hour}`);
        assert.equal(s.baseHeatingW, hour < 7.5 ? 200 : 0, `base at hour ${hour}`);
      }
    });
  });

  describe('timer', () => {
    it('advances on its own, calls onTick, and stop() freezes the state', async () => {
      const ticks: number[] = [];
      const room = new DemoRoom({ speed: 600, heatW: () => 300, tickMs: 10, onTick: (s) => ticks.push(s.simElapsedS) });
      room.start();
      assert.equal(room.isRunning, true);
      await new Promise((r) => setTimeout(r, 80));
      room.stop();
      assert.equal(room.isRunning, false);
      assert.ok(ticks.length >= 2, `ticks: ${ticks.length}`);
      assert.ok(ticks.every((v, i) => i === 0 || v >= ticks[i - 1]!), 'monotonic');
      const frozen = room.simElapsedS;
      const n = ticks.length;
      await new Promise((r) => setTimeout(r, 40));
      assert.equal(room.simElapsedS, frozen);
      assert.equal(ticks.length, n);
      assert.ok(frozen >= 600 * 0.05, `simulated ${frozen} s in ~80 ms at ×600`);
    });
  });

  describe('validation', () => {
    const cases: Array<[string, Partial<DemoRoomOptions>]> = [
      ['speed 0', { speed: 0 }],
      ['speed NaN', { speed: Number.NaN }],
      ['negative stepS', { stepS: -1 }],
      ['stepS past the stability limit', { stepS: 10_000 }],
      ['tickMs 0', { tickMs: 0 }],
      ['a zero resistance', { room: { rioKPerW: 0 } }],
    ];
    for (const [name, opts] of cases) {
      it(`rejects ${name}`, () => {
        assert.throws(
          () => new DemoRoom({ speed: 60, heatW: () => 0, ...opts }),
          (err: unknown) => err instanceof AgentError && err.code === 'demo_room_invalid',
        );
      });
    }
    it('rejects setSpeed(0)', () => {
      const room = new DemoRoom({ speed: 60, heatW: () => 0 });
      assert.throws(() => room.setSpeed(0), (err: unknown) => err instanceof AgentError && err.code === 'demo_room_invalid');
    });
  });
});

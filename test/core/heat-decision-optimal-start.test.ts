import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, initialCoreState, type CoreState } from '../../agent/core/heat-decision.js';
import { LEAD_MARGIN_S, MAX_LEAD_S, WARMUP_WINDOW_S, initialOptimalStartState, leadTimeS, type OptimalStartSetting } from '../../agent/core/optimal-start.js';
import { createScheduleCursor, type ScheduleSpec } from '../../agent/core/schedule.js';
import type { ControlConfig, HeatDecision, TickInput } from '../../agent/core/types.js';
import { autoOperator, testControlConfig, tickAt } from '../fakes/control-config.js';

/** Comfort 21 °C from 07:00 and eco 17 °C from 19:00 on weekdays (UTC); tickAt's t = 0 is Monday 00:00 UTC. */
const SPEC: ScheduleSpec = {
  timezone: 'UTC',
  entries: [
    { cron: '0 7 * * 1-5', preset: 'comfort' },
    { cron: '0 19 * * 1-5', preset: 'eco' },
  ],
};

function config(optimalStart: boolean | undefined): ControlConfig & OptimalStartSetting {
  // The room does not move in these tables: no stuck-sensor check.
  const cfg = testControlConfig({ safety: { implausibleAfterS: 1e9 }, inputs: { outdoor_temperature: { configured: true, maxAgeS: 3600 } } });
  return { ...cfg, thermostat: { ...cfg.thermostat, optimalStart } };
}

const schedule = createScheduleCursor(SPEC);

const hm = (h: number, m = 0): number => h * 3600 + m * 60;

/** A tick at scenario time t with the schedule active then, the room and outdoor readings fresh. */
function tick(t: number, roomC: number, over: Partial<TickInput> = {}): TickInput {
  const base = tickAt(t, roomC);
  return {
    ...base,
    inputs: { ...base.inputs, outdoor_temperature: { value: 2, atMonoS: t } },
    schedule: schedule.at(base.now.wallMs),
    ...over,
  };
}

function run(cfg: ControlConfig & OptimalStartSetting, ticks: TickInput[], start: CoreState = initialCoreState()): { ds: HeatDecision[]; state: CoreState } {
  let state = start;
  const ds = ticks.map((t) => {
    const r = decide(state, t, cfg);
    state = r.state;
    return r.decision;
  });
  return { ds, state };
}

/** Ticks every minute over [from, to] (s), the room held at roomC. */
function minutes(from: number, to: number, roomC: number, over: Partial<TickInput> = {}): TickInput[] {
  const out: TickInput[] = [];
  for (let t = from; t <= to; t += 60) out.push(tick(t, roomC, over));
  return out;
}

const at = (ds: HeatDecision[], ticks: TickInput[], t: number): HeatDecision => ds[ticks.findIndex((x) => x.now.monoS === t)]!;

describe('heat decision: optimal start', () => {
  // A learned room: 4.1 K/h at full heat (300 W ceiling + 40 W host), losses 0.05 /h.
  const learned: CoreState = { ...initialCoreState(), optimalStart: { ...initialOptimalStartState, fit: { a: 12, b: 0.05 } } };
  const ROOM = 17.5; // above eco: no heat before the early start
  const learnedLeadS = leadTimeS(learned.optimalStart, { roomC: ROOM, targetC: 21, outdoorC: 2, maxHeatW: 340 });
  const priorLeadS = leadTimeS(initialOptimalStartState, { roomC: ROOM, targetC: 21, outdoorC: 2, maxHeatW: 340 });

  it('the leads of this table: a learned room under the cap, the prior at it', () => {
    assert.ok(learnedLeadS > LEAD_MARGIN_S && learnedLeadS < MAX_LEAD_S - 1800, `learned lead ${learnedLeadS} s`);
    assert.equal(priorLeadS, MAX_LEAD_S);
  });

  // [start state, lead]
  const cases: Array<[string, CoreState, number]> = [
    ['learned', learned, learnedLeadS],
    ['prior', initialCoreState(), priorLeadS],
  ];
  for (const [name, start, leadS] of cases) {
    it(`a 07:00 comfort entry (${name} room): heat from 07:00 − lead (${Math.round(leadS / 60)} min), aiming at 21 °C`, () => {
      const startS = Math.ceil((hm(7) - leadS) / 60) * 60; // first minute tick at or after 07:00 − lead
      const ticks = minutes(hm(4), hm(7, 10), ROOM);
      const { ds } = run(config(true), ticks, start);
      // [time (s), heat, optimal_start reason, setpoint reported]
      const table: Array<[number, boolean, boolean, number]> = [
        [hm(4), false, false, 17],
        [startS - 120, false, false, 17],
        [startS - 60, false, false, 17],
        [startS, true, true, 17],
        [startS + 60, true, true, 17],
        [hm(6, 59), true, true, 17],
        [hm(7), true, false, 21],
        [hm(7, 10), true, false, 21],
      ];
      for (const [t, heat, early, sp] of table) {
        const d = at(ds, ticks, t);
        assert.equal(d.heat, heat, `heat at ${t / 3600} h`);
        assert.equal(d.reasons.includes('optimal_start'), early, `optimal_start at ${t / 3600} h: ${d.reasons.join(',')}`);
        assert.equal(d.setpointC, sp, `setpoint at ${t / 3600} h`);
        if (early) assert.ok(d.reasons.includes('below_setpoint') && d.demand === 1, 'aims at the next setpoint');
      }
    });
  }

  // [why, config, tick overrides, room]
  const none: Array<[string, ControlConfig & OptimalStartSetting, Partial<TickInput>, number]> = [
    ['optimal_start false', config(false), {}, ROOM],
    ['optimal_start absent from the core config', config(undefined), {}, ROOM],
    ['mode heat (the schedule does not apply)', config(true), { operator: { ...autoOperator, mode: 'heat', manualSetpointC: 17 } }, ROOM],
    ['the room already at the next setpoint', config(true), {}, 21.1],
  ];
  for (const [why, cfg, over, room] of none) {
    it(`no early start: ${why}`, () => {
      const ticks = minutes(hm(4), hm(6, 59), room, over);
      const { ds } = run(cfg, ticks, learned);
      ds.forEach((d, i) => {
        assert.equal(d.reasons.includes('optimal_start'), false, `at ${ticks[i]!.now.monoS / 3600} h`);
        assert.equal(d.heat, false, `heat at ${ticks[i]!.now.monoS / 3600} h`);
      });
    });
  }

  it('no early start when a fresh setpoint input holds the setpoint (it wins over the schedule)', () => {
    const cfg = config(true);
    const withInput: ControlConfig & OptimalStartSetting = { ...cfg, inputs: { ...cfg.inputs, setpoint: { configured: true, maxAgeS: null } } };
    const ticks = minutes(hm(4), hm(6, 59), ROOM).map((t) => ({ ...t, inputs: { ...t.inputs, setpoint: { value: 17, atMonoS: t.now.monoS } } }));
    const { ds } = run(withInput, ticks, learned);
    assert.ok(ds.every((d) => !d.reasons.includes('optimal_start') && !d.heat));
  });

  it('not for a falling setpoint: before the 19:00 eco entry the unit holds comfort, nothing early', () => {
    const ticks = minutes(hm(16), hm(19, 5), 20.2);
    const { ds } = run(config(true), ticks, learned);
    // [time, heat, setpoint]: comfort is held (20.2 < 21: heat) until 19:00, then eco (no heat).
    const table: Array<[number, boolean, number]> = [
      [hm(16), true, 21],
      [hm(18, 59), true, 21],
      [hm(19, 5), false, 17],
    ];
    for (const [t, heat, sp] of table) {
      const d = at(ds, ticks, t);
      assert.equal(d.heat, heat, `heat at ${t / 3600} h`);
      assert.equal(d.setpointC, sp);
    }
    assert.ok(ds.every((d) => !d.reasons.includes('optimal_start')));
  });

  it('the learner is fed by the heat decision: a sample every 30 min of heating at high demand, in the core state', () => {
    // The room 3 K under comfort (demand 1, heating continuously), rising 1 K/h; GPU draw 200 W + host 40 W.
    const ticks: TickInput[] = [];
    for (let t = hm(9); t <= hm(9) + 2 * WARMUP_WINDOW_S + 60; t += 10) ticks.push(tick(t, 18 + (t - hm(9)) / 3600));
    const { ds, state } = run(config(true), ticks);
    assert.ok(ds.every((d) => d.heat && d.demand === 1));
    assert.equal(state.optimalStart.samples, 2);
    // One sample: 1 K/h at 0.24 kW with the room ~16.5 K above outdoors, with the prior's b: a ≈ (1 + b·16.5) / 0.24.
    assert.ok(state.optimalStart.fit.a > 5 && state.optimalStart.fit.a < 7, JSON.stringify(state.optimalStart.fit));
  });
});

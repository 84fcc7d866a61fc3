import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { overrideEndReason, resolveSetpoint, type ResolveSetpointArgs, type ResolvedSetpoint } from '../../agent/core/setpoint.js';
import type { ActiveSchedule, OperatorState } from '../../agent/core/types.js';
import { autoOperator, testControlConfig } from '../fakes/control-config.js';

// presets: frost 8, eco 17, comfort 21, boost 23; default 20; range 5..30; override_s 14400.
const cfg = testControlConfig().thermostat;
const T0 = Date.UTC(2026, 0, 5, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;

function sched(preset: ActiveSchedule['preset'], setpointC: number | null = null, sinceWallMs = T0 - HOUR): ActiveSchedule {
  return { preset, setpointC, sinceWallMs, nextWallMs: T0 + 6 * HOUR, next: { preset: 'eco', setpointC: null } };
}

type Override = NonNullable<OperatorState['override']>;
const override = (o: Partial<Override> = {}): Override => ({ setpointC: 24, startedWallMs: T0 - 10 * MIN, durationS: null, inputAtStartC: 19, ...o });

function args(over: { operator?: Partial<OperatorState> } & Partial<Omit<ResolveSetpointArgs, 'operator'>> = {}): ResolveSetpointArgs {
  const { operator, ...rest } = over;
  return { nowWallMs: T0, operator: { ...autoOperator, ...operator }, setpointInput: null, schedule: null, cfg, ...rest };
}

const show = (r: ResolvedSetpoint) => `${r.setpointC} ${r.source} preset=${r.preset}${r.overrideEnded ? ' ended' : ''}`;

describe('setpoint: precedence', () => {
  const expired = override({ startedWallMs: T0 - 5 * HOUR });
  const rows: Array<[string, ResolveSetpointArgs, string]> = [
    // auto
    ['auto: an override beats input and schedule', args({ operator: { override: override() }, setpointInput: 19, schedule: sched('comfort') }), '24 override preset=none'],
    ['auto: the fresh input beats the schedule', args({ setpointInput: 19.5, schedule: sched('comfort') }), '19.5 input preset=none'],
    ['auto: the schedule entry preset, reported as the preset', args({ operator: { preset: 'eco' }, schedule: sched('comfort') }), '21 schedule preset=comfort'],
    ['auto: a schedule entry with a plain setpoint', args({ operator: { preset: 'eco' }, schedule: sched(null, 18.5) }), '18.5 schedule preset=none'],
    ['auto: the operator preset without schedule', args({ operator: { preset: 'eco' } }), '17 preset preset=eco'],
    ['auto: the default', args(), '20 default preset=none'],
    ['auto: a schedule entry setting nothing is skipped', args({ operator: { preset: 'boost' }, schedule: sched(null, null) }), '23 preset preset=boost'],
    ['auto: an ended override falls through (and says so)', args({ operator: { override: expired }, setpointInput: 19 }), '19 input preset=none ended'],
    ['auto: a non-finite input counts as missing', args({ setpointInput: Number.NaN, schedule: sched('eco') }), '17 schedule preset=eco'],
    // heat
    [
      'heat: the manual setpoint beats everything',
      args({ operator: { mode: 'heat', manualSetpointC: 22, preset: 'eco', override: override() }, setpointInput: 19, schedule: sched('comfort') }),
      '22 manual preset=eco',
    ],
    ['heat: no manual setpoint → the operator preset', args({ operator: { mode: 'heat', preset: 'boost' }, setpointInput: 19, schedule: sched('comfort') }), '23 preset preset=boost'],
    ['heat: no manual setpoint, no preset → the default', args({ operator: { mode: 'heat' }, setpointInput: 19, schedule: sched('comfort') }), '20 default preset=none'],
    ['heat: an override is ignored and not ended, even expired', args({ operator: { mode: 'heat', override: expired } }), '20 default preset=none'],
    // off: resolved as auto
    ['off: resolved as auto (input)', args({ operator: { mode: 'off', manualSetpointC: 22 }, setpointInput: 19.5 }), '19.5 input preset=none'],
    ['off: resolved as auto (schedule)', args({ operator: { mode: 'off' }, schedule: sched('frost') }), '8 schedule preset=frost'],
    ['off: an active override shows', args({ operator: { mode: 'off', override: override() }, setpointInput: 19 }), '24 override preset=none'],
    ['off: an expired override ends as in auto', args({ operator: { mode: 'off', override: expired }, schedule: sched('eco') }), '17 schedule preset=eco ended'],
  ];
  for (const [label, a, expected] of rows) {
    it(`${label} → ${expected}`, () => assert.equal(show(resolveSetpoint(a)), expected));
  }
});

describe('setpoint: end of an override (auto)', () => {
  const started = T0;
  const rows: Array<[string, Partial<Override>, Partial<ResolveSetpointArgs>, ReturnType<typeof overrideEndReason>]> = [
    ['override_s not yet over (1 ms before)', {}, { nowWallMs: started + 14_400_000 - 1 }, null],
    ['override_s over', {}, { nowWallMs: started + 14_400_000 }, 'expired'],
    ['own duration not yet over', { durationS: 600 }, { nowWallMs: started + 600_000 - 1 }, null],
    ['own duration over (shorter than override_s)', { durationS: 600 }, { nowWallMs: started + 600_000 }, 'expired'],
    ['own duration longer than override_s still holds', { durationS: 86_400 }, { nowWallMs: started + 20 * HOUR }, null],
    ['schedule transition after its start', {}, { nowWallMs: started + HOUR, schedule: sched('eco', null, started + 1) }, 'schedule_transition'],
    ['schedule transition at its start does not end it', {}, { nowWallMs: started + HOUR, schedule: sched('eco', null, started) }, null],
    ['schedule entry older than it does not end it', {}, { nowWallMs: started + HOUR, schedule: sched('eco', null, started - HOUR) }, null],
    ['input unchanged', { inputAtStartC: 19 }, { nowWallMs: started + MIN, setpointInput: 19 }, null],
    ['input moved exactly 0.05 K: not a change', { inputAtStartC: 21 }, { nowWallMs: started + MIN, setpointInput: 21.05 }, null],
    ['input moved 0.06 K up', { inputAtStartC: 19 }, { nowWallMs: started + MIN, setpointInput: 19.06 }, 'input_changed'],
    ['input moved 1 K down', { inputAtStartC: 19 }, { nowWallMs: started + MIN, setpointInput: 18 }, 'input_changed'],
    ['input gone stale: not a change', { inputAtStartC: 19 }, { nowWallMs: started + MIN, setpointInput: null }, null],
    ['no input at start, none now', { inputAtStartC: null }, { nowWallMs: started + MIN, setpointInput: null }, null],
    ['no input at start, one appears', { inputAtStartC: null }, { nowWallMs: started + MIN, setpointInput: 19 }, 'input_changed'],
  ];
  for (const [label, o, a, reason] of rows) {
    it(`${label} → ${reason ?? 'holds'}`, () => {
      const ov = override({ startedWallMs: started, ...o });
      const full = args({ ...a, operator: { override: ov }, schedule: a.schedule ?? null });
      assert.equal(overrideEndReason(ov, full), reason);
      const r = resolveSetpoint(full);
      assert.equal(r.overrideEnded, reason !== null);
      assert.equal(r.source === 'override', reason === null);
      if (reason === null) assert.equal(r.setpointC, 24);
    });
  }
});

describe('setpoint: clamped to [min_setpoint_c, max_setpoint_c]', () => {
  const narrow = testControlConfig({ thermostat: { minSetpointC: 10, maxSetpointC: 22, defaultSetpointC: 25 } }).thermostat;
  const rows: Array<[string, ResolveSetpointArgs, string]> = [
    ['override above max', args({ operator: { override: override({ setpointC: 35 }) }, setpointInput: 19 }), '30 override preset=none'],
    ['input below min', args({ setpointInput: 2 }), '5 input preset=none'],
    ['manual above max', args({ operator: { mode: 'heat', manualSetpointC: 40 } }), '30 manual preset=none'],
    ['schedule setpoint below min', args({ schedule: sched(null, 3) }), '5 schedule preset=none'],
    ['preset frost under a 10 °C minimum', args({ operator: { preset: 'frost' }, cfg: narrow }), '10 preset preset=frost'],
    ['schedule boost over a 22 °C maximum', args({ schedule: sched('boost'), cfg: narrow }), '22 schedule preset=boost'],
    ['default over a 22 °C maximum', args({ cfg: narrow }), '22 default preset=none'],
  ];
  for (const [label, a, expected] of rows) {
    it(`${label} → ${expected}`, () => assert.equal(show(resolveSetpoint(a)), expected));
  }
});

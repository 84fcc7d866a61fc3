import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assessHeater, buildFleetView, describeFleet, type HeaterObservation, type HeaterStateDoc } from '../../agent/client/fleet-view.js';
import { FleetTracker } from '../../agent/client/fleet-tracker.js';

const NOW = Date.parse('2026-11-26T07:00:00.000Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

function state(o: { demand?: number | null; accepting?: boolean; slots?: number; maxSlots?: number; active?: number; queued?: number; model?: string; ageS?: number; phase?: string; reasons?: string[] } = {}): HeaterStateDoc {
  return {
    ts: ago(o.ageS ?? 1),
    phase: o.phase ?? 'heating',
    demand: o.demand === undefined ? 0.5 : o.demand,
    reasons: o.reasons ?? ['below_setpoint'],
    llm: { model: o.model ?? 'tiny', loaded: true, accepting: o.accepting ?? true, slots: o.slots ?? 2, max_slots: o.maxSlots ?? 2, jobs_active: o.active ?? 0, ...(o.queued !== undefined ? { queued: o.queued } : {}), jobs_done: 0, tokens_per_s: 10 },
  };
}
const heater = (node: string, s: HeaterStateDoc | 'invalid' | null, status: string | null = 'online'): HeaterObservation => ({ node, status, state: s });

describe('fleet view: ranking for heat-aware dispatch', () => {
  const cases: { name: string; heaters: HeaterObservation[]; model?: string; order: string[] }[] = [
    {
      name: 'largest demand first',
      heaters: [heater('a', state({ demand: 0.2 })), heater('b', state({ demand: 0.9 })), heater('c', state({ demand: 0.5 }))],
      order: ['b', 'c', 'a'],
    },
    {
      name: 'equal demand: most free slots first',
      heaters: [heater('a', state({ demand: 0.7, slots: 1, maxSlots: 4, active: 3 })), heater('b', state({ demand: 0.7, slots: 3, maxSlots: 4, active: 1 }))],
      order: ['b', 'a'],
    },
    {
      name: 'equal demand and slots: shortest queue, then node id',
      heaters: [
        heater('c', state({ demand: 0.7, slots: 0, maxSlots: 2, active: 5 })),
        heater('b', state({ demand: 0.7, slots: 0, maxSlots: 2, active: 3 })),
        heater('a', state({ demand: 0.7, slots: 0, maxSlots: 2, active: 3 })),
      ],
      order: ['a', 'b', 'c'],
    },
    {
      name: 'demand beats free slots',
      heaters: [heater('a', state({ demand: 0.3, slots: 4, maxSlots: 4 })), heater('b', state({ demand: 0.31, slots: 0, maxSlots: 4, active: 4 }))],
      order: ['b', 'a'],
    },
    {
      name: 'a full heater with queue room is usable, last',
      heaters: [heater('a', state({ demand: 0.1, slots: 1 })), heater('b', state({ demand: 0.1, slots: 0, maxSlots: 2, active: 9 }))],
      order: ['a', 'b'],
    },
    {
      name: 'model filter',
      heaters: [heater('a', state({ demand: 0.9, model: 'big' })), heater('b', state({ demand: 0.1, model: 'tiny' }))],
      model: 'tiny',
      order: ['b'],
    },
    {
      name: 'accepting with no demand (serve_without_heat) ranks after every heater that wants heat',
      heaters: [heater('a', state({ demand: 0, accepting: true, slots: 4, maxSlots: 4 })), heater('b', state({ demand: 0.05, slots: 1 }))],
      order: ['b', 'a'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const view = buildFleetView(c.heaters, { nowMs: NOW, model: c.model ?? null });
      assert.deepEqual(
        view.usable.map((h) => h.node),
        c.order,
      );
    });
  }
});

describe('fleet view: heaters skipped, and why', () => {
  const cases: { name: string; heater: HeaterObservation; skip: string | null; detail?: RegExp; opts?: { stateIntervalS?: number; maxQueue?: number; model?: string } }[] = [
    { name: 'online, fresh, accepting', heater: heater('h', state()), skip: null },
    { name: 'offline', heater: heater('h', state(), 'offline'), skip: 'offline', detail: /"offline"/ },
    { name: 'no status', heater: heater('h', state(), null), skip: 'status_unknown' },
    { name: 'no state', heater: heater('h', null), skip: 'no_state' },
    { name: 'state not JSON', heater: heater('h', 'invalid'), skip: 'invalid_state' },
    { name: 'state without ts', heater: heater('h', { ...state(), ts: 'yesterday' }), skip: 'invalid_state' },
    { name: 'state 59 s old, interval 30 s: trusted', heater: heater('h', state({ ageS: 59 })), skip: null },
    { name: 'state 61 s old, interval 30 s: stale', heater: heater('h', state({ ageS: 61 })), skip: 'stale_state', detail: /61 s old \(limit 60 s\)/ },
    { name: 'state 61 s old, interval 60 s: trusted', heater: heater('h', state({ ageS: 61 })), skip: null, opts: { stateIntervalS: 60 } },
    { name: 'other model', heater: heater('h', state({ model: 'big' })), skip: 'model_mismatch', detail: /serves big, not tiny/, opts: { model: 'tiny' } },
    {
      name: 'room warm: no heat demand',
      heater: heater('h', state({ demand: 0, accepting: false, phase: 'idle', reasons: ['at_setpoint'] })),
      skip: 'no_heat_demand',
      detail: /phase idle, at_setpoint/,
    },
    { name: 'demand unknown, not accepting', heater: heater('h', state({ demand: null, accepting: false })), skip: 'no_heat_demand' },
    {
      name: 'demand but not accepting (draining)',
      heater: heater('h', state({ demand: 0.6, accepting: false, phase: 'draining', reasons: ['draining'] })),
      skip: 'not_accepting',
      detail: /draining/,
    },
    { name: 'no slot and the queue full', heater: heater('h', state({ slots: 0, maxSlots: 2, active: 10 })), skip: 'full', detail: /8 queued \(max 8\)/ },
    { name: 'no slot, queue of 2 with room', heater: heater('h', state({ slots: 0, maxSlots: 2, active: 4 })), skip: 'full', opts: { maxQueue: 2 } },
    { name: 'no slot, queue of 2, one queued', heater: heater('h', state({ slots: 0, maxSlots: 2, active: 3 })), skip: null, opts: { maxQueue: 2 } },
    {
      // Stretching: 1 of 2 sequences runs, 2 wait. max_slots − slots would say 1 waits.
      name: 'stretching: the queue the heater reports, not max_slots − slots',
      heater: heater('h', state({ slots: 0, maxSlots: 2, active: 3, queued: 2 })),
      skip: 'full',
      detail: /2 queued \(max 2\)/,
      opts: { maxQueue: 2 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = assessHeater(c.heater, { nowMs: NOW, ...c.opts });
      assert.equal(e.skip, c.skip);
      assert.equal(e.usable, c.skip === null);
      if (c.detail) assert.match(e.detail ?? '', c.detail);
    });
  }

  it('describes the fleet: how many seen and why each was skipped', () => {
    const view = buildFleetView(
      [heater('h1', state(), 'offline'), heater('h2', state({ demand: 0, accepting: false, phase: 'idle', reasons: ['at_setpoint'] })), heater('h3', state({ ageS: 300 }))],
      { nowMs: NOW },
    );
    assert.equal(view.usable.length, 0);
    const text = describeFleet(view);
    assert.match(text, /^3 heaters seen, 0 usable; skipped /);
    assert.match(text, /h1: offline/);
    assert.match(text, /h2: no_heat_demand \(room does not want heat \(phase idle, at_setpoint\)\)/);
    assert.match(text, /h3: stale_state \(state 300 s old/);
    assert.equal(describeFleet(buildFleetView([], { nowMs: NOW })), 'no heater seen');
  });
});

describe('fleet tracker', () => {
  it('collects status and state per node, ignores other topics, forgets removed heaters', () => {
    const t = new FleetTracker('site/v1');
    assert.deepEqual(t.filters, ['site/v1/+/status', 'site/v1/+/state']);
    assert.equal(t.observe('site/v1/h1/status', 'online'), true);
    assert.equal(t.observe('site/v1/h1/state', JSON.stringify(state())), true);
    assert.equal(t.observe('site/v1/h2/state', '[1,2]'), true);
    assert.equal(t.observe('site/v1/h1/info', '{}'), false);
    assert.equal(t.observe('site/v1/replies/me/x', '{}'), false);
    assert.equal(t.observe('other/h1/status', 'online'), false);
    assert.equal(t.get('h1')?.status, 'online');
    assert.equal(t.get('h2')?.state, 'invalid');
    t.observe('site/v1/h2/state', '');
    assert.equal(t.get('h2'), undefined);
    const view = buildFleetView(t.observations(), { nowMs: NOW });
    assert.deepEqual(view.usable.map((h) => h.node), ['h1']);
  });
});

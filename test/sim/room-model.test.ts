import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ROOM_PARAMS, RoomModel, maxStableStepS } from '../../agent/sim/room-model.js';

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

test('one forward-Euler step matches the hand computation', () => {
  // Defaults: Ci 2e5, Cm 3.3e6, Rim 0.0054, Rio 0.1, Rmo 0.067. Ti 19, Tm 18, To 2, Q = 300 + 150 + 50 W, dt 10 s.
  // Air:  (18−19)/0.0054 + (2−19)/0.1 + 500 = −185.185185… − 170 + 500 = 144.814815 W → ×10/2e5 = +0.00724074 K
  // Mass: (19−18)/0.0054 + (2−18)/0.067 = 185.185185 − 238.805970 = −53.620785 W → ×10/3.3e6 = −0.00016249 K
  const room = new RoomModel({ ...DEFAULT_ROOM_PARAMS }, 19, 18);
  room.step(10, { toC: 2, qUnitW: 300, qBaseW: 150, qGainsW: 50 });
  close(room.ti, 19.0072407407, 1e-9, 'ti');
  close(room.tm, 17.9998375128, 1e-9, 'tm');
});

test('no flows at uniform temperature and no heat', () => {
  const room = new RoomModel({ ...DEFAULT_ROOM_PARAMS }, 5, 5);
  room.step(1, { toC: 5, qUnitW: 0, qBaseW: 0, qGainsW: 0 });
  assert.equal(room.ti, 5);
  assert.equal(room.tm, 5);
});

test('converges to the analytic equilibrium of the 2R2C network', () => {
  // Q flows from the air to outside through Rio in parallel with (Rim + Rmo):
  // Ti − To = Q·Rio(Rim+Rmo)/(Rio+Rim+Rmo) = 500·0.1·0.0724/0.1724 = 20.99768 K;
  // Tm − To = (Ti − To)·Rmo/(Rim+Rmo) = 20.99768·0.067/0.0724 = 19.43155 K.
  const p = { ...DEFAULT_ROOM_PARAMS };
  const room = new RoomModel(p, 10, 0);
  const inputs = { toC: -3, qUnitW: 300, qBaseW: 150, qGainsW: 50 };
  for (let i = 0; i < 60 * 24 * 60; i += 1) room.step(60, inputs); // 60 days, dt 60 s
  close(room.ti, -3 + 20.9976798, 1e-5, 'ti');
  close(room.tm, -3 + 19.4315545, 1e-5, 'tm');
  // And it stays there.
  const ti = room.ti;
  room.step(60, inputs);
  close(room.ti, ti, 1e-9, 'ti after another step');
});

test('maxStableStepS is the smaller node time constant', () => {
  // Air: 2e5/(1/0.0054 + 1/0.1) = 2e5/195.185 = 1024.7 s; mass: 3.3e6/(185.185 + 14.925) = 16491 s.
  close(maxStableStepS(DEFAULT_ROOM_PARAMS), 1024.66, 0.01, 'tau');
});

/**
 * Fault: the room sensor goes silent (dead battery, broken bridge), or stays alive but stuck.
 * Reported: `input_stale` then `safe_mode_entered` (or `input_implausible`), the state's phase
 * `safe`, `inputs_stale`, reasons; no heat and the power limit down. Kept: operator state and the
 * energy counter. Restored: `input_restored`, `safe_mode_left` and heating again as soon as a
 * fresh value arrives (or the stuck value moves).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectProbe, type Probe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { uniqueBase, type TestAgent } from '../runtime/agent-harness.js';
import { BROKER, clearRetained, eventsOf, json, reasons, since, sleep, startFaultAgent, trv } from './fault-kit.js';

const SIM_MIN_LIMIT_W = 100;

describe('fault: room sensor silent or stuck', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  async function setup(config: Record<string, unknown>): Promise<{ a: TestAgent; probe: Probe; node: string }> {
    const probe = await connectProbe(BROKER);
    cleanups.push(() => probe.end());
    const base = uniqueBase();
    const node = `${base}/h1`;
    await probe.subscribe(`${base}/#`);
    const a = await startFaultAgent({ base, config });
    cleanups.push(async () => {
      await a.cleanup();
      await clearRetained(probe, node);
    });
    return { a, probe, node };
  }

  it('silent → safe (no heat, limit down, events) → restored by a fresh value', async () => {
    // Short minimum times: the case is about safety, not about cycling.
    const { a, probe, node } = await setup({ inputs: { room_temperature: { max_age_s: 1.5 } }, heater: { limit_min_interval_s: 0.5 }, thermostat: { min_off_s: 0.1, min_on_s: 0.1 } });
    await probe.publish(a.roomTopic, trv(18.5));
    // Heating, the limit above the card's minimum (the sim card: 100..350 W).
    const heating = await probe.next(`${node}/state`, (m) => json(m).action === 'heating' && json(m).room_temp_c === 18.5 && (json(m).power_limit_w as number) > SIM_MIN_LIMIT_W, 5000);
    const heatingLimit = json(heating).power_limit_w as number;
    const energyBefore = a.agent.energy.energyKwh;

    // Silence: no more reports.
    const safe = await probe.next(`${node}/state`, since(probe, heating, (m) => json(m).phase === 'safe'), 6000);
    assert.equal(json(safe).action, 'idle');
    assert.equal(json(safe).safe_mode, true);
    assert.deepEqual(json(safe).inputs_stale, ['room_temperature']);
    assert.ok(reasons(safe).includes('input_stale'), reasons(safe).join(','));
    assert.equal(json(safe).room_temp_c, null, 'a stale value is not shown as current');
    const stale = await probe.next(`${node}/event`, (m) => json(m).type === 'input_stale');
    assert.equal(json(stale).input, 'room_temperature');
    await probe.next(`${node}/event`, (m) => json(m).type === 'safe_mode_entered');
    const types = eventsOf(probe, node).map((e) => e.type);
    assert.ok(types.indexOf('input_stale') < types.indexOf('safe_mode_entered'), types.join(','));
    // The card is turned down at once (a safety reduction is not held back by the write interval).
    await waitFor(() => a.agent.heaterLimitW() === SIM_MIN_LIMIT_W, { what: `the card's limit down from ${heatingLimit} W to its minimum`, timeoutMs: 3000 });
    assert.equal(json(safe).power_limit_w, SIM_MIN_LIMIT_W);
    // Kept: operator state and counters.
    assert.equal(a.agent.operatorState.mode, 'auto');
    assert.ok(a.agent.energy.energyKwh >= energyBefore);

    // Restored.
    await probe.publish(a.roomTopic, trv(18.6));
    await probe.next(`${node}/event`, (m) => json(m).type === 'input_restored', 5000);
    await probe.next(`${node}/event`, (m) => json(m).type === 'safe_mode_left', 5000);
    const back = await probe.next(`${node}/state`, since(probe, safe, (m) => json(m).safe_mode === false && json(m).action === 'heating'), 5000);
    assert.deepEqual(json(back).inputs_stale, []);
    assert.equal(json(back).room_temp_c, 18.6);
  });

  it('alive but stuck (same value, full demand) → input_implausible, no heat → moves → heating again', async () => {
    const { a, probe, node } = await setup({ safety: { implausible_after_s: 2 }, inputs: { room_temperature: { max_age_s: 60 } } });
    const stuck = setInterval(() => void probe.publish(a.roomTopic, trv(15, 21)).catch(() => undefined), 250);
    try {
      await probe.next(`${node}/state`, (m) => json(m).action === 'heating', 5000);
      const ev = await probe.next(`${node}/event`, (m) => json(m).type === 'input_implausible', 8000);
      assert.equal(json(ev).severity, 'error');
      assert.equal(json(ev).input, 'room_temperature');
      const cut = await probe.next(`${node}/state`, (m: ProbeMessage) => reasons(m).includes('input_implausible'), 5000);
      assert.notEqual(json(cut).action, 'heating');
      assert.equal(json(cut).safe_mode, true);
      await sleep(600);
      assert.ok(!/"action":"heating"/.test(probe.received(`${node}/state`).at(-1)!.text), 'still cut while the value does not move');
    } finally {
      clearInterval(stuck);
    }
    await probe.publish(a.roomTopic, trv(15.3, 21));
    const back = await probe.next(`${node}/state`, (m) => !reasons(m).includes('input_implausible') && json(m).room_temp_c === 15.3, 5000).catch((err: Error) => {
      throw new Error(`${err.message}\n${probe.received(`${node}/state`).slice(-3).map((m) => m.text).join('\n')}`);
    });
    assert.equal(json(back).safe_mode, false);
  });
});

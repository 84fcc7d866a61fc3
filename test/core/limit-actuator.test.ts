import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planLimitWrite, type LimitWriteInput, type LimitWriteState } from '../../agent/core/limit-actuator.js';

const written = (w: number, at: number): LimitWriteState => ({ lastWrittenW: w, lastWriteS: at });
const input = (over: Partial<LimitWriteInput>): LimitWriteInput => ({
  nowS: 100,
  targetW: 200,
  enforcedW: null,
  safetyReduction: false,
  supported: true,
  deadbandW: 5,
  minIntervalS: 30,
  ...over,
});

describe('planLimitWrite', () => {
  it('writes only what must change, as a table', () => {
    // [case, state, input, write, why]
    const table: Array<[string, LimitWriteState, Partial<LimitWriteInput>, boolean, string]> = [
      ['first write', { lastWrittenW: null, lastWriteS: null }, {}, true, 'first'],
      ['unsupported card', written(200, 0), { targetW: 250, supported: false }, false, 'unsupported'],
      ['within the deadband', written(200, 0), { targetW: 203 }, false, 'deadband'],
      ['unchanged', written(200, 0), { targetW: 200 }, false, 'deadband'],
      ['past the deadband', written(200, 0), { targetW: 220 }, true, 'change'],
      ['past the deadband, inside the interval', written(200, 90), { targetW: 220 }, false, 'interval'],
      ['safety reduction inside the interval', written(200, 90), { targetW: 150, safetyReduction: true }, true, 'safety'],
      ['small safety reduction within the deadband', written(200, 90), { targetW: 198, safetyReduction: true }, true, 'safety'],
      ['read back differs (driver reset)', written(200, 0), { targetW: 200, enforcedW: 150 }, true, 'mismatch'],
      ['range end within the deadband', written(297, 0), { targetW: 300, atRangeEnd: true }, true, 'change'],
      ['range end within the deadband, inside the interval', written(297, 90), { targetW: 300, atRangeEnd: true }, false, 'interval'],
      ['range end already there', written(300, 0), { targetW: 300, atRangeEnd: true }, false, 'deadband'],
    ];
    for (const [name, state, over, write, why] of table) {
      const plan = planLimitWrite(state, input(over));
      assert.deepEqual([plan.write, plan.why], [write, why], name);
      assert.deepEqual(plan.state, write ? { lastWrittenW: input(over).targetW, lastWriteS: 100 } : state, `${name}: state`);
    }
  });
});

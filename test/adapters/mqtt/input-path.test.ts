import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseInputPath, readInputPath } from '../../../agent/adapters/mqtt/input-path.js';

describe('parseInputPath', () => {
  const valid: Array<[string, string[]]> = [
    ['temperature', ['temperature']],
    ['ENERGY.Power', ['ENERGY', 'Power']],
    ['a.0.b', ['a', '0', 'b']],
    ['a[0].b', ['a', '0', 'b']],
    ['a[0][12]', ['a', '0', '12']],
    ['[3]', ['3']],
    ['["temp.room"]', ['temp.room']],
    ["['odd key']", ['odd key']],
    ['sensors["a b"].value', ['sensors', 'a b', 'value']],
    ['["say \\"hi\\""]', ['say "hi"']],
    ["['it\\'s']", ["it's"]],
    ['["c]d"]', ['c]d']],
    ['[""]', ['']],
    ['DS18B20-1.Temperature', ['DS18B20-1', 'Temperature']],
    ['température', ['température']],
    ['switch:0.apower', ['switch:0', 'apower']],
  ];
  for (const [path, segments] of valid) {
    it(`${path} → ${JSON.stringify(segments)}`, () => assert.deepEqual(parseInputPath(path), segments));
  }

  const invalid = ['', '.', 'a.', '.a', 'a..b', 'a[', 'a[]', 'a[-1]', 'a[01]', 'a[x]', 'a["b"', 'a["b]', 'a]b', 'a[0]b', "a['b\\x']", '["\\u00"]'];
  for (const path of invalid) {
    it(`${JSON.stringify(path)} is invalid`, () => assert.equal(parseInputPath(path), null));
  }
});

describe('readInputPath', () => {
  const doc: unknown = JSON.parse('{"a":{"b":[10,{"c":20}]},"__proto__":{"x":1},"n":null,"s":"str"}');
  const cases: Array<[string[], unknown]> = [
    [['a', 'b', '0'], 10],
    [['a', 'b', '1', 'c'], 20],
    [['__proto__', 'x'], 1],
    [['n'], null],
  ];
  for (const [segs, value] of cases) {
    it(`${segs.join('.')} → ${JSON.stringify(value)}`, () => assert.deepEqual(readInputPath(doc, segs), { found: true, value }));
  }
  const missing: string[][] = [
    ['z'], ['a', 'b', '2'], ['a', 'b', 'length'], ['a', 'b', '01'], ['a', 'constructor'], ['a', 'toString'],
    ['n', 'x'], ['s', 'length'], ['s', '0'], ['a', 'hasOwnProperty'],
  ];
  for (const segs of missing) {
    it(`${segs.join('.')} is missing (own properties only)`, () => {
      const r = readInputPath(doc, segs);
      assert.equal(r.found, false);
      assert.ok(!r.found && r.reason.length > 0);
    });
  }
  it('{} has no __proto__ of its own', () => assert.equal(readInputPath({}, ['__proto__']).found, false));
});

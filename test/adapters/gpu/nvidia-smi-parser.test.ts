import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  NVIDIA_QUERY_FIELDS,
  NVIDIA_STREAM_FIELDS,
  clampToRange,
  classifyPl,
  classifyQueryFailure,
  deriveLimits,
  fieldValue,
  parseCsv,
  parseCsvLine,
  telemetryFrom,
} from '../../../agent/adapters/gpu/nvidia-smi-parser.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/nvidia-smi');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

function queryFixture(name: string) {
  const r = parseCsv(fixture(name), NVIDIA_QUERY_FIELDS);
  assert.deepEqual(r.errors, [], name);
  assert.equal(r.samples.length, 1, name);
  return r.samples[0]!;
}

describe('nvidia-smi query output', () => {
  const cards: Array<[string, { name: string; driver: string; vram: number; range: [number, number, number]; limit: number; persistence: string }]> = [
    ['rtx3090-query.csv', { name: 'NVIDIA GeForce RTX 3090', driver: '550.54.14', vram: 24576, range: [100, 400, 350], limit: 350, persistence: 'Enabled' }],
    ['rtx3090-query-units.csv', { name: 'NVIDIA GeForce RTX 3090', driver: '550.54.14', vram: 24576, range: [100, 400, 350], limit: 350, persistence: 'Enabled' }],
    ['rtx4090-query.csv', { name: 'NVIDIA GeForce RTX 4090', driver: '560.35.03', vram: 24564, range: [150, 600, 450], limit: 450, persistence: 'Disabled' }],
    ['a2000-query.csv', { name: 'NVIDIA RTX A2000 12GB', driver: '535.183.01', vram: 12282, range: [70, 70, 70], limit: 70, persistence: 'Enabled' }],
  ];
  for (const [file, want] of cards) {
    it(`${file}: identity, VRAM, power range and limits`, () => {
      const s = queryFixture(file);
      assert.equal(s.index, 0);
      assert.match(s.uuid ?? '', /^GPU-[0-9a-f-]{36}$/);
      assert.equal(s.name, want.name);
      assert.equal(s.driver, want.driver);
      assert.equal(s.memTotalMib, want.vram);
      assert.equal(s.persistenceMode, want.persistence);
      assert.equal(s.powerManagement, 'Enabled');
      assert.equal(s.powerLimitW, want.limit);
      assert.equal(s.pstate, 'P8');
      assert.deepEqual(s.unavailable, {});
      const d = deriveLimits(s, 300);
      assert.equal(d.problem, null);
      assert.deepEqual(d.limits, { minLimitW: want.range[0], maxLimitW: want.range[1], defaultLimitW: want.range[2], powerManagement: true });
      assert.deepEqual(d.range, { minW: want.range[0], maxW: want.range[1] });
    });
  }

  const unsupported: Array<[string, string]> = [
    ['no-power-management-na-query.csv', 'N/A'],
    ['no-power-management-not-supported-query.csv', 'Not Supported'],
  ];
  for (const [file, why] of unsupported) {
    it(`${file}: [${why}] fields are null with their reason; no power management, one nominal limit`, () => {
      const s = queryFixture(file);
      assert.equal(s.name, 'NVIDIA GeForce GTX 1650');
      assert.equal(s.powerManagement, null);
      assert.equal(s.minLimitW, null);
      assert.equal(s.maxLimitW, null);
      assert.equal(s.powerLimitW, null);
      assert.equal(s.unavailable['power.min_limit'], why);
      assert.equal(s.unavailable['power.management'], why);
      assert.equal(s.tempC, 33);
      const d = deriveLimits(s, 75);
      assert.equal(d.problem, 'power_management_unsupported');
      assert.equal(d.range, null);
      assert.deepEqual(d.limits, { minLimitW: 75, maxLimitW: 75, defaultLimitW: 75, powerManagement: false });
    });
  }

  it('the draw stays readable on a card without power management', () => {
    assert.equal(queryFixture('no-power-management-not-supported-query.csv').powerDrawW, 12.1);
    assert.equal(queryFixture('no-power-management-na-query.csv').powerDrawW, null);
  });
});

describe('nvidia-smi -lms stream lines', () => {
  const lines = fixture('rtx4090-stream.csv').split('\n');
  const results = lines.map((l) => parseCsvLine(l, NVIDIA_STREAM_FIELDS));

  it('parses the good lines into telemetry, in order', () => {
    const good = results.filter((r) => r.ok).map((r) => (r.ok ? telemetryFrom(r.sample, 7) : null));
    assert.deepEqual(
      good.map((t) => [t?.powerW, t?.limitW, t?.tempC, t?.utilPct, t?.memUsedMib, t?.pstate]),
      [
        [31.48, 300, 41, 0, 1, 'P8'],
        [118.06, 300, 43, 38, 13890, 'P2'],
        [246.71, 300, 55, 97, 14022, 'P2'],
        [298.93, 300, 61, 100, 14022, 'P2'],
        [null, 300, null, 100, 14022, 'P2'],
        [287.55, 300, 66, 99, 14022, 'P2'],
      ],
    );
    assert.equal(good[0]?.atMonoS, 7);
  });

  it('[Unknown Error] fields are null with the reason kept', () => {
    const r = results[5];
    assert.ok(r?.ok);
    assert.equal(r.sample.unavailable['power.draw'], 'Unknown Error');
    assert.equal(r.sample.unavailable['temperature.gpu'], 'Unknown Error');
  });

  it('refuses the blank, truncated and trailing lines without throwing', () => {
    const refused = results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.reason));
    assert.equal(refused.length, 3);
    assert.ok(refused.includes('empty line'));
    assert.ok(refused.some((x) => /expected 10 columns, got 3/.test(x)));
  });

  it('the limit read back is the set one; the enforced one only when the set one is unknown', () => {
    const last = results[7];
    assert.ok(last?.ok);
    assert.equal(last.sample.enforcedLimitW, 280);
    assert.equal(telemetryFrom(last.sample, 0).limitW, 300);
    const r = parseCsvLine('[N/A], 280.00', ['power.limit', 'enforced.power.limit']);
    assert.ok(r.ok);
    assert.equal(telemetryFrom(r.sample, 0).limitW, 280);
  });
});

describe('field values', () => {
  const cases: Array<[string, ReturnType<typeof fieldValue>]> = [
    [' 250.00', { value: '250.00' }],
    ['[N/A]', { unavailable: 'N/A' }],
    [' [Not Supported] ', { unavailable: 'Not Supported' }],
    ['[Insufficient Permissions]', { unavailable: 'Insufficient Permissions' }],
    ['[GPU requires reset]', { unavailable: 'GPU requires reset' }],
    ['N/A', { unavailable: 'N/A' }],
    ['', { unavailable: 'empty' }],
  ];
  for (const [raw, want] of cases) it(`${JSON.stringify(raw)} → ${JSON.stringify(want)}`, () => assert.deepEqual(fieldValue(raw), want));

  it('a number that is not one is refused as invalid, not read as 0', () => {
    const r = parseCsvLine('abc, P9x', ['power.draw', 'pstate']);
    assert.ok(r.ok);
    assert.equal(r.sample.powerDrawW, null);
    assert.equal(r.sample.pstate, null);
    assert.deepEqual(r.sample.unavailable, { 'power.draw': 'invalid', pstate: 'invalid' });
  });
});

describe('limits', () => {
  const base = queryFixture('rtx3090-query.csv');
  const cases: Array<[string, Partial<typeof base>, string | null]> = [
    ['power.management Disabled', { powerManagement: 'Disabled' }, 'power_management_disabled'],
    ['a range that makes no sense', { minLimitW: 400, maxLimitW: 100 }, 'power_range_implausible'],
    ['a range nvidia-smi did not give', { minLimitW: null, unavailable: { 'power.min_limit': 'Unknown Error' } }, 'power_range_unknown'],
    ['fractional limits round inwards', { minLimitW: 100.5, maxLimitW: 399.9 }, null],
  ];
  for (const [what, patch, problem] of cases) {
    it(`${what} → ${problem ?? 'usable'}`, () => {
      const d = deriveLimits({ ...base, ...patch }, 300);
      assert.equal(d.problem, problem);
      assert.equal(d.limits.powerManagement, problem === null);
      if (problem === null) assert.deepEqual(d.range, { minW: 101, maxW: 399 });
    });
  }

  it('clamps and rounds to the writable range', () => {
    const range = { minW: 100, maxW: 400 };
    assert.deepEqual([50, 100, 250.4, 250.6, 401, 1000].map((w) => clampToRange(w, range)), [100, 100, 250, 251, 400, 400]);
  });
});

describe('-pl outcomes and failed queries', () => {
  const pl: Array<[string, number, string, string]> = [
    ['pl-success.txt', 0, fixture('pl-success.txt'), 'ok'],
    ['pl-out-of-range.txt', 2, fixture('pl-out-of-range.txt'), 'power_limit_out_of_range'],
    ['pl-not-supported.txt (exit 0)', 0, fixture('pl-not-supported.txt'), 'power_management_unsupported'],
    ['pl-insufficient-permissions.txt', 4, fixture('pl-insufficient-permissions.txt'), 'power_limit_permission_denied'],
    ['gpu-lost.txt', 15, fixture('gpu-lost.txt'), 'gpu_lost'],
    ['driver-not-loaded.txt', 9, fixture('driver-not-loaded.txt'), 'nvidia_driver_not_loaded'],
    ['no-devices.txt', 6, fixture('no-devices.txt'), 'gpu_not_found'],
    ['exit 255, no text', 255, '', 'nvidia_smi_failed'],
  ];
  for (const [what, code, text, want] of pl) {
    it(`-pl ${what} → ${want}`, () => {
      const r = classifyPl(code, text, '');
      assert.equal(r.ok ? 'ok' : r.code, want);
      if (!r.ok) assert.ok(r.message.length > 0);
    });
  }

  const queries: Array<[string, number, string]> = [
    ['no-devices.txt', 6, 'gpu_not_found'],
    ['gpu-lost.txt', 15, 'gpu_lost'],
    ['driver-not-loaded.txt', 9, 'nvidia_driver_not_loaded'],
  ];
  for (const [file, code, want] of queries) {
    it(`query ${file} → ${want}`, () => {
      const r = classifyQueryFailure(code, fixture(file));
      assert.equal(r.code, want);
      assert.equal(r.message, fixture(file).trim());
    });
  }
});

/**
 * Seeded malformed payloads for the fuzz fault case: the same seed gives the same sequence.
 * Families: truncated JSON, huge (64 KiB – 1 MiB strings, 1e6-digit numbers), deeply nested arrays
 * and objects (to 200 000 levels), wrong types, unicode oddities (lone surrogates as JSON escapes
 * and as raw CESU-8 bytes, invalid UTF-8, NUL, RTL/LTR marks and overrides, BOM, zero-width and
 * full-width or Arabic-Indic digits), prototype keys, plain-text near-numbers, random bytes.
 */

import { mulberry32 as seededRandom } from '../../agent/sim/work.js';

/** mulberry32 (the simulator's): a small, fast, seeded PRNG (uniform in [0, 1)). */
export { seededRandom };

export interface FuzzTarget {
  topic: string;
  /** What the topic is (input, set, info, status, request, jobs): for the tallies. */
  kind: string;
  /** Relative share of the cases (default 1). */
  weight?: number;
  /** A well-formed payload of the topic, the starting point of mutations. */
  sample: string;
  /** JSON keys the topic reads (mutated with wrong types). */
  keys: string[];
}

export interface FuzzCase {
  topic: string;
  kind: string;
  family: string;
  payload: Buffer;
}

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** Odd values in JSON text (each a valid JSON value unless marked raw). */
const WRONG_VALUES: readonly string[] = [
  'null', 'true', 'false', '[]', '{}', '[19.5]', '{"value":19.5}', '"19.5"', '"warm"', '""', '"NaN"', '"Infinity"',
  '1e999', '-1e999', '1e-400', '-0', '0', '1e308', '-1e308', '123456789012345678901234567890', '4.9e-324', '9007199254740993',
  '"\\ud800"', '"\\udfff"', '"\\ud83d"', '"\\u0000"', '"19\\u00005"', '"\\u202e91"', '"\\u200f19.5"', '"\\ufeff19"', '"1\\u200b9"',
  '"１９.５"', '"١٩٫٥"', '"19,5"', '"0x13"', '"1_9"', '"+19"', '" 19 "', '"\\n19\\n"', '"𝟙𝟡"', '"e\\u0301"', '"🔥"',
  '[[[[[[[[[[19]]]]]]]]]]', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}',
];

/** Raw (not JSON) payload texts. */
const RAW_TEXTS: readonly string[] = [
  'NaN', 'nan', 'Infinity', '-Infinity', 'undefined', 'null', 'on', 'off', 'true', '19,5', '0x13', '1e2', '.5', '5.', '+19', '-0',
  '  19  ', '19°C', '١٩', '１９', '\u202e91', '\u200f19.5', '\ufeff19', '19\u0000', '\u0000', 'heat\u0000off', 'auto\n', 'AUTO', 'Heat',
  'heat ', ' off', 'o\u200bff', 'оff' /* Cyrillic о */, 'none', 'None', 'NONE', '-5', '99999', '1e400', '{', '[', '"', '\\', '}{',
  '{"transaction":', '{"transaction":1,', '{"transaction":{}}', '{"job_id":', 'drain', '',
];

/** Raw byte sequences that are not valid UTF-8 (lone surrogates in CESU-8, overlongs, stray bytes). */
const BAD_UTF8: readonly number[][] = [
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xff], [0xfe, 0xff], [0x80], [0xf4, 0x90, 0x80, 0x80],
  [0xc3], [0xe2, 0x82], [0x00], [0xef, 0xbb, 0xbf],
];

function mutateKey(r: Rng, t: FuzzTarget): string {
  return t.keys.length > 0 ? pick(r, t.keys) : 'value';
}

const FAMILIES: ReadonlyArray<{ name: string; weight: number; make: (r: Rng, t: FuzzTarget) => Buffer }> = [
  {
    name: 'truncated',
    weight: 18,
    make: (r, t) => Buffer.from(t.sample.slice(0, int(r, 0, Math.max(0, t.sample.length - 1)))),
  },
  {
    name: 'wrong_type',
    weight: 22,
    make: (r, t) => {
      const obj = safeParse(t.sample);
      const v = pick(r, WRONG_VALUES);
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        const text = JSON.stringify(obj);
        const key = mutateKey(r, t);
        // Replace the key's value (or add it) with the odd value, as text (it may be raw JSON such as 1e999).
        const rest = text.slice(1, -1);
        const others = rest
          .split(/,(?=")/)
          .filter((kv) => kv !== '' && !kv.startsWith(`${JSON.stringify(key)}:`));
        return Buffer.from(`{${[...others, `${JSON.stringify(key)}:${v}`].join(',')}}`);
      }
      return Buffer.from(v);
    },
  },
  { name: 'raw_text', weight: 12, make: (r) => Buffer.from(pick(r, RAW_TEXTS)) },
  {
    name: 'unicode_odd',
    weight: 14,
    make: (r, t) => {
      const base = Buffer.from(r() < 0.5 ? t.sample : pick(r, RAW_TEXTS));
      const bad = Buffer.from(pick(r, BAD_UTF8));
      const at = int(r, 0, base.length);
      return Buffer.concat([base.subarray(0, at), bad, base.subarray(at)]);
    },
  },
  {
    name: 'deep_nesting',
    weight: 4,
    make: (r) => {
      const arr = r() < 0.5;
      // Arrays to 200 000 levels (200 KB); objects to 20 000 levels of `{"a":` (100 KB).
      const depth = arr ? pick(r, [100, 1000, 10_000, 50_000, 200_000]) : pick(r, [100, 1000, 5000, 20_000]);
      const open = arr ? '['.repeat(depth) : '{"a":'.repeat(depth);
      const close = arr ? ']'.repeat(r() < 0.8 ? depth : int(r, 0, depth)) : '}'.repeat(depth);
      return Buffer.from(`${open}19${close}`);
    },
  },
  {
    name: 'huge',
    weight: 1,
    make: (r, t) => {
      const key = mutateKey(r, t);
      const size = pick(r, [64 * 1024, 200 * 1024, 255 * 1024, 300 * 1024, 1024 * 1024]);
      const kind = int(r, 0, 3);
      if (kind === 0) return Buffer.from(`{"${key}":"${'A'.repeat(size)}"}`);
      if (kind === 1) return Buffer.from(`{"${key}":${'9'.repeat(size)}}`);
      if (kind === 2) return Buffer.from(`{${Array.from({ length: Math.floor(size / 16) }, (_, i) => `"k${i}":${i}`).join(',')}}`);
      return Buffer.alloc(size, 0x7b);
    },
  },
  {
    name: 'random_bytes',
    weight: 10,
    make: (r) => {
      const n = int(r, 0, 512);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
      return b;
    },
  },
  {
    name: 'prototype_keys',
    weight: 4,
    make: (r, t) => {
      const key = mutateKey(r, t);
      return Buffer.from(
        pick(r, [
          `{"__proto__":{"${key}":19.5}}`,
          `{"constructor":{"prototype":{"${key}":19.5}}}`,
          `{"${key}":{"__proto__":19.5}}`,
          `{"${key}":19.5,"__proto__":null}`,
          `{"toString":1,"valueOf":2,"${key}":"valueOf"}`,
        ]),
      );
    },
  },
  {
    name: 'valid_ish',
    weight: 6,
    make: (r, t) => (r() < 0.5 ? Buffer.from(t.sample) : Buffer.from(t.sample.replace(/\d+(\.\d+)?/, String(int(r, -100, 200))))),
  },
  {
    name: 'duplicate_keys',
    weight: 4,
    make: (r, t) => {
      const key = mutateKey(r, t);
      return Buffer.from(`{"${key}":19.5,"${key}":"x","${key}":null}`);
    },
  },
];

const TOTAL_WEIGHT = FAMILIES.reduce((s, f) => s + f.weight, 0);

/** `count` cases spread over `targets`, deterministic for a seed. */
export function* fuzzCases(seed: number, count: number, targets: readonly FuzzTarget[]): Generator<FuzzCase> {
  const r = seededRandom(seed);
  const totalTargetWeight = targets.reduce((s, t) => s + (t.weight ?? 1), 0);
  for (let i = 0; i < count; i++) {
    let tw = r() * totalTargetWeight;
    let t = targets[0]!;
    for (const x of targets) {
      tw -= x.weight ?? 1;
      if (tw < 0) {
        t = x;
        break;
      }
    }
    let w = r() * TOTAL_WEIGHT;
    let fam = FAMILIES[0]!;
    for (const f of FAMILIES) {
      w -= f.weight;
      if (w < 0) {
        fam = f;
        break;
      }
    }
    yield { topic: t.topic, kind: t.kind, family: fam.name, payload: fam.make(r, t) };
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

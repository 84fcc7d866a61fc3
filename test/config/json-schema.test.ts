import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { configJsonSchema, configJsonSchemaText } from '../../agent/config/json-schema.js';

const COMMITTED = new URL('../../schema/agent.schema.json', import.meta.url);

type Obj = Record<string, unknown>;
const props = (o: unknown): Obj => ((o as Obj).properties ?? {}) as Obj;

describe('config JSON Schema', () => {
  it('schema/agent.schema.json is up to date (node --import tsx scripts/write-config-schema.ts)', async () => {
    assert.equal(await readFile(COMMITTED, 'utf8'), configJsonSchemaText());
  });

  it('is the input side: only version and inputs are required, defaults are shown', () => {
    const s = configJsonSchema();
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(s.required, ['version', 'inputs']);
    assert.equal(s.additionalProperties, false);
    assert.equal((props(props(s).heater).max_power_w as Obj).default, 300);
    assert.deepEqual((props(s).inputs as Obj).required, ['room_temperature']);
  });

  it('has no fixed node.id default and no mqtt.password (never in the file)', () => {
    const s = configJsonSchema();
    const id = props(props(s).node).id as Obj;
    assert.equal(id.default, undefined);
    assert.equal(id.pattern, '^[a-z0-9_-]+$');
    assert.equal(props(props(s).mqtt).password, undefined);
    assert.ok(props(props(s).mqtt).password_file);
  });
});

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStore } from '../../../agent/adapters/system/json-file-store.js';

it('concurrent writes of one document all succeed, in call order, and leave no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-store-'));
  try {
    const store = new JsonFileStore(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write('doc.json', { i })));
    assert.deepEqual(await store.read('doc.json'), { i: 19 }, 'the last call wins');
    assert.deepEqual(await readdir(dir), ['doc.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a failed write does not block the next one of the same document', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-store-'));
  try {
    const store = new JsonFileStore(dir);
    const bad = { toJSON: () => { throw new Error('boom'); } };
    await assert.rejects(store.write('doc.json', bad), /cannot serialise doc.json: boom/);
    await store.write('doc.json', { ok: true });
    assert.deepEqual(await store.read('doc.json'), { ok: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStore } from '../../agent/adapters/system/json-file-store.js';
import { silentLogger } from '../../agent/log.js';
import type { AgentError } from '../../agent/errors.js';
import { JOB_IDS_FILE, JobIdMemory } from '../../agent/runtime/job-ids.js';

const H = 3600 * 1000;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempStore(): Promise<{ dir: string; store: JsonFileStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-jobids-'));
  dirs.push(dir);
  return { dir, store: new JsonFileStore(dir) };
}

describe('JobIdMemory', () => {
  it('remembers accepted ids across a restart for at least 24 h, then forgets them', async () => {
    const { store } = await tempStore();
    const t0 = Date.UTC(2026, 0, 1);
    const a = new JobIdMemory(store, { log: silentLogger() });
    await a.load(t0);
    a.remember('j1', t0);
    a.remember('j2', t0 + H);
    assert.ok(a.has('j1', t0));
    assert.ok(!a.has('j3', t0));
    await a.flush();

    const b = new JobIdMemory(store, { log: silentLogger() });
    await b.load(t0 + 24 * H - 1);
    assert.ok(b.has('j1', t0 + 24 * H - 1), 'still known just under 24 h later, after a restart');
    assert.ok(b.has('j2', t0 + 24 * H));
    assert.ok(!b.has('j1', t0 + 27 * H), 'forgotten after the retention (26 h by default)');

    const c = new JobIdMemory(store, { log: silentLogger(), retainS: 60 });
    await c.load(t0 + 2 * 60 * 1000);
    assert.ok(c.has('j1', t0 + 2 * 60 * 1000), 'a retention under 24 h is raised to 24 h');
  });

  it('is bounded: the oldest ids go first', async () => {
    const { store } = await tempStore();
    const m = new JobIdMemory(store, { log: silentLogger(), maxEntries: 3 });
    await m.load(0);
    for (let i = 0; i < 5; i++) m.remember(`j${i}`, 1000 + i);
    assert.equal(m.size, 3);
    assert.equal(m.evictedCount, 2);
    assert.deepEqual(['j0', 'j1', 'j2', 'j3', 'j4'].map((id) => m.has(id, 2000)), [false, false, true, true, true]);
    await m.flush();
    const doc = JSON.parse(await readFile(store.path(JOB_IDS_FILE), 'utf8')) as { ids: Record<string, number> };
    assert.deepEqual(Object.keys(doc.ids), ['j2', 'j3', 'j4']);
  });

  it('coalesces writes: many ids remembered at once all reach the file', async () => {
    const { store } = await tempStore();
    const m = new JobIdMemory(store, { log: silentLogger() });
    await m.load(0);
    for (let i = 0; i < 200; i++) m.remember(`j${i}`, 10);
    await m.flush();
    const doc = JSON.parse(await readFile(store.path(JOB_IDS_FILE), 'utf8')) as { ids: Record<string, number> };
    assert.equal(Object.keys(doc.ids).length, 200);
  });

  it('a corrupt file is reported and the memory starts empty; an unwritable dir is reported, never thrown', async () => {
    const { dir, store } = await tempStore();
    await writeFile(join(dir, JOB_IDS_FILE), '{"ids": {');
    const errors: AgentError[] = [];
    const m = new JobIdMemory(store, { log: silentLogger(), onError: (e) => errors.push(e) });
    await m.load(0);
    assert.equal(m.size, 0);
    assert.equal(errors[0]?.code, 'state_corrupt');
    if (process.getuid?.() !== 0) {
      await chmod(dir, 0o500);
      m.remember('j', 1);
      await m.flush();
      await chmod(dir, 0o700);
      assert.equal(errors[1]?.code, 'state_write_failed');
      assert.ok(m.has('j', 1), 'still remembered in memory');
    } else {
      // root ignores permissions: make the target a directory instead
      await rm(join(dir, JOB_IDS_FILE));
      const bad = new JobIdMemory(new JsonFileStore(join(dir, 'missing-dir', 'x')), { log: silentLogger(), onError: (e) => errors.push(e) });
      bad.remember('j', 1);
      await bad.flush();
      assert.equal(errors[1]?.code, 'state_write_failed');
    }
  });
});

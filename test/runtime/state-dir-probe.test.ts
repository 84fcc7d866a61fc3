import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeStateDir } from '../../agent/runtime/state-dir-probe.js';

describe('state dir probe (doctor)', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a writable dir passes and is left as it was', async () => {
    const d = await mkdtemp(join(tmpdir(), 'anchiale-probe-'));
    dirs.push(d);
    const p = await probeStateDir(join(d, 'state'));
    assert.equal(p.ok, true, p.message);
    assert.equal(p.reason, null);
    assert.ok(p.freeBytes !== null && p.freeBytes > 0);
    assert.deepEqual(await readdir(join(d, 'state')), []);
  });

  it('a file where the directory should be: unwritable (even for root)', async () => {
    const d = await mkdtemp(join(tmpdir(), 'anchiale-probe-'));
    dirs.push(d);
    await writeFile(join(d, 'file'), 'x');
    const p = await probeStateDir(join(d, 'file', 'state'));
    assert.equal(p.ok, false);
    assert.equal(p.reason, 'state_dir_unwritable');
    assert.match(p.message, /ENOTDIR|EEXIST/);
  });

  it('too little free space: disk full', async () => {
    const d = await mkdtemp(join(tmpdir(), 'anchiale-probe-'));
    dirs.push(d);
    const p = await probeStateDir(d, Number.MAX_SAFE_INTEGER);
    assert.equal(p.ok, false);
    assert.equal(p.reason, 'state_disk_full');
  });
});

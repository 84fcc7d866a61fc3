/**
 * Fault: the state directory cannot be written — missing (a file where the directory should be:
 * root cannot write there either), turned read-only, or full. Never fatal: the agent starts (or
 * goes on), decides, applies commands in memory. Reported: one `state_write_failed {code}` event
 * per streak, the code in the state's `reasons` while it lasts, `state_write_restored` once a write
 * works again, after which the files hold the latest operator state.
 *
 * Read-only and full use a 64 KiB tmpfs when this machine lets us mount one (CI runs as root); where
 * it does not, read-only becomes "the directory replaced by a file" and a full disk becomes
 * /dev/full under the store's temporary file name (writes fail with ENOSPC all the same).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectProbe, type Probe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';
import { uniqueBase, type TestAgent } from '../runtime/agent-harness.js';
import { BROKER, clearRetained, eventsOf, json, readJsonFile, reasons, since, startFaultAgent, trv } from './fault-kit.js';

const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);

interface Rig {
  a: TestAgent;
  probe: Probe;
  node: string;
}

describe('fault: state dir unwritable, read-only or full', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  async function setup(stateDir: string): Promise<Rig> {
    const probe = await connectProbe(BROKER);
    cleanups.push(() => probe.end());
    const base = uniqueBase();
    const node = `${base}/h1`;
    await probe.subscribe(`${base}/#`);
    const a = await startFaultAgent({ base, stateDir });
    cleanups.push(async () => {
      await a.cleanup();
      await clearRetained(probe, node);
    });
    return { a, probe, node };
  }

  const stateWith = (r: Rig, pred: (m: ProbeMessage) => boolean, ref?: ProbeMessage) =>
    r.probe.next(`${r.node}/state`, ref ? since(r.probe, ref, pred) : pred, 5000).catch((err: Error) => {
      throw new Error(`${err.message}\nlast state: ${r.probe.received(`${r.node}/state`).at(-1)?.text}`);
    });
  const storageEvents = (r: Rig) => eventsOf(r.probe, r.node).filter((e) => String(e.type).startsWith('state_write_'));

  /**
   * A failure streak and its end, driven by set/setpoint commands (each one persists the operator
   * state). breakIt is called before each failing command (it must be idempotent).
   */
  async function failThenRecover(r: Rig, code: string, breakIt: () => Promise<void>, repair: () => Promise<void>): Promise<void> {
    const { a, probe, node } = r;
    await probe.publish(a.roomTopic, trv(18));
    await probe.publish(`${node}/set/mode`, 'heat');
    const ok = await stateWith(r, (m) => json(m).mode === 'heat' && json(m).action === 'heating');
    await waitFor(async () => (await readJsonFile(a.stateDir, 'operator.json').catch(() => ({}) as Record<string, unknown>)).mode === 'heat', { what: 'operator.json written' });

    await breakIt();
    await probe.publish(`${node}/set/setpoint`, '23');
    const failed = await stateWith(r, (m) => json(m).setpoint_c === 23 && reasons(m).includes(code), ok);
    assert.equal(json(failed).action, 'heating', 'control goes on');
    await breakIt(); // idempotent; the /dev/full fallback needs it again (the store removes its temp file)
    await probe.publish(`${node}/set/setpoint`, '23.5');
    await stateWith(r, (m) => json(m).setpoint_c === 23.5 && reasons(m).includes(code), failed);
    const ev = await probe.next(`${node}/event`, (m) => json(m).type === 'state_write_failed');
    assert.equal(json(ev).code, code);
    assert.equal(json(ev).severity, 'error');
    assert.equal(storageEvents(r).filter((e) => e.type === 'state_write_failed').length, 1, 'one event per streak');
    // The state is published when the command is applied; its write fails a moment later.
    await waitFor(() => a.agent.storageStatus.failures >= 2, { what: 'the second write failed too' });
    assert.equal(a.agent.operatorState.manualSetpointC, 23.5, 'applied in memory');

    await repair();
    await probe.publish(`${node}/set/setpoint`, '22');
    const restored = await probe.next(`${node}/event`, (m) => json(m).type === 'state_write_restored', 5000);
    assert.equal(json(restored).code, code);
    assert.ok((json(restored).failures as number) >= 2);
    const back = await stateWith(r, (m) => json(m).setpoint_c === 22 && !reasons(m).includes(code));
    assert.equal(json(back).action, 'heating');
    const op = await readJsonFile(a.stateDir, 'operator.json');
    assert.equal(op.manualSetpointC, 22, 'the files hold the latest operator state again');
    assert.equal(op.mode, 'heat');
    assert.equal(a.agent.storageStatus.ok, true);
  }

  it('no directory (a file in its place): starts anyway, reports it, decides, applies commands in memory', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'anchiale-fault-dir-'));
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    await writeFile(join(tmp, 'not-a-dir'), 'x');
    const r = await setup(join(tmp, 'not-a-dir', 'state'));
    const { a, probe, node } = r;
    // Reported at start (queued until the broker connection, then published).
    const ev = await probe.next(`${node}/event`, (m) => json(m).type === 'state_write_failed', 5000);
    assert.equal(json(ev).code, 'state_dir_unwritable');
    await probe.publish(a.roomTopic, trv(18.5));
    const s = await stateWith(r, (m) => json(m).room_temp_c === 18.5 && json(m).action === 'heating');
    assert.ok(reasons(s).includes('state_dir_unwritable'), reasons(s).join(','));
    await probe.publish(`${node}/set/mode`, 'off');
    const off = await stateWith(r, (m) => json(m).mode === 'off', s);
    assert.equal(json(off).action, 'off');
    assert.ok(reasons(off).includes('state_dir_unwritable'));
    assert.equal(storageEvents(r).length, 1, 'one event for the whole streak');
    assert.equal(a.agent.storageStatus.reason, 'state_dir_unwritable');
    assert.ok(a.agent.storageStatus.failures >= 2, 'the command tried to persist, and failed again');
  });

  it('turned read-only while running → reported → writable again → restored', async (t) => {
    const fs = await mountTmpfs(64);
    if (fs) {
      t.diagnostic('read-only by remounting a tmpfs ro (EROFS)');
      cleanups.push(() => fs.cleanup());
      const r = await setup(fs.dir);
      await failThenRecover(r, 'state_dir_unwritable', () => fs.remount('ro'), () => fs.remount('rw'));
    } else {
      t.diagnostic('no tmpfs here: the directory is replaced by a file (ENOTDIR)');
      const tmp = await mkdtemp(join(tmpdir(), 'anchiale-fault-ro-'));
      cleanups.push(() => rm(tmp, { recursive: true, force: true }));
      const dir = join(tmp, 'state');
      const r = await setup(dir);
      await failThenRecover(
        r,
        'state_dir_unwritable',
        async () => {
          if (await isDir(dir)) {
            await rename(dir, `${dir}.away`);
            await writeFile(dir, 'x');
          }
        },
        async () => {
          await rm(dir);
          await rename(`${dir}.away`, dir);
        },
      );
    }
  });

  it('disk full while running → reported → space freed → restored', async (t) => {
    const fs = await mountTmpfs(64);
    if (fs) {
      t.diagnostic('a full 64 KiB tmpfs (ENOSPC)');
      cleanups.push(() => fs.cleanup());
      const r = await setup(fs.dir);
      let filler = '';
      await failThenRecover(
        r,
        'state_disk_full',
        async () => {
          filler = await fs.fill();
        },
        () => rm(filler),
      );
    } else {
      t.diagnostic('no tmpfs here: /dev/full under the store\'s temporary file names (ENOSPC)');
      const dir = await mkdtemp(join(tmpdir(), 'anchiale-fault-full-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const r = await setup(dir);
      const tmpNames = ['operator.json', 'counters.json'].map((f) => join(dir, `${f}.${process.pid}.tmp`));
      await failThenRecover(
        r,
        'state_disk_full',
        async () => {
          for (const n of tmpNames) await symlink('/dev/full', n).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err;
          });
        },
        async () => {
          for (const n of tmpNames) await rm(n, { force: true });
        },
      );
    }
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../agent/log.js';
import type { AgentError } from '../../../agent/errors.js';
import { OUTBOX_FILE, Outbox, type OutboxOptions } from '../../../agent/adapters/system/outbox.js';
import { FakeBus } from '../../fakes/fake-bus.js';
import { waitFor } from '../../helpers/wait.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-outbox-'));
  dirs.push(dir);
  return dir;
}

function outbox(dir: string, bus: FakeBus, extra: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox({ dir, bus, log: silentLogger(), ...extra });
}

const lines = async (dir: string) =>
  (await readFile(join(dir, OUTBOX_FILE), 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { op: string; id: string; topic?: string });

describe('Outbox', () => {
  it('stores a message on disk before publishing it, and forgets it once acknowledged', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    bus.connected = true;
    const ob = outbox(dir, bus);
    await ob.start();
    const r = await ob.add({ topic: 'r/1', payload: '{"type":"done"}', terminal: true, properties: { correlationData: Buffer.from('cd') } });
    assert.deepEqual({ durable: r.durable, dropped: r.dropped }, { durable: true, dropped: false });
    assert.deepEqual((await lines(dir)).map((l) => l.op), ['add'], 'on disk before the PUBACK');
    assert.equal(bus.published.length, 1);
    assert.equal(bus.published[0]!.opts.qos, 1);
    assert.deepEqual(bus.published[0]!.opts.properties?.correlationData, Buffer.from('cd'));
    bus.published[0]!.ack();
    await waitFor(() => ob.stats().entries === 0);
    assert.equal(ob.stats().published, 1);
    await ob.stop();
    assert.deepEqual((await lines(dir)).map((l) => l.op), ['add', 'ack']);
    // The next start compacts the file to nothing.
    const again = outbox(dir, bus);
    await again.start();
    assert.equal(again.stats().entries, 0);
    assert.equal((await readFile(join(dir, OUTBOX_FILE), 'utf8')).length, 0);
    await again.stop();
  });

  it('survives a restart while offline and replays in order once connected, correlation data included', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    const a = outbox(dir, bus);
    await a.start();
    for (let i = 0; i < 3; i++) await a.add({ topic: `r/${i}`, payload: `m${i}`, terminal: true, properties: { correlationData: Buffer.from([i]) } });
    assert.equal(bus.published.length, 0, 'nothing published while offline');
    await a.stop();
    // A torn last line (the process died mid-write) is skipped.
    await appendFile(join(dir, OUTBOX_FILE), '{"op":"add","id":"torn","topic":"r/x","payl');

    const bus2 = new FakeBus();
    bus2.autoAck = true;
    const b = outbox(dir, bus2);
    await b.start();
    assert.equal(b.stats().entries, 3);
    bus2.connect();
    await waitFor(() => b.stats().entries === 0);
    assert.deepEqual(bus2.published.map((p) => p.topic), ['r/0', 'r/1', 'r/2']);
    assert.deepEqual(bus2.published.map((p) => p.opts.properties?.correlationData), [Buffer.from([0]), Buffer.from([1]), Buffer.from([2])]);
    await b.stop();
  });

  it('after a reconnect publishes again what failed, not what the client still has in flight', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    bus.connected = true;
    const ob = outbox(dir, bus);
    await ob.start();
    await ob.add({ topic: 'a', payload: '1', terminal: true });
    await ob.add({ topic: 'b', payload: '2', terminal: true });
    bus.disconnect();
    bus.published[1]!.fail('mqtt_publish_failed');
    await new Promise((r) => setImmediate(r));
    bus.connect();
    assert.deepEqual(bus.published.map((p) => p.topic), ['a', 'b', 'b'], 'a is still in flight (re-sent by the client), b is published again');
    bus.published[0]!.ack();
    bus.published[2]!.ack();
    await waitFor(() => ob.stats().entries === 0);
    await ob.stop();
  });

  it('republishes an entry stuck in flight', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    bus.connected = true;
    const ob = outbox(dir, bus, { retryInFlightMs: 100 });
    await ob.start();
    await ob.add({ topic: 'a', payload: '1', terminal: true });
    await waitFor(() => bus.published.length === 2, { timeoutMs: 2000 });
    bus.published[1]!.ack();
    await waitFor(() => ob.stats().entries === 0);
    bus.published[0]!.ack(); // the late first PUBACK changes nothing
    await ob.stop();
  });

  it('is bounded: drops the oldest non-terminal messages first, never terminal answers', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    const ob = outbox(dir, bus, { maxEntries: 3 });
    await ob.start();
    await ob.add({ topic: 'n1', payload: 'x' });
    await ob.add({ topic: 't1', payload: 'x', terminal: true });
    await ob.add({ topic: 'n2', payload: 'x' });
    await ob.add({ topic: 't2', payload: 'x', terminal: true }); // drops n1
    assert.deepEqual(ob.pending().map((p) => p.topic), ['t1', 'n2', 't2']);
    await ob.add({ topic: 't3', payload: 'x', terminal: true }); // drops n2
    assert.deepEqual(ob.pending().map((p) => p.topic), ['t1', 't2', 't3']);
    const r = await ob.add({ topic: 'n3', payload: 'x' }); // no room: the new non-terminal one is dropped
    assert.equal(r.dropped, true);
    await ob.add({ topic: 't4', payload: 'x', terminal: true }); // kept over the bound
    assert.deepEqual(ob.pending().map((p) => p.topic), ['t1', 't2', 't3', 't4']);
    assert.equal(ob.stats().dropped, 3);
    await ob.stop();
    // The dropped ones are not replayed after a restart.
    const again = outbox(dir, bus, { maxEntries: 3 });
    await again.start();
    assert.deepEqual(again.pending().map((p) => p.topic), ['t1', 't2', 't3', 't4']);
    await again.stop();
  });

  it('bounds bytes too', async () => {
    const dir = await tempDir();
    const ob = outbox(dir, new FakeBus(), { maxBytes: 100 });
    await ob.start();
    await ob.add({ topic: 'a', payload: 'x'.repeat(60) });
    await ob.add({ topic: 'b', payload: 'x'.repeat(60) });
    assert.deepEqual(ob.pending().map((p) => p.topic), ['b']);
    assert.equal(ob.stats().dropped, 1);
    await ob.stop();
  });

  it('a message the broker refuses for good is removed and counted', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    bus.connected = true;
    const ob = outbox(dir, bus);
    await ob.start();
    await ob.add({ topic: 'forbidden', payload: 'x', terminal: true });
    bus.published[0]!.fail('mqtt_publish_refused');
    await waitFor(() => ob.stats().entries === 0);
    assert.equal(ob.stats().refused, 1);
    await ob.stop();
  });

  it('disk full: a coded error, the message is still published from memory, and the file recovers', async () => {
    const dir = await tempDir();
    // The next rewrite's temp file is /dev/full: writing it fails with ENOSPC.
    await writeFile(join(dir, OUTBOX_FILE), JSON.stringify({ op: 'add', id: 'old', topic: 'old', payload: 'x', terminal: true }) + '\n');
    const errors: AgentError[] = [];
    const bus = new FakeBus();
    bus.connected = true;
    const ob = outbox(dir, bus, { onError: (e) => errors.push(e) });
    await symlink('/dev/full', join(dir, `${OUTBOX_FILE}.${process.pid}.tmp`));
    await ob.start();
    assert.equal(errors[0]?.code, 'outbox_disk_full');
    const r = await ob.add({ topic: 'a', payload: 'x', terminal: true });
    assert.equal(r.durable, true, 'the next write rewrote the file successfully');
    assert.deepEqual(bus.published.map((p) => p.topic), ['old', 'a'], 'both published (old from memory)');
    assert.deepEqual((await lines(dir)).map((l) => l.topic), ['old', 'a']);
    await ob.stop();
  });

  it('an unwritable state dir is reported, never thrown; messages still go out', async () => {
    const dir = await tempDir();
    const notADir = join(dir, 'file');
    await writeFile(notADir, 'x');
    const errors: AgentError[] = [];
    const bus = new FakeBus();
    bus.connected = true;
    bus.autoAck = true;
    const ob = outbox(notADir, bus, { onError: (e) => errors.push(e) });
    await ob.start();
    const r = await ob.add({ topic: 'a', payload: 'x', terminal: true });
    assert.equal(r.durable, false);
    assert.deepEqual([...new Set(errors.map((e) => e.code))], ['outbox_read_failed', 'outbox_write_failed']);
    await waitFor(() => ob.stats().published === 1);
    await ob.stop();
  });

  it('compacts the file when it grows', async () => {
    const dir = await tempDir();
    const bus = new FakeBus();
    bus.connected = true;
    bus.autoAck = true;
    const ob = outbox(dir, bus, { compactAtBytes: 4096 });
    await ob.start();
    for (let i = 0; i < 200; i++) await ob.add({ topic: `r/${i}`, payload: 'y'.repeat(100), terminal: true });
    await waitFor(() => ob.stats().entries === 0);
    await ob.stop();
    assert.ok((await stat(join(dir, OUTBOX_FILE))).size < 4096 + 400, 'compacted at least once');
  });
});

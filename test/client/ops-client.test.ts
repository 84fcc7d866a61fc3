import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpsClient } from '../../agent/client/ops-client.js';
import { startOpsFleet, TEST_BROKER, type OpsFleet } from '../helpers/ops-fleet.js';

describe('ops client on a real broker', () => {
  const fleets: OpsFleet[] = [];
  const clients: OpsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const f of fleets.splice(0)) await f.cleanup();
  });
  const start = async (nodes: string[]) => {
    const f = await startOpsFleet(nodes);
    fleets.push(f);
    return f;
  };
  const connect = async (base: string, protocolVersion: 4 | 5 = 5) => {
    const c = await OpsClient.connect({ url: TEST_BROKER, base, protocolVersion });
    clients.push(c);
    return c;
  };

  it('MQTT 5: one node answers on the client\'s response topic under the reply prefix', async () => {
    const f = await start(['h1']);
    const c = await connect(f.base);
    const r = await c.request('h1', 'mode', { mode: 'heat' });
    assert.deepEqual(r.missing, []);
    assert.equal(r.answers.length, 1);
    const a = r.answers[0]!;
    assert.deepEqual([a.node, a.status, a.data, a.transaction], ['h1', 'ok', { mode: 'heat' }, r.transaction]);
    assert.ok(a.topic.startsWith(`${f.base}/replies/ctl-`), a.topic);
  });

  it('MQTT 3.1.1: the answer on the default response topic is matched by transaction', async () => {
    const f = await start(['h1']);
    const c = await connect(f.base, 4);
    const r = await c.request('h1', 'power_cap', { watts: 999 });
    const a = r.answers[0]!;
    assert.equal(a.topic, `${f.base}/h1/response/power_cap`);
    assert.equal(a.error?.code, 'invalid_request');
    assert.match(a.error!.message, /^watts: /);
  });

  it('all: gathers every node, done as soon as the expected ones answered; reads the fleet from retained state', async () => {
    const f = await start(['h1', 'h2']);
    const c = await connect(f.base);
    const fleet = await c.fleet();
    assert.deepEqual(fleet.map((n) => [n.node, n.online, n.info?.node_id]), [['h1', true, 'h1'], ['h2', true, 'h2']]);
    assert.ok(fleet.every((n) => n.state !== null && n.stateAgeS !== null && n.stateAgeS < 30));
    const t0 = Date.now();
    const r = await c.request('all', 'status', {}, { timeoutMs: 4000, expectNodes: ['h1', 'h2'] });
    assert.ok(Date.now() - t0 < 2000, 'did not wait out the timeout');
    assert.deepEqual(r.answers.map((a) => a.node), ['h1', 'h2']);
    const one = await c.fleet({ node: 'h2' });
    assert.deepEqual(one.map((n) => n.node), ['h2']);
  });

  it('a node that does not answer is missing after the timeout', async () => {
    const f = await start(['h1']);
    const c = await connect(f.base);
    const r = await c.request('h9', 'status', {}, { timeoutMs: 300 });
    assert.deepEqual([r.answers, r.missing], [[], ['h9']]);
    await assert.rejects(c.request('H 1', 'status'), /not a node id/);
  });
});

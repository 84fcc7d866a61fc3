import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, parseListen } from '../../agent/ops/listen-address.js';
import { createConfigSchema } from '../../agent/config/schema.js';

describe('listen addresses', () => {
  it('parses host:port and [v6]:port', () => {
    const cases: Array<[string, { host: string; port: number }]> = [
      ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
      ['localhost:1', { host: 'localhost', port: 1 }],
      ['[::1]:9464', { host: '::1', port: 9464 }],
      ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ];
    for (const [s, want] of cases) assert.deepEqual(parseListen(s), want, s);
    for (const s of ['127.0.0.1', ':9464', '127.0.0.1:65536', '::1:9464', 'host:port', '']) {
      assert.throws(() => parseListen(s), { code: 'metrics_invalid_listen' }, s);
    }
  });

  it('loopback: 127.0.0.0/8, ::1, localhost; not: any, LAN, other names', () => {
    const cases: Array<[string, boolean]> = [
      ['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['LOCALHOST', true], ['::1', true], ['[::1]', true],
      ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
      ['0.0.0.0', false], ['::', false], ['192.168.1.10', false], ['10.0.0.1', false], ['broker.example', false], ['128.0.0.1', false],
      ['localhost.example.com', false], ['::2', false],
    ];
    for (const [h, want] of cases) assert.equal(isLoopbackHost(h), want, h);
  });

  it('config: metrics off by default; a non-loopback listen is an error unless metrics.allow_remote', () => {
    const schema = createConfigSchema({ defaultNodeId: 'h1' });
    const parse = (metrics: Record<string, unknown> | undefined) => schema.safeParse({ version: 1, inputs: { room_temperature: { topic: 'room/t' } }, ...(metrics ? { metrics } : {}) });
    const def = parse(undefined);
    assert.ok(def.success);
    assert.equal(def.data.metrics.listen, null);
    assert.equal(def.data.metrics.allow_remote, false);
    assert.ok(parse({ listen: '127.0.0.1:9464' }).success);
    assert.ok(parse({ listen: '[::1]:9464' }).success);
    const remote = parse({ listen: '0.0.0.0:9464' });
    assert.ok(!remote.success);
    assert.deepEqual(remote.error.issues.map((i) => i.path.join('.')), ['metrics.listen']);
    assert.match(remote.error.issues[0]?.message ?? '', /loopback.*allow_remote/);
    assert.ok(parse({ listen: '0.0.0.0:9464', allow_remote: true }).success);
  });
});

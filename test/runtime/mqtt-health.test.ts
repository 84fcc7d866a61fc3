import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MqttHealth } from '../../agent/runtime/mqtt-health.js';
import { captureLogger } from '../helpers/capture-logger.js';


function setup(protocolVersion: 4 | 5 = 5) {
  const { log, lines } = captureLogger();
  let now = Date.parse('2026-01-10T08:00:00Z');
  const events: Array<{ type: string; severity: string; fields: Record<string, unknown> }> = [];
  const health = new MqttHealth({ log, now: () => now, emit: (type, severity, fields) => void events.push({ type, severity, fields }), protocolVersion, username: 'h1' });
  return { health, lines, events, advance: (ms: number) => void (now += ms) };
}

describe('MQTT health', () => {
  it('a streak of refused logins: one error log, status and text while it lasts, one event once connected again', () => {
    const { health, lines, events, advance } = setup();
    health.onConnect();
    health.onDisconnect({ reason: 'keepalive timeout' });
    for (let i = 0; i < 4; i++) {
      health.onDisconnect({ reason: 'connection refused: not authorized (135)', refused: { code: 135, message: 'not authorized' } });
      advance(30_000);
    }
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, 'the streak is logged once');
    assert.match(errors[0]?.msg ?? '', /refuses our login.*not authorized.*CONNACK 135.*mqtt\.username.*password/);
    assert.equal(errors[0]?.['username'], 'h1');
    const s = health.status();
    assert.equal(s.connected, false);
    assert.equal(s.refusedStreak, 4);
    assert.equal(s.authRefusals, 4);
    assert.equal(s.disconnects, 1);
    assert.equal(s.refusedSinceMs, Date.parse('2026-01-10T08:00:00Z'));
    assert.match(health.statusText() ?? '', /^MQTT login refused \(not authorized, CONNACK 135\) since 2026-01-10T08:00:00.000Z, 4 attempt\(s\)/);
    assert.equal(events.length, 0, 'nothing can be published while refused');

    health.onConnect();
    assert.deepEqual(events.map((e) => [e.type, e.severity]), [['mqtt_auth_refused', 'warning']]);
    assert.equal(events[0]?.fields['refusals'], 4);
    assert.equal(events[0]?.fields['reason_code'], 135);
    assert.equal(events[0]?.fields['since'], '2026-01-10T08:00:00.000Z');
    assert.equal(health.statusText(), null);
    assert.equal(health.status().refusedStreak, 0);
    assert.equal(health.status().reconnects, 1);
    assert.equal(health.status().authRefusals, 4, 'the total stays');

    // A new streak is logged again.
    health.onDisconnect({ reason: 'x' });
    health.onDisconnect({ reason: 'y', refused: { code: 134, message: 'bad user name or password' } });
    assert.equal(lines.filter((l) => l.level === 'error').length, 2);
  });

  it('other refusals and MQTT 3.1.1 codes', () => {
    const cases: Array<[4 | 5, number, boolean]> = [
      [5, 134, true], [5, 135, true], [5, 138, false], [5, 136, false], [4, 4, true], [4, 5, true], [4, 3, false],
    ];
    for (const [pv, code, auth] of cases) {
      const { health, events } = setup(pv);
      health.onDisconnect({ reason: 'r', refused: { code, message: 'm' } });
      assert.equal(health.status().authRefusals, auth ? 1 : 0, `v${pv} code ${code}`);
      assert.match(health.statusText() ?? '', auth ? /login refused/ : /connection refused/);
      health.onConnect();
      assert.equal(events[0]?.type, auth ? 'mqtt_auth_refused' : 'mqtt_connect_refused', `v${pv} code ${code}`);
    }
  });

  it('plain disconnects and connects: no refusal, no event', () => {
    const { health, events, lines } = setup();
    health.onConnect();
    health.onDisconnect({ reason: 'socket closed' });
    health.onConnect();
    assert.equal(events.length, 0);
    assert.equal(lines.filter((l) => l.level === 'error').length, 0);
    assert.deepEqual(
      { ...health.status(), lastRefusal: null },
      { connected: true, connects: 2, reconnects: 1, disconnects: 1, refusals: 0, authRefusals: 0, refusedStreak: 0, refusedSinceMs: null, lastRefusal: null },
    );
  });
});

/**
 * The site ACL (deploy/mosquitto/acl) against a real Mosquitto with a password file.
 * Negative checks end with a marker: the same publisher then sends something the watcher may
 * read; once the marker arrives, a forbidden message would have arrived before it (Mosquitto
 * routes one client's packets in order).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions } from 'mqtt';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';

const SHIPPED_ACL = readFileSync(fileURLToPath(new URL('../../deploy/mosquitto/acl', import.meta.url)), 'utf8');

/** The `user jobclient` block of the shipped ACL, as README says to copy it for another job client. */
function jobClientBlock(acl: string, user: string): string {
  const start = acl.indexOf('\nuser jobclient\n');
  assert.ok(start >= 0, 'the shipped ACL has a `user jobclient` block');
  const end = acl.indexOf('\n\n', start + 1);
  return acl.slice(start, end < 0 ? undefined : end).replace('user jobclient', `user ${user}`);
}
// A second job client, alice, added the way README says.
const ACL = `${SHIPPED_ACL}\n${jobClientBlock(SHIPPED_ACL, 'alice')}\n`;
const PW = 'pw-for-tests';
const USERS = ['h1', 'h2', 'bms', 'operator', 'jobclient', 'homeassistant', 'alice'] as const;
type User = (typeof USERS)[number];

const NOT_AUTHORIZED = 0x87;

let seq = 0;
const uniq = (label: string) => `${label}-${process.pid}-${++seq}`;

function reasonCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? (err as { code?: number }).code : undefined;
}

describe('deploy/mosquitto/acl on Mosquitto 2.0', () => {
  let broker: MosquittoHandle;
  const probes = new Map<string, Probe>();

  const connect = async (key: string, user: User, extra: IClientOptions = {}): Promise<Probe> => {
    const p = await connectProbe(broker.url, { username: user, password: PW, reconnectPeriod: 0, ...extra });
    probes.set(key, p);
    return p;
  };
  const probe = (key: string): Probe => {
    const p = probes.get(key);
    if (!p) throw new Error(`no probe ${key}`);
    return p;
  };

  before(async () => {
    broker = await startMosquitto({ users: Object.fromEntries(USERS.map((u) => [u, PW])), acl: ACL });
    // Watchers that subscribe to everything: acl_file grants every SUBSCRIBE and filters each
    // delivery by the read right on the message's topic.
    for (const u of USERS) {
      const p = await connect(u, u);
      await p.subscribe('#');
    }
  });

  after(async () => {
    for (const p of probes.values()) await p.end().catch(() => {});
    await broker?.stop();
  });

  /** `publisher` may not publish on `topic`: the PUBACK is 0x87 and `watcher` (who could read it) sees nothing. */
  const assertPublishRefused = async (publisher: string, topic: string, watcher: string, marker: string) => {
    const payload = uniq('forbidden');
    await assert.rejects(probe(publisher).publish(topic, payload), (err: unknown) => {
      assert.equal(reasonCode(err), NOT_AUTHORIZED, `PUBACK reason for ${publisher} → ${topic}`);
      return true;
    });
    const tag = uniq('marker');
    await probe(publisher).publish(marker, tag);
    await probe(watcher).next(marker, (m) => m.text === tag);
    assert.deepEqual(
      probe(watcher).messages.filter((m) => m.text === payload).map((m) => m.topic),
      [],
      `${watcher} must not see ${publisher}'s message on ${topic}`,
    );
  };

  /** `publisher` may publish on `topic` and `reader` receives it. */
  const assertDelivered = async (publisher: string, topic: string, reader: string) => {
    const payload = uniq('ok');
    await probe(publisher).publish(topic, payload);
    const m = await probe(reader).next(topic, (x) => x.text === payload);
    assert.equal(m.topic, topic);
  };

  /** `reader` may not read `topic` (published by `publisher`, who may): `control` gets it, `reader` does not. */
  const assertNotReadable = async (publisher: string, topic: string, reader: string, control: string, marker: string) => {
    const payload = uniq('private');
    await probe(publisher).publish(topic, payload);
    await probe(control).next(topic, (m) => m.text === payload);
    const tag = uniq('marker');
    await probe(publisher).publish(marker, tag);
    await probe(reader).next(marker, (m) => m.text === tag);
    assert.deepEqual(
      probe(reader).messages.filter((m) => m.text === payload).map((m) => m.topic),
      [],
      `${reader} must not read ${topic}`,
    );
  };

  describe('a heater (user name = node id)', () => {
    const allowed: Array<[string, string, string]> = [
      // [publisher, topic, a reader]
      ['h1', 'anchiale/v1/h1/state', 'operator'],
      ['h1', 'anchiale/v1/h1/status', 'jobclient'],
      ['h1', 'anchiale/v1/h1/info', 'homeassistant'],
      ['h1', 'anchiale/v1/h1/event', 'operator'],
      ['h1', 'anchiale/v1/h1/response/status', 'operator'],
      ['h1', 'homeassistant/device/anchiale_h1/config', 'homeassistant'],
      ['h1', 'anchiale/v1/replies/jobclient/job-1', 'jobclient'],
      ['h1', 'anchiale/v1/replies/operator/req-1', 'operator'],
    ];
    for (const [publisher, topic, reader] of allowed) {
      it(`publishes ${topic} (${reader} receives it)`, () => assertDelivered(publisher, topic, reader));
    }

    const refused: Array<[string, string, string, string]> = [
      // [topic, why, watcher, marker the watcher may read]
      ['anchiale/v1/h2/state', "another heater's state", 'operator', 'anchiale/v1/h1/state'],
      ['anchiale/v1/h2/status', "another heater's presence", 'operator', 'anchiale/v1/h1/status'],
      ['anchiale/v1/h2/set/mode', "another heater's set topic", 'h2', 'anchiale/v1/replies/h2/m'],
      ['anchiale/v1/h1/set/mode', 'its own set topic (the building sets it)', 'h1', 'anchiale/v1/h1/state'],
      ['anchiale/v1/h2/request/restart', 'a request (operators only)', 'h2', 'anchiale/v1/replies/h2/m'],
      ['anchiale/v1/all/request/restart', 'a fleet request', 'h2', 'anchiale/v1/replies/h2/m'],
      ['anchiale/v1/h2/jobs/submit', 'a job', 'h2', 'anchiale/v1/replies/h2/m'],
      ['zigbee2mqtt/room204/trv', 'a building input', 'h2', 'anchiale/v1/replies/h2/m'],
      ['homeassistant/device/anchiale_h2/config', "another heater's discovery", 'homeassistant', 'homeassistant/device/anchiale_h1/config'],
    ];
    for (const [topic, why, watcher, marker] of refused) {
      it(`cannot publish ${topic} (${why}): PUBACK 0x87, nothing delivered`, () => assertPublishRefused('h1', topic, watcher, marker));
    }

    const unreadable: Array<[string, string, string, string]> = [
      // [publisher, topic h1 must not read, control reader, marker h1 may read]
      ['operator', 'anchiale/v1/h2/request/status', 'h2', 'anchiale/v1/h1/request/status'],
      ['bms', 'anchiale/v1/h2/set/mode', 'h2', 'anchiale/v1/h1/set/mode'],
      ['jobclient', 'anchiale/v1/h2/jobs/submit', 'h2', 'anchiale/v1/h1/jobs/submit'],
      ['h2', 'anchiale/v1/h2/state', 'operator', 'anchiale/v1/replies/h1/m'],
      ['h2', 'anchiale/v1/replies/jobclient/job-2', 'jobclient', 'anchiale/v1/replies/h1/m'],
    ];
    for (const [publisher, topic, control, marker] of unreadable) {
      it(`cannot read ${topic} (sent by ${publisher})`, () => assertNotReadable(publisher, topic, 'h1', control, marker));
    }

    const readable: Array<[string, string]> = [
      ['operator', 'anchiale/v1/h1/request/status'],
      ['operator', 'anchiale/v1/all/request/status'],
      ['bms', 'anchiale/v1/h1/set/setpoint'],
      ['homeassistant', 'anchiale/v1/h1/set/mode'],
      ['jobclient', 'anchiale/v1/h1/jobs/submit'],
      ['jobclient', 'anchiale/v1/h1/jobs/cancel'],
      ['jobclient', 'anchiale/v1/jobs/qwen2.5-7b-q4/submit'],
      ['bms', 'zigbee2mqtt/room204/trv'],
      ['bms', 'shellies/shellyplusplugs-a8032ab1/status/switch:0'],
      ['bms', 'weather/site/temp_c'],
      ['homeassistant', 'homeassistant/status'],
    ];
    for (const [publisher, topic] of readable) {
      it(`reads ${topic} (sent by ${publisher})`, () => assertDelivered(publisher, topic, 'h1'));
    }
  });

  describe('fleet jobs through a shared subscription', () => {
    it('a heater in $share/anchiale/anchiale/v1/jobs/+/submit receives fleet jobs (MQTT 5 and 3.1.1)', async () => {
      const v5 = await connect('h1-share', 'h1');
      await v5.subscribe('$share/anchiale/anchiale/v1/jobs/+/submit');
      const v4 = await connect('h2-share311', 'h2', { protocolVersion: 4 });
      await v4.subscribe('$share/anchiale311/anchiale/v1/jobs/+/submit');
      const payload = uniq('job');
      await probe('jobclient').publish('anchiale/v1/jobs/qwen2.5-7b-q4/submit', payload);
      for (const p of [v5, v4]) {
        const m = await p.next('anchiale/v1/jobs/+/submit', (x) => x.text === payload);
        assert.equal(m.topic, 'anchiale/v1/jobs/qwen2.5-7b-q4/submit');
      }
    });

    it('a member without the read right is still granted the SUBSCRIBE and swallows its round-robin turns', async () => {
      // operator has `topic deny anchiale/v1/jobs/#`. Mosquitto picks the member first, then
      // checks read access: a denied member's turn drops the message (no other member gets it).
      const heater = await connect('h1-hazard', 'h1');
      await heater.subscribe('$share/hazard/anchiale/v1/jobs/+/submit');
      const op = await connect('op-hazard', 'operator');
      const granted = await op.client.subscribeAsync('$share/hazard/anchiale/v1/jobs/+/submit', { qos: 1 });
      assert.deepEqual(granted.map((g) => g.qos), [1]);
      const jobs = [uniq('j'), uniq('j'), uniq('j'), uniq('j')];
      for (const j of jobs) await probe('jobclient').publish('anchiale/v1/jobs/m/submit', j);
      await waitFor(() => heater.messages.length >= 2, { what: 'two jobs at the heater' });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(heater.messages.length, 2, 'half the jobs went to the member that may not read them');
      assert.equal(op.messages.length, 0);
    });
  });

  describe('service identities', () => {
    it('operator: requests reach the heater, responses and state come back', async () => {
      await assertDelivered('operator', 'anchiale/v1/h1/request/health_check', 'h1');
      await assertDelivered('operator', 'anchiale/v1/all/request/status', 'h2');
      await assertDelivered('h1', 'anchiale/v1/h1/response/health_check', 'operator');
      await assertDelivered('h1', 'anchiale/v1/h1/event', 'operator');
    });

    // The marker rides on the replies pattern (see the documented limit below): the only topic
    // a job client may publish that an operator reads.
    it('operator: reads no fleet job (prompts)', () =>
      assertNotReadable('jobclient', 'anchiale/v1/jobs/m/submit', 'operator', 'h1', 'anchiale/v1/replies/operator/m'));

    const refused: Array<[string, string, string, string]> = [
      // [publisher, topic, watcher, marker]
      ['jobclient', 'anchiale/v1/h1/request/restart', 'h1', 'anchiale/v1/h1/jobs/cancel'],
      ['jobclient', 'anchiale/v1/h1/set/mode', 'h1', 'anchiale/v1/h1/jobs/cancel'],
      ['jobclient', 'anchiale/v1/h1/state', 'h1', 'anchiale/v1/h1/jobs/cancel'],
      ['bms', 'anchiale/v1/h1/request/restart', 'h1', 'anchiale/v1/h1/set/mode'],
      ['bms', 'anchiale/v1/jobs/m/submit', 'h1', 'anchiale/v1/h1/set/mode'],
      ['bms', 'anchiale/v1/replies/alice/forged', 'alice', 'zigbee2mqtt/room204/trv'],
      ['homeassistant', 'anchiale/v1/h1/request/restart', 'h1', 'anchiale/v1/h1/set/mode'],
      ['homeassistant', 'zigbee2mqtt/room204/trv', 'h1', 'anchiale/v1/h1/set/mode'],
      ['operator', 'anchiale/v1/h1/state', 'h1', 'anchiale/v1/h1/set/mode'],
      ['operator', 'anchiale/v1/jobs/m/submit', 'h1', 'anchiale/v1/h1/set/mode'],
    ];
    for (const [publisher, topic, watcher, marker] of refused) {
      it(`${publisher} cannot publish ${topic}`, () => assertPublishRefused(publisher, topic, watcher, marker));
    }

    const allowed: Array<[string, string, string]> = [
      ['bms', 'zigbee2mqtt/room204/trv', 'h2'],
      ['bms', 'anchiale/v1/h2/set/setpoint', 'h2'],
      ['h1', 'anchiale/v1/h1/state', 'bms'],
      ['homeassistant', 'anchiale/v1/h2/set/power_cap', 'h2'],
      ['h2', 'anchiale/v1/h2/state', 'homeassistant'],
      ['h2', 'homeassistant/device/anchiale_h2/config', 'homeassistant'],
      ['jobclient', 'anchiale/v1/h2/jobs/submit', 'h2'],
      ['h2', 'anchiale/v1/h2/state', 'jobclient'],
    ];
    for (const [publisher, topic, reader] of allowed) {
      it(`${publisher} → ${topic} → ${reader}`, () => assertDelivered(publisher, topic, reader));
    }

    it('a job client reads its own replies and nobody else’s', async () => {
      await assertDelivered('h1', 'anchiale/v1/replies/jobclient/job-7', 'jobclient');
      await assertNotReadable('h1', 'anchiale/v1/replies/alice/job-8', 'jobclient', 'alice', 'anchiale/v1/replies/jobclient/m');
      await assertNotReadable('h1', 'anchiale/v1/replies/jobclient/job-9', 'alice', 'jobclient', 'anchiale/v1/replies/alice/m');
    });

    it('documented acl_file limit: heater rights without %u (fleet jobs, replies) reach every identity', async () => {
      // See README "Limits of acl_file": a job client can read other clients' fleet jobs and
      // publish under other clients' reply prefixes. Per-heater `user` blocks or the dynamic
      // security plugin close this; the test fails when the ACL changes that on purpose.
      await assertDelivered('alice', 'anchiale/v1/jobs/m/submit', 'jobclient');
      await assertDelivered('jobclient', 'anchiale/v1/replies/alice/forged', 'alice');
    });
  });

  describe('authentication', () => {
    const cases: Array<[string, IClientOptions, number]> = [
      ['no user name (MQTT 5)', { protocolVersion: 5 }, 135],
      ['no user name (MQTT 3.1.1)', { protocolVersion: 4 }, 5],
      ['a wrong password', { protocolVersion: 5, username: 'h1', password: 'nope' }, 135],
      ['an unknown user', { protocolVersion: 5, username: 'h9', password: PW }, 135],
    ];
    for (const [name, opts, code] of cases) {
      it(`refuses ${name}: CONNACK ${code}`, async () => {
        await assert.rejects(
          mqtt.connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts }, false),
          (err: unknown) => {
            assert.equal(reasonCode(err), code);
            return true;
          },
        );
      });
    }
  });
});

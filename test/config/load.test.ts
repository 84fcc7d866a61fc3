import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentError } from '../../agent/errors.js';
import { ConfigError } from '../../agent/config/config-error.js';
import { configHash } from '../../agent/config/config-hash.js';
import { FILE_KEY_PATHS, loadConfig, type LoadConfigOptions } from '../../agent/config/load.js';
import type { AgentConfig } from '../../agent/config/schema.js';

const MINIMAL = `version: 1
inputs:
  room_temperature: {preset: z2m, device: room204/trv}
`;

let dir: string;
let n = 0;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'anchiale-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a new file in the temp dir and returns its path. */
async function file(text: string, name = `agent-${++n}.yaml`, inDir = dir): Promise<string> {
  const p = path.join(inDir, name);
  await writeFile(p, text);
  return p;
}

function load(p: string, opts: Partial<LoadConfigOptions> = {}): Promise<AgentConfig> {
  return loadConfig({ path: p, env: {}, hostname: 'test-host', ...opts });
}

/** The ConfigError a load throws. */
async function failure(p: string, opts: Partial<LoadConfigOptions> = {}): Promise<ConfigError> {
  try {
    await load(p, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the load to fail');
}

const paths = (err: ConfigError) => err.issues.map((i) => i.path).sort();

describe('loadConfig: files', () => {
  it('loads a minimal YAML file with every default and the node id from the hostname', async () => {
    const cfg = await load(await file(MINIMAL), { hostname: 'Room.204_B' });
    assert.equal(cfg.node.id, 'room-204_b');
    assert.equal(cfg.heater.max_power_w, 300);
    assert.equal(cfg.mqtt.url, null);
  });

  it('loads JSON (JSON is YAML)', async () => {
    const p = await file(JSON.stringify({ version: 1, node: { id: 'j1' }, inputs: { room_temperature: { topic: 'r/t' } } }), 'agent.json');
    const cfg = await load(p);
    assert.equal(cfg.node.id, 'j1');
    assert.equal(cfg.inputs.room_temperature.topic, 'r/t');
  });

  it('reports a missing file with code config_not_found', async () => {
    const err = await failure(path.join(dir, 'nope.yaml'));
    assert.equal(err.code, 'config_not_found');
    assert.ok(err instanceof AgentError);
    assert.match(err.format(), /not found: .*nope\.yaml/);
  });

  it('reports a YAML syntax error with its line and column', async () => {
    const err = await failure(await file('version: 1\nnode: id: x\ninputs: {}\n'));
    assert.equal(err.code, 'config_invalid');
    assert.ok(err.issues.length >= 1);
    for (const issue of err.issues) {
      assert.ok(typeof issue.line === 'number' && typeof issue.col === 'number', JSON.stringify(issue));
      assert.match(issue.message, /^YAML syntax error: .*line \d+, column \d+/);
    }
    assert.deepEqual([err.issues[0]?.line, err.issues[0]?.col], [2, 7]);
  });

  it('reports duplicate keys as a YAML error', async () => {
    const err = await failure(await file(`${MINIMAL}version: 1\n`));
    assert.match(err.format(), /YAML syntax error: Map keys must be unique/);
  });

  it('rejects a file that is not a mapping', async () => {
    const err = await failure(await file('- 1\n- 2\n'));
    assert.match(err.format(), /must hold a mapping/);
  });

  it('reads an empty file as an empty mapping (version and inputs missing)', async () => {
    const err = await failure(await file(''));
    assert.deepEqual(paths(err), ['inputs', 'version']);
    assert.match(err.format(), /^inputs: required$/m);
  });

  it('lists every error of a broken file, each at its key path', async () => {
    const p = await file(`version: 1
colour: blue                     # unknown key, top level
mqtt:
  keepalive_s: "thirty"          # wrong type
  tls: {ca: /etc/ca.pem}         # unknown key, third level
inputs:
  setpoint: {topic: a/b}         # room_temperature missing
thermostat:
  min_setpoint_c: 25             # above max
  max_setpoint_c: 20
  mode: warm                     # not an option
  schedule:
    timezone: Mars/Olympus
    entries:
      - {cron: "0 7 * * 1-5", preset: comfort}
      - {cron: "0 25 * * *", preset: eco}
heater:
  max_power_w: -1                # not positive
`);
    const err = await failure(p);
    assert.equal(err.code, 'config_invalid');
    assert.deepEqual(paths(err), [
      'colour',
      'heater.max_power_w',
      'inputs.room_temperature',
      'mqtt.keepalive_s',
      'mqtt.tls.ca',
      'thermostat.min_setpoint_c',
      'thermostat.mode',
      'thermostat.schedule.entries.1.cron',
      'thermostat.schedule.timezone',
    ]);
    const lines = err.format().split('\n');
    assert.equal(lines.length, err.issues.length);
    for (const issue of err.issues) assert.ok(lines.includes(`${issue.path}: ${issue.message}`));
    assert.ok(lines.includes('colour: unknown key'));
    assert.ok(lines.includes('inputs.room_temperature: required'));
    assert.ok(lines.includes('thermostat.min_setpoint_c: must be below max_setpoint_c (20)'));
    assert.match(err.format(), /^thermostat\.schedule\.entries\.1\.cron: invalid cron expression "0 25 \* \* \*"/m);
  });

  it('requires mqtt.url only when asked (run), and checks its scheme', async () => {
    const p = await file(MINIMAL);
    await load(p);
    const err = await failure(p, { requireMqttUrl: true });
    assert.deepEqual(paths(err), ['mqtt.url']);
    const cfg = await load(p, { requireMqttUrl: true, env: { ANCHIALE_MQTT__URL: 'mqtt+unix:///run/mosquitto.sock' } });
    assert.equal(cfg.mqtt.url, 'mqtt+unix:///run/mosquitto.sock');
    const bad = await failure(p, { requireMqttUrl: true, env: { ANCHIALE_MQTT__URL: 'https://broker' } });
    assert.deepEqual(paths(bad), ['mqtt.url']);
    assert.match(bad.format(), /\(from ANCHIALE_MQTT__URL\)$/);
  });
});

describe('loadConfig: environment overrides', () => {
  const cases: [string, Record<string, string>, (c: AgentConfig) => unknown, unknown][] = [
    ['a string', { ANCHIALE_MQTT__URL: 'mqtt://broker.example:1883' }, (c) => c.mqtt.url, 'mqtt://broker.example:1883'],
    ['a number', { ANCHIALE_HEATER__MAX_POWER_W: '250' }, (c) => c.heater.max_power_w, 250],
    ['a boolean', { ANCHIALE_JOBS__ENABLED: 'false' }, (c) => c.jobs.enabled, false],
    ['null', { ANCHIALE_HEATER__MIN_POWER_W: 'null' }, (c) => c.heater.min_power_w, null],
    ['a three-level key', { ANCHIALE_MQTT__RECONNECT__MAX_S: '120' }, (c) => c.mqtt.reconnect.max_s, 120],
    ['a key of a section absent from the file', { ANCHIALE_SAFETY__STALE_ACTION: 'hold_minimum' }, (c) => c.safety.stale_action, 'hold_minimum'],
    ['a key inside an input', { ANCHIALE_INPUTS__ROOM_TEMPERATURE__MAX_AGE_S: '900' }, (c) => c.inputs.room_temperature.max_age_s, 900],
    ['a new input', { ANCHIALE_INPUTS__SETPOINT__TOPIC: 'bms/204/sp' }, (c) => c.inputs.setpoint?.topic, 'bms/204/sp'],
    ['a list item', { ANCHIALE_THERMOSTAT__SCHEDULE__ENTRIES__0__PRESET: 'boost' }, (c) => c.thermostat.schedule.entries[0]?.preset, 'boost'],
    ['a quoted number stays a string', { ANCHIALE_NODE__NAME: '"204"' }, (c) => c.node.name, '204'],
    ['the node id', { ANCHIALE_NODE__ID: 'h999' }, (c) => c.node.id, 'h999'],
    ['other ANCHIALE_ variables are ignored', { ANCHIALE_CONFIG: '/etc/x.yaml', ANCHIALE_LOG_LEVEL: 'x' }, (c) => c.log.level, 'info'],
  ];
  for (const [name, env, get, expected] of cases) {
    it(`sets ${name}`, async () => {
      const p = await file(`${MINIMAL}thermostat:\n  schedule:\n    entries: [{cron: "0 7 * * *", preset: eco}]\n`);
      assert.deepEqual(get(await load(p, { env })), expected);
    });
  }

  it('reports a bad override at its key path, naming the variable', async () => {
    const err = await failure(await file(MINIMAL), { env: { ANCHIALE_HEATER__MAX_POWER_W: 'lots', ANCHIALE_MQTT__TLSS__CA_FILE: '/x' } });
    assert.deepEqual(paths(err), ['heater.max_power_w', 'mqtt.tlss']);
    assert.match(err.format(), /^heater\.max_power_w: .*\(from ANCHIALE_HEATER__MAX_POWER_W\)$/m);
    assert.match(err.format(), /^mqtt\.tlss: unknown key \(from ANCHIALE_MQTT__TLSS__CA_FILE\)$/m);
  });

  it('refuses to descend into a scalar', async () => {
    const err = await failure(await file(MINIMAL), { env: { ANCHIALE_LOG__LEVEL__X: 'debug' } });
    assert.deepEqual(paths(err), ['log.level']);
  });

  const passwords: [string, Record<string, string>, string][] = [
    ['ANCHIALE_MQTT__PASSWORD, raw (not read as YAML)', { ANCHIALE_MQTT__PASSWORD: '0123 # not a comment' }, '0123 # not a comment'],
    ['ANCHIALE_MQTT_PASSWORD', { ANCHIALE_MQTT_PASSWORD: 's3cret' }, 's3cret'],
    ['ANCHIALE_MQTT__PASSWORD over ANCHIALE_MQTT_PASSWORD', { ANCHIALE_MQTT_PASSWORD: 'one', ANCHIALE_MQTT__PASSWORD: 'two' }, 'two'],
  ];
  for (const [name, env, expected] of passwords) {
    it(`takes the password from ${name}`, async () => {
      assert.equal((await load(await file(MINIMAL), { env })).mqtt.password, expected);
    });
  }

  it('rejects mqtt.password in the file, even when the environment has one', async () => {
    const err = await failure(await file(`${MINIMAL}mqtt: {password: hunter2}\n`), { env: { ANCHIALE_MQTT__PASSWORD: 'x' } });
    assert.deepEqual(paths(err), ['mqtt.password']);
    assert.match(err.format(), /only from the environment .* or password_file/);
    assert.doesNotMatch(err.format(), /hunter2/);
  });
});

describe('loadConfig: *_file keys', () => {
  it('reads mqtt.password_file relative to the config file, trimmed', async () => {
    const sub = await mkdtemp(path.join(dir, 'cfg-'));
    await file('  pa55word \n', 'mqtt-password', sub);
    const cfg = await load(await file(`${MINIMAL}mqtt: {password_file: mqtt-password}\n`, 'agent.yaml', sub));
    assert.equal(cfg.mqtt.password, 'pa55word');
    assert.equal(cfg.mqtt.password_file, path.join(sub, 'mqtt-password'));
  });

  it('looks in $CREDENTIALS_DIRECTORY first, then next to the config file', async () => {
    const sub = await mkdtemp(path.join(dir, 'cfg-'));
    const creds = path.join(sub, 'credentials');
    await mkdir(creds);
    await file('from-credentials\n', 'mqtt-password', creds);
    await file('from-config-dir\n', 'mqtt-password', sub);
    await file('-----BEGIN CERTIFICATE-----\n', 'ca.pem', sub);
    const p = await file(`${MINIMAL}mqtt: {password_file: mqtt-password, tls: {ca_file: ca.pem}}\n`, 'agent.yaml', sub);
    const cfg = await load(p, { env: { CREDENTIALS_DIRECTORY: creds } });
    assert.equal(cfg.mqtt.password, 'from-credentials');
    assert.equal(cfg.mqtt.password_file, path.join(creds, 'mqtt-password'));
    assert.equal(cfg.mqtt.tls.ca_file, path.join(sub, 'ca.pem'), 'not in the credentials directory: next to the config');
    assert.equal((await load(p)).mqtt.password, 'from-config-dir');
  });

  it('takes an absolute path as is, and a password from the environment over the file', async () => {
    const secret = await file('file-secret\n', 'secret-abs');
    const p = await file(`${MINIMAL}mqtt: {password_file: ${secret}}\n`);
    assert.equal((await load(p)).mqtt.password, 'file-secret');
    assert.equal((await load(p, { env: { ANCHIALE_MQTT__PASSWORD: 'env-secret' } })).mqtt.password, 'env-secret');
  });

  it('reports missing or empty files at their key paths', async () => {
    const empty = await file('\n  \n', 'empty-secret');
    const p = await file(`${MINIMAL}mqtt:\n  password_file: ${empty}\n  tls: {ca_file: missing-ca.pem, key_file: ${dir}}\n`);
    const err = await failure(p);
    assert.deepEqual(paths(err), ['mqtt.password_file', 'mqtt.tls.ca_file', 'mqtt.tls.key_file']);
    assert.match(err.format(), /^mqtt\.password_file: .* is empty$/m);
    assert.match(err.format(), /^mqtt\.tls\.ca_file: file not found: .*missing-ca\.pem$/m);
    assert.match(err.format(), /^mqtt\.tls\.key_file: .* is not a file$/m);
  });

  it('knows every *_file key of the schema', () => {
    assert.deepEqual(FILE_KEY_PATHS.map((p) => p.join('.')).sort(), ['mqtt.password_file', 'mqtt.tls.ca_file', 'mqtt.tls.cert_file', 'mqtt.tls.key_file']);
  });
});

describe('configHash', () => {
  it('is 12 hex digits, independent of key order, sensitive to values, blind to the password', async () => {
    const a = await load(await file('version: 1\nnode: {id: a1}\ninputs: {room_temperature: {topic: r/t}}\nheater: {max_power_w: 250}\n'));
    const b = await load(await file('heater: {max_power_w: 250}\ninputs: {room_temperature: {topic: r/t}}\nnode: {id: a1}\nversion: 1\n'));
    const c = await load(await file('version: 1\nnode: {id: a1}\ninputs: {room_temperature: {topic: r/t}}\nheater: {max_power_w: 260}\n'));
    assert.match(configHash(a), /^[0-9a-f]{12}$/);
    assert.equal(configHash(a), configHash(b));
    assert.notEqual(configHash(a), configHash(c));
    assert.equal(configHash({ ...a, mqtt: { ...a.mqtt, password: 'one' } }), configHash({ ...a, mqtt: { ...a.mqtt, password: 'two' } }));
  });
});

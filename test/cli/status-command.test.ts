import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAge, formatFleetTable, statusCommand } from '../../agent/cli/status-command.js';
import type { FleetNode } from '../../agent/client/ops-client.js';
import { captureIo } from '../helpers/capture-io.js';
import { startOpsFleet, TEST_BROKER, type OpsFleet } from '../helpers/ops-fleet.js';

describe('anchiale status', () => {
  const fleets: OpsFleet[] = [];
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.cleanup();
  });

  it('formats the fleet as an aligned table', () => {
    const nodes: FleetNode[] = [
      {
        node: 'h1',
        online: true,
        state: { mode: 'auto', phase: 'heating', room_temp_c: 19.46, setpoint_c: 21, demand: 0.625, power_limit_w: 240, heat_w: 298.2, llm: { jobs_active: 2 } },
        info: null,
        stateAgeS: 3.2,
      },
      { node: 'room-204', online: false, state: null, info: null, stateAgeS: null },
    ];
    assert.equal(
      formatFleetTable(nodes),
      [
        'NODE      ONLINE  MODE  PHASE    ROOM/SET °C  DEMAND  LIMIT W  HEAT W  JOBS  AGE',
        'h1        yes     auto  heating  19.5/21.0    0.63    240      298     2     3s',
        'room-204  no      -     -        -/-          -       -        -       -     -',
        '',
      ].join('\n'),
    );
    const ages: Array<[number | null, string]> = [[null, '-'], [89, '89s'], [600, '10m'], [7200, '2h'], [3 * 86400, '3d']];
    for (const [s, want] of ages) assert.equal(formatAge(s), want);
  });

  it('prints the fleet from retained state (table, --json, --node), exit 0', async () => {
    const f = await startOpsFleet(['h1', 'h2']);
    fleets.push(f);
    await f.probe.publish(f.agents[0]!.roomTopic, JSON.stringify({ local_temperature: 19.5, occupied_heating_setpoint: 21 }));
    await f.probe.next(`${f.base}/h1/state`, (m) => (JSON.parse(m.text) as { room_temp_c: number }).room_temp_c === 19.5, 5000);
    const flags = { mqttUrl: TEST_BROKER, baseTopic: f.base };

    const table = captureIo();
    assert.equal(await statusCommand(flags, table), 0, table.err);
    const lines = table.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NODE\s+ONLINE\s+MODE\s+PHASE\s+ROOM\/SET °C\s+DEMAND\s+LIMIT W\s+HEAT W\s+JOBS\s+AGE$/);
    assert.match(lines[1]!, /^h1\s+yes\s+auto\s+\S+\s+19\.5\/21\.0\s/);
    assert.match(lines[2]!, /^h2\s+yes\s+auto\s+\S+\s+19\.5\/21\.0\s+\d\.\d\d\s+\d+\s+\d+\s+\d+\s+\d+s$/, 'both read the same thermostat');
    assert.equal(lines.length, 3);

    const js = captureIo();
    assert.equal(await statusCommand({ ...flags, json: true }, js), 0);
    const nodes = JSON.parse(js.out) as FleetNode[];
    assert.deepEqual(nodes.map((n) => [n.node, n.online]), [['h1', true], ['h2', true]]);
    assert.equal((nodes[0]!.state as { room_temp_c: number }).room_temp_c, 19.5);

    const one = captureIo();
    assert.equal(await statusCommand({ ...flags, node: 'h1' }, one), 0);
    assert.match(one.out, /^node: +h1$/m);
    assert.match(one.out, /^room: +19\.5 °C/m);
    assert.match(one.out, /^setpoint: +21\.0 °C \(input\)$/m);
    assert.match(one.out, /^agent: +0\.1\.0 \(config [0-9a-f]{12}\)$/m);

    const oneJson = captureIo();
    assert.equal(await statusCommand({ ...flags, node: 'h2', json: true }, oneJson), 0);
    assert.equal((JSON.parse(oneJson.out) as FleetNode).node, 'h2');
  });

  it('exit 1: unknown node, nothing seen, no broker; 78: a bad config file', async () => {
    const f = await startOpsFleet(['h1']);
    fleets.push(f);
    const unknown = captureIo();
    assert.equal(await statusCommand({ mqttUrl: TEST_BROKER, baseTopic: f.base, node: 'h7' }, unknown), 1);
    assert.match(unknown.err, /node h7: nothing retained/);
    const empty = captureIo();
    assert.equal(await statusCommand({ mqttUrl: TEST_BROKER, baseTopic: `${f.base}-empty` }, empty), 1);
    assert.match(empty.err, /no heater seen/);
    const down = captureIo();
    assert.equal(await statusCommand({ mqttUrl: 'mqtt://127.0.0.1:1' }, down), 1);
    assert.match(down.err, /cannot connect to mqtt:\/\/127\.0\.0\.1:1/);
    const none = captureIo();
    assert.equal(await statusCommand({}, none), 1);
    assert.match(none.err, /no broker: give --mqtt-url URL or --config FILE/);

    const dir = await mkdtemp(join(tmpdir(), 'anchiale-status-'));
    try {
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'version: 2\n');
      const io = captureIo();
      assert.equal(await statusCommand({ config: bad }, io), 78);
      assert.match(io.err, /version: must be 1/);
      const good = join(dir, 'good.yaml');
      await writeFile(good, JSON.stringify({ version: 1, mqtt: { url: TEST_BROKER, base_topic: f.base }, inputs: { room_temperature: { topic: 'x/t' } } }));
      const fromFile = captureIo();
      assert.equal(await statusCommand({ config: good }, fromFile), 0, fromFile.err);
      assert.match(fromFile.out, /^h1\s+yes/m, 'broker and base topic from the config file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

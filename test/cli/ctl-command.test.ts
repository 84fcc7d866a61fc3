import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ctlCommand, formatAnswers, parseCtlArgs } from '../../agent/cli/ctl-command.js';
import type { OpsRequestResult } from '../../agent/client/ops-client.js';
import { captureIo } from '../helpers/capture-io.js';
import { startOpsFleet, TEST_BROKER, type OpsFleet } from '../helpers/ops-fleet.js';

describe('anchiale ctl', () => {
  const fleets: OpsFleet[] = [];
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.cleanup();
  });
  const start = async (nodes: string[]) => {
    const f = await startOpsFleet(nodes);
    fleets.push(f);
    return { f, flags: { mqttUrl: TEST_BROKER, baseTopic: f.base } };
  };

  it('--arg key=value: JSON when it parses, else text', () => {
    assert.deepEqual(parseCtlArgs(['setpoint_c=21.5', 'duration_s=600', 'watts=null', 'mode=heat', 'model=qwen2.5-7b-q4', 'x="1.5"', 'flag=true', 'empty=']), {
      setpoint_c: 21.5,
      duration_s: 600,
      watts: null,
      mode: 'heat',
      model: 'qwen2.5-7b-q4',
      x: '1.5',
      flag: true,
      empty: '',
    });
    for (const bad of ['novalue', '=1', 'Bad=1', 'transaction=1']) assert.throws(() => parseCtlArgs([bad]), /--arg/, bad);
  });

  it('formats answers: data, errors with their issues, nodes that did not answer', () => {
    const r: OpsRequestResult = {
      target: 'all',
      command: 'reload_config',
      transaction: 't',
      answers: [
        { node: 'h1', transaction: 't', status: 'ok', data: { changed: [] }, topic: 'x' },
        { node: 'h2', transaction: 't', status: 'error', error: { code: 'internal', message: 'configuration invalid', errors: [{ path: 'thermostat.mode', message: 'bad' }] }, topic: 'x' },
      ],
      missing: ['h3'],
    };
    assert.equal(
      formatAnswers(r, 5),
      ['h1  ok', '  {', '    "changed": []', '  }', 'h2  error  internal: configuration invalid', '  - thermostat.mode: bad', 'h3  no answer within 5 s', ''].join('\n'),
    );
  });

  it('one node: prints the answer, exit 0; an error answer exits 1', async () => {
    const { f, flags } = await start(['h1']);
    const ok = captureIo();
    assert.equal(await ctlCommand('h1', 'mode', { ...flags, arg: ['mode=heat'] }, ok), 0, ok.err);
    assert.equal(ok.out, 'h1  ok\n  {\n    "mode": "heat"\n  }\n');
    assert.equal(f.agents[0]!.agent.operatorState.mode, 'heat');

    const bad = captureIo();
    assert.equal(await ctlCommand('h1', 'setpoint_override', { ...flags, arg: ['setpoint_c=40'] }, bad), 1);
    assert.match(bad.out, /^h1 {2}error {2}invalid_request: setpoint_c: 40 is outside \[8, 27\] °C/);

    const unknown = captureIo();
    assert.equal(await ctlCommand('h1', 'fly', flags, unknown), 1);
    assert.match(unknown.out, /^h1 {2}error {2}unknown_command: /);

    const silent = captureIo();
    assert.equal(await ctlCommand('h9', 'status', { ...flags, timeout: '0.3' }, silent), 1);
    assert.equal(silent.out, 'h9  no answer within 0.3 s\n');

    const usage = captureIo();
    assert.equal(await ctlCommand('h1', 'status', { ...flags, arg: ['oops'] }, usage), 1);
    assert.match(usage.err, /--arg "oops": expected key=value/);
    const timeout = captureIo();
    assert.equal(await ctlCommand('h1', 'status', { ...flags, timeout: 'soon' }, timeout), 1);
    assert.match(timeout.err, /--timeout soon/);
  });

  it('all: every online heater answers (--json), exit 0; one error among them exits 1', async () => {
    const { f, flags } = await start(['h1', 'h2']);
    const io = captureIo();
    const t0 = Date.now();
    assert.equal(await ctlCommand('all', 'health_check', { ...flags, json: true }, io), 0, io.out + io.err);
    assert.ok(Date.now() - t0 < 4000, 'returns once every online heater answered');
    const r = JSON.parse(io.out) as OpsRequestResult;
    assert.deepEqual([r.target, r.command, r.missing], ['all', 'health_check', []]);
    assert.deepEqual(r.answers.map((a) => [a.node, a.status]), [['h1', 'ok'], ['h2', 'ok']]);

    const failing = captureIo();
    assert.equal(await ctlCommand('all', 'model_load', { ...flags, arg: ['model=qwen2.5-7b-q4'] }, failing), 1);
    assert.match(failing.out, /^h1 {2}error {2}internal: model_load is not supported/m);
    assert.match(failing.out, /^h2 {2}error {2}internal: /m);

    // A heater that went offline is not waited for.
    await f.agents[1]!.stop();
    const none = captureIo();
    assert.equal(await ctlCommand('all', 'status', {}, none), 1, 'no flags: no broker');
    assert.match(none.err, /no broker/);
    const rest = captureIo();
    assert.equal(await ctlCommand('all', 'status', { ...flags, json: true }, rest), 0, rest.err);
    assert.deepEqual((JSON.parse(rest.out) as OpsRequestResult).answers.map((a) => a.node), ['h1']);
  });
});

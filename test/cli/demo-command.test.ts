import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

it('anchiale demo runs a short session with its built-in broker and ends cleanly with a summary', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'demo', '--duration', '4', '--speed', '300', '--plain'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `exit code (stderr: ${err})`);
  assert.match(out, /AnchIAle demo · node demo/);
  assert.match(out, /Room\s+\d+\.\d °C\s+setpoint 21\.0 °C \(input\)/, 'the agent read the simulated thermostat over MQTT');
  assert.match(out, /Phase\s+(heating|warming_up)/, 'a cold room gets heat');
  assert.match(out, /AnchIAle demo summary/);
  assert.match(out, /Energy\s+\d+\.\d+ kWh/);
  // Jobs went through the real protocol to the real worker (tiny model on the CPU).
  assert.match(out, /Work\s+\d+(\.\d)? tok\/s · jobs done [1-9]\d* /, 'the live view shows the job client\'s tokens/s and jobs done');
  assert.match(out, /Jobs\s+done [1-9]\d* · rejected \d+ · active 0 · failed 0/, 'jobs were answered done, none failed');
});

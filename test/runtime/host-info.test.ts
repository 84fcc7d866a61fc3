import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createConfigSchema } from '../../agent/config/schema.js';
import { silentLogger } from '../../agent/log.js';
import { buildAgent } from '../../agent/main.js';
import type { HostInfoDoc, HostInfoPort } from '../../agent/ports/host-info.js';
import { connectProbe } from '../helpers/mqtt-probe.js';
import { uniqueBase } from './agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';

describe('host inventory in info', () => {
  it('gathered once at start, published in info.host; refreshHostInfo() gathers again and republishes', async () => {
    const docs: HostInfoDoc[] = [
      { cpu: 'AMD Ryzen 7 5700X', cores: 16, mem_mib: 31998, os: 'Debian GNU/Linux 12', kernel: '6.1.0-28-amd64', arch: 'x64', gpus: [{ name: 'NVIDIA GeForce RTX 3090', vendor: 'NVIDIA Corporation', vram_mib: 24576, driver: '550.54.14', bus: '00000000:01:00.0' }] },
      { cpu: 'AMD Ryzen 7 5700X', cores: 16, mem_mib: 64000, os: 'Debian GNU/Linux 12', kernel: '6.1.0-29-amd64', arch: 'x64', gpus: [] },
    ];
    let refreshes = 0;
    let current: HostInfoDoc | null = null;
    const hostInfo: HostInfoPort = {
      current: () => current,
      refresh: async () => {
        current = docs[Math.min(refreshes++, 1)]!;
        return current;
      },
    };
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-state-'));
    const base = uniqueBase();
    const config = createConfigSchema({ defaultNodeId: 'h1' }).parse({
      version: 1,
      node: { id: 'h1' },
      mqtt: { url: BROKER, base_topic: base, discovery: { enabled: false } },
      inputs: { room_temperature: { preset: 'z2m', device: 'host-info-test' } },
      heater: { backend: 'sim' },
      jobs: { enabled: false },
      state: { dir: stateDir },
    });
    const probe = await connectProbe(BROKER);
    await probe.subscribe(`${base}/h1/info`);
    const agent = buildAgent(config, silentLogger(), { tickS: 0.2, hostInfo });
    try {
      await agent.start();
      await agent.whenConnected();
      assert.equal(refreshes, 1, 'gathered once, at start');
      const first = JSON.parse((await probe.next(`${base}/h1/info`, undefined, 5000)).text) as { host: HostInfoDoc };
      assert.deepEqual(first.host, docs[0]);
      await agent.refreshHostInfo();
      const second = JSON.parse((await probe.next(`${base}/h1/info`, (m) => (JSON.parse(m.text) as { host: HostInfoDoc }).host.mem_mib === 64000, 5000)).text) as { host: HostInfoDoc };
      assert.deepEqual(second.host, docs[1]);
      assert.equal(refreshes, 2);
    } finally {
      await agent.stop();
      for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true });
      await probe.end();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

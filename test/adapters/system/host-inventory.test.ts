import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HostInventory as HostInventoryClass, InventorySource } from '../../../agent/adapters/system/host-inventory.js';
import { silentLogger } from '../../../agent/log.js';
import { CARDS, FAKE_BIN_DIR, FakeNvidiaSmi } from '../../fakes/fake-nvidia-smi.js';

describe('host inventory', () => {
  let fake: FakeNvidiaSmi;
  let HostInventory: typeof HostInventoryClass;
  const saved = { PATH: process.env.PATH, FAKE_NVIDIA_SMI_STATE: process.env.FAKE_NVIDIA_SMI_STATE };
  before(async () => {
    fake = await FakeNvidiaSmi.create({ ...CARDS.rtx3090, driver: '550.54.14' });
    // systeminformation runs lspci and nvidia-smi from PATH with this process's environment.
    process.env.PATH = `${FAKE_BIN_DIR}:${saved.PATH ?? '/usr/bin:/bin'}`;
    process.env.FAKE_NVIDIA_SMI_STATE = fake.state;
    // Imported only now: systeminformation copies the environment when it loads.
    ({ HostInventory } = await import('../../../agent/adapters/system/host-inventory.js'));
  });
  after(async () => {
    process.env.PATH = saved.PATH;
    if (saved.FAKE_NVIDIA_SMI_STATE === undefined) delete process.env.FAKE_NVIDIA_SMI_STATE;
    else process.env.FAKE_NVIDIA_SMI_STATE = saved.FAKE_NVIDIA_SMI_STATE;
    await fake.cleanup();
  });

  it('systeminformation with a fake lspci and nvidia-smi: CPU, memory, OS, and the GPU with VRAM and driver', async () => {
    const inv = new HostInventory({ log: silentLogger() });
    assert.equal(inv.current(), null);
    const doc = await inv.refresh();
    assert.equal(inv.current(), doc);
    assert.ok(doc.cpu && doc.cpu.length > 0);
    assert.ok((doc.cores ?? 0) >= 1);
    assert.ok((doc.mem_mib ?? 0) > 100);
    assert.ok(doc.os && doc.kernel && doc.arch);
    assert.deepEqual(doc.gpus, [{ name: 'NVIDIA GeForce RTX 3090', vendor: 'NVIDIA Corporation', vram_mib: 24576, driver: '550.54.14', bus: '00000000:01:00.0' }]);
    assert.ok((await fake.calls()).some((c) => c.startsWith('--query-gpu=driver_version,')), 'asked nvidia-smi');
    assert.ok(inv.lastRefreshMs !== null);
  });

  it('a part that fails leaves nulls, never a rejection; concurrent refreshes share one run', async () => {
    let graphicsCalls = 0;
    const source: InventorySource = {
      cpu: async () => ({ manufacturer: 'AMD', brand: 'Ryzen 7 5700X', cores: 16 }),
      mem: async () => {
        throw new Error('no /proc/meminfo');
      },
      osInfo: async () => ({ distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0-28-amd64', arch: 'x64' }),
      graphics: async () => {
        graphicsCalls += 1;
        throw new Error('lspci missing');
      },
    };
    const inv = new HostInventory({ log: silentLogger(), source });
    const [a, b] = await Promise.all([inv.refresh(), inv.refresh()]);
    assert.equal(a, b);
    assert.equal(graphicsCalls, 1);
    assert.deepEqual(a, { cpu: 'AMD Ryzen 7 5700X', cores: 16, mem_mib: null, os: 'Debian GNU/Linux 12', kernel: '6.1.0-28-amd64', arch: 'x64', gpus: [] });
  });
});

/**
 * A stand-in for systemd's notification socket: python3 (test/fakes/notify-receiver.py) bound to a
 * unix datagram socket — Node has none. Records every datagram; closes passed fds (the barrier)
 * unless told to hold them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

const RECEIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'notify-receiver.py');

export interface NotifySocket {
  socket: string;
  /** Datagrams received, barriers left out. */
  messages(): string[];
  barriers(): number;
  stop(): Promise<void>;
}

export async function startNotifySocket(mode: 'answer' | 'hold' = 'answer'): Promise<NotifySocket> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-notify-'));
  const socket = path.join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', [RECEIVER, socket, ...(mode === 'hold' ? ['hold'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: Array<{ text?: string; fds?: number; listening?: string }> = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      got.push(JSON.parse(buf.slice(0, nl)) as (typeof got)[number]);
      buf = buf.slice(nl + 1);
    }
  });
  await waitFor(() => got.some((g) => g.listening), { what: 'notify receiver listening', timeoutMs: 5000 });
  return {
    socket,
    messages: () => got.filter((g) => g.text !== undefined && g.text !== 'BARRIER=1').map((g) => g.text!),
    barriers: () => got.filter((g) => g.text === 'BARRIER=1').length,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((res) => child.once('close', res));
        child.kill('SIGTERM');
        await closed;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import type { CliIo } from '../../agent/cli/client-connection.js';

/** A CLI's I/O captured in `out` and `err`, with no environment and no configuration file. */
export function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: {},
    defaultConfigPath: '/nonexistent/anchiale.yaml',
  };
  return io;
}

/**
 * A process's resident memory and CPU time from /proc (Linux): /proc/<pid>/status VmRSS and
 * /proc/<pid>/stat utime + stime (clock ticks, converted with CLK_TCK).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clkTck: number | null = null;

/** Clock ticks per second (getconf CLK_TCK; 100 when it cannot be asked). */
export function clockTicksPerS(): number {
  if (clkTck !== null) return clkTck;
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clkTck = Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

export interface ProcSample {
  /** Resident set size (KiB). */
  rssKiB: number;
  /** User + system CPU time since the process started (s). */
  cpuS: number;
  /** When it was read (ms, performance.now()). */
  atMs: number;
}

/** One reading, or null when the process is gone. */
export function readProcSample(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!rss || !Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return { rssKiB: Number(rss[1]), cpuS: (utime + stime) / clockTicksPerS(), atMs: performance.now() };
  } catch {
    return null;
  }
}

/** The PIDs whose command line's first word ends in `name` (e.g. mosquitto), by reading /proc. */
export function pidsNamed(name: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm === name) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

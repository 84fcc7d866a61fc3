/**
 * `host:port` addresses of the agent's own listeners (metrics.listen) and whether a host is a
 * loopback one. Pure.
 */
import { AgentError } from '../errors.js';

export interface ListenAddress {
  /** Host as net.Server.listen wants it (IPv6 without brackets). */
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port` → {host, port}; throws AgentError `metrics_invalid_listen`. */
export function parseListen(listen: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new AgentError('metrics_invalid_listen', `metrics.listen must be host:port (e.g. 127.0.0.1:9464), got ${JSON.stringify(listen)}`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/** True for 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (/^127(\.\d{1,3}){3}$/.test(h)) return true;
  if (/^::ffff:127(\.\d{1,3}){3}$/.test(h)) return true;
  return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h);
}

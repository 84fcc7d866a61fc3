/**
 * The optional Prometheus endpoint (config `metrics.listen`, off by default): node:http, no
 * dependency, `GET /metrics` in text format 0.0.4. It has no authentication, so it binds to a
 * loopback address only (127.0.0.0/8, ::1, localhost) unless `metrics.allow_remote` is true:
 * then any host (e.g. 0.0.0.0 or a LAN address) is accepted, and protecting it (firewall,
 * reverse proxy) is the operator's job.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../ops/prometheus-text.js';
import { isLoopbackHost, parseListen, type ListenAddress } from '../../ops/listen-address.js';

export interface MetricsServerOptions {
  /** `host:port` (metrics.listen). */
  listen: string;
  /** metrics.allow_remote: accept a non-loopback host. */
  allowRemote?: boolean;
  /** The exposition text, built at each scrape. */
  render: () => string;
  log: Logger;
}

export class MetricsServer {
  private server: Server | null = null;
  private readonly log: Logger;
  private scrapes = 0;

  constructor(private readonly opts: MetricsServerOptions) {
    this.log = opts.log.child({ component: 'metrics' });
  }

  /** Binds and serves. Rejects with AgentError `metrics_not_loopback`, `metrics_invalid_listen` or `metrics_listen_failed`. */
  async start(): Promise<void> {
    if (this.server) return;
    const { host, port } = parseListen(this.opts.listen);
    if (!isLoopbackHost(host) && !this.opts.allowRemote) {
      throw new AgentError(
        'metrics_not_loopback',
        `metrics.listen ${this.opts.listen} is not a loopback address: the endpoint has no authentication; set metrics.allow_remote: true to serve it on the network`,
        { listen: this.opts.listen },
      );
    }
    // node:http is loaded here, not with the module: most heaters run without the endpoint.
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(new AgentError('metrics_listen_failed', `cannot listen on ${this.opts.listen} for metrics: ${errorMessage(err)}`, { listen: this.opts.listen }));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
    server.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'metrics server error'));
    this.server = server;
    const addr = this.address();
    this.log.info({ host: addr?.host, port: addr?.port }, 'metrics endpoint listening');
  }

  /** The bound address (the real port when listen asked for port 0), null when not started. */
  address(): ListenAddress | null {
    const a = this.server?.address();
    if (!a || typeof a === 'string') return null;
    return { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
  }

  get scrapeCount(): number {
    return this.scrapes;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    let body: string;
    try {
      body = this.opts.render();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'metrics could not be rendered');
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      return;
    }
    this.scrapes++;
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/**
 * The socket to the broker, opened by the bus itself rather than by `mqtt.connect()`: MQTT.js's
 * connect() loads every transport it knows on first use (WebSocket with `ws`, http, https, zlib,
 * tls, SOCKS), about 10 MiB of an idle agent's memory, while the agent only speaks mqtt://,
 * mqtts:// and mqtt+unix:// (buildClientOptions refuses the rest). TLS is loaded only for mqtts://.
 *
 * TLS failures follow MQTT.js's own tls builder: a certificate the client does not trust ends the
 * socket and is reported as a client `error` (which the bus logs and backs off on).
 */
import { createConnection, isIP, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { IClientOptions, MqttClient } from 'mqtt';

const requireBuiltin = createRequire(import.meta.url);

/** A stream builder for `new MqttClient(builder, options)`, from the options buildClientOptions made. */
export function brokerStreamBuilder(o: IClientOptions): (client: MqttClient) => Duplex {
  return (client) => {
    if (o.unixSocket) return noDelay(createConnection({ path: o.path! }));
    const host = o.host ?? 'localhost';
    if (o.protocol !== 'mqtts') return noDelay(createConnection({ host, port: o.port ?? 1883 }));

    const tls = requireBuiltin('node:tls') as typeof import('node:tls');
    const rejectUnauthorized = o.rejectUnauthorized !== false;
    const socket = tls.connect({
      host,
      port: o.port ?? 8883,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
      rejectUnauthorized,
    });
    const onTlsError = (err: Error) => {
      if (rejectUnauthorized) client.emit('error', err);
      socket.end();
    };
    socket.on('error', onTlsError);
    socket.on('secureConnect', () => {
      if (rejectUnauthorized && !socket.authorized) socket.emit('error', new Error('TLS not authorized'));
      else socket.removeListener('error', onTlsError);
    });
    return noDelay(socket);
  };
}

/**
 * Small messages (a state, a job answer) must not wait for Nagle's algorithm meeting the broker's
 * delayed ACK: that alone adds ~40 ms to every reaction on loopback. Node applies it on connect.
 */
function noDelay<S extends Socket>(socket: S): S {
  socket.setNoDelay(true);
  return socket;
}

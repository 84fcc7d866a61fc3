/** What a node id may contain: it is a level of every MQTT topic of the heater. */
export const NODE_ID_PATTERN = /^[a-z0-9_-]+$/;

/** Used when the hostname has nothing left after sanitising. */
export const FALLBACK_NODE_ID = 'anchiale';

/** The default `node.id`: the hostname lower-cased, every character outside [a-z0-9_-] replaced by `-`. */
export function defaultNodeId(hostname: string): string {
  const id = hostname.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  return id.length > 0 ? id : FALLBACK_NODE_ID;
}

/**
 * Topics of remote operations: which request a topic is, and whether an MQTT 5 response topic may
 * be used (under jobs.reply_prefix, no wildcard or NUL).
 */
import type { NodeTopics } from '../adapters/mqtt/topics.js';
import { isValidTopicName } from '../adapters/mqtt/topic-match.js';

export interface RequestTopic {
  command: string;
  /** Sent to `<base>/all/request/<cmd>`. */
  fleet: boolean;
}

/** `<base>/<id>/request/<cmd>` or `<base>/all/request/<cmd>` → the command; anything else null. */
export function parseRequestTopic(topic: string, t: Pick<NodeTopics, 'requestPrefix' | 'allRequestPrefix'>): RequestTopic | null {
  for (const [prefix, fleet] of [[t.requestPrefix, false], [t.allRequestPrefix, true]] as const) {
    if (topic.startsWith(prefix)) {
      const command = topic.slice(prefix.length);
      return command.length > 0 && !command.includes('/') ? { command, fleet } : null;
    }
  }
  return null;
}

/** True when the answer may go to this MQTT 5 response topic. */
export function isUsableResponseTopic(topic: string | undefined, replyPrefix: string): topic is string {
  return (
    typeof topic === 'string' &&
    topic.length > replyPrefix.length &&
    topic.startsWith(replyPrefix) &&
    !topic.includes('\u0000') &&
    isValidTopicName(topic)
  );
}

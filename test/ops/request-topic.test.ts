import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeTopics } from '../../agent/adapters/mqtt/topics.js';
import { isUsableResponseTopic, parseRequestTopic } from '../../agent/ops/request-topic.js';

describe('request topics', () => {
  const t = nodeTopics('anchiale/v1', 'h1');
  it('parses node and fleet-wide requests, nothing else', () => {
    const cases: Array<[string, ReturnType<typeof parseRequestTopic>]> = [
      ['anchiale/v1/h1/request/status', { command: 'status', fleet: false }],
      ['anchiale/v1/all/request/restart', { command: 'restart', fleet: true }],
      ['anchiale/v1/h2/request/status', null],
      ['anchiale/v1/h1/request/', null],
      ['anchiale/v1/h1/request/a/b', null],
      ['anchiale/v1/h1/response/status', null],
      ['anchiale/v1/h1/set/mode', null],
    ];
    for (const [topic, want] of cases) assert.deepEqual(parseRequestTopic(topic, t), want, topic);
  });

  it('a response topic must lie under the reply prefix, without wildcards', () => {
    const cases: Array<[string | undefined, boolean]> = [
      ['anchiale/v1/replies/alice/1', true],
      ['anchiale/v1/replies/', false],
      ['anchiale/v1/h1/response/status', false],
      ['elsewhere/replies/x', false],
      ['anchiale/v1/replies/+/x', false],
      ['anchiale/v1/replies/#', false],
      ['anchiale/v1/replies/a\u0000b', false],
      [undefined, false],
    ];
    for (const [topic, ok] of cases) assert.equal(isUsableResponseTopic(topic, t.replyPrefix), ok, String(topic));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_TEMPERATURE,
  parseCancelRequest,
  parseJobRequest,
  replyTopicProblem,
  type IncomingJobMessage,
  type JobRequestLimits,
} from '../../agent/runtime/job-request.js';

const PREFIX = 'anchiale/v1/replies/';
const LIMITS: JobRequestLimits = { replyPrefix: PREFIX, maxRequestBytes: 4096, maxTokensLimit: 1000 };
const GOOD = { job_id: 'j1', reply_to: `${PREFIX}alice/j1`, messages: [{ role: 'user', content: 'hi' }] };
const msg = (payload: unknown, properties?: IncomingJobMessage['properties']): IncomingJobMessage => ({
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  ...(properties ? { properties } : {}),
});
const parse = (payload: unknown, properties?: IncomingJobMessage['properties']) => parseJobRequest(msg(payload, properties), LIMITS);

describe('parseJobRequest', () => {
  it('a minimal chat request gets the defaults', () => {
    const r = parse(GOOD);
    assert.ok(r.ok);
    assert.deepEqual(r.request, {
      jobId: 'j1',
      reply: { topic: `${PREFIX}alice/j1`, correlationData: null },
      model: null,
      prompt: null,
      messages: [{ role: 'user', content: 'hi' }],
      maxTokens: DEFAULT_MAX_TOKENS,
      maxTokensAsked: DEFAULT_MAX_TOKENS,
      temperature: DEFAULT_TEMPERATURE,
      seed: null,
      stream: false,
      ttlS: null,
    });
  });

  it('a full completion request, max_tokens clamped, unknown fields ignored', () => {
    const r = parse({ job_id: 'x', reply_to: `${PREFIX}x`, model: 'qwen2.5-7b-q4', prompt: 'Once', max_tokens: 5000, temperature: 0, seed: 42, stream: true, ttl_s: 1.5, extra: { a: 1 } });
    assert.ok(r.ok);
    assert.equal(r.request.model, 'qwen2.5-7b-q4');
    assert.equal(r.request.prompt, 'Once');
    assert.equal(r.request.messages, null);
    assert.equal(r.request.maxTokens, 1000);
    assert.equal(r.request.maxTokensAsked, 5000);
    assert.equal(r.request.temperature, 0);
    assert.equal(r.request.seed, 42);
    assert.equal(r.request.stream, true);
    assert.equal(r.request.ttlS, 1.5);
  });

  it('null optional fields mean "not given"', () => {
    const r = parse({ ...GOOD, model: null, max_tokens: null, temperature: null, seed: null, stream: null, ttl_s: null, prompt: null });
    assert.ok(r.ok);
    assert.equal(r.request.maxTokens, DEFAULT_MAX_TOKENS);
    assert.equal(r.request.seed, null);
  });

  it('the MQTT 5 response topic wins over reply_to and its correlation data is kept; message expiry gives the ttl', () => {
    const cd = Buffer.from([1, 2, 3]);
    const r = parse({ ...GOOD, reply_to: 'elsewhere/not/allowed' }, { responseTopic: `${PREFIX}bob/7`, correlationData: cd, messageExpiryInterval: 30 });
    assert.ok(r.ok);
    assert.deepEqual(r.request.reply, { topic: `${PREFIX}bob/7`, correlationData: cd });
    assert.equal(r.request.ttlS, 30);
    const withTtl = parse({ ...GOOD, ttl_s: 5 }, { messageExpiryInterval: 30 });
    assert.ok(withTtl.ok);
    assert.equal(withTtl.request.ttlS, 5, 'ttl_s wins over the expiry left');
  });

  const answerable: Array<[string, unknown, string, RegExp]> = [
    ['model not a string', { ...GOOD, model: 7 }, 'model', /model must be a string/],
    ['model with capitals', { ...GOOD, model: 'Qwen' }, 'model', /model must be a model id/],
    ['model with a slash', { ...GOOD, model: 'a/b' }, 'model', /model must be a model id/],
    ['model empty', { ...GOOD, model: '' }, 'model', /model must be a model id/],
    ['both prompt and messages', { ...GOOD, prompt: 'x' }, 'prompt', /exclusive/],
    ['neither prompt nor messages', { job_id: 'j', reply_to: `${PREFIX}r` }, 'messages', /required \(or prompt\)/],
    ['prompt not a string', { job_id: 'j', reply_to: `${PREFIX}r`, prompt: ['a'] }, 'prompt', /prompt must be a string/],
    ['prompt empty', { job_id: 'j', reply_to: `${PREFIX}r`, prompt: '' }, 'prompt', /must not be empty/],
    ['messages not an array', { ...GOOD, messages: 'hi' }, 'messages', /must be an array/],
    ['messages empty', { ...GOOD, messages: [] }, 'messages', /must not be empty/],
    ['message not an object', { ...GOOD, messages: ['hi'] }, 'messages[0]', /must be an object/],
    ['message role unknown', { ...GOOD, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /one of system\|user\|assistant/],
    ['message role missing', { ...GOOD, messages: [{ content: 'x' }] }, 'messages[0].role', /one of/],
    ['message content not a string', { ...GOOD, messages: [{ role: 'user', content: 3 }] }, 'messages[0].content', /must be a string/],
    ['second message bad', { ...GOOD, messages: [{ role: 'system', content: 's' }, { role: 'user' }] }, 'messages[1].content', /must be a string/],
    ['last message not user', { ...GOOD, messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, 'messages[1].role', /end with a user message/],
    ['max_tokens zero', { ...GOOD, max_tokens: 0 }, 'max_tokens', /integer ≥ 1/],
    ['max_tokens fractional', { ...GOOD, max_tokens: 2.5 }, 'max_tokens', /integer ≥ 1/],
    ['max_tokens string', { ...GOOD, max_tokens: '10' }, 'max_tokens', /integer ≥ 1/],
    ['temperature negative', { ...GOOD, temperature: -0.1 }, 'temperature', /from 0 to 2/],
    ['temperature too high', { ...GOOD, temperature: 2.5 }, 'temperature', /from 0 to 2/],
    ['temperature string', { ...GOOD, temperature: 'hot' }, 'temperature', /from 0 to 2/],
    ['seed negative', { ...GOOD, seed: -1 }, 'seed', /integer from 0/],
    ['seed fractional', { ...GOOD, seed: 1.5 }, 'seed', /integer from 0/],
    ['seed too large', { ...GOOD, seed: 2 ** 33 }, 'seed', /integer from 0/],
    ['stream not boolean', { ...GOOD, stream: 'yes' }, 'stream', /true or false/],
    ['ttl_s zero', { ...GOOD, ttl_s: 0 }, 'ttl_s', /> 0/],
    ['ttl_s negative', { ...GOOD, ttl_s: -3 }, 'ttl_s', /> 0/],
    ['ttl_s string', { ...GOOD, ttl_s: '60' }, 'ttl_s', /> 0/],
    ['over the size limit', { ...GOOD, messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, 'payload', /over the limit of 4096 \(jobs.max_request_bytes\)/],
  ];
  for (const [name, payload, field, message] of answerable) {
    it(`answerable: ${name} → invalid_request naming ${field}`, () => {
      const r = parse(payload);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.problem.reason, 'invalid_request');
      assert.equal(r.problem.field, field);
      assert.match(r.problem.message, message);
      assert.equal(r.problem.answerable, true);
      assert.ok(r.problem.reply && r.problem.reply.topic.startsWith(PREFIX));
      assert.equal(r.problem.jobId, (payload as { job_id: string }).job_id);
    });
  }

  const unanswerable: Array<[string, unknown, IncomingJobMessage['properties'] | undefined, string, RegExp]> = [
    ['not JSON', '{"job_id": "j1", ', undefined, 'payload', /not JSON/],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), undefined, 'payload', /not JSON/],
    ['a JSON array', [GOOD], undefined, 'payload', /JSON object/],
    ['a JSON number', 42, undefined, 'payload', /JSON object/],
    ['JSON null', 'null', undefined, 'payload', /JSON object/],
    ['no job_id', { reply_to: `${PREFIX}r`, prompt: 'x' }, undefined, 'job_id', /job_id required/],
    ['job_id a number', { ...GOOD, job_id: 12 }, undefined, 'job_id', /must be a string/],
    ['job_id empty', { ...GOOD, job_id: '' }, undefined, 'job_id', /must not be empty/],
    ['job_id too long', { ...GOOD, job_id: 'x'.repeat(201) }, undefined, 'job_id', /at most 200/],
    ['job_id with a control character', { ...GOOD, job_id: 'a\nb' }, undefined, 'job_id', /control characters/],
    ['no reply topic at all', { job_id: 'j', prompt: 'x' }, undefined, 'reply_to', /required/],
    ['reply_to outside the prefix', { ...GOOD, reply_to: 'anchiale/v1/h1/jobs/submit' }, undefined, 'reply_to', /must start with the reply prefix/],
    ['reply_to with +', { ...GOOD, reply_to: `${PREFIX}+/x` }, undefined, 'reply_to', /\+ or #/],
    ['reply_to with #', { ...GOOD, reply_to: `${PREFIX}#` }, undefined, 'reply_to', /\+ or #/],
    ['reply_to with NUL', { ...GOOD, reply_to: `${PREFIX}a\u0000b` }, undefined, 'reply_to', /NUL/],
    ['reply_to just the prefix', { ...GOOD, reply_to: PREFIX }, undefined, 'reply_to', /topic level after/],
    ['reply_to not a string', { ...GOOD, reply_to: ['x'] }, undefined, 'reply_to', /must be a string/],
    ['response topic outside the prefix (wins over a good reply_to)', GOOD, { responseTopic: 'evil/topic' }, 'response_topic', /must start with the reply prefix/],
    ['not JSON and over the size limit', Buffer.alloc(5000, 0x41), undefined, 'payload', /over the limit/],
  ];
  for (const [name, payload, props, field, message] of unanswerable) {
    it(`not answerable: ${name}`, () => {
      const r = parse(payload, props);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.problem.answerable, false);
      assert.equal(r.problem.field, field);
      assert.match(r.problem.message, message);
    });
  }

  it('a bad job_id with a good reply topic keeps the reply (for the log) but is not answerable', () => {
    const r = parse({ ...GOOD, job_id: 5 });
    assert.ok(!r.ok);
    assert.equal(r.problem.answerable, false);
    assert.equal(r.problem.reply?.topic, GOOD.reply_to);
  });
});

describe('replyTopicProblem', () => {
  const cases: Array<[unknown, string | null]> = [
    [`${PREFIX}a/b/c`, null],
    [`${PREFIX}x`, null],
    ['anchiale/v1/repliesX/a', 'must start with the reply prefix anchiale/v1/replies/'],
    ['', 'must not be empty'],
    [undefined, 'must be a string'],
  ];
  for (const [topic, expected] of cases) {
    it(`${JSON.stringify(topic)} → ${expected ?? 'ok'}`, () => assert.equal(replyTopicProblem(topic, PREFIX), expected));
  }
});

describe('parseCancelRequest', () => {
  const cases: Array<[string, string | Buffer, { ok: boolean; jobId?: string; field?: string }]> = [
    ['a job id', '{"job_id":"j1"}', { ok: true, jobId: 'j1' }],
    ['extra fields ignored', '{"job_id":"j1","why":"late"}', { ok: true, jobId: 'j1' }],
    ['not JSON', 'j1', { ok: false, field: 'payload' }],
    ['an array', '["j1"]', { ok: false, field: 'payload' }],
    ['no job_id', '{}', { ok: false, field: 'job_id' }],
    ['job_id a number', '{"job_id":1}', { ok: false, field: 'job_id' }],
  ];
  for (const [name, payload, expected] of cases) {
    it(name, () => {
      const r = parseCancelRequest(Buffer.from(payload));
      assert.equal(r.ok, expected.ok);
      if (r.ok) assert.equal(r.jobId, expected.jobId);
      else assert.equal(r.field, expected.field);
    });
  }
});

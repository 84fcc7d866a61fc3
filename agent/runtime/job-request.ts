/**
 * Parsing of inference job requests and cancels (spec/mqtt-api.md "Inference jobs"). Pure: bytes and
 * MQTT 5 properties in, a typed request or a problem out. A problem names the field and says whether
 * it can be answered at all: a request with no usable reply topic, that is not JSON, or that has no
 * job_id is not answered (the heater logs it and publishes an event `job_rejected`).
 */

export const MODEL_ID_PATTERN = /^[a-z0-9._-]+$/;
export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_TEMPERATURE = 0.7;
export const MAX_TEMPERATURE = 2;
export const MAX_SEED = 0xffffffff;
export const MAX_JOB_ID_LENGTH = 200;
export const MAX_MODEL_ID_LENGTH = 128;
export const MAX_MESSAGES = 512;
/** MQTT topic names are at most 65535 bytes. */
const MAX_TOPIC_BYTES = 65535;

export type ChatRole = 'system' | 'user' | 'assistant';
export interface JobChatMessage {
  role: ChatRole;
  content: string;
}

export interface JobRequestLimits {
  /** `jobs.reply_prefix` (ends with `/`). */
  replyPrefix: string;
  /** Larger payloads are rejected (`jobs.max_request_bytes`). */
  maxRequestBytes: number;
  /** max_tokens is clamped to this (`jobs.max_tokens_limit`). */
  maxTokensLimit: number;
}

/** What the parser reads of an MQTT message. */
export interface IncomingJobMessage {
  payload: Buffer;
  properties?: { responseTopic?: string; correlationData?: Buffer; messageExpiryInterval?: number };
}

export interface JobReplyTarget {
  topic: string;
  /** MQTT 5 correlation data to echo (null on MQTT 3.1.1 or when absent). */
  correlationData: Buffer | null;
}

export interface JobRequest {
  jobId: string;
  reply: JobReplyTarget;
  /** Model id asked for; null: the heater's model. */
  model: string | null;
  /** Exactly one of prompt and messages is set. */
  prompt: string | null;
  messages: JobChatMessage[] | null;
  /** After clamping to maxTokensLimit. */
  maxTokens: number;
  /** What the request asked (or the default). */
  maxTokensAsked: number;
  temperature: number;
  /** null: a random seed. */
  seed: number | null;
  stream: boolean;
  /** Seconds from receipt the job may wait in the queue (ttl_s, else the MQTT 5 message expiry left); null: no limit. */
  ttlS: number | null;
}

export interface JobRequestProblem {
  reason: 'invalid_request';
  /** The field at fault (`payload` for the message as a whole). */
  field: string;
  message: string;
  jobId: string | null;
  /** Where the answer goes; null when the request cannot be answered. */
  reply: JobReplyTarget | null;
  answerable: boolean;
}

export type JobRequestParse = { ok: true; request: JobRequest } | { ok: false; problem: JobRequestProblem };
export type CancelParse = { ok: true; jobId: string } | { ok: false; field: string; message: string; jobId: string | null };

type Json = Record<string, unknown>;

/** Why a reply topic is unusable, or null when it is fine. */
export function replyTopicProblem(topic: unknown, replyPrefix: string): string | null {
  if (typeof topic !== 'string') return 'must be a string';
  if (topic.length === 0) return 'must not be empty';
  if (topic.includes('+') || topic.includes('#')) return 'must not contain + or #';
  if (topic.includes('\u0000')) return 'must not contain NUL';
  if (!topic.startsWith(replyPrefix)) return `must start with the reply prefix ${replyPrefix}`;
  if (topic.length === replyPrefix.length) return `must have a topic level after the reply prefix ${replyPrefix}`;
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) return 'is too long for an MQTT topic';
  return null;
}

function jobIdProblem(id: unknown): string | null {
  if (id === undefined || id === null) return 'required';
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_JOB_ID_LENGTH) return `must be at most ${MAX_JOB_ID_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'must not contain control characters';
  return null;
}

/** JSON object from the payload, or why not. */
function decodeObject(payload: Buffer): { ok: true; value: Json } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    return { ok: false, message: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: 'must be a JSON object' };
  return { ok: true, value: value as Json };
}

/** Optional fields: absent and null both mean "not given". */
function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/**
 * Parses a job request. The MQTT 5 response topic wins over `reply_to`; its correlation data is
 * echoed. Unknown fields are ignored (newer clients), wrong types and values are problems.
 */
export function parseJobRequest(msg: IncomingJobMessage, limits: JobRequestLimits): JobRequestParse {
  const size = msg.payload.length;
  const decoded = decodeObject(msg.payload);
  const props = msg.properties ?? {};
  const correlationData = props.correlationData && props.correlationData.length > 0 ? props.correlationData : null;
  const problem = (field: string, message: string, jobId: string | null, reply: JobReplyTarget | null): JobRequestParse => ({
    ok: false,
    problem: { reason: 'invalid_request', field, message, jobId, reply, answerable: reply !== null && jobId !== null },
  });

  if (!decoded.ok) {
    const message = size > limits.maxRequestBytes ? tooLarge(size, limits) : decoded.message;
    return problem('payload', message, null, null);
  }
  const o = decoded.value;
  const idProblem = jobIdProblem(o.job_id);
  const jobId = idProblem === null ? (o.job_id as string) : null;

  // The reply topic: the MQTT 5 response topic wins.
  let reply: JobReplyTarget | null = null;
  let replyIssue: { field: string; message: string } | null = null;
  if (typeof props.responseTopic === 'string' && props.responseTopic.length > 0) {
    const p = replyTopicProblem(props.responseTopic, limits.replyPrefix);
    if (p === null) reply = { topic: props.responseTopic, correlationData };
    else replyIssue = { field: 'response_topic', message: `response topic ${p}` };
  } else if (!given(o.reply_to)) {
    replyIssue = { field: 'reply_to', message: 'required (or an MQTT 5 response topic)' };
  } else {
    const p = replyTopicProblem(o.reply_to, limits.replyPrefix);
    if (p === null) reply = { topic: o.reply_to as string, correlationData };
    else replyIssue = { field: 'reply_to', message: `reply_to ${p}` };
  }

  if (idProblem !== null) return problem('job_id', `job_id ${idProblem}`, null, reply);
  if (replyIssue) return problem(replyIssue.field, replyIssue.message, jobId, null);
  const id = jobId as string;
  const to = reply as JobReplyTarget;
  const bad = (field: string, message: string): JobRequestParse => problem(field, `${field} ${message}`, id, to);

  if (size > limits.maxRequestBytes) return problem('payload', tooLarge(size, limits), id, to);

  // model
  let model: string | null = null;
  if (given(o.model)) {
    if (typeof o.model !== 'string') return bad('model', 'must be a string');
    if (o.model.length === 0 || o.model.length > MAX_MODEL_ID_LENGTH || !MODEL_ID_PATTERN.test(o.model)) {
      return bad('model', `must be a model id ([a-z0-9._-]+, at most ${MAX_MODEL_ID_LENGTH} characters)`);
    }
    model = o.model;
  }

  // prompt or messages
  const hasPrompt = given(o.prompt);
  const hasMessages = given(o.messages);
  if (hasPrompt && hasMessages) return bad('prompt', 'and messages are exclusive: give one of them');
  if (!hasPrompt && !hasMessages) return bad('messages', 'required (or prompt)');
  let prompt: string | null = null;
  let messages: JobChatMessage[] | null = null;
  if (hasPrompt) {
    if (typeof o.prompt !== 'string') return bad('prompt', 'must be a string');
    if (o.prompt.length === 0) return bad('prompt', 'must not be empty');
    prompt = o.prompt;
  } else {
    const parsed = parseMessages(o.messages);
    if (!parsed.ok) return problem(parsed.field, parsed.message, id, to);
    messages = parsed.messages;
  }

  // max_tokens
  let maxTokensAsked = DEFAULT_MAX_TOKENS;
  if (given(o.max_tokens)) {
    if (typeof o.max_tokens !== 'number' || !Number.isInteger(o.max_tokens) || o.max_tokens < 1) return bad('max_tokens', 'must be an integer ≥ 1');
    maxTokensAsked = o.max_tokens;
  }
  const maxTokens = Math.min(maxTokensAsked, limits.maxTokensLimit);

  // temperature
  let temperature = DEFAULT_TEMPERATURE;
  if (given(o.temperature)) {
    if (typeof o.temperature !== 'number' || !Number.isFinite(o.temperature) || o.temperature < 0 || o.temperature > MAX_TEMPERATURE) {
      return bad('temperature', `must be a number from 0 to ${MAX_TEMPERATURE}`);
    }
    temperature = o.temperature;
  }

  // seed
  let seed: number | null = null;
  if (given(o.seed)) {
    if (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed > MAX_SEED) return bad('seed', `must be an integer from 0 to ${MAX_SEED}`);
    seed = o.seed;
  }

  // stream
  let stream = false;
  if (given(o.stream)) {
    if (typeof o.stream !== 'boolean') return bad('stream', 'must be true or false');
    stream = o.stream;
  }

  // ttl_s (else what is left of the MQTT 5 message expiry)
  let ttlS: number | null = null;
  if (given(o.ttl_s)) {
    if (typeof o.ttl_s !== 'number' || !Number.isFinite(o.ttl_s) || o.ttl_s <= 0) return bad('ttl_s', 'must be a number > 0 (seconds)');
    ttlS = o.ttl_s;
  } else if (typeof props.messageExpiryInterval === 'number' && props.messageExpiryInterval > 0) {
    ttlS = props.messageExpiryInterval;
  }

  return {
    ok: true,
    request: { jobId: id, reply: to, model, prompt, messages, maxTokens, maxTokensAsked, temperature, seed, stream, ttlS },
  };
}

function tooLarge(size: number, limits: JobRequestLimits): string {
  return `request is ${size} bytes, over the limit of ${limits.maxRequestBytes} (jobs.max_request_bytes)`;
}

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

function parseMessages(v: unknown): { ok: true; messages: JobChatMessage[] } | { ok: false; field: string; message: string } {
  if (!Array.isArray(v)) return { ok: false, field: 'messages', message: 'messages must be an array of {role, content}' };
  if (v.length === 0) return { ok: false, field: 'messages', message: 'messages must not be empty' };
  if (v.length > MAX_MESSAGES) return { ok: false, field: 'messages', message: `messages must have at most ${MAX_MESSAGES} entries` };
  const out: JobChatMessage[] = [];
  for (let i = 0; i < v.length; i++) {
    const m: unknown = v[i];
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return { ok: false, field: at, message: `${at} must be an object {role, content}` };
    const { role, content } = m as Json;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      return { ok: false, field: `${at}.role`, message: `${at}.role must be one of ${ROLES.join('|')}` };
    }
    if (typeof content !== 'string') return { ok: false, field: `${at}.content`, message: `${at}.content must be a string` };
    out.push({ role: role as ChatRole, content });
  }
  if (out[out.length - 1]!.role !== 'user') {
    return { ok: false, field: `messages[${out.length - 1}].role`, message: 'messages must end with a user message' };
  }
  return { ok: true, messages: out };
}

/** Parses a cancel `{job_id}`. */
export function parseCancelRequest(payload: Buffer): CancelParse {
  const decoded = decodeObject(payload);
  if (!decoded.ok) return { ok: false, field: 'payload', message: decoded.message, jobId: null };
  const p = jobIdProblem(decoded.value.job_id);
  if (p !== null) return { ok: false, field: 'job_id', message: `job_id ${p}`, jobId: null };
  return { ok: true, jobId: decoded.value.job_id as string };
}

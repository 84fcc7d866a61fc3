/**
 * The replies a heater sends on a job's reply topic (spec/mqtt-api.md "Inference jobs"), parsed
 * leniently: a reply is usable when it names its job, its node and a known type; other fields
 * default to null. Pure.
 */

export type JobReply =
  | { type: 'accepted'; jobId: string; node: string; queuePosition: number | null }
  | { type: 'rejected'; jobId: string; node: string; reason: string; message: string }
  | { type: 'chunk'; jobId: string; node: string; seq: number; text: string }
  | {
      type: 'done';
      jobId: string;
      node: string;
      text: string;
      finishReason: string;
      usage: { promptTokens: number | null; completionTokens: number | null };
      timing: { queueMs: number | null; ttftMs: number | null; totalMs: number | null };
      energyJ: number | null;
    }
  | { type: 'error'; jobId: string; node: string; code: string; message: string };

export type JobReplyType = JobReply['type'];

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);
const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The reply in `payload`, or a string saying why it is not one. */
export function parseJobReply(payload: string): JobReply | string {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return 'not JSON';
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'not a JSON object';
  const o = raw as Record<string, unknown>;
  const jobId = o.job_id;
  const node = o.node;
  if (typeof jobId !== 'string' || jobId === '') return 'no job_id';
  if (typeof node !== 'string' || node === '') return 'no node';
  switch (o.type) {
    case 'accepted':
      return { type: 'accepted', jobId, node, queuePosition: num(o.queue_position) };
    case 'rejected':
      return { type: 'rejected', jobId, node, reason: str(o.reason, 'unknown'), message: str(o.message, '') };
    case 'chunk': {
      const seq = num(o.seq);
      if (seq === null || !Number.isInteger(seq) || seq < 0) return 'chunk without a valid seq';
      return { type: 'chunk', jobId, node, seq, text: str(o.text, '') };
    }
    case 'done': {
      const usage = rec(o.usage);
      const timing = rec(o.timing);
      return {
        type: 'done',
        jobId,
        node,
        text: str(o.text, ''),
        finishReason: str(o.finish_reason, 'stop'),
        usage: { promptTokens: num(usage.prompt_tokens), completionTokens: num(usage.completion_tokens) },
        timing: { queueMs: num(timing.queue_ms), ttftMs: num(timing.ttft_ms), totalMs: num(timing.total_ms) },
        energyJ: num(o.energy_j),
      };
    }
    case 'error':
      return { type: 'error', jobId, node, code: str(o.code, 'internal'), message: str(o.message, '') };
    default:
      return `unknown type ${JSON.stringify(o.type)}`;
  }
}

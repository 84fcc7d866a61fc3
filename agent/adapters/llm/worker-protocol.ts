import { z } from 'zod';

/**
 * The IPC protocol between the worker supervisor (parent) and the LLM worker (child process).
 * Every message is a plain object with a `type`; both ends validate what they receive with these
 * schemas and never act on a message that does not parse.
 */

const jobId = z.string().min(1).max(200);
const nonNegInt = z.number().int().nonnegative();
const nonNeg = z.number().nonnegative();
/** Correlates load/unload requests with their answers (auto-reloads after a restart use their own). */
const requestId = nonNegInt;

export const GPU_SETTINGS = ['auto', 'cuda', 'vulkan', 'metal'] as const;
export const BACKENDS = ['cuda', 'vulkan', 'metal', 'cpu'] as const;

/** node-llama-cpp's `gpu` option: a GPU type, 'auto', or false for CPU only. */
export const gpuSettingSchema = z.union([z.enum(GPU_SETTINGS), z.literal(false)]);
export type GpuSetting = z.infer<typeof gpuSettingSchema>;
export type Backend = (typeof BACKENDS)[number];

export const gpuLayersSchema = z.union([z.literal('max'), z.literal('auto'), nonNegInt]);
export type GpuLayers = z.infer<typeof gpuLayersSchema>;

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const loadRequestSchema = z.object({
  type: z.literal('load'),
  requestId,
  modelPath: z.string().min(1),
  /** Tokens per sequence (node-llama-cpp allocates contextSize × sequences). */
  contextSize: z.number().int().min(64),
  sequences: z.number().int().min(1).max(64),
  gpuLayers: gpuLayersSchema,
  /** null: what node-llama-cpp picks. */
  threads: z.number().int().min(1).nullable(),
  gpu: gpuSettingSchema,
});
export type LoadRequest = z.infer<typeof loadRequestSchema>;

/** A job: exactly one of `prompt` (plain completion) or `messages` (through the chat template). */
export const generateRequestSchema = z
  .object({
    type: z.literal('generate'),
    jobId,
    prompt: z.string().optional(),
    messages: z.array(chatMessageSchema).min(1).optional(),
    maxTokens: z.number().int().min(1),
    temperature: z.number().min(0).max(5),
    /** null: a fresh random seed for this job. */
    seed: z.number().int().nonnegative().max(0xffffffff).nullable(),
    stream: z.boolean(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.prompt === undefined) === (v.messages === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'exactly one of prompt or messages' });
    }
  });
export type GenerateRequest = z.infer<typeof generateRequestSchema>;

/** Parent → child. */
export const workerRequestSchema = z.discriminatedUnion('type', [
  loadRequestSchema,
  z.object({ type: z.literal('unload'), requestId }),
  generateRequestSchema,
  z.object({ type: z.literal('cancel'), jobId }),
  z.object({ type: z.literal('ping') }),
]);
export type WorkerRequest = z.infer<typeof workerRequestSchema>;

export const FINISH_REASONS = ['stop', 'length', 'cancelled'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export const vramStateSchema = z.object({ total: nonNeg, used: nonNeg, free: nonNeg });
export type VramState = z.infer<typeof vramStateSchema>;

export const loadedEventSchema = z.object({
  type: z.literal('loaded'),
  requestId: requestId.nullable(),
  /** Model id: the GGUF file stem. */
  model: z.string(),
  backend: z.enum(BACKENDS),
  vramState: vramStateSchema.optional(),
  loadMs: nonNeg,
  trainContextSize: nonNegInt,
  contextSize: nonNegInt,
  sequences: nonNegInt,
});
export type LoadedEvent = z.infer<typeof loadedEventSchema>;

export const doneEventSchema = z.object({
  type: z.literal('done'),
  jobId,
  text: z.string(),
  finishReason: z.enum(FINISH_REASONS),
  usage: z.object({ promptTokens: nonNegInt, completionTokens: nonNegInt }),
  ttftMs: nonNeg,
  totalMs: nonNeg,
});
export type DoneEvent = z.infer<typeof doneEventSchema>;

/**
 * Job error codes: `busy` (no free sequence), `not_loaded`, `invalid_request` (e.g. prompt +
 * maxTokens over the context), `duplicate_job` (id already running), `internal`; the supervisor
 * adds `worker_crashed` and `worker_stopped` (the worker was killed or stopped on purpose).
 */
export const jobErrorEventSchema = z.object({
  type: z.literal('job_error'),
  jobId,
  code: z.string().min(1),
  message: z.string(),
});
export type JobErrorEvent = z.infer<typeof jobErrorEventSchema>;

/** Child → parent. */
export const workerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: nonNegInt }),
  z.object({ type: z.literal('load_progress'), requestId: requestId.nullable(), progress: z.number().min(0).max(1) }),
  loadedEventSchema,
  z.object({ type: z.literal('load_failed'), requestId: requestId.nullable(), code: z.string().min(1), message: z.string() }),
  // `tokens`: the generated pieces in `text` (the worker coalesces them; at least 1).
  z.object({ type: z.literal('chunk'), jobId, text: z.string(), tokens: z.int().min(1) }),
  doneEventSchema,
  jobErrorEventSchema,
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('unloaded'), requestId: requestId.nullable() }),
]);
export type WorkerEvent = z.infer<typeof workerEventSchema>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): ParseResult<T> {
  const res = schema.safeParse(raw);
  if (res.success) return { ok: true, message: res.data };
  const error = res.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, error };
}

/** Validate what the child received from its parent. */
export function parseWorkerRequest(raw: unknown): ParseResult<WorkerRequest> {
  return parseWith(workerRequestSchema, raw);
}

/** Validate what the parent received from its child. */
export function parseWorkerEvent(raw: unknown): ParseResult<WorkerEvent> {
  return parseWith(workerEventSchema, raw);
}

/** The job id of an invalid message, when it has a usable one (to answer it with a job_error). */
export function jobIdOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as { jobId?: unknown }).jobId;
  return jobId.safeParse(id).success ? (id as string) : null;
}

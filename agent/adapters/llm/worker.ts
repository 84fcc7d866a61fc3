/**
 * The LLM worker: a child process (started with child_process.fork by WorkerSupervisor) that owns
 * node-llama-cpp, so a CUDA abort() can never take down the thermostat. It loads one model with one
 * context of N sequences, runs each job on its own sequence, and answers over IPC
 * (worker-protocol.ts). It exits by itself when its parent goes away: on `disconnect`, or when no
 * message arrives for the heartbeat timeout.
 *
 * Arguments: --heartbeat-timeout-ms <ms> (default 15000), --log-level <pino level> (default info).
 */
import { access } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { basename, extname } from 'node:path';
import {
  getLlama,
  LlamaChatSession,
  InsufficientMemoryError,
  LlamaCompletion,
  LlamaLogLevel,
  type ChatHistoryItem,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
} from 'node-llama-cpp';
import { pino, type LevelWithSilent } from 'pino';
import { createLogger, type Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';
import {
  jobIdOf,
  parseWorkerRequest,
  type Backend,
  type FinishReason,
  type GenerateRequest,
  type LoadRequest,
  type WorkerEvent,
  type WorkerRequest,
} from './worker-protocol.js';

type Send = (event: WorkerEvent) => void;

interface ActiveJob {
  abort: AbortController;
  finished: Promise<void>;
}

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  sequences: number;
  contextSize: number;
}

/** A job's answer is computed first, then the sequence is freed, then it is sent. */
type JobOutcome =
  | { kind: 'done'; event: Extract<WorkerEvent, { type: 'done' }> }
  | { kind: 'error'; code: string; message: string };

class JobRejection extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const PROGRESS_STEP = 0.05;
/** Shortest interval between two streamed-text messages to the agent (the first goes at once). */
const CHUNK_IPC_MIN_MS = 50;

class LlamaWorker {
  private llama: Llama | null = null;
  private llamaKey: string | null = null;
  private loaded: Loaded | null = null;
  private loading = false;
  private readonly jobs = new Map<string, ActiveJob>();
  private ops: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: Send,
    private readonly log: Logger,
  ) {}

  handle(req: WorkerRequest): void {
    switch (req.type) {
      case 'ping':
        this.send({ type: 'pong' });
        return;
      case 'load':
        this.enqueue(() => this.load(req));
        return;
      case 'unload':
        this.enqueue(async () => {
          await this.release();
          this.send({ type: 'unloaded', requestId: req.requestId });
        });
        return;
      case 'generate':
        this.generate(req);
        return;
      case 'cancel':
        this.jobs.get(req.jobId)?.abort.abort();
        return;
    }
  }

  /** Load and unload run one after the other, in the order they arrived. */
  private enqueue(op: () => Promise<void>): void {
    this.ops = this.ops.then(op).catch((err: unknown) => {
      this.log.error({ err: errorMessage(err) }, 'worker operation failed');
    });
  }

  private async load(req: LoadRequest): Promise<void> {
    const t0 = performance.now();
    this.loading = true;
    try {
      await this.release();
      try {
        await access(req.modelPath);
      } catch {
        this.send({ type: 'load_failed', requestId: req.requestId, code: 'model_not_found', message: `no model file at ${req.modelPath}` });
        return;
      }
      let llama: Llama;
      try {
        llama = await this.getLlama(req);
      } catch (err) {
        this.send({ type: 'load_failed', requestId: req.requestId, code: 'no_backend', message: errorMessage(err) });
        return;
      }
      let model: LlamaModel | null = null;
      try {
        let lastProgress = 0;
        model = await llama.loadModel({
          modelPath: req.modelPath,
          gpuLayers: llama.gpu === false ? 0 : req.gpuLayers,
          onLoadProgress: (progress: number) => {
            if (progress - lastProgress < PROGRESS_STEP && progress < 1) return;
            lastProgress = progress;
            this.send({ type: 'load_progress', requestId: req.requestId, progress: Math.min(1, Math.max(0, progress)) });
          },
        });
        const context = await model.createContext({
          contextSize: req.contextSize,
          sequences: req.sequences,
          ...(req.threads !== null ? { threads: req.threads } : {}),
        });
        this.loaded = { model, context, sequences: req.sequences, contextSize: req.contextSize };
      } catch (err) {
        await model?.dispose().catch(() => undefined);
        // node-llama-cpp estimates from the GGUF header whether the model and the context (KV cache of every sequence) fit.
        const code = err instanceof InsufficientMemoryError ? 'insufficient_memory' : 'load_failed';
        this.send({ type: 'load_failed', requestId: req.requestId, code, message: errorMessage(err) });
        return;
      }
      const backend: Backend = llama.gpu === false ? 'cpu' : llama.gpu;
      const vram = backend === 'cpu' ? undefined : await llama.getVramState().catch(() => undefined);
      const loadMs = performance.now() - t0;
      this.log.info({ model: req.modelPath, backend, loadMs: Math.round(loadMs) }, 'model loaded');
      this.send({
        type: 'loaded',
        requestId: req.requestId,
        model: basename(req.modelPath, extname(req.modelPath)),
        backend,
        ...(vram ? { vramState: { total: vram.total, used: vram.used, free: vram.free } } : {}),
        loadMs,
        trainContextSize: this.loaded.model.trainContextSize,
        contextSize: this.loaded.context.contextSize,
        sequences: this.loaded.sequences,
      });
    } finally {
      this.loading = false;
    }
  }

  /** One Llama per process; a different gpu or thread setting gets a fresh one. */
  private async getLlama(req: LoadRequest): Promise<Llama> {
    const key = JSON.stringify({ gpu: req.gpu, threads: req.threads });
    if (this.llama && this.llamaKey === key && !this.llama.disposed) return this.llama;
    if (this.llama) await this.llama.dispose().catch(() => undefined);
    this.llama = null;
    const llamaLog = this.log.child({ component: 'llama.cpp' });
    this.llama = await getLlama({
      build: 'never',
      gpu: req.gpu,
      ...(req.threads !== null ? { maxThreads: req.threads } : {}),
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trimEnd();
        if (text === '') return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) llamaLog.error(text);
        else if (level === LlamaLogLevel.warn) llamaLog.warn(text);
        else llamaLog.debug(text);
      },
    });
    this.llamaKey = key;
    return this.llama;
  }

  /** Cancel running jobs (they end as done/cancelled), then free the context and the model. */
  private async release(): Promise<void> {
    for (const job of this.jobs.values()) job.abort.abort();
    await Promise.allSettled([...this.jobs.values()].map((j) => j.finished));
    const loaded = this.loaded;
    this.loaded = null;
    if (!loaded) return;
    await loaded.context.dispose().catch(() => undefined);
    await loaded.model.dispose().catch(() => undefined);
  }

  private generate(req: GenerateRequest): void {
    const reject = (code: string, message: string): void => this.send({ type: 'job_error', jobId: req.jobId, code, message });
    const loaded = this.loaded;
    if (!loaded || this.loading) return reject('not_loaded', this.loading ? 'model is loading' : 'no model loaded');
    if (this.jobs.has(req.jobId)) return reject('duplicate_job', `job ${req.jobId} is already running`);
    if (this.jobs.size >= loaded.sequences) return reject('busy', `all ${loaded.sequences} sequences are busy`);
    let sequence: LlamaContextSequence;
    try {
      sequence = loaded.context.getSequence();
    } catch (err) {
      return reject('busy', `no free sequence: ${errorMessage(err)}`);
    }
    const abort = new AbortController();
    const finished = this.runJob(req, loaded, sequence, abort.signal)
      .catch((err: unknown): JobOutcome => ({ kind: 'error', code: 'internal', message: errorMessage(err) }))
      .then((outcome) => {
        this.jobs.delete(req.jobId);
        if (outcome.kind === 'done') this.send(outcome.event);
        else reject(outcome.code, outcome.message);
      });
    this.jobs.set(req.jobId, { abort, finished });
  }

  private async runJob(req: GenerateRequest, loaded: Loaded, sequence: LlamaContextSequence, signal: AbortSignal): Promise<JobOutcome> {
    const t0 = performance.now();
    const { model } = loaded;
    let ttftMs: number | null = null;
    const chunks: string[] = [];
    let overshoot = false;
    const outputAtStart = sequence.tokenMeter.usedOutputTokens;
    const sampled = (): number => sequence.tokenMeter.usedOutputTokens - outputAtStart;
    let completion: LlamaCompletion | null = null;
    let session: LlamaChatSession | null = null;
    let promptTokens = 0;
    // Streamed text goes to the agent at once for the first piece (time to first token), then at
    // most every CHUNK_IPC_MIN_MS: one IPC message per token would wake the agent (and share the
    // CPU with this generation) for nothing, since MQTT chunks are batched anyway (100 ms / 64 tokens).
    let unsent = '';
    let unsentPieces = 0;
    let sentAtMs: number | null = null;
    const flush = (): void => {
      if (unsent === '') return;
      this.send({ type: 'chunk', jobId: req.jobId, text: unsent, tokens: unsentPieces });
      unsent = '';
      unsentPieces = 0;
      sentAtMs = performance.now();
    };
    try {
      const options = {
        maxTokens: req.maxTokens,
        temperature: req.temperature,
        seed: req.seed ?? randomInt(0, 0x7fffffff),
        signal,
        stopOnAbortSignal: true,
        onToken: (): void => {
          ttftMs ??= performance.now() - t0;
        },
        onTextChunk: (text: string): void => {
          ttftMs ??= performance.now() - t0;
          // node-llama-cpp can sample one token past maxTokens to finish a character: drop it.
          if (sampled() > req.maxTokens) {
            overshoot = true;
            return;
          }
          if (text === '') return;
          chunks.push(text);
          if (!req.stream) return;
          unsent += text;
          unsentPieces += 1;
          if (sentAtMs === null || performance.now() - sentAtMs >= CHUNK_IPC_MIN_MS) flush();
        },
      };
      let text: string;
      let stopReason: string;
      if (req.prompt !== undefined) {
        const bos = model.tokens.bos !== null && model.tokens.shouldPrependBosToken ? 1 : 0;
        promptTokens = bos + model.tokenize(req.prompt, false, 'trimLeadingSpace').length;
        checkFits(promptTokens, req.maxTokens, loaded.contextSize);
        completion = new LlamaCompletion({ contextSequence: sequence });
        const res = await completion.generateCompletionWithMeta(req.prompt, { ...options, disableContextShift: true });
        text = res.response;
        stopReason = res.metadata.stopReason;
      } else {
        const messages = req.messages ?? [];
        const last = messages[messages.length - 1];
        if (!last || last.role !== 'user') throw new JobRejection('invalid_request', 'messages must end with a user message');
        const history: ChatHistoryItem[] = messages.slice(0, -1).map((m): ChatHistoryItem => {
          if (m.role === 'system') return { type: 'system', text: m.content };
          if (m.role === 'user') return { type: 'user', text: m.content };
          return { type: 'model', response: [m.content] };
        });
        session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
        // No system prompt added: the history is exactly the client's messages.
        session.setChatHistory(history);
        const state = session.chatWrapper.generateContextState({
          chatHistory: [...history, { type: 'user', text: last.content }, { type: 'model', response: [] }],
        });
        promptTokens = state.contextText.tokenize(model.tokenizer).length;
        checkFits(promptTokens, req.maxTokens, loaded.contextSize);
        const res = await session.promptWithMeta(last.content, options);
        text = res.responseText;
        stopReason = res.stopReason;
      }
      flush();
      const totalMs = performance.now() - t0;
      const over = overshoot || sampled() > req.maxTokens;
      const finishReason: FinishReason = over
        ? 'length'
        : stopReason === 'abort'
          ? 'cancelled'
          : stopReason === 'maxTokens'
            ? 'length'
            : 'stop';
      return {
        kind: 'done',
        event: {
          type: 'done',
          jobId: req.jobId,
          text: over ? chunks.join('') : text,
          finishReason,
          usage: { promptTokens, completionTokens: Math.min(sampled(), req.maxTokens) },
          ttftMs: ttftMs ?? totalMs,
          totalMs,
        },
      };
    } catch (err) {
      if (err instanceof JobRejection) return { kind: 'error', code: err.code, message: err.message };
      if (signal.aborted) {
        // Cancelled before generation began (e.g. during prompt evaluation): partial text, cancelled.
        const totalMs = performance.now() - t0;
        return {
          kind: 'done',
          event: {
            type: 'done',
            jobId: req.jobId,
            text: chunks.join(''),
            finishReason: 'cancelled',
            usage: { promptTokens, completionTokens: Math.min(sampled(), req.maxTokens) },
            ttftMs: ttftMs ?? totalMs,
            totalMs,
          },
        };
      }
      this.log.warn({ jobId: req.jobId, err: errorMessage(err) }, 'job failed');
      return { kind: 'error', code: 'internal', message: errorMessage(err) };
    } finally {
      session?.dispose({ disposeSequence: false });
      completion?.dispose({ disposeSequence: false });
      sequence.dispose();
    }
  }
}

function checkFits(promptTokens: number, maxTokens: number, contextSize: number): void {
  if (promptTokens + maxTokens > contextSize) {
    throw new JobRejection(
      'invalid_request',
      `prompt (${promptTokens} tokens) + max_tokens (${maxTokens}) is over the context size (${contextSize} per sequence)`,
    );
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const heartbeatTimeoutMs = Number(argValue('--heartbeat-timeout-ms') ?? 15000);
  const level = (argValue('--log-level') ?? 'info') as LevelWithSilent;
  const log = createLogger({
    level,
    destination: pino.destination({ dest: 2, sync: true }),
    base: { component: 'llm-worker', pid: process.pid },
  });
  if (!process.send) {
    log.fatal('the LLM worker runs as a forked child process (WorkerSupervisor)');
    process.exit(2);
  }
  const send: Send = (event) => {
    if (!process.connected || !process.send) return;
    try {
      process.send(event);
    } catch (err) {
      log.warn({ err: errorMessage(err), type: event.type }, 'could not send to parent');
    }
  };
  const worker = new LlamaWorker(send, log);
  let lastHeardAt = Date.now();

  process.on('message', (raw: unknown) => {
    lastHeardAt = Date.now();
    const parsed = parseWorkerRequest(raw);
    if (!parsed.ok) {
      log.warn({ error: parsed.error }, 'invalid message from parent');
      const jobId = jobIdOf(raw);
      if (jobId !== null && (raw as { type?: unknown }).type === 'generate') {
        send({ type: 'job_error', jobId, code: 'invalid_request', message: parsed.error });
      }
      return;
    }
    worker.handle(parsed.message);
  });
  process.on('disconnect', () => {
    log.info('parent disconnected: exiting');
    process.exit(0);
  });
  const timer = setInterval(
    () => {
      if (Date.now() - lastHeardAt > heartbeatTimeoutMs) {
        log.warn({ heartbeatTimeoutMs }, 'no heartbeat from parent: exiting');
        process.exit(0);
      }
    },
    Math.max(50, Math.min(1000, heartbeatTimeoutMs / 4)),
  );
  timer.unref();
  process.on('uncaughtException', (err) => {
    log.fatal({ err: errorMessage(err) }, 'uncaught exception in LLM worker');
    process.exit(1);
  });
  send({ type: 'ready', pid: process.pid });
}

main();

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobIdOf, parseWorkerEvent, parseWorkerRequest } from '../../../agent/adapters/llm/worker-protocol.js';

const load = { type: 'load', requestId: 1, modelPath: '/m/tiny.gguf', contextSize: 512, sequences: 2, gpuLayers: 'max', threads: 1, gpu: false };
const gen = { type: 'generate', jobId: 'j1', maxTokens: 16, temperature: 0.7, seed: null, stream: true };

test('parent → child messages: valid ones parse, anything else is refused', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['load', load, true],
    ['load with gpu cuda, auto layers, default threads', { ...load, gpu: 'cuda', gpuLayers: 'auto', threads: null }, true],
    ['load with numeric gpu layers', { ...load, gpuLayers: 20 }, true],
    ['load with unknown gpu', { ...load, gpu: 'opencl' }, false],
    ['load with 0 sequences', { ...load, sequences: 0 }, false],
    ['load without model path', { ...load, modelPath: '' }, false],
    ['unload', { type: 'unload', requestId: 2 }, true],
    ['generate with a prompt', { ...gen, prompt: 'hi' }, true],
    ['generate with messages', { ...gen, messages: [{ role: 'user', content: 'hi' }] }, true],
    ['generate with both prompt and messages', { ...gen, prompt: 'hi', messages: [{ role: 'user', content: 'hi' }] }, false],
    ['generate with neither', gen, false],
    ['generate with empty messages', { ...gen, messages: [] }, false],
    ['generate with a bad role', { ...gen, messages: [{ role: 'tool', content: 'x' }] }, false],
    ['generate with maxTokens 0', { ...gen, prompt: 'hi', maxTokens: 0 }, false],
    ['generate with a fractional seed', { ...gen, prompt: 'hi', seed: 1.5 }, false],
    ['generate with an extra field', { ...gen, prompt: 'hi', evil: true }, false],
    ['cancel', { type: 'cancel', jobId: 'j1' }, true],
    ['cancel without job id', { type: 'cancel' }, false],
    ['ping', { type: 'ping' }, true],
    ['unknown type', { type: 'format_disk' }, false],
    ['not an object', 'ping', false],
    ['null', null, false],
  ];
  for (const [name, raw, ok] of cases) {
    assert.equal(parseWorkerRequest(raw).ok, ok, name);
  }
});

test('child → parent messages: valid ones parse, anything else is refused', () => {
  const done = {
    type: 'done',
    jobId: 'j1',
    text: 'abc',
    finishReason: 'stop',
    usage: { promptTokens: 3, completionTokens: 5 },
    ttftMs: 4,
    totalMs: 9,
  };
  const loaded = { type: 'loaded', requestId: 1, model: 'tiny', backend: 'cpu', loadMs: 12, trainContextSize: 2048, contextSize: 512, sequences: 2 };
  const cases: Array<[string, unknown, boolean]> = [
    ['ready', { type: 'ready', pid: 123 }, true],
    ['load_progress', { type: 'load_progress', requestId: 1, progress: 0.5 }, true],
    ['load_progress over 1', { type: 'load_progress', requestId: 1, progress: 1.5 }, false],
    ['loaded', loaded, true],
    ['loaded by an auto-reload (no request id) with vram', { ...loaded, requestId: null, backend: 'cuda', vramState: { total: 8, used: 2, free: 6 } }, true],
    ['loaded with an unknown backend', { ...loaded, backend: 'tpu' }, false],
    ['load_failed', { type: 'load_failed', requestId: 1, code: 'model_not_found', message: 'x' }, true],
    ['chunk', { type: 'chunk', jobId: 'j1', text: 'a', tokens: 1 }, true],
    ['chunk without its token count', { type: 'chunk', jobId: 'j1', text: 'a' }, false],
    ['chunk of 0 tokens', { type: 'chunk', jobId: 'j1', text: 'a', tokens: 0 }, false],
    ['done', done, true],
    ['done cancelled', { ...done, finishReason: 'cancelled' }, true],
    ['done with an unknown finish reason', { ...done, finishReason: 'tired' }, false],
    ['done with negative usage', { ...done, usage: { promptTokens: -1, completionTokens: 5 } }, false],
    ['done without usage', { ...done, usage: undefined }, false],
    ['job_error', { type: 'job_error', jobId: 'j1', code: 'busy', message: 'x' }, true],
    ['job_error without code', { type: 'job_error', jobId: 'j1', code: '', message: 'x' }, false],
    ['pong', { type: 'pong' }, true],
    ['unloaded', { type: 'unloaded', requestId: 3 }, true],
    ['garbage', { type: 'loaded' }, false],
  ];
  for (const [name, raw, ok] of cases) {
    assert.equal(parseWorkerEvent(raw).ok, ok, name);
  }
});

test('a refused message says which field is wrong', () => {
  const res = parseWorkerRequest({ ...load, contextSize: 'big' });
  assert.equal(res.ok, false);
  assert.match(res.ok ? '' : res.error, /contextSize/);
});

test('jobIdOf finds a usable job id in an invalid message, and only then', () => {
  const cases: Array<[unknown, string | null]> = [
    [{ type: 'generate', jobId: 'abc', maxTokens: -1 }, 'abc'],
    [{ type: 'generate', jobId: 42 }, null],
    [{ type: 'generate', jobId: '' }, null],
    ['abc', null],
    [null, null],
  ];
  for (const [raw, expected] of cases) assert.equal(jobIdOf(raw), expected);
});

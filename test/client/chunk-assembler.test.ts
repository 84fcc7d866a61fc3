import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkAssembler } from '../../agent/client/chunk-assembler.js';
import { parseJobReply } from '../../agent/client/job-reply.js';

describe('chunk assembler', () => {
  const cases: { name: string; arrivals: [number, string][]; delivered: number[][]; final: string; tail: string; gaps: number; duplicates: number }[] = [
    { name: 'in order', arrivals: [[0, 'a'], [1, 'b'], [2, 'c']], delivered: [[0], [1], [2]], final: 'abc', tail: '', gaps: 0, duplicates: 0 },
    { name: 'out of order: held back until the gap fills', arrivals: [[2, 'c'], [0, 'a'], [1, 'b'], [3, 'd']], delivered: [[], [0], [1, 2], [3]], final: 'abcd', tail: '', gaps: 0, duplicates: 0 },
    { name: 'duplicates dropped (delivered and buffered)', arrivals: [[0, 'a'], [0, 'a'], [2, 'c'], [2, 'c'], [1, 'b']], delivered: [[0], [], [], [], [1, 2]], final: 'abc', tail: '', gaps: 0, duplicates: 2 },
    { name: 'a gap never filled: done supplies the rest', arrivals: [[0, 'a'], [2, 'c']], delivered: [[0], []], final: 'abcd', tail: 'bcd', gaps: 1, duplicates: 0 },
    { name: 'lost tail: done supplies it', arrivals: [[0, 'a']], delivered: [[0]], final: 'abc', tail: 'bc', gaps: 0, duplicates: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = new ChunkAssembler();
      const got = c.arrivals.map(([seq, text]) => a.push(seq, text).map((x) => x.seq));
      assert.deepEqual(got, c.delivered);
      assert.equal(a.duplicateCount, c.duplicates);
      const fin = a.finish(c.final);
      assert.equal(fin.tail, c.tail);
      assert.equal(fin.gaps, c.gaps);
      assert.equal(fin.mismatch, false);
    });
  }

  it('reports the missing seqs while a gap is open, and a final text that does not match', () => {
    const a = new ChunkAssembler();
    a.push(0, 'x');
    a.push(3, 'w');
    assert.deepEqual(a.missing, [1, 2]);
    assert.deepEqual(a.finish('zzz'), { tail: '', gaps: 2, mismatch: true });
  });
});

describe('job replies', () => {
  const cases: { payload: unknown; want: unknown }[] = [
    { payload: { type: 'accepted', job_id: 'j', node: 'h', queue_position: 2 }, want: { type: 'accepted', jobId: 'j', node: 'h', queuePosition: 2 } },
    { payload: { type: 'rejected', job_id: 'j', node: 'h', reason: 'busy' }, want: { type: 'rejected', jobId: 'j', node: 'h', reason: 'busy', message: '' } },
    { payload: { type: 'chunk', job_id: 'j', node: 'h', seq: 0, text: 'hi' }, want: { type: 'chunk', jobId: 'j', node: 'h', seq: 0, text: 'hi' } },
    {
      payload: { type: 'done', job_id: 'j', node: 'h', text: 'hi', finish_reason: 'length', usage: { prompt_tokens: 1, completion_tokens: 2 }, timing: { queue_ms: 3, ttft_ms: 4, total_ms: 5 }, energy_j: 6 },
      want: { type: 'done', jobId: 'j', node: 'h', text: 'hi', finishReason: 'length', usage: { promptTokens: 1, completionTokens: 2 }, timing: { queueMs: 3, ttftMs: 4, totalMs: 5 }, energyJ: 6 },
    },
    { payload: { type: 'error', job_id: 'j', node: 'h', code: 'expired', message: 'm' }, want: { type: 'error', jobId: 'j', node: 'h', code: 'expired', message: 'm' } },
    { payload: { type: 'chunk', job_id: 'j', node: 'h', seq: -1, text: 'x' }, want: 'chunk without a valid seq' },
    { payload: { type: 'accepted', node: 'h' }, want: 'no job_id' },
    { payload: { type: 'accepted', job_id: 'j' }, want: 'no node' },
    { payload: { type: 'progress', job_id: 'j', node: 'h' }, want: 'unknown type "progress"' },
    { payload: [1], want: 'not a JSON object' },
  ];
  for (const c of cases) {
    it(`parses ${JSON.stringify(c.payload).slice(0, 60)}`, () => {
      assert.deepEqual(parseJobReply(JSON.stringify(c.payload)), c.want);
    });
  }
  it('rejects what is not JSON', () => assert.equal(parseJobReply('{'), 'not JSON'));
});

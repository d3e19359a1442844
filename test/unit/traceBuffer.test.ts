import { describe, expect, it } from 'vitest';
import { TraceBuffer } from '../../src/runner/traceBuffer.ts';
import type { RunnerClient } from '../../src/runner/client.ts';
import type { TraceEvent } from '../../src/runner/drivers/types.ts';

/** A client whose uploads are answered when the test says so. */
function slowClient() {
  const batches: TraceEvent[][] = [];
  const answers: (() => void)[] = [];
  const client = {
    events: (_job: number, _attempt: number, events: TraceEvent[]) => {
      batches.push(events);
      return new Promise<void>((resolve) => answers.push(resolve));
    },
  } as unknown as RunnerClient;
  return { client, batches, answer: () => answers.shift()!() };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const step = (command: string): TraceEvent => ({ kind: 'command', data: { command, exit_code: 0, output: '' } }) as TraceEvent;
const log = (text: string): TraceEvent => ({ kind: 'log', data: { stream: 'stdout', text } }) as TraceEvent;

describe('trace buffer', () => {
  it('sends a step at once when nothing is uploading, and the steps of an upload\'s round trip together right after it', async () => {
    const { client, batches, answer } = slowClient();
    const trace = new TraceBuffer(client, 1, 1, (t) => t);
    trace.push(step('one'));
    await tick();
    expect(batches.map((b) => b.map((e) => (e.data as { command?: string }).command))).toEqual([['one']]);
    trace.push(step('two'));
    trace.push(log('output of two\n'));
    trace.push(step('three'));
    await tick();
    expect(batches).toHaveLength(1); // waiting for the first upload's answer
    answer();
    await tick();
    await tick();
    expect(batches).toHaveLength(2);
    expect(batches[1]!.map((e) => e.kind)).toEqual(['command', 'log', 'command']);
    answer();
    await trace.flush();
  });

  it('batches output: after a quiet spell the first line goes, the next ones wait for the batch, merged', async () => {
    const { client, batches, answer } = slowClient();
    const trace = new TraceBuffer(client, 1, 1, (t) => t);
    trace.push(log('a\n'));
    await tick();
    expect(batches).toHaveLength(1);
    answer();
    trace.push(log('b\n'));
    trace.push(log('c\n'));
    await tick();
    expect(batches).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(batches[1]).toEqual([{ kind: 'log', data: { stream: 'stdout', text: 'b\nc\n' } }]);
    answer();
    await trace.flush();
  });
});

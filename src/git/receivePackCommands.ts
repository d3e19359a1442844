import { PassThrough, type Readable } from 'node:stream';

/**
 * The ref updates at the head of a `git-receive-pack` request body, read before git sees it (branch
 * protection decides what the pre-receive hook refuses from them). The request is pkt-lines —
 * `shallow <oid>` lines, then `<old> <new> <ref>` commands (the first with `\0<capabilities>`),
 * possibly wrapped in a `push-cert`, then a flush packet — followed by the pack. The bytes read are
 * handed on unchanged in the returned stream.
 */

export interface ReceivePackCommand {
  before: string;
  after: string;
  ref: string;
}

const COMMAND = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) ([^\0\n ]+)/;

/** Parses the command section of `buf`: the commands, or 'incomplete' (more bytes needed), or null (malformed). */
export function parseReceivePackCommands(buf: Buffer): ReceivePackCommand[] | 'incomplete' | null {
  const commands: ReceivePackCommand[] = [];
  let at = 0;
  for (;;) {
    if (buf.length < at + 4) return 'incomplete';
    const lenHex = buf.toString('latin1', at, at + 4);
    if (!/^[0-9a-f]{4}$/i.test(lenHex)) return null;
    const len = parseInt(lenHex, 16);
    if (len === 0) return commands; // flush: the command list ends
    if (len < 4) return null;
    if (buf.length < at + len) return 'incomplete';
    const line = buf.toString('latin1', at + 4, at + len);
    const m = COMMAND.exec(line);
    if (m) commands.push({ before: m[1]!, after: m[2]!, ref: m[3]! });
    at += len;
  }
}

/**
 * Reads `source` until the command section is complete (at most `limit` bytes), then returns the
 * commands (null when they could not be read) and a stream replaying everything from the first byte.
 */
export function peekReceivePackCommands(source: Readable, limit = 1 << 20): Promise<{ commands: ReceivePackCommand[] | null; stream: Readable }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let ended = false;
    const finish = (commands: ReceivePackCommand[] | null) => {
      if (done) return;
      done = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      const out = new PassThrough();
      out.write(Buffer.concat(chunks));
      if (ended) out.end();
      else {
        source.on('error', (err) => out.destroy(err));
        source.pipe(out);
      }
      resolve({ commands, stream: out });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const parsed = parseReceivePackCommands(Buffer.concat(chunks));
      if (parsed === 'incomplete') {
        if (size > limit) finish(null);
        return;
      }
      source.pause();
      finish(parsed);
    };
    const onEnd = () => {
      ended = true;
      const parsed = parseReceivePackCommands(Buffer.concat(chunks));
      finish(parsed === 'incomplete' ? null : parsed);
    };
    const onError = () => {
      ended = true;
      finish(null);
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
  });
}

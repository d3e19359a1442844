import { spawn, type ChildProcess } from 'node:child_process';
import { gitEnvironment } from './exec.ts';

export type GitService = 'git-upload-pack' | 'git-receive-pack';

export function parseGitService(value: string | undefined | null): GitService | null {
  return value === 'git-upload-pack' || value === 'git-receive-pack' ? value : null;
}

/** Only a strictly shaped Git-Protocol header is passed on (as GIT_PROTOCOL); it enables protocol v2. */
const GIT_PROTOCOL = /^[0-9a-zA-Z]+=[0-9a-zA-Z]+(:[0-9a-zA-Z]+=[0-9a-zA-Z]+)*$/;

export function safeGitProtocol(header: string | undefined | null): string | null {
  return header && header.length <= 256 && GIT_PROTOCOL.test(header) ? header : null;
}

export interface SpawnServiceOptions {
  gitDir: string;
  service: GitService;
  advertise: boolean;
  gitProtocol: string | null;
  hooksDir?: string;
  env?: Record<string, string>;
}

/** Starts `git upload-pack|receive-pack --stateless-rpc [--advertise-refs] <dir>` with a clean environment. */
export function spawnGitService(opts: SpawnServiceOptions): ChildProcess {
  const args: string[] = [];
  if (opts.hooksDir) args.push('-c', `core.hooksPath=${opts.hooksDir}`);
  args.push(opts.service.slice('git-'.length), '--stateless-rpc');
  if (opts.advertise) args.push('--advertise-refs');
  args.push(opts.gitDir);
  const env: Record<string, string> = { ...opts.env };
  if (opts.gitProtocol) env.GIT_PROTOCOL = opts.gitProtocol;
  return spawn('git', args, { env: gitEnvironment(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** pkt-line framing: 4 hex digits of length (including themselves) followed by the payload. */
export function pktLine(payload: string): string {
  return (payload.length + 4).toString(16).padStart(4, '0') + payload;
}

export const PKT_FLUSH = '0000';

/** Parses post-receive stdin lines ("<old> <new> <ref>"). */
export function parsePostReceiveLines(text: string): { before: string; after: string; ref: string }[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((parts): parts is [string, string, string] => parts.length === 3 && /^[0-9a-f]{40}$/.test(parts[0]!) && /^[0-9a-f]{40}$/.test(parts[1]!))
    .map(([before, after, ref]) => ({ before, after, ref }));
}

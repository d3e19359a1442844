import { api, type TestServer, type TestUser } from './server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from './git.ts';

/** A prompt the scripted driver executes: free text, then a ```gitoku-script block. */
export function scriptPrompt(body: string, preamble = 'Do the task.'): string {
  return `${preamble}\n\n\`\`\`gitoku-script\n${body}\n\`\`\`\n`;
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PushedRepo {
  /** The working copy (remove it after the tests). */
  work: { path: string; remove(): Promise<void> };
  /** The push URL with the owner's token in it. */
  remote: string;
}

/** Creates owner/name through the API and pushes `files` as its first commit on main. */
export async function createPushedRepo(server: TestServer, owner: TestUser, name: string, files: Record<string, string>, opts: { private?: boolean } = {}): Promise<PushedRepo> {
  const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name, private: opts.private ?? false } });
  if (created.status !== 201) throw new Error(`creating ${name}: ${created.status} ${created.text}`);
  const work = await tempDir();
  await initWorkRepo(work.path, files);
  const remote = authUrl(server.url, `${owner.username}/${name}.git`, owner.username, owner.token);
  await gitOk(work.path, ['push', '-q', remote, 'main']);
  return { work, remote };
}

export interface FinishedRun {
  id: number;
  number: number;
  status: string;
  title: string;
  prompt: string;
  model: string;
  commit_sha: string;
  compare_branch: string;
  pull_request: { number: number } | null;
  /** 'warm' (booted from a snapshot) or 'cold'; null before the workspace was prepared. */
  workspace_start: 'warm' | 'cold' | null;
}

/** Starts a run of the scripted agent on owner/name and waits until it has finished. */
export async function runScripted(server: TestServer, owner: TestUser, repo: string, prompt: string, extra: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<FinishedRun> {
  const res = await api(server, 'POST', `/repos/${repo}/runs`, { token: owner.token, body: { prompt, ...extra } });
  if (res.status !== 201) throw new Error(`starting a run: ${res.status} ${res.text}`);
  return waitForRun(server, owner, repo, res.json.number, timeoutMs);
}

/** Waits until run `number` of `repo` has ended (succeeded, failed or cancelled) and returns it. */
export function waitForRun(server: TestServer, owner: TestUser, repo: string, number: number, timeoutMs = 30_000): Promise<FinishedRun> {
  return waitFor(async () => {
    const r = await api(server, 'GET', `/repos/${repo}/runs/${number}`, { token: owner.token });
    return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? (r.json as FinishedRun) : null;
  }, timeoutMs);
}

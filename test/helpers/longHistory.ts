import { spawn } from 'node:child_process';
import { gitClientEnv, gitOk } from './git.ts';

/**
 * A bare repository at `gitDir` with `commits` commits on main (plus a side branch and a tag every
 * 1,000 commits), written in one `git fast-import` stream in a second or two. Each commit changes one
 * small file among 50 in 5 directories, so the history is long but light: the benchmark fixture
 * (bench/fixtures.ts) has realistic, much larger files, which makes a clone cost about a second of CPU
 * on the client alone — too much for tests that clone it fifty times at once.
 */
export async function importLongHistory(gitDir: string, commits: number): Promise<void> {
  await gitOk('/', ['init', '-q', '--bare', '--initial-branch=main', gitDir]);
  const child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--done'], { env: gitClientEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const when = Date.UTC(2020, 0, 1) / 1000;
  let chunk = '';
  const write = async (s: string) => {
    chunk += s;
    if (chunk.length < 1 << 20) return;
    const out = chunk;
    chunk = '';
    if (!child.stdin.write(out)) await new Promise<void>((resolve) => child.stdin.once('drain', resolve));
  };
  for (let i = 1; i <= commits; i++) {
    const path = `dir-${i % 5}/file-${i % 50}.txt`;
    await write(
      `commit refs/heads/main\nmark :${i}\ncommitter Test Author <author@example.com> ${when + i * 60} +0000\n${data(`Commit ${i}\n`)}` +
        (i > 1 ? `from :${i - 1}\n` : '') +
        `M 100644 inline ${path}\n${data(`${path} as of commit ${i}\n`.repeat(3))}`,
    );
    if (i % 1000 === 0) await write(`reset refs/tags/v${i / 1000}\nfrom :${i}\n\n`);
  }
  const side = Math.floor(commits / 2);
  await write(`commit refs/heads/side\ncommitter Test Author <author@example.com> ${when + commits * 60} +0000\n${data('Side branch\n')}from :${side}\nM 100644 inline side.txt\n${data('side\n')}`);
  await write('done\n');
  child.stdin.end(chunk);
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`);
}

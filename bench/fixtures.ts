/**
 * Benchmark fixtures. `benchRepository` builds (once, cached under os.tmpdir()/gitoku-bench-cache,
 * keyed by its parameters) a bare repository with thousands of commits of realistic, evolving
 * source files, written in a single `git fast-import` stream.
 */
import { spawn } from 'node:child_process';
import { access, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gitClientEnv } from '../test/helpers/git.ts';
import { cacheDir, run } from './lib.ts';

export interface RepoParams {
  /** Commits on the main branch. */
  commits: number;
  /** Files at the end of history (the repository starts with a third of them and grows). */
  files: number;
  /** Side branches (each a handful of commits forked from main at some point). */
  branches: number;
  /** A tag every this many main commits. */
  tagEvery: number;
  seed: number;
}

export const DEFAULT_REPO: RepoParams = { commits: 5000, files: 300, branches: 12, tagEvery: 250, seed: 1 };

export interface BenchRepo {
  /** Path of the cached bare repository (treat it as read-only). */
  path: string;
  params: RepoParams;
  commitCount: number;
  refCount: number;
  packBytes: number;
  /** Whether this call built it (false: taken from the cache). */
  built: boolean;
  buildMs: number;
}

/** Bump when the generator changes, so stale caches are not reused. */
const GENERATOR_VERSION = 3;
const READY = 'gitoku-bench-ready';

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'const let return if else for while await async function export import from interface type class new this ' +
  'repository commit branch tree blob pull request review merge push fetch clone token user session owner ' +
  'config database query insert update select where limit offset order by transaction lease runner job queue ' +
  'event graph node edge payload status error result value key name path line span model agent prompt sha ref ' +
  'string number boolean null undefined true false Promise Map Set Array Buffer length index count total items'
).split(' ');

const AUTHORS = [
  ['Ada Lovelace', 'ada@example.com'],
  ['Grace Hopper', 'grace@example.com'],
  ['Linus Torvalds', 'linus@example.com'],
  ['Margaret Hamilton', 'margaret@example.com'],
  ['Ken Thompson', 'ken@example.com'],
  ['Barbara Liskov', 'barbara@example.com'],
] as const;

class ContentGen {
  constructor(readonly rnd: () => number) {}

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  line(): string {
    const indent = '  '.repeat(this.int(0, 3));
    const n = this.int(2, 10);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(this.pick(WORDS));
    const end = this.pick([';', ' {', '', ',', ');', ' }']);
    return `${indent}${words.join(' ')}${end}`;
  }

  file(): string[] {
    const lines: string[] = [];
    const n = this.int(40, 220);
    for (let i = 0; i < n; i++) lines.push(this.line());
    return lines;
  }

  /** Edits a file in place the way people do: replace, insert and delete a few nearby lines. */
  edit(lines: string[]): void {
    const hunks = this.int(1, 3);
    for (let h = 0; h < hunks; h++) {
      const at = this.int(0, Math.max(0, lines.length - 1));
      const kind = this.rnd();
      if (kind < 0.5) {
        const count = this.int(1, 4);
        for (let i = 0; i < count && at + i < lines.length; i++) lines[at + i] = this.line();
      } else if (kind < 0.85 || lines.length < 30) {
        const add: string[] = [];
        for (let i = this.int(1, 8); i > 0; i--) add.push(this.line());
        lines.splice(at, 0, ...add);
      } else {
        lines.splice(at, this.int(1, 5));
      }
    }
  }
}

/** Writes a fast-import stream for `params` into `write` (which returns false under backpressure). */
async function generate(params: RepoParams, write: (s: string) => Promise<void>): Promise<void> {
  const rnd = prng(params.seed);
  const gen = new ContentGen(rnd);
  const dirs = ['src', 'src/git', 'src/web', 'src/web/routes', 'src/services', 'src/db', 'src/domain', 'src/runner', 'src/cli', 'test/unit', 'test/integration', 'docs', 'scripts', 'lib/core', 'lib/util'];
  const files = new Map<string, string[]>();
  const paths: string[] = [];
  let fileCounter = 0;
  const newPath = () => {
    const dir = gen.pick(dirs);
    const ext = dir === 'docs' ? 'md' : dir === 'scripts' ? 'sh' : 'ts';
    return `${dir}/${gen.pick(WORDS)}-${++fileCounter}.${ext}`;
  };
  const addFile = () => {
    const p = newPath();
    files.set(p, gen.file());
    paths.push(p);
    return p;
  };
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  let when = Date.UTC(2019, 0, 1) / 1000;
  let mark = 0;
  const markOfMain: number[] = [];

  const commit = async (ref: string, message: string, changed: Map<string, string[] | null>, from?: number): Promise<number> => {
    const [name, email] = gen.pick(AUTHORS);
    when += gen.int(600, 6 * 3600);
    const id = ++mark;
    let s = `commit ${ref}\nmark :${id}\nauthor ${name} <${email}> ${when} +0000\ncommitter ${name} <${email}> ${when} +0000\n${data(message)}`;
    if (from !== undefined) s += `from :${from}\n`;
    for (const [path, content] of changed) {
      s += content === null ? `D ${path}\n` : `M 100644 inline ${path}\n${data(content.join('\n') + '\n')}`;
    }
    await write(s);
    return id;
  };

  const initial = Math.max(1, Math.floor(params.files / 3));
  const branchAt = new Set<number>();
  for (let b = 0; b < params.branches; b++) branchAt.add(Math.floor(((b + 1) * params.commits) / (params.branches + 1)));

  for (let i = 0; i < params.commits; i++) {
    const changed = new Map<string, string[] | null>();
    if (i === 0) {
      for (let f = 0; f < initial; f++) {
        const p = addFile();
        changed.set(p, files.get(p)!);
      }
    } else {
      // Grow towards `files`, occasionally delete one, and edit a few existing files.
      if (paths.length < params.files && gen.rnd() < ((params.files - initial) * 1.2) / params.commits) {
        const p = addFile();
        changed.set(p, files.get(p)!);
      }
      if (paths.length > initial && gen.rnd() < 0.01) {
        const idx = gen.int(0, paths.length - 1);
        const [p] = paths.splice(idx, 1);
        files.delete(p!);
        changed.set(p!, null);
      }
      const edits = gen.rnd() < 0.1 ? gen.int(5, 15) : gen.int(1, 4);
      for (let e = 0; e < edits; e++) {
        const p = gen.pick(paths);
        if (changed.has(p)) continue;
        gen.edit(files.get(p)!);
        changed.set(p, files.get(p)!);
      }
    }
    const message = `${gen.pick(['Fix', 'Add', 'Refactor', 'Update', 'Remove', 'Improve', 'Document'])} ${gen.pick(WORDS)} ${gen.pick(WORDS)} handling\n\n${gen.line().trim()}\n`;
    markOfMain.push(await commit('refs/heads/main', message, changed, i === 0 ? undefined : markOfMain[i - 1]));
    if ((i + 1) % params.tagEvery === 0) {
      const [name, email] = gen.pick(AUTHORS);
      await write(`tag v0.${(i + 1) / params.tagEvery}.0\nfrom :${markOfMain[i]}\ntagger ${name} <${email}> ${when} +0000\n${data(`Release v0.${(i + 1) / params.tagEvery}.0\n`)}`);
    }
    if (branchAt.has(i)) {
      // A side branch: a few commits on copies of the current files, main's state untouched.
      const ref = `refs/heads/feature/${gen.pick(WORDS)}-${i}`;
      const local = new Map<string, string[]>();
      let parent = markOfMain[i]!;
      for (let c = gen.int(3, 12); c > 0; c--) {
        const ch = new Map<string, string[] | null>();
        for (let e = gen.int(1, 3); e > 0; e--) {
          const p = gen.pick(paths);
          const lines = local.get(p) ?? [...files.get(p)!];
          gen.edit(lines);
          local.set(p, lines);
          ch.set(p, lines);
        }
        parent = await commit(ref, `WIP ${gen.pick(WORDS)} ${gen.pick(WORDS)}\n`, ch, parent);
      }
    }
  }
  await write('done\n');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function describe(path: string, params: RepoParams, built: boolean, buildMs: number): Promise<BenchRepo> {
  const env = gitClientEnv();
  const commitCount = Number((await run('git', ['--git-dir', path, 'rev-list', '--all', '--count'], { env })).stdout.trim());
  const refCount = (await run('git', ['--git-dir', path, 'for-each-ref', '--format=%(refname)'], { env })).stdout.split('\n').filter(Boolean).length;
  let packBytes = 0;
  const packDir = join(path, 'objects', 'pack');
  for (const f of await readdir(packDir)) if (f.endsWith('.pack')) packBytes += (await stat(join(packDir, f))).size;
  return { path, params, commitCount, refCount, packBytes, built, buildMs };
}

/** The cached benchmark repository for `params`, built on first use. */
export async function benchRepository(params: RepoParams = DEFAULT_REPO): Promise<BenchRepo> {
  const path = `${await cacheDir('repo', { ...params, v: GENERATOR_VERSION })}.git`;
  if (await exists(join(path, READY))) return describe(path, params, false, 0);

  const start = performance.now();
  const building = `${path}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  const env = gitClientEnv();
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', building], { env });
  const child = spawn('git', ['--git-dir', building, 'fast-import', '--quiet', '--done'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  // Batch small writes into ~1 MiB chunks and honour backpressure.
  let buffer: string[] = [];
  let buffered = 0;
  const flush = async () => {
    if (buffered === 0) return;
    const chunk = buffer.join('');
    buffer = [];
    buffered = 0;
    if (!child.stdin.write(chunk)) await new Promise<void>((resolve) => child.stdin.once('drain', resolve));
  };
  await generate(params, async (s) => {
    buffer.push(s);
    buffered += s.length;
    if (buffered >= 1 << 20) await flush();
  });
  await flush();
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`);
  // fast-import deltifies each blob only against the previously written blob (usually another file), so
  // recompute deltas: one pack with real deltas, bitmaps and packed refs, like a gc'ed server repository.
  await run('git', ['--git-dir', building, 'repack', '-a', '-d', '-f', '-q', '--write-bitmap-index'], { env });
  await run('git', ['--git-dir', building, 'pack-refs', '--all'], { env });
  await writeFile(join(building, READY), `${JSON.stringify(params)}\n`);
  await rm(path, { recursive: true, force: true });
  await rename(building, path);
  return describe(path, params, true, performance.now() - start);
}

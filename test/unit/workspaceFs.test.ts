import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { link, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confinedComponents, deleteConfinedFile, listConfinedTree, readConfinedFile, statConfined, WorkspacePathError, writeConfinedFile } from '../../src/runner/workspaceFs.ts';

/** A workspace whose agent planted links out of it, and a "host" file beside it that must never change. */
let base: string;
let root: string;
let host: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'gitoku-wsfs-'));
  root = join(base, 'work');
  host = join(base, 'host');
  await mkdir(join(root, 'src'), { recursive: true });
  await mkdir(host);
  await writeFile(join(host, 'post-receive'), 'original hook\n');
  await writeFile(join(root, 'src', 'a.txt'), 'a\n');
  await symlink(join(host, 'post-receive'), join(root, 'file-link'));
  await symlink(host, join(root, 'dir-link'));
  await symlink(join(root, 'src'), join(root, 'inner-link'));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const hostFile = () => readFile(join(host, 'post-receive'), 'utf8');

describe('confined workspace file operations', () => {
  it('checks paths: relative, inside, not .git', () => {
    expect(confinedComponents(root, 'src/a.txt')).toEqual(['src', 'a.txt']);
    expect(confinedComponents(root, './src//b/../c')).toEqual(['src', 'c']);
    expect(confinedComponents(root, `${root}/src/b`)).toEqual(['src', 'b']);
    expect(confinedComponents(root, '.', { allowRoot: true })).toEqual([]);
    expect(confinedComponents(root, '.git/objects/info/alternates', { allowGit: true })).toEqual(['.git', 'objects', 'info', 'alternates']);
    for (const bad of ['../x', 'src/../../x', '/etc/passwd', '.git/config', '.', 'a\0b', 42]) {
      expect(() => confinedComponents(root, bad as string), String(bad)).toThrow(WorkspacePathError);
    }
  });

  it('writes, appends, reads, lists and deletes inside the tree', async () => {
    await writeConfinedFile(root, 'new/dir/file.txt', 'one\n');
    await writeConfinedFile(root, 'new/dir/file.txt', 'two\n', { append: true });
    expect((await readConfinedFile(root, 'new/dir/file.txt'))?.toString()).toBe('one\ntwo\n');
    expect(await readConfinedFile(root, 'missing.txt')).toBeNull();
    expect(await readConfinedFile(root, 'nope/missing.txt')).toBeNull();
    expect(await statConfined(root, 'new/dir')).toBe('directory');
    expect(await statConfined(root, 'file-link')).toBe('symlink');
    const { entries } = await listConfinedTree(root, '.', 100);
    expect(entries).toEqual(['dir-link@', 'file-link@', 'inner-link@', 'new/', 'new/dir/', 'new/dir/file.txt', 'src/', 'src/a.txt']);
    expect(await deleteConfinedFile(root, 'new/dir/file.txt')).toBe(true);
    expect(await deleteConfinedFile(root, 'new/dir/file.txt')).toBe(false);
    await expect(deleteConfinedFile(root, 'new/dir')).rejects.toThrow(/is a directory/);
  });

  it('keeps the mode of a file it rewrites', async () => {
    await writeFile(join(root, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await writeConfinedFile(root, 'run.sh', 'echo hi\n', { append: true });
    expect((await lstat(join(root, 'run.sh'))).mode & 0o777).toBe(0o755);
  });

  it('never writes through a link the agent planted (file, directory, inner)', async () => {
    // A file link is replaced by a regular file; the host file keeps its content.
    await writeConfinedFile(root, 'file-link', 'pwned\n');
    expect(await hostFile()).toBe('original hook\n');
    expect((await lstat(join(root, 'file-link'))).isFile()).toBe(true);
    await symlink(join(host, 'post-receive'), join(root, 'again'));
    await writeConfinedFile(root, 'again', 'pwned\n', { append: true });
    expect(await hostFile()).toBe('original hook\n');
    // A directory link anywhere in the path is refused.
    await expect(writeConfinedFile(root, 'dir-link/post-receive', 'pwned\n')).rejects.toThrow(/symbolic link/);
    await expect(writeConfinedFile(root, 'dir-link/new-hook', 'pwned\n')).rejects.toThrow(/symbolic link/);
    await expect(writeConfinedFile(root, 'inner-link/b.txt', 'x')).rejects.toThrow(/symbolic link/);
    expect(await hostFile()).toBe('original hook\n');
    expect(execFileSync('ls', [host]).toString().trim()).toBe('post-receive');
  });

  it('never reads or deletes through a link', async () => {
    await expect(readConfinedFile(root, 'file-link')).rejects.toThrow(/symbolic link/);
    await expect(readConfinedFile(root, 'dir-link/post-receive')).rejects.toThrow(/symbolic link/);
    await expect(deleteConfinedFile(root, 'dir-link/post-receive')).rejects.toThrow(/symbolic link/);
    // Deleting a link removes the link, not its target.
    expect(await deleteConfinedFile(root, 'file-link')).toBe(true);
    expect(await hostFile()).toBe('original hook\n');
    await expect(listConfinedTree(root, 'dir-link', 10)).rejects.toThrow(/symbolic link/);
  });

  it('does not write through a hard link either', async () => {
    await link(join(host, 'post-receive'), join(root, 'hard'));
    await writeConfinedFile(root, 'hard', 'pwned\n');
    expect(await hostFile()).toBe('original hook\n');
  });

  it('refuses a root that was swapped for a link, and a FIFO', async () => {
    await rm(root, { recursive: true });
    await symlink(host, root);
    await expect(writeConfinedFile(root, 'post-receive', 'pwned\n')).rejects.toThrow(/symbolic link/);
    await expect(readConfinedFile(root, 'post-receive')).rejects.toThrow(/symbolic link/);
    expect(await hostFile()).toBe('original hook\n');
    await rm(root);
    await mkdir(root);
    execFileSync('mkfifo', [join(root, 'fifo')]);
    await expect(readConfinedFile(root, 'fifo')).rejects.toThrow(/not a regular file/);
  });

  it('wins the race: a directory swapped for a link by another process while writes walk it', async () => {
    // Another process swaps src/ for a link to the host directory and back, as fast as it can.
    const swapper = spawn('/bin/sh', ['-c', 'cd "$1" && i=0; while [ $i -lt 3000 ]; do mv src src.d && ln -s "$2" src && rm src && mv src.d src; i=$((i+1)); done', 'swap', root, host], { stdio: 'ignore' });
    const done = new Promise((r) => swapper.on('close', r));
    let written = 0;
    let refused = 0;
    for (let i = 0; i < 2000 && swapper.exitCode === null; i++) {
      await writeConfinedFile(root, `src/x${i}.txt`, 'pwned\n').then(
        () => written++,
        () => refused++,
      );
    }
    await done;
    expect(execFileSync('ls', [host]).toString().trim()).toBe('post-receive');
    expect(await hostFile()).toBe('original hook\n');
    expect(written + refused).toBeGreaterThan(0);
  });
});

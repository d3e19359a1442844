import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { retrieveMemory } from '../../src/services/memoryRetrieval.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';

const X_JS = ['function parse(text) {', '  return text.split(",");', '}', '', 'module.exports = { parse };', ''].join('\n');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.each(testDialects())('semantic memory on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reader: TestUser;
  let stranger: TestUser;
  let runner: JobRunner;
  let repo: PushedRepo;
  let secret: PushedRepo;
  const R = () => `${owner.username}/mem`;
  const path = (p: string) => `/repos/${R()}${p}`;

  async function push(file: string, content: string, message: string): Promise<string> {
    await writeFile(join(repo.work.path, file), content);
    await gitOk(repo.work.path, ['commit', '-qam', message]);
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'main']);
    return (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    reader = await createTestUser(server);
    stranger = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'mem', { 'lib/x.js': X_JS, 'README.md': '# Mem\n' });
    secret = await createPushedRepo(server, owner, 'secret', { 'a.txt': 'one\ntwo\n' }, { private: true });
    const collab = await api(server, 'PUT', `/repos/${R()}/collaborators/${reader.username}`, { token: owner.token, body: { permission: 'pull' } });
    expect(collab.status, collab.text).toBeLessThan(300);
    runner = await startInProcessRunner(server);
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await secret?.work.remove();
    await server?.close();
  });

  it('adds, lists, searches, edits, pins and deletes entries through the API, citations hashed by the server', async () => {
    const head = (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
    const created = await api(server, 'POST', path('/memory'), {
      token: owner.token,
      body: { kind: 'convention', subject: 'Parser returns', fact: 'parse() returns an <b>array</b> of strings', reason: 'callers index it', citations: [{ path: 'lib/x.js', start_line: 1, end_line: 3 }] },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({
      kind: 'convention',
      subject: 'Parser returns',
      fact: 'parse() returns an <b>array</b> of strings',
      status: 'live',
      pinned: false,
      contradiction: false,
      source: { type: 'person', id: owner.id, label: `@${owner.username}` },
      scope: { agent: null, paths: [] },
      citations: [{ path: 'lib/x.js', start_line: 1, end_line: 3, commit: head, content_hash: sha256(X_JS.split('\n').slice(0, 3).join('\n')) }],
      contradicts: [],
    });
    const id = created.json.id as number;
    // Expires 28 days after it was written.
    expect(Date.parse(created.json.expires_at) - Date.parse(created.json.created_at)).toBeGreaterThan(27.9 * 86_400_000);

    const list = await api(server, 'GET', path('/memory?q=array&kind=convention'));
    expect(list.status).toBe(200);
    expect(list.json.map((e: { id: number }) => e.id)).toContain(id);
    expect((await api(server, 'GET', path('/memory?q=nothing-matches-this'))).json).toEqual([]);
    expect((await api(server, 'GET', path('/memory?q=%25'))).json).toEqual([]);

    const patched = await api(server, 'PATCH', path(`/memory/${id}`), { token: owner.token, body: { fact: 'parse() returns an array', pinned: true } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toMatchObject({ fact: 'parse() returns an array', pinned: true });
    expect((await api(server, 'GET', path('/memory?pinned=true'))).json.map((e: { id: number }) => e.id)).toEqual([id]);

    // The graph: a convention node citing a file range.
    const node = await server.app.db.selectFrom('graph_nodes').selectAll().where('kind', '=', 'convention').where('key', '=', String(id)).executeTakeFirstOrThrow();
    const cites = await server.app.db.selectFrom('graph_edges').selectAll().where('src_id', '=', node.id).where('kind', '=', 'cites').execute();
    expect(cites).toHaveLength(1);

    expect((await api(server, 'DELETE', path(`/memory/${id}`), { token: owner.token })).status).toBe(204);
    expect((await api(server, 'GET', path(`/memory/${id}`))).status).toBe(404);
    expect(await server.app.db.selectFrom('graph_nodes').select('id').where('id', '=', node.id).executeTakeFirst()).toBeUndefined();
  });

  it('refuses bad input with 4xx and a message, and changes nothing', async () => {
    const count = async () => (await api(server, 'GET', path('/memory?status=all&per_page=100'))).json.length;
    const before = await count();
    const ok = { kind: 'claim', subject: 's', fact: 'f' };
    const cases: [unknown, number][] = [
      [{ ...ok, subject: '' }, 422],
      [{ ...ok, subject: '  ' }, 422],
      [{ ...ok, fact: '' }, 422],
      [{ ...ok, kind: 'rumour' }, 422],
      [{ ...ok, fact: 'x'.repeat(2001) }, 422],
      [{ ...ok, subject: 'x'.repeat(201) }, 422],
      [{ ...ok, confidence: 2 }, 422],
      [{ ...ok, citations: [{ path: '../etc/passwd', start_line: 1, end_line: 1 }] }, 422],
      [{ ...ok, citations: [{ path: '/etc/passwd', start_line: 1, end_line: 1 }] }, 422],
      [{ ...ok, citations: [{ path: 'lib/missing.js', start_line: 1, end_line: 1 }] }, 422],
      [{ ...ok, citations: [{ path: 'lib/x.js', start_line: 4, end_line: 99 }] }, 422],
      [{ ...ok, citations: [{ path: 'lib/x.js', start_line: 3, end_line: 1 }] }, 422],
      [{ ...ok, citations: [{ path: 'lib/x.js', start_line: 1, end_line: 1, commit: '0'.repeat(40) }] }, 422],
      [{ ...ok, citations: [{ path: 'lib/x.js', start_line: 1, end_line: 1, commit: 'main; rm -rf /' }] }, 422],
      [{ ...ok, citations: [{ path: 'lib', start_line: 1, end_line: 1 }] }, 422],
      [{ ...ok, citations: Array.from({ length: 11 }, () => ({ path: 'lib/x.js', start_line: 1, end_line: 1 })) }, 422],
      [{ ...ok, citations: [{ path: 'lib/x.js', start_line: 1, end_line: 1 }], ref: 'no-such-branch' }, 422],
      [{ ...ok, scope: { paths: ['../x'] } }, 422],
      [{ ...ok, scope: { agent: 'not a key!' } }, 422],
      ['{not json', 400],
    ];
    for (const [body, status] of cases) {
      const res = await api(server, 'POST', path('/memory'), { token: owner.token, body });
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.json.message).toBeTruthy();
    }
    expect((await api(server, 'POST', path('/memory'), { body: ok })).status).toBe(401);
    expect((await api(server, 'POST', path('/memory'), { token: reader.token, body: ok })).status).toBe(403);
    expect((await api(server, 'PATCH', path('/memory/999999'), { token: owner.token, body: { fact: 'x' } })).status).toBe(404);
    expect((await api(server, 'DELETE', path('/memory/abc'), { token: owner.token })).status).toBe(404);
    expect((await api(server, 'GET', path('/memory?status=bogus'))).status).toBe(422);
    expect(await count()).toBe(before);
  });

  it("keeps a private repository's memory from anyone who cannot read it", async () => {
    const s = `/repos/${owner.username}/secret`;
    const created = await api(server, 'POST', `${s}/memory`, { token: owner.token, body: { kind: 'claim', subject: 'secret subject', fact: 'the hidden value is 42', citations: [{ path: 'a.txt', start_line: 1, end_line: 2 }] } });
    expect(created.status, created.text).toBe(201);
    for (const token of [undefined, stranger.token]) {
      for (const p of ['/memory', `/memory/${created.json.id}`, '/runs/1/memory']) {
        const res = await api(server, 'GET', `${s}${p}`, { token });
        expect(res.status, p).toBe(404);
        expect(res.text).not.toContain('hidden value');
      }
      expect((await api(server, 'PATCH', `${s}/memory/${created.json.id}`, { token, body: { fact: 'x' } })).status).toBeGreaterThanOrEqual(401);
      expect((await api(server, 'DELETE', `${s}/memory/${created.json.id}`, { token })).status).toBeGreaterThanOrEqual(401);
    }
    // Another repository's entry is not found through this repository's path either.
    expect((await api(server, 'GET', path(`/memory/${created.json.id}`))).status).toBe(404);
    expect((await api(server, 'GET', `${s}/memory`, { token: owner.token })).json).toHaveLength(1);
    // Nor is it ever given to runs of another repository (same words in the task).
    const run = await runScripted(server, owner, R(), scriptPrompt('say ok', 'Look at the secret subject: what is the hidden value?'));
    expect(run.status).toBe('succeeded');
    const full = await api(server, 'GET', path(`/runs/${run.number}`), { token: owner.token });
    expect(full.json.rendered_prompt).not.toContain('value is 42');
    expect((await api(server, 'GET', path(`/runs/${run.number}/memory`))).json.entries).toEqual([]);
  }, 180_000);

  it('flags contradictions (edge, both entries, outbox event) and resolves them', async () => {
    const a = await api(server, 'POST', path('/memory'), { token: owner.token, body: { kind: 'decision', subject: 'Quote style', fact: 'Use double quotes', citations: [{ path: 'lib/x.js', start_line: 2, end_line: 2 }] } });
    const same = await api(server, 'POST', path('/memory'), { token: owner.token, body: { kind: 'decision', subject: 'quote style.', fact: 'use double quotes' } });
    expect(same.json.id).toBe(a.json.id); // the same fact again renews the entry
    const b = await api(server, 'POST', path('/memory'), { token: owner.token, body: { kind: 'decision', subject: 'Quote Style', fact: 'Use single quotes' } });
    expect(b.status).toBe(201);
    expect(b.json.contradiction).toBe(true);
    expect(b.json.contradicts.map((e: { id: number }) => e.id)).toEqual([a.json.id]);
    expect((await api(server, 'GET', path(`/memory/${a.json.id}`))).json).toMatchObject({ contradiction: true, contradictions: [{ entry: { id: b.json.id }, resolved: null }] });
    const event = await server.app.db.selectFrom('graph_events').select(['payload']).where('type', '=', 'memory.contradiction').where('subject', '=', `memory/${b.json.id}`).executeTakeFirstOrThrow();
    expect(JSON.parse(event.payload)).toMatchObject({ entry_id: b.json.id, other_ids: [a.json.id], paths: ['lib/x.js'] });

    // Bad resolutions.
    expect((await api(server, 'POST', path(`/memory/${a.json.id}/resolve`), { token: owner.token, body: { other_id: a.json.id, resolution: 'keep_both' } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/memory/${a.json.id}/resolve`), { token: owner.token, body: { other_id: b.json.id, resolution: 'supersede', winner_id: 999999 } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/memory/${a.json.id}/resolve`), { token: reader.token, body: { other_id: b.json.id, resolution: 'keep_both' } })).status).toBe(403);

    const resolved = await api(server, 'POST', path(`/memory/${a.json.id}/resolve`), { token: owner.token, body: { other_id: b.json.id, resolution: 'supersede', winner_id: b.json.id } });
    expect(resolved.status, resolved.text).toBe(200);
    expect(resolved.json).toMatchObject({ status: 'superseded', contradiction: false });
    expect((await api(server, 'GET', path(`/memory/${b.json.id}`))).json).toMatchObject({ status: 'live', contradiction: false });
    const nodes = await server.app.db.selectFrom('graph_nodes').select(['id', 'key']).where('kind', '=', 'decision').where('key', 'in', [String(a.json.id), String(b.json.id)]).execute();
    const nodeOf = (id: number) => nodes.find((n) => n.key === String(id))!.id;
    expect(await server.app.db.selectFrom('graph_edges').select('id').where('kind', '=', 'supersedes').where('src_id', '=', nodeOf(b.json.id)).where('dst_id', '=', nodeOf(a.json.id)).executeTakeFirst()).toBeTruthy();
    await api(server, 'DELETE', path(`/memory/${a.json.id}`), { token: owner.token });
    await api(server, 'DELETE', path(`/memory/${b.json.id}`), { token: owner.token });
  });

  it('gives run 2 the failure run 1 recorded, with its citation; moved lines still count; changed lines make it stale', async () => {
    const task = 'Make the parser in lib/x.js accept semicolons as separators.';
    const run1 = await runScripted(server, owner, R(), scriptPrompt('think try splitting on both\nwrite lib/x.js\nfunction parse(text) { return text.split(/[,;]/) }\nend\nrun true\nfail the parser tests fail: quoted fields break', task));
    expect(run1.status).toBe('failed');
    const failures = await waitFor(async () => {
      const r = await api(server, 'GET', path('/memory?kind=failure'));
      return r.json.length ? r.json : null;
    });
    const failure = failures[0];
    expect(failure).toMatchObject({ kind: 'failure', source: { type: 'run', id: run1.number }, citations: [{ path: 'lib/x.js', start_line: 1 }] });
    expect(failure.fact).toContain('the parser tests fail: quoted fields break');
    expect(failure.fact).toContain('lib/x.js');
    expect(failure.reason).toContain('write lib/x.js');

    const run2 = await runScripted(server, owner, R(), scriptPrompt('say I will not split on semicolons blindly', task));
    expect(run2.status).toBe('succeeded');
    const full2 = (await api(server, 'GET', path(`/runs/${run2.number}`))).json;
    expect(full2.rendered_prompt).toContain('## What this repository remembers');
    expect(full2.rendered_prompt).toContain('the parser tests fail: quoted fields break');
    expect(full2.rendered_prompt).toMatch(/Cites: lib\/x\.js:1-\d+/);
    expect(full2.rendered_prompt).toContain(`failed run #${run1.number}`);
    // The memory section sits before the task, inside an untrusted-data region.
    expect(full2.rendered_prompt.indexOf('## What this repository remembers')).toBeLessThan(full2.rendered_prompt.indexOf('## Task:'));
    expect(full2.rendered_prompt).toMatch(/<untrusted-data id="[0-9a-f]{32}" source="memory written by agents runs and reviews">/);
    const knew = await api(server, 'GET', path(`/runs/${run2.number}/memory`));
    expect(knew.status).toBe(200);
    expect(knew.json.entries.map((e: { id: number }) => e.id)).toEqual([failure.id]);
    expect(knew.json.entries[0].citations_valid).toBe(true);
    expect(knew.json.section).toContain('the parser tests fail');
    const renewed = (await api(server, 'GET', path(`/memory/${failure.id}`))).json;
    expect(renewed.validated_at).not.toBeNull();

    // Lines moved down by a header: found where they went.
    await push('lib/x.js', `// header\n// more\n${X_JS}`, 'Add a header');
    const run3 = await runScripted(server, owner, R(), scriptPrompt('say ok', task));
    const full3 = (await api(server, 'GET', path(`/runs/${run3.number}`))).json;
    expect(full3.rendered_prompt).toContain('the parser tests fail: quoted fields break');
    expect(full3.rendered_prompt).toMatch(/lib\/x\.js:3-\d+ \(moved from line 1\)/);

    // The cited lines are rewritten: the entry is left out and marked stale.
    await push('lib/x.js', 'export function parse(text) {\n  return text.split(/[,;]/).map((s) => s.trim());\n}\n', 'Rewrite the parser');
    const run4 = await runScripted(server, owner, R(), scriptPrompt('say ok', task));
    const full4 = (await api(server, 'GET', path(`/runs/${run4.number}`))).json;
    expect(full4.rendered_prompt).not.toContain('the parser tests fail');
    expect((await api(server, 'GET', path(`/runs/${run4.number}/memory`))).json.entries).toEqual([]);
    expect((await api(server, 'GET', path(`/memory/${failure.id}`))).json.status).toBe('stale');
    expect((await api(server, 'GET', path('/memory?status=stale'))).json.map((e: { id: number }) => e.id)).toContain(failure.id);
  }, 180_000);

  it('records what agents declare in their memory file, flags an agent-declared contradiction, and drops malformed entries without failing the run', async () => {
    const first = await runScripted(server, owner, R(), scriptPrompt('remember claim "Parser entry point" "parse() in lib/x.js is the only entry point" lib/x.js:1-2 because "grep found no other"\nwrite notes.txt\nnoted\nend\nsay noted'));
    expect(first.status).toBe('succeeded');
    const claims = (await api(server, 'GET', path('/memory?kind=claim&q=entry'))).json;
    expect(claims).toHaveLength(1);
    expect(claims[0]).toMatchObject({ subject: 'Parser entry point', reason: 'grep found no other', source: { type: 'run', id: first.number }, contradiction: false, citations: [{ path: 'lib/x.js', start_line: 1, end_line: 2, commit: first.commit_sha }] });

    const second = await runScripted(server, owner, R(), scriptPrompt('remember claim "parser entry point" "lib/y.js has a second entry point" lib/x.js:1-1\nsay noted'));
    expect(second.status).toBe('succeeded');
    const both = (await api(server, 'GET', path('/memory?status=contradiction'))).json;
    expect(both.map((e: { source: { id: number } }) => e.source.id).sort()).toEqual([first.number, second.number].sort());
    const event = await server.app.db.selectFrom('graph_events').select(['payload']).where('type', '=', 'memory.contradiction').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(JSON.parse(event.payload)).toMatchObject({ other_ids: [claims[0].id], paths: ['lib/x.js'] });
    // Learned from the run (graph edge to its run node), and the two contradict.
    const claimNode = await server.app.db.selectFrom('graph_nodes').select('id').where('kind', '=', 'claim').where('key', '=', String(claims[0].id)).executeTakeFirstOrThrow();
    const learned = await server.app.db.selectFrom('graph_edges').innerJoin('graph_nodes', 'graph_nodes.id', 'graph_edges.dst_id').select(['graph_nodes.kind', 'graph_nodes.key']).where('graph_edges.kind', '=', 'learned_from').where('graph_edges.src_id', '=', claimNode.id).execute();
    expect(learned).toEqual([{ kind: 'run', key: String(first.id) }]);
    expect(await server.app.db.selectFrom('graph_edges').select('id').where('kind', '=', 'contradicts').where('dst_id', '=', claimNode.id).executeTakeFirst()).toBeTruthy();

    const before = (await api(server, 'GET', path('/memory?status=all&per_page=100'))).json.length;
    const hostile = [
      `run echo 'not json' >> "$GITOKU_MEMORY_FILE"`,
      `run echo '{"kind":"claim","subject":"s","fact":"f","citations":[{"path":"../../etc/passwd","start_line":1,"end_line":1}]}' >> "$GITOKU_MEMORY_FILE"`,
      `run echo '{"kind":"gossip","subject":"s","fact":"f"}' >> "$GITOKU_MEMORY_FILE"`,
      `run echo '{"kind":"claim","subject":"s","fact":"f","citations":[{"path":"lib/x.js","start_line":1,"end_line":500}]}' >> "$GITOKU_MEMORY_FILE"`,
      `run echo '{"kind":"claim","subject":{"deep":[[[1]]]},"fact":"f"}' >> "$GITOKU_MEMORY_FILE"`,
      'say done',
    ].join('\n');
    const bad = await runScripted(server, owner, R(), scriptPrompt(hostile));
    expect(bad.status).toBe('succeeded');
    const notes = (await api(server, 'GET', path(`/runs/${bad.number}/events`))).json.events.filter((e: { kind: string; data: { message?: string } }) => e.kind === 'status' && /dropped/.test(e.data.message ?? ''));
    expect(notes.length).toBe(5);
    expect(notes.map((n: { data: { message: string } }) => n.data.message).join('\n')).toMatch(/not valid JSON[\s\S]*not a path inside the repository[\s\S]*kind[\s\S]*at most 200 lines[\s\S]*must be a string/);
    expect((await api(server, 'GET', path('/memory?status=all&per_page=100'))).json.length).toBe(before);

    // An oversized file and a file replaced by a link are ignored with a note; the run still succeeds.
    for (const body of [`run head -c 300000 /dev/zero | tr '\\0' a > "$GITOKU_MEMORY_FILE"`, `run ln -sf /etc/passwd "$GITOKU_MEMORY_FILE"`]) {
      const r = await runScripted(server, owner, R(), scriptPrompt(`${body}\nsay done`));
      expect(r.status).toBe('succeeded');
      const ev = (await api(server, 'GET', path(`/runs/${r.number}/events`))).json.events;
      expect(ev.some((e: { kind: string; data: { message?: string } }) => e.kind === 'status' && /memory file/.test(e.data.message ?? ''))).toBe(true);
    }
    // The file lives outside the checkout: it is never committed.
    await gitOk(repo.work.path, ['fetch', '-q', repo.remote, first.compare_branch]);
    expect(await gitOk(repo.work.path, ['ls-tree', '-r', '--name-only', 'FETCH_HEAD'])).not.toContain('memory.jsonl');
  }, 180_000);

  it('retrieves deterministically for a fixed store and task', async () => {
    const repoRow = await server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', 'mem').executeTakeFirstOrThrow();
    for (let i = 0; i < 12; i++) {
      const r = await api(server, 'POST', path('/memory'), { token: owner.token, body: { kind: 'claim', subject: `tokenizer rule ${i}`, fact: `the tokenizer treats case ${i % 3} specially`, confidence: 0.5 } });
      expect(r.status).toBe(201);
    }
    const head = (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
    const q = { repositoryId: repoRow.id, agentKey: null, task: 'Fix the tokenizer special case handling', commit: head, paths: [] };
    const at = new Date().toISOString();
    const one = await retrieveMemory(server.app.db, server.app.dialect, repositoryGitDir(server.app, repoRow), q, 2000, at);
    const two = await retrieveMemory(server.app.db, server.app.dialect, repositoryGitDir(server.app, repoRow), q, 2000, at);
    expect(one.entries.length).toBeGreaterThanOrEqual(12);
    expect(two.entries.map((e) => e.entry.id)).toEqual(one.entries.map((e) => e.entry.id));
    const small = await retrieveMemory(server.app.db, server.app.dialect, repositoryGitDir(server.app, repoRow), q, 300, at);
    expect(small.entries.length).toBeGreaterThan(0);
    expect(small.entries.length).toBeLessThan(one.entries.length);
    expect(small.entries.map((e) => e.entry.id)).toEqual(one.entries.slice(0, small.entries.length).map((e) => e.entry.id));
  });
});

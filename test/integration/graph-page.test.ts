import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt, type FinishedRun, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { createSession } from '../../src/services/sessions.ts';
import { addEdge, ensureNode, upsertNode } from '../../src/services/graph.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import type { GraphView } from '../../src/services/uiGraph.ts';
import { gitOk } from '../helpers/git.ts';

/** Untrusted text that must not end the JSON block (or any element) of the page. */
const BREAKOUT = '</script><script>alert(1)</script>';

/** What the page embeds: the service's view of the graph, as JSON. */
type PageGraph = GraphView;

const BLOCK = /<script type="application\/json" id="graph-data">([\s\S]*?)<\/script>/;

/** The JSON block of a graph page. */
function graphOf(html: string): PageGraph {
  const m = BLOCK.exec(html);
  if (!m) throw new Error(`no #graph-data block in:\n${html.slice(0, 2000)}`);
  return JSON.parse(m[1]!) as PageGraph;
}

describe.each(testDialects())('the knowledge-graph page on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let stranger: TestUser;
  let runner: JobRunner;
  let repo: PushedRepo;
  let secret: PushedRepo;
  let run: FinishedRun;
  let failed: FinishedRun;
  let ownerCookie = '';
  let strangerCookie = '';
  const base = () => `/${owner.username}/g`;

  async function page(path: string, cookie?: string): Promise<{ status: number; html: string; headers: Headers }> {
    const res = await fetch(`${server.url}${path}`, { headers: cookie ? { Cookie: `gitoku_session=${cookie}` } : {}, redirect: 'manual' });
    return { status: res.status, html: await res.text(), headers: res.headers };
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_JOB_LEASE_MS: '3000' });
    owner = await createTestUser(server);
    stranger = await createTestUser(server);
    ownerCookie = await createSession(server.app, owner.id);
    strangerCookie = await createSession(server.app, stranger.id);
    repo = await createPushedRepo(server, owner, 'g', { 'README.md': '# Graph\n', 'src/a.txt': 'a1\na2\na3\n', 'src/b.txt': 'b1\n' });
    secret = await createPushedRepo(server, owner, 'hidden', { 'src/s.txt': 's1\n' }, { private: true });
    runner = await startInProcessRunner(server);
    run = await runScripted(
      server,
      owner,
      `${owner.username}/g`,
      scriptPrompt(['think Plan: extend a, add c', 'append src/a.txt', 'a4 ai', 'a5 ai', 'end', 'write src/c.txt', 'c1', 'end', 'say Done'].join('\n'), `Extend things ${BREAKOUT}`),
      { title: `Extend ${BREAKOUT}` },
    );
    expect(run.status).toBe('succeeded');
    failed = await runScripted(server, owner, `${owner.username}/g`, scriptPrompt('fail nope'), { title: 'Doomed' });
    expect(failed.status).toBe('failed');
    expect((await runScripted(server, owner, `${owner.username}/hidden`, scriptPrompt('append src/s.txt\ns2\nend'), { title: 'Secret work' })).status).toBe('succeeded');
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await secret?.work.remove();
    await server?.close();
  });

  it("?run=N: the run's neighbourhood with labels and links to each thing's page", async () => {
    const res = await page(`${base()}/graph?run=${run.number}`);
    expect(res.status, res.html.slice(0, 500)).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.html).toContain('/-/static/graph.js?v=');
    expect(res.html).toContain('/-/static/graph.css?v=');
    const g = graphOf(res.html);
    const root = g.nodes.find((n) => n.id === g.root)!;
    expect(root).toMatchObject({ kind: 'run', key: String(run.id), root: true, label: `Run #${run.number} · Extend ${BREAKOUT}`, href: `${base()}/runs/${run.number}` });
    expect(g.depth).toBe(2);
    expect(g.truncated).toBe(false);
    const kinds = new Set(g.nodes.map((n) => n.kind));
    for (const k of ['run', 'evidence', 'file_range', 'commit', 'pull_request']) expect(kinds, k).toContain(k);

    const sha = run.commit_sha;
    const s7 = sha.slice(0, 7);
    const evidence = g.nodes.find((n) => n.kind === 'evidence')!;
    expect(evidence.label).toBe(`script/${run.model} · agent run · capture 0 of ${s7}`);
    expect(evidence.href).toBe(`${base()}/commit/${sha}`);
    const range = g.nodes.find((n) => n.kind === 'file_range' && n.data.path === 'src/a.txt')!;
    expect(range).toMatchObject({ label: `src/a.txt:L4–L5 @ ${s7}`, href: `${base()}/blob/${sha}/src/a.txt#L4-L5` });
    expect(g.nodes.find((n) => n.kind === 'file_range' && n.data.path === 'src/c.txt')).toMatchObject({ label: `src/c.txt:L1 @ ${s7}`, href: `${base()}/blob/${sha}/src/c.txt#L1` });
    expect(g.nodes.find((n) => n.kind === 'commit')).toMatchObject({ label: s7, href: `${base()}/commit/${sha}` });
    expect(g.nodes.find((n) => n.kind === 'pull_request')).toMatchObject({ label: `#${run.pull_request!.number}`, href: `${base()}/pull/${run.pull_request!.number}` });
    for (const n of g.nodes) expect(n.graphHref).toBe(`${base()}/graph?node=${n.id}`);
    // Edges point the stored way: evidence → run (produced_by), evidence → range (derived_from), run → PR (about).
    const edge = (src: number, dst: number) => g.edges.find((e) => e.src === src && e.dst === dst)?.kind;
    expect(edge(evidence.id, root.id)).toBe('produced_by');
    expect(edge(evidence.id, range.id)).toBe('derived_from');

    // The server-rendered lists carry the same graph, escaped, for the page without JavaScript.
    expect(res.html).toContain(`id="gk-node-${range.id}"`);
    expect(res.html).toContain(`href="${base()}/blob/${sha}/src/a.txt#L4-L5"`);
    expect(res.html).toMatch(new RegExp(`data-src="${evidence.id}" data-dst="${range.id}" data-kind="derived_from"`));
    expect(res.html).toContain('—derived_from→');
  });

  it('untrusted text cannot break out of the JSON block or the page', async () => {
    const { html } = await page(`${base()}/graph?run=${run.number}`);
    // The only script elements are the page's own (gitoku.js, graph.js) and the data block.
    const block = BLOCK.exec(html)![1]!;
    expect(block).not.toContain('<');
    expect(block).toContain('\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e');
    expect(html).not.toContain('<script>alert(1)');
    expect(html.match(/<script\b/g)).toHaveLength(3);
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(graphOf(html).nodes.find((n) => n.kind === 'run')!.data.title).toBe(`Extend ${BREAKOUT}`);
  });

  it("an AI review's evidence (as reviews.ts records it) links to the pull request it reviewed", async () => {
    const repoRow = await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'g').executeTakeFirstOrThrow();
    const pr = run.pull_request!.number;
    const reviewNode = await server.app.db.transaction().execute(async (tx) => {
      const id = await upsertNode(tx, repoRow.id, 'evidence', 'review:4242', { evidence_kind: 'ai_review', source_family: 'script', exact_model_name: 'script', review_id: 4242, pull_request: pr, commit_sha: run.commit_sha, comments: 0, usage: {} });
      await addEdge(tx, id, await ensureNode(tx, repoRow.id, 'pull_request', String(pr), { number: pr }), 'about');
      return id;
    });
    const g = graphOf((await page(`${base()}/graph?run=${run.number}`)).html);
    expect(g.nodes.find((n) => n.id === reviewNode)).toMatchObject({ kind: 'evidence', label: `AI review of #${pr} · script/script`, href: `${base()}/pull/${pr}` });
    await server.app.db.deleteFrom('graph_edges').where('src_id', '=', reviewNode).execute();
    await server.app.db.deleteFrom('graph_nodes').where('id', '=', reviewNode).execute();
  });

  it('?depth: 1…3, clamped; anything else is the default', async () => {
    const depths: [string, number][] = [['99', 3], ['0', 1], ['-4', 1], ['1', 1], ['abc', 2], ['', 2], ['2.5', 2]];
    for (const [raw, want] of depths) {
      const res = await page(`${base()}/graph?run=${run.number}&depth=${raw}`);
      expect(res.status, raw).toBe(200);
      expect(graphOf(res.html).depth, raw).toBe(want);
      expect(res.html, raw).toMatch(new RegExp(`class="seg active" href="[^"]*" aria-current="true" data-depth="${want}"`));
    }
    // Depth 1 reaches the run's direct neighbours only: its evidence and pull request, not the ranges.
    const one = graphOf((await page(`${base()}/graph?run=${run.number}&depth=1`)).html);
    expect(new Set(one.nodes.map((n) => n.kind))).toEqual(new Set(['run', 'evidence', 'pull_request']));
    // Links keep a non-default depth.
    expect(one.nodes[0]!.graphHref).toMatch(/&depth=1$/);
  });

  it('?node=ID: any node as the centre; bad and unknown ids are 404s', async () => {
    const evidence = (await api(server, 'GET', `/repos/${owner.username}/g/graph/nodes?kind=evidence`)).json[0];
    const res = await page(`${base()}/graph?node=${evidence.id}`);
    expect(res.status).toBe(200);
    const g = graphOf(res.html);
    expect(g.root).toBe(evidence.id);
    expect(g.nodes.find((n) => n.root)).toMatchObject({ id: evidence.id, kind: 'evidence' });
    expect(g.nodes.map((n) => n.kind)).toEqual(expect.arrayContaining(['run', 'commit', 'file_range', 'evidence']));
    for (const bad of ['abc', '999999', '0', '-1', '1e3', '99999999999', '']) {
      const r = await page(`${base()}/graph?node=${bad}`);
      expect(r.status, bad).toBe(404);
    }
    // A node of the private repository is not reachable through the public one.
    const hiddenNode = (await api(server, 'GET', `/repos/${owner.username}/hidden/graph/nodes?kind=run`, { token: owner.token })).json[0];
    expect(hiddenNode).toBeDefined();
    expect((await page(`${base()}/graph?node=${hiddenNode.id}`, ownerCookie)).status).toBe(404);
  });

  it('?evidence=<sha>:<index>: the AI popovers\' link to a capture lands on its evidence node', async () => {
    const evidence = (await api(server, 'GET', `/repos/${owner.username}/g/graph/nodes?kind=evidence&key=${run.commit_sha}:0`)).json[0];
    expect(evidence).toBeDefined();
    const res = await page(`${base()}/graph?evidence=${run.commit_sha}:0&depth=1`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${base()}/graph?node=${evidence.id}&depth=1`);
    for (const bad of [`${run.commit_sha}:9`, 'nope', `${run.commit_sha}`, `../${run.commit_sha}:0`]) expect((await page(`${base()}/graph?evidence=${encodeURIComponent(bad)}`)).status, bad).toBe(404);
    // The blame page's popover and the commit page's panel link there.
    const blame = await page(`${base()}/blame/${run.compare_branch}/src/a.txt`);
    expect(blame.html).toContain(`href="${base()}/graph?evidence=${run.commit_sha}%3A0"`);
    const commit = await page(`${base()}/commit/${run.commit_sha}`);
    expect(commit.html).toContain(`class="ai-graph-link" href="${base()}/graph?evidence=${run.commit_sha}%3A0"`);
  });

  it('?run=N: a failed run shows the failure it left in memory; a run without a graph node is an empty state; an unknown run is a 404', async () => {
    const taught = await page(`${base()}/graph?run=${failed.number}`);
    expect(taught.status).toBe(200);
    expect(graphOf(taught.html).nodes.map((n) => n.kind)).toEqual(expect.arrayContaining(['run', 'failure']));
    // A run from before the graph recorded anything (here: its nodes removed) is an empty state.
    const [node] = await server.app.db.selectFrom('graph_nodes').select('id').where('kind', '=', 'run').where('key', '=', String(failed.id)).execute();
    await server.app.db.deleteFrom('graph_edges').where((eb) => eb.or([eb('src_id', '=', node!.id), eb('dst_id', '=', node!.id)])).execute();
    await server.app.db.deleteFrom('graph_nodes').where('id', '=', node!.id).execute();
    const res = await page(`${base()}/graph?run=${failed.number}`);
    expect(res.status).toBe(200);
    expect(res.html).toContain(`Run #${failed.number} has no graph yet`);
    expect(res.html).not.toContain('id="graph-data"');
    expect(res.html).toContain(`href="${base()}/runs/${failed.number}"`);
    for (const bad of ['999', 'abc', '0']) expect((await page(`${base()}/graph?run=${bad}`)).status, bad).toBe(404);
  });

  it("?path=P: the file's ranges under a synthetic file node", async () => {
    const res = await page(`${base()}/graph?path=src/a.txt`);
    expect(res.status).toBe(200);
    const g = graphOf(res.html);
    expect(g.root).toBe(-1);
    const file = g.nodes.find((n) => n.id === -1)!;
    expect(file).toMatchObject({ kind: 'file', key: 'src/a.txt', label: 'src/a.txt', root: true, href: `${base()}/blob/main/src/a.txt`, graphHref: `${base()}/graph?path=src%2Fa.txt` });
    const ranges = g.nodes.filter((n) => n.kind === 'file_range' && n.data.path === 'src/a.txt');
    expect(ranges.length).toBe(1);
    expect(g.edges.filter((e) => e.src === -1)).toEqual([{ id: -1, src: -1, dst: ranges[0]!.id, kind: 'contains' }]);
    // Depth 2 from the ranges: their evidence and, through it, the run.
    expect(g.nodes.map((n) => n.kind)).toEqual(expect.arrayContaining(['evidence', 'run', 'commit']));
    expect(res.html).toContain('src/a.txt:L4–L5');

    // A leading slash is forgiven; a file nothing touched is an empty state; a bad path is a 404.
    expect(graphOf((await page(`${base()}/graph?path=%2Fsrc%2Fa.txt`)).html).root).toBe(-1);
    const none = await page(`${base()}/graph?path=src/b.txt`);
    expect(none.status).toBe(200);
    expect(none.html).toContain('No AI-written ranges in this file');
    expect(none.html).toContain(`href="${base()}/blob/main/src/b.txt"`);
    expect((await page(`${base()}/graph?path=${encodeURIComponent('../etc/passwd')}`)).status).toBe(404);
  });

  it("?path=P follows renames: a file's graph includes the ranges written under its earlier names", async () => {
    const sh = (args: string[]) => gitOk(repo.work.path, args);
    await sh(['fetch', '-q', repo.remote, run.compare_branch]);
    await sh(['merge', '-q', '--ff-only', 'FETCH_HEAD']);
    await sh(['mv', 'src/c.txt', 'src/renamed-c.txt']);
    await sh(['commit', '-q', '-m', 'Rename c']);
    await sh(['push', '-q', repo.remote, 'main']);
    const g = graphOf((await page(`${base()}/graph?path=src/renamed-c.txt`)).html);
    expect(g.nodes.find((n) => n.id === -1)).toMatchObject({ key: 'src/renamed-c.txt' });
    // The file node contains the range the run wrote as src/c.txt (the evidence's other ranges hang off it).
    const contained = g.edges.filter((e) => e.src === -1).map((e) => g.nodes.find((n) => n.id === e.dst)!);
    expect(contained.map((n) => [n.kind, n.data.path])).toEqual([['file_range', 'src/c.txt']]);
  });

  it('no target: node counts per kind, recent runs with a graph, a file look-up', async () => {
    const res = await page(`${base()}/graph`);
    expect(res.status).toBe(200);
    expect(res.html).toContain('Knowledge graph');
    expect(res.html).not.toContain('id="graph-data"');
    expect(res.html).toMatch(/<li class="gk-stat" data-kind="run"><span class="gk-stat-n">1<\/span>/);
    expect(res.html).toMatch(/<li class="gk-stat" data-kind="file_range"><span class="gk-stat-n">2<\/span>/);
    expect(res.html).toContain(`href="${base()}/graph?run=${run.number}"`);
    // The failed run has no node, so it is not offered.
    expect(res.html).not.toContain(`href="${base()}/graph?run=${failed.number}"`);
    expect(res.html).toContain(`<form method="get" action="${base()}/graph"`);
    expect(res.html).toContain(`href="${base()}/graph?path=src%2Fa.txt"`);
    // An empty ?path= is the index too.
    expect((await page(`${base()}/graph?path=`)).html).toContain('id="graph-stats"');
  });

  it('links into the graph: the Graph tab, the finished run page, the blob and blame pages', async () => {
    const runPage = await page(`${base()}/runs/${run.number}`);
    expect(runPage.html).toMatch(new RegExp(`id="run-graph"`));
    expect(runPage.html).toContain(`href="${base()}/graph?run=${run.number}"`);
    // Readers see it too.
    expect((await page(`${base()}/runs/${run.number}`, strangerCookie)).html).toContain(`href="${base()}/graph?run=${run.number}"`);
    for (const kind of ['blob', 'blame']) {
      const p = await page(`${base()}/${kind}/main/src/a.txt`);
      expect(p.status, kind).toBe(200);
      expect(p.html, kind).toContain(`href="${base()}/graph?path=src%2Fa.txt"`);
    }
    // A tab of every repository page, active on the graph pages.
    expect((await page(base())).html).toContain(`<a href="${base()}/graph" class="tab">`);
    expect((await page(`${base()}/graph?run=${run.number}`)).html).toContain(`<a href="${base()}/graph" class="tab active" aria-current="page">`);
  });

  it('draws at most 150 nodes and says so', { timeout: 120_000 }, async () => {
    const big = await createPushedRepo(server, owner, 'big', { 'README.md': '# Big\n' });
    try {
      // One command writes 160 files: 160 file nodes without 160 checkpointed steps.
      const huge = await runScripted(server, owner, `${owner.username}/big`, scriptPrompt('run mkdir gen && for i in $(seq 0 159); do echo x$i > gen/f$i.txt; done'), { title: 'Huge' }, 110_000);
      expect(huge.status).toBe('succeeded');
      const res = await page(`/${owner.username}/big/graph?run=${huge.number}`);
      const g = graphOf(res.html);
      expect(g.truncated).toBe(true);
      expect(g.nodes).toHaveLength(150);
      // Roots first: the run is always in.
      expect(g.nodes.find((n) => n.root)).toMatchObject({ kind: 'run', key: String(huge.id) });
      expect(g.edges.every((e) => g.nodes.some((n) => n.id === e.src) && g.nodes.some((n) => n.id === e.dst))).toBe(true);
      expect(res.html).toContain('id="graph-truncated"');
      expect(res.html).toContain('Showing 150 nodes');
      // One hop is small enough to draw whole.
      const one = await page(`/${owner.username}/big/graph?run=${huge.number}&depth=1`);
      expect(graphOf(one.html).truncated).toBe(false);
      expect(one.html).not.toContain('id="graph-truncated"');
    } finally {
      await big.work.remove();
    }
  });

  it('a private repository\'s graph is a 404 to anonymous visitors and other users', async () => {
    const hidden = `/${owner.username}/hidden/graph`;
    for (const q of ['', '?run=1', '?path=src/s.txt', '?node=1']) {
      expect((await page(`${hidden}${q}`)).status, `anonymous ${q}`).toBe(404);
      expect((await page(`${hidden}${q}`, strangerCookie)).status, `stranger ${q}`).toBe(404);
    }
    const mine = await page(`${hidden}?run=1`, ownerCookie);
    expect(mine.status).toBe(200);
    expect(graphOf(mine.html).nodes.find((n) => n.root)).toMatchObject({ kind: 'run', label: 'Run #1 · Secret work' });
  });

  it('/:owner/:repo/graph is not taken by another route, and a repository called "graph" still works', async () => {
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'graph' } });
    const home = await page(`/${owner.username}/graph`);
    expect(home.status).toBe(200);
    expect(home.html).not.toContain('Knowledge graph');
    const itsGraph = await page(`/${owner.username}/graph/graph`);
    expect(itsGraph.status).toBe(200);
    expect(itsGraph.html).toContain('The graph is empty');
    expect((await page(`/${owner.username}/nope/graph`)).status).toBe(404);
  });
});

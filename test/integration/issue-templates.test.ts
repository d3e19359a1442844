/**
 * Issue and pull request templates from the default branch (GitHub's and Gitea's conventions): the
 * chooser, a form filled from a Markdown template or a YAML issue form, config.yml (blank issues off,
 * contact links — web addresses only), a template's labels and assignees for a reader's issue (existing
 * labels only, never created), links and unreadable templates skipped, the legacy single template, and
 * the pull request template on the compare form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { signInWithForm, type FormSession } from '../helpers/formSession.ts';

const BUG = `---
name: Bug report
about: Something does not work
title: "[bug] "
labels: bug, needs-triage-never-created
assignees:
  - OWNER
---
## What happened

## What you expected
`;

const FORM = `name: Feature request
description: Ask for something new
title: "[feature] "
labels: [enhancement]
body:
  - type: markdown
    attributes:
      value: Thanks for the idea!
  - type: textarea
    attributes:
      label: What should it do?
  - type: checkboxes
    attributes:
      label: Checks
      options:
        - label: I searched the existing issues
`;

const CONFIG = `blank_issues_enabled: false
contact_links:
  - name: Community forum
    url: https://forum.example.org/
    about: Questions go here
  - name: Sneaky
    url: javascript:alert(1)
    about: never shown
`;

describe.each(testDialects())('issue and pull request templates (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reader: TestUser;
  let repo: PushedRepo;
  let ownerWeb: FormSession;
  let readerWeb: FormSession;
  const base = () => `/${owner.username}/tpl`;

  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
    [owner, reader] = await Promise.all([createTestUser(server), createTestUser(server)]);
    repo = await createPushedRepo(server, owner, 'tpl', {
      'README.md': '# tpl\n',
      '.github/ISSUE_TEMPLATE/bug_report.md': BUG.replace('OWNER', owner.username),
      '.github/ISSUE_TEMPLATE/feature.yml': FORM,
      '.github/ISSUE_TEMPLATE/config.yml': CONFIG,
      '.github/ISSUE_TEMPLATE/broken.md': '---\nname: [unclosed\n---\nbody\n',
      '.github/pull_request_template.md': '## Summary\n\n## Checklist\n- [ ] tests\n',
    });
    // A link in the templates directory is never followed (nor offered).
    await symlink('/etc/passwd', join(repo.work.path, '.github/ISSUE_TEMPLATE/passwd.md'));
    await commitFiles(repo.work.path, { 'src/feature.txt': 'x\n' }, 'A link and a file');
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'main']);
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'main:feature']);
    await gitOk(repo.work.path, ['checkout', '-q', '-b', 'topic']);
    await commitFiles(repo.work.path, { 'topic.txt': 't\n' }, 'Topic work');
    await commitFiles(repo.work.path, { 'topic2.txt': 't\n' }, 'More topic work');
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'topic']);
    expect((await api(server, 'POST', `/repos/${owner.username}/tpl/labels`, { token: owner.token, body: { name: 'bug', color: 'd73a4a' } })).status).toBe(201);
    ownerWeb = (await signInWithForm(server, owner.username, owner.password)).session!;
    readerWeb = (await signInWithForm(server, reader.username, reader.password)).session!;
  }, 60_000);

  afterAll(async () => {
    await repo?.work.remove();
    await server?.close();
  });

  it('leads a new issue to the chooser: the templates, the web contact links, no blank issue, and which template could not be read', async () => {
    const start = await readerWeb.get(`${base()}/issues/new`);
    expect([start.status, start.location]).toEqual([302, `${base()}/issues/new/choose`]);
    const chooser = await readerWeb.get(`${base()}/issues/new/choose`);
    expect(chooser.status).toBe(200);
    expect(chooser.html).toContain('Bug report');
    expect(chooser.html).toContain('Something does not work');
    expect(chooser.html).toContain(`href="${base()}/issues/new?template=bug_report.md"`);
    expect(chooser.html).toContain('Feature request');
    expect(chooser.html).toContain('href="https://forum.example.org/"');
    expect(chooser.html).not.toContain('javascript:');
    expect(chooser.html).not.toContain('Open a blank issue');
    expect(chooser.html).not.toContain('passwd');
    expect(chooser.html).toMatch(/could not be read.*broken\.md/s);
    // Blank issues are off: the blank form leads back to the chooser; a link that fills the form does not.
    expect((await readerWeb.get(`${base()}/issues/new?template=`)).location).toBe(`${base()}/issues/new/choose`);
    expect((await readerWeb.get(`${base()}/issues/new?template=passwd.md`)).location).toBe(`${base()}/issues/new/choose`);
    const linked = await readerWeb.get(`${base()}/issues/new?title=From+a+link`);
    expect(linked.status).toBe(200);
    expect(linked.html).toContain('value="From a link"');
  });

  it('fills the form from a Markdown template; a reader’s issue gets its existing labels and its assignees, nothing more', async () => {
    const form = await readerWeb.get(`${base()}/issues/new?template=bug_report.md`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('value="[bug] "');
    expect(form.html).toContain('## What happened');
    expect(form.html).toContain('name="template" value="bug_report.md"');
    expect(form.html).toContain('From the template <strong>Bug report</strong>');

    const created = await readerWeb.post(`${base()}/issues`, { title: '[bug] it broke', body: 'details', template: 'bug_report.md' });
    expect(created.status, created.html.slice(0, 300)).toBe(303);
    const number = Number(created.location!.split('/').pop());
    const issue = (await api(server, 'GET', `/repos/${owner.username}/tpl/issues/${number}`, { token: owner.token })).json;
    expect(issue.labels.map((l: { name: string }) => l.name)).toEqual(['bug']);
    expect(issue.assignees.map((a: { login: string }) => a.login)).toEqual([owner.username]);
    const labels = (await api(server, 'GET', `/repos/${owner.username}/tpl/labels`, { token: owner.token })).json as { name: string }[];
    expect(labels.map((l) => l.name)).not.toContain('needs-triage-never-created');

    // Without a template, a reader still cannot set labels.
    const refused = await readerWeb.post(`${base()}/issues`, { title: 'Labels?', labels: 'bug' });
    expect(refused.status).toBe(403);
  });

  it('for a writer, the template’s labels and assignees are preset choices', async () => {
    const form = await ownerWeb.get(`${base()}/issues/new?template=bug_report.md`);
    expect(form.html).toMatch(/name="labels" value="bug" checked/);
    expect(form.html).toMatch(new RegExp(`name="assignees" value="${owner.username}" checked`));
  });

  it('turns a YAML issue form into the Markdown it asks for', async () => {
    const form = await readerWeb.get(`${base()}/issues/new?template=feature.yml`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('value="[feature] "');
    expect(form.html).toContain('Thanks for the idea!');
    expect(form.html).toContain('### What should it do?');
    expect(form.html).toContain('- [ ] I searched the existing issues');
  });

  it('prefills a new pull request with the pull request template', async () => {
    const compare = await ownerWeb.get(`${base()}/compare/main...topic`);
    expect(compare.status).toBe(200);
    expect(compare.html).toMatch(/<textarea[^>]*name="body"[^>]*>\s*## Summary\s+## Checklist\s+- \[ \] tests/);
    // A reader sees no form, so no template either.
    expect((await readerWeb.get(`${base()}/compare/main...topic`)).html).not.toContain('## Checklist');
  });

  it('a legacy single template is the body of every new issue, without a chooser; a repository without templates opens the form', async () => {
    const legacy = await createPushedRepo(server, owner, 'legacy', { 'README.md': 'x\n', '.github/ISSUE_TEMPLATE.md': '---\nname: ignored\n---\nSteps to reproduce:\n' });
    try {
      const form = await readerWeb.get(`/${owner.username}/legacy/issues/new`);
      expect(form.status).toBe(200);
      expect(form.html).toContain('Steps to reproduce:');
      expect(form.html).not.toContain('name: ignored');
    } finally {
      await legacy.work.remove();
    }
    const plain = await createPushedRepo(server, owner, 'plain', { 'README.md': 'x\n' });
    try {
      expect((await readerWeb.get(`/${owner.username}/plain/issues/new`)).status).toBe(200);
      expect((await readerWeb.get(`/${owner.username}/plain/issues/new/choose`)).location).toBe(`/${owner.username}/plain/issues/new?template=`);
    } finally {
      await plain.work.remove();
    }
  });
});

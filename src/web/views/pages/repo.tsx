import type { Child, FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import type { RepositoryHome } from '../../../services/uiQueries.ts';
import type { RepoRole } from '../../../domain/permissions.ts';
import type { TreeEntry } from '../../../git/tree.ts';
import { Layout } from '../layout.tsx';
import { CopyField, Time, VisibilityBadge } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { encodePath, formatBytes, shortDate } from '../format.ts';

export interface RepoView {
  repo: RepositoryWithOwner;
  role: RepoRole;
  cloneUrl: string;
}

const canWrite = (role: RepoRole) => role === 'write' || role === 'admin';

/** Title row and tabs shared by every repository page. */
export const RepoHeader: FC<{ view: RepoView; active: 'code' | 'settings' }> = ({ view, active }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}`;
  return (
    <div class="repo-head">
      <div class="container">
        <div class="repo-title">
          <Icon name={repo.is_private ? 'lock' : 'repo'} class="muted" />
          <h1>
            <a href={`/${repo.owner_name}`} class="repo-title-owner">
              {repo.owner_name}
            </a>
            <span class="repo-title-sep">/</span>
            <a href={base} class="repo-title-name">
              {repo.name}
            </a>
          </h1>
          <VisibilityBadge isPrivate={repo.is_private === 1} />
        </div>
        <nav class="tabs" aria-label="Repository">
          <a href={base} class={active === 'code' ? 'tab active' : 'tab'} aria-current={active === 'code' ? 'page' : undefined}>
            <Icon name="code" /> Code
          </a>
          {view.role === 'admin' && (
            <a href={`${base}/settings`} class={active === 'settings' ? 'tab active' : 'tab'} aria-current={active === 'settings' ? 'page' : undefined}>
              <Icon name="gear" /> Settings
            </a>
          )}
        </nav>
      </div>
    </div>
  );
};

/** Repository pages put the header full-width above the content. */
export const RepoLayout: FC<{ ctx: PageContext; view: RepoView; title: string; active: 'code' | 'settings'; children?: Child }> = ({ ctx, view, title, active, children }) => (
  <Layout ctx={ctx} title={title} band={<RepoHeader view={view} active={active} />}>
    {children}
  </Layout>
);

export const RepoHomePage: FC<{ ctx: PageContext; view: RepoView; home: RepositoryHome; readmeHtml: string | null }> = ({ ctx, view, home, readmeHtml }) => {
  const { repo } = view;
  const title = repo.description ? `${repo.owner_name}/${repo.name}: ${repo.description}` : `${repo.owner_name}/${repo.name}`;
  return (
    <RepoLayout ctx={ctx} view={view} title={title} active="code">
      <div class="repo-body">
        <div class="repo-main">
          {repo.is_empty === 1 || !home.commit ? <QuickSetup ctx={ctx} view={view} /> : <CodeView view={view} home={home} readmeHtml={readmeHtml} />}
        </div>
        <aside class="repo-side">
          <h2 class="side-title">About</h2>
          {repo.description ? <p class="about-desc">{repo.description}</p> : <p class="muted about-desc">No description provided.</p>}
          <ul class="about-facts">
            <li>
              <Icon name={repo.is_private ? 'lock' : 'globe'} /> {repo.is_private ? 'Private repository' : 'Public repository'}
            </li>
            <li>
              <Icon name="branch" /> {home.branches.length} {home.branches.length === 1 ? 'branch' : 'branches'}
            </li>
            <li>
              <Icon name="clock" /> Created {shortDate(repo.created_at)}
            </li>
          </ul>
        </aside>
      </div>
    </RepoLayout>
  );
};

const CloneBox: FC<{ view: RepoView }> = ({ view }) => (
  <div class="clone-box">
    <span class="clone-label">HTTPS</span>
    <CopyField id="clone-url" value={view.cloneUrl} label="Clone URL" class="grow" />
  </div>
);

const CodeView: FC<{ view: RepoView; home: RepositoryHome; readmeHtml: string | null }> = ({ view, home, readmeHtml }) => {
  const { repo } = view;
  const commit = home.commit!;
  const subject = commit.message.split('\n')[0] ?? '';
  const treeBase = `/${repo.owner_name}/${repo.name}/src/branch/${encodePath(home.branch)}`;
  return (
    <>
      <div class="code-toolbar">
        <span class="branch-pill" title="Default branch">
          <Icon name="branch" /> <span class="mono">{home.branch}</span>
        </span>
        <span class="muted toolbar-count">
          <Icon name="branch" /> {home.branches.length} {home.branches.length === 1 ? 'branch' : 'branches'}
        </span>
        <CloneBox view={view} />
      </div>
      <div class="card file-card">
        <div class="commit-bar">
          <span class="commit-author">{commit.authorName}</span>
          <span class="commit-subject" title={commit.message}>
            {subject}
          </span>
          <span class="commit-meta">
            <code class="sha" title={commit.sha}>
              {commit.sha.slice(0, 7)}
            </code>
            <Time iso={commit.committerDate} />
          </span>
        </div>
        <ul class="file-list">
          {home.entries.map((entry) => (
            <FileRow entry={entry} treeBase={treeBase} />
          ))}
        </ul>
      </div>
      {home.readme && (
        <div class="card readme" id="readme">
          <div class="card-head readme-head">
            <Icon name="book" /> <span>{home.readme.name}</span>
          </div>
          {readmeHtml !== null ? (
            <article class="markdown-body" dangerouslySetInnerHTML={{ __html: readmeHtml }} />
          ) : (
            <pre class="readme-plain">{home.readme.text}</pre>
          )}
          {home.readme.truncated && <p class="muted card-pad">This README is too large to show in full.</p>}
        </div>
      )}
    </>
  );
};

const FileRow: FC<{ entry: TreeEntry; treeBase: string }> = ({ entry, treeBase }) => {
  const icon = entry.type === 'tree' ? 'folder' : entry.type === 'commit' ? 'submodule' : 'file';
  return (
    <li class={`file-row file-${entry.type}`}>
      <Icon name={icon} class={entry.type === 'tree' ? 'icon-folder' : 'muted'} />
      {entry.type === 'commit' ? (
        <span class="file-name" title="Submodule">
          {entry.name} <span class="muted">@ {entry.sha.slice(0, 7)}</span>
        </span>
      ) : (
        <a class="file-name" href={`${treeBase}/${encodePath(entry.path)}`}>
          {entry.name}
        </a>
      )}
      <span class="file-size muted">{entry.size !== null ? formatBytes(entry.size) : ''}</span>
    </li>
  );
};

const QuickSetup: FC<{ ctx: PageContext; view: RepoView }> = ({ ctx, view }) => {
  const { repo } = view;
  const branch = repo.default_branch;
  if (!canWrite(view.role)) {
    return (
      <div class="card card-pad empty-repo">
        <h2 class="h3">This repository is empty</h2>
        <p class="muted">Nothing has been pushed yet. Clone it to follow along:</p>
        <CloneBox view={view} />
      </div>
    );
  }
  const newRepo = [
    `echo "# ${repo.name}" >> README.md`,
    'git init',
    'git add README.md',
    'git commit -m "first commit"',
    `git branch -M ${branch}`,
    `git remote add origin ${view.cloneUrl}`,
    `git push -u origin ${branch}`,
  ].join('\n');
  const existing = [`git remote add origin ${view.cloneUrl}`, `git branch -M ${branch}`, `git push -u origin ${branch}`].join('\n');
  return (
    <div class="card quick-setup">
      <div class="quick-setup-head">
        <h2 class="h3">Quick setup — if you've done this kind of thing before</h2>
        <CloneBox view={view} />
        <p class="hint">
          When git asks for a password, use a <a href="/-/settings/tokens">personal access token</a>
          {ctx.user ? <> (your username is <strong>{ctx.user.username}</strong>)</> : null}.
        </p>
      </div>
      <section class="setup-step">
        <h3>…or create a new repository on the command line</h3>
        <pre class="terminal" id="setup-new">{newRepo}</pre>
      </section>
      <section class="setup-step">
        <h3>…or push an existing repository from the command line</h3>
        <pre class="terminal" id="setup-existing">{existing}</pre>
      </section>
    </div>
  );
};

import type { Child, FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import type { RefLists, TreeView } from '../../../services/uiBrowse.ts';
import type { StatusState } from '../../../services/statuses.ts';
import type { RepoRole } from '../../../domain/permissions.ts';
import { Layout, loginHref } from '../layout.tsx';
import { CopyField, CsrfField, VisibilityBadge } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { encodePath, shortDate } from '../format.ts';
import { FileTable, Readme, RefSwitcher } from '../code.tsx';

export interface RepoView {
  repo: RepositoryWithOwner;
  role: RepoRole;
  cloneUrl: string;
  /** Open pull requests (the tab's counter). */
  openPulls: number;
  /** Open issues (the Issues tab's counter). */
  openIssues?: number;
  /** The viewer's role were the repository not archived (`role` is capped at read while it is). */
  archivedRole?: RepoRole;
  /** Whether the signed-in viewer starred the repository (null: nobody is signed in). */
  starred?: boolean | null;
  /** The signed-in viewer's watch state: all activity, ignoring, or (null) participating only. */
  watch?: 'watching' | 'ignoring' | null;
}

export type RepoTab = 'code' | 'stargazers' | 'commits' | 'branches' | 'tags' | 'issues' | 'pulls' | 'runs' | 'agents' | 'memory' | 'graph' | 'automation' | 'settings';

const canWrite = (role: RepoRole) => role === 'write' || role === 'admin';
const CODE_PAGES = new Set<RepoTab>(['commits', 'branches', 'tags']);

/** Title row and tabs shared by every repository page. */
export const RepoHeader: FC<{ ctx: PageContext; view: RepoView; active: RepoTab; wide?: boolean }> = ({ ctx, view, active, wide }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}`;
  // Commits, branches and tags belong to the code, as on GitHub: the Code tab stays lit on their pages
  // (the repository home links to them), which keeps the tab row short enough for one line.
  const current = (key: RepoTab) => active === key || (key === 'code' && CODE_PAGES.has(active));
  const tab = (key: RepoTab, href: string, icon: IconName, label: string, counter?: number) => (
    <a href={href} class={current(key) ? 'tab active' : 'tab'} aria-current={current(key) ? 'page' : undefined}>
      <Icon name={icon} /> {label}
      {counter !== undefined && counter > 0 ? <span class="counter">{counter}</span> : null}
    </a>
  );
  return (
    <div class="repo-head">
      <div class={wide ? 'container wide' : 'container'}>
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
          <div class="repo-actions">
            {ctx.user && <WatchControl ctx={ctx} view={view} />}
            <StarControl ctx={ctx} view={view} />
          </div>
        </div>
        <nav class="tabs" aria-label="Repository">
          {tab('code', base, 'code', 'Code')}
          {tab('issues', `${base}/issues`, 'issueOpen', 'Issues', view.openIssues)}
          {tab('pulls', `${base}/pulls`, 'pull', 'Pull requests', view.openPulls)}
          {tab('runs', `${base}/runs`, 'sparkle', 'Tasks')}
          {tab('agents', `${base}/agents`, 'robot', 'Agents')}
          {tab('memory', `${base}/memory`, 'book', 'Memory')}
          {tab('graph', `${base}/graph`, 'graph', 'Graph')}
          {tab('automation', `${base}/automation`, 'play', 'Automation')}
          {(view.role === 'admin' || view.archivedRole === 'admin') && tab('settings', `${base}/settings`, 'gear', 'Settings')}
        </nav>
        {repo.archived === 1 && (
          <div class="flash flash-warning archived-banner" role="status">
            <Icon name="lock" /> This repository has been archived by the owner. It is now read-only.
          </div>
        )}
      </div>
    </div>
  );
};

/**
 * Star / Unstar and the count (linking to the stargazers), as on GitHub. Anonymous viewers get the
 * count and a Star link to sign in. The form comes back to the page it was sent from.
 */
const StarControl: FC<{ ctx: PageContext; view: RepoView }> = ({ ctx, view }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}`;
  const count = repo.stars_count;
  const label = `${count} ${count === 1 ? 'user' : 'users'} starred this repository`;
  const button = (
    <button type="submit" class={view.starred ? 'btn btn-sm star-toggle starred' : 'btn btn-sm star-toggle'} aria-pressed={view.starred ? 'true' : 'false'} title={view.starred ? 'Unstar this repository' : 'Star this repository'}>
      <Icon name="star" /> {view.starred ? 'Starred' : 'Star'}
    </button>
  );
  return (
    <div class="star-group">
      {ctx.user ? (
        <form method="post" action={`${base}/${view.starred ? 'unstar' : 'star'}`}>
          <CsrfField ctx={ctx} />
          <input type="hidden" name="next" value={ctx.path} />
          {button}
        </form>
      ) : (
        <a class="btn btn-sm star-toggle" href={loginHref(ctx)} title="Sign in to star this repository">
          <Icon name="star" /> Star
        </a>
      )}
      <a class="btn btn-sm star-count" href={`${base}/stargazers`} title={label} aria-label={label}>
        {count}
      </a>
    </div>
  );
};

const WATCH_CHOICES = [
  { state: 'participating', label: 'Participating and @mentions', hint: 'Only what you take part in or are mentioned in.' },
  { state: 'watching', label: 'All activity', hint: 'Every issue, pull request and task of this repository.' },
  { state: 'ignoring', label: 'Ignore', hint: 'Nothing, not even @mentions.' },
] as const;

/** Watch / Unwatch (GitHub's menu of three): what of this repository reaches the viewer's notifications. */
const WatchControl: FC<{ ctx: PageContext; view: RepoView }> = ({ ctx, view }) => {
  const { repo } = view;
  const current = view.watch ?? 'participating';
  return (
    <details class="menu watch-menu">
      <summary class="btn btn-sm" aria-label="Notification settings for this repository">
        <Icon name={view.watch === 'ignoring' ? 'x' : 'eye'} /> {view.watch === 'watching' ? 'Unwatch' : view.watch === 'ignoring' ? 'Ignoring' : 'Watch'}
        <span class="caret" aria-hidden="true"></span>
      </summary>
      <div class="menu-panel watch-panel" role="menu">
        {WATCH_CHOICES.map((choice) => (
          <form method="post" action={`/${repo.owner_name}/${repo.name}/subscription`} class="menu-form">
            <CsrfField ctx={ctx} />
            <input type="hidden" name="state" value={choice.state} />
            <input type="hidden" name="next" value={ctx.path} />
            <button type="submit" class="menu-item watch-choice" role="menuitemradio" aria-checked={choice.state === current ? 'true' : 'false'}>
              <span class="watch-check">{choice.state === current ? <Icon name="check" /> : null}</span>
              <span>
                <strong>{choice.label}</strong>
                <span class="muted watch-hint">{choice.hint}</span>
              </span>
            </button>
          </form>
        ))}
      </div>
    </details>
  );
};

/** Repository pages put the header full-width above the content. */
export const RepoLayout: FC<{ ctx: PageContext; view: RepoView; title: string; active: RepoTab; children?: Child; wide?: boolean; head?: Child }> = ({ ctx, view, title, active, children, wide, head }) => (
  <Layout ctx={ctx} title={title} band={<RepoHeader ctx={ctx} view={view} active={active} wide={wide} />} size={wide ? 'wide' : 'default'} head={head}>
    {children}
  </Layout>
);

export interface RepoHomeBrowse {
  ref: string;
  refs: RefLists;
  tree: TreeView;
  readmeHtml: string | null;
  latestStatus: StatusState | null;
  /** Set when some entries' last commits are still being computed (see FileTable). */
  lastCommitsUrl?: string | null;
}

export const RepoHomePage: FC<{ ctx: PageContext; view: RepoView; browse: RepoHomeBrowse | null }> = ({ ctx, view, browse }) => {
  const { repo } = view;
  const title = repo.description ? `${repo.owner_name}/${repo.name}: ${repo.description}` : `${repo.owner_name}/${repo.name}`;
  return (
    <RepoLayout ctx={ctx} view={view} title={title} active="code">
      <div class="repo-body">
        <div class="repo-main">{browse ? <CodeView view={view} browse={browse} /> : <QuickSetup ctx={ctx} view={view} />}</div>
        <aside class="repo-side">
          <h2 class="side-title">About</h2>
          {repo.description ? <p class="about-desc">{repo.description}</p> : <p class="muted about-desc">No description provided.</p>}
          <ul class="about-facts">
            <li>
              <Icon name={repo.is_private ? 'lock' : 'globe'} /> {repo.is_private ? 'Private repository' : 'Public repository'}
            </li>
            {browse && (
              <li>
                <Icon name="branch" />
                <a href={`/${repo.owner_name}/${repo.name}/branches`} class="muted-link">
                  {browse.refs.branches.length} {browse.refs.branches.length === 1 ? 'branch' : 'branches'}
                </a>
              </li>
            )}
            {browse && (
              <li>
                <Icon name="tag" />
                <a href={`/${repo.owner_name}/${repo.name}/tags`} class="muted-link">
                  {browse.refs.tags.length} {browse.refs.tags.length === 1 ? 'tag' : 'tags'}
                </a>
              </li>
            )}
            <li>
              <Icon name="book" />
              <a href={`/${repo.owner_name}/${repo.name}/releases`} class="muted-link" id="releases-link">
                Releases
              </a>
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

const CodeView: FC<{ view: RepoView; browse: RepoHomeBrowse }> = ({ view, browse }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}`;
  return (
    <>
      <div class="code-toolbar">
        <RefSwitcher current={browse.ref} kind="branch" refs={browse.refs} href={(ref) => `${base}/tree/${encodePath(ref)}`} />
        <a class="muted toolbar-count hide-sm" href={`${base}/branches`}>
          <Icon name="branch" /> <strong>{browse.refs.branches.length}</strong> {browse.refs.branches.length === 1 ? 'branch' : 'branches'}
        </a>
        <a class="muted toolbar-count hide-sm" href={`${base}/tags`}>
          <Icon name="tag" /> <strong>{browse.refs.tags.length}</strong> {browse.refs.tags.length === 1 ? 'tag' : 'tags'}
        </a>
        <CloneBox view={view} />
        <span class="btn-group archive-buttons" role="group" aria-label="Download the source">
          <a class="btn btn-sm" href={`${base}/archive/${encodePath(browse.ref)}.zip`} id="download-zip" title={`Download ${browse.ref} as a ZIP archive`} download>
            <Icon name="download" /> ZIP
          </a>
          <a class="btn btn-sm" href={`${base}/archive/${encodePath(browse.ref)}.tar.gz`} id="download-tar" title={`Download ${browse.ref} as a tar.gz archive`} download>
            tar.gz
          </a>
        </span>
      </div>
      <FileTable repo={repo} refName={browse.ref} path="" entries={browse.tree.entries} latest={browse.tree.latest} latestStatus={browse.latestStatus} lastCommitsUrl={browse.lastCommitsUrl} />
      {browse.tree.readme && <Readme name={browse.tree.readme.name} html={browse.readmeHtml} text={browse.tree.readme.text} />}
    </>
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

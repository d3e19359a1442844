import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RefLists } from '../../../services/uiBrowse.ts';
import type { AgentDefinition, AgentManifest } from '../../../services/agents.ts';
import type { AgentRecord, AgentRunRow } from '../../../services/agentStats.ts';
import { formatProblem } from '../../../domain/manifest.ts';
import { Layout } from '../layout.tsx';
import { Badge, EmptyState, PageAssets } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { RefSwitcher } from '../code.tsx';
import { blobUrl, commitUrl, repoUrl } from '../urls.ts';
import { RepoHeader, type RepoView } from './repo.tsx';
import { RunStatusBadge, canWriteRuns, formatDuration, pullHref, runUrl } from './runs.tsx';

export interface AgentsPageProps {
  ctx: PageContext;
  view: RepoView;
  refs: RefLists;
  refName: string;
  sha: string | null;
  manifest: AgentManifest | null;
  records: Map<string, AgentRecord>;
  runs: AgentRunRow[];
  /** Sanitized HTML of each agent's instructions (by key) and of AGENTS.md. */
  instructionsHtml: Map<string, string>;
  repositoryInstructionsHtml: string | null;
}

export const agentsUrl = (view: RepoView, ref?: string) => `${repoUrl(view.repo)}/agents${ref ? `?ref=${encodeURIComponent(ref)}` : ''}`;
const RUNS_SHOWN = 5;

const FORMAT_LABEL: Record<string, string> = { gitoku: 'gitoku.toml', copilot: 'Copilot agent', claude: 'Claude Code subagent' };

const EXAMPLE = `# gitoku.toml
[agent.reviewer]
name = "Reviewer"
events = ["pull_request.opened", "pull_request.synchronize"]
instructions_file = ".gitoku/agents/reviewer.md"

# or .github/agents/docs.agent.md, .claude/agents/docs.md:
# ---
# name: Docs
# description: Keeps the README true
# model: sonnet
# ---
# Instructions in markdown…`;

export const AgentsPage: FC<AgentsPageProps> = (props) => {
  const { ctx, view, refs, refName, sha, manifest } = props;
  const repo = view.repo;
  const isBranch = refs.branches.some((b) => b.name === refName);
  const agents = manifest?.agents ?? [];
  const broken = manifest?.broken ?? [];
  return (
    <Layout ctx={ctx} title={`Agents · ${repo.owner_name}/${repo.name}`} band={<RepoHeader ctx={ctx} view={view} active="agents" />} head={<PageAssets ctx={ctx} styles={['runs.css', 'agents.css']} />}>
      <div class="ag-head">
        <div>
          <h1 class="ag-title">Agents</h1>
          <p class="muted ag-sub">
            Named agents versioned with the code: <code>[agent.&lt;key&gt;]</code> in <code>gitoku.toml</code>, <code>.github/agents/*.agent.md</code> and <code>.claude/agents/*.md</code>, with <code>AGENTS.md</code> given to every run. Summon one with <code>@key</code> in a pull request.
          </p>
        </div>
      </div>
      <div class="ag-toolbar">
        {refs.branches.length > 0 && <RefSwitcher current={refName} kind={isBranch || !sha ? 'branch' : 'commit'} refs={refs} href={(r) => agentsUrl(view, r === repo.default_branch ? undefined : r)} id="ag-ref" />}
        {sha && (
          <span class="muted">
            at{' '}
            <a class="mono" href={commitUrl(repo, sha)} id="ag-sha">
              {sha.slice(0, 7)}
            </a>
          </span>
        )}
        <span class="ag-count muted" id="ag-count">
          {agents.length} {agents.length === 1 ? 'agent' : 'agents'}
          {broken.length ? `, ${broken.length} with problems` : ''}
        </span>
      </div>

      {!sha ? (
        <div class="flash flash-warning" role="status">
          <Icon name="alert" />
          <span>{refs.branches.length === 0 ? 'Nothing pushed yet.' : <>There is no branch or commit named <code>{refName}</code>.</>}</span>
        </div>
      ) : (
        <>
          {broken.length > 0 && (
            <section class="card ag-problems" id="agent-problems" aria-labelledby="ag-problems-title">
              <div class="card-head">
                <h2 class="h3" id="ag-problems-title">
                  <Icon name="alert" /> Definitions with problems
                </h2>
              </div>
              <ul class="ag-problem-list">
                {broken.map((b) => (
                  <li class="ag-problem" data-key={b.key ?? ''}>
                    <div>
                      {b.key && <code class="ag-key">@{b.key}</code>}{' '}
                      <a href={blobUrl(repo, refName, b.source)} class="mono">
                        {b.source}
                      </a>
                    </div>
                    <ul>
                      {b.problems.map((p) => (
                        <li class="ag-problem-message">{formatProblem(p)}</li>
                      ))}
                    </ul>
                  </li>
                ))}
              </ul>
            </section>
          )}

          {manifest?.repositoryInstructions && (
            <details class="card ag-repo-instructions" id="agents-md">
              <summary>
                <Icon name="book" /> <strong>Repository instructions</strong> · <span class="mono">{manifest.repositoryInstructions.path}</span> <span class="muted">— given to every run, before the agent's instructions</span>
              </summary>
              <div class="ag-instructions markdown-body" dangerouslySetInnerHTML={{ __html: props.repositoryInstructionsHtml ?? '' }} />
            </details>
          )}

          {agents.length === 0 ? (
            <div class="card">
              <EmptyState icon="robot" title={`No agents on ${refName.length === 40 ? refName.slice(0, 7) : refName}`}>
                <p class="muted">Define one in the repository, for example:</p>
              </EmptyState>
              <pre class="ag-example">{EXAMPLE}</pre>
            </div>
          ) : (
            <div class="ag-list" id="agent-list">
              {agents.map((d) => (
                <AgentCard view={view} refName={refName} def={d} record={props.records.get(d.agent.key)} runs={props.runs.filter((r) => r.run.agent_key === d.agent.key)} html={props.instructionsHtml.get(d.agent.key) ?? ''} write={canWriteRuns(view) && !!ctx.user} />
              ))}
            </div>
          )}

          {(manifest?.shadowed.length ?? 0) > 0 && (
            <p class="hint ag-shadowed" id="agent-shadowed">
              Not used (a higher-precedence definition has the same key):{' '}
              {manifest!.shadowed.map((s, i) => (
                <>
                  {i > 0 && ', '}
                  <span class="mono">{s.source}</span> (by <span class="mono">{s.by}</span>)
                </>
              ))}
              .
            </p>
          )}
        </>
      )}
    </Layout>
  );
};

const percent = (x: number) => `${Math.round(x * 100)}%`;

const AgentCard: FC<{ view: RepoView; refName: string; def: AgentDefinition; record: AgentRecord | undefined; runs: AgentRunRow[]; html: string; write: boolean }> = ({ view, refName, def, record, runs, html, write }) => {
  const a = def.agent;
  const repo = view.repo;
  const decided = (record?.merged ?? 0) + (record?.closed ?? 0);
  return (
    <article class="card ag-card" id={`agent-${a.key}`} data-key={a.key}>
      <header class="ag-card-head">
        <div class="ag-card-title">
          <Icon name="robot" />
          <h2 class="h3">{a.name}</h2>
          <code class="ag-key">@{a.key}</code>
          <Badge kind="accent">{FORMAT_LABEL[a.format] ?? a.format}</Badge>
        </div>
        <div class="btn-group">
          <a class="btn btn-sm ag-memory" href={`${repoUrl(repo)}/memory?agent=${encodeURIComponent(a.key)}`} title={`What this repository remembers for @${a.key}`}>
            <Icon name="book" /> Memory
          </a>
          {write && (
            <a class="btn btn-sm" href={`${repoUrl(repo)}/runs/new?agent=${encodeURIComponent(a.key)}`}>
              <Icon name="play" /> Run
            </a>
          )}
        </div>
      </header>
      {a.description && <p class="ag-desc">{a.description}</p>}
      <dl class="ag-facts">
        <div>
          <dt>Defined in</dt>
          <dd>
            <a class="mono ag-source" href={blobUrl(repo, refName, a.source)}>
              {a.source}
            </a>
            {def.instructionsPath !== a.source && (
              <>
                {' '}
                · instructions in{' '}
                <a class="mono" href={blobUrl(repo, refName, def.instructionsPath)}>
                  {def.instructionsPath}
                </a>
              </>
            )}
          </dd>
        </div>
        <div>
          <dt>Driver</dt>
          <dd>{a.driver ? `${a.driver}${a.model ? ` · ${a.model}` : ''}` : a.model ? `model ${a.model}` : 'repository default'}</dd>
        </div>
        <div>
          <dt>Runs on</dt>
          <dd>
            {a.events.length ? a.events.join(', ') : 'request only (form, CLI, @mention)'}
            {a.branches.length > 0 && <span class="muted"> · branches {a.branches.join(', ')}</span>}
            {a.paths.length > 0 && <span class="muted"> · paths {a.paths.join(', ')}</span>}
          </dd>
        </div>
        {a.tools.length > 0 && (
          <div>
            <dt>Tools</dt>
            <dd>{a.tools.join(', ')}</dd>
          </div>
        )}
      </dl>
      <ul class="ag-stats" aria-label={`Record of ${a.key}`}>
        <li>
          <strong class="ag-stat-runs">{record?.runs ?? 0}</strong> <span class="muted">runs</span>
        </li>
        <li title="Pull requests of its runs merged, of those merged or closed">
          <strong class="ag-stat-rate">{record?.successRate != null ? percent(record.successRate) : '—'}</strong> <span class="muted">success ({record?.merged ?? 0} merged / {decided} decided)</span>
        </li>
        <li>
          <strong>{record?.averageMs != null ? formatDuration(record.averageMs) : '—'}</strong> <span class="muted">avg time</span>
        </li>
        <li>
          <strong>{record?.averageTokens != null ? record.averageTokens.toLocaleString('en-US') : '—'}</strong> <span class="muted">avg tokens</span>
        </li>
      </ul>
      <details class="ag-instructions-wrap">
        <summary>Instructions</summary>
        <div class="ag-instructions markdown-body" dangerouslySetInnerHTML={{ __html: html }} />
      </details>
      {runs.length > 0 && (
        <ul class="ag-runs">
          {runs.slice(0, RUNS_SHOWN).map((r) => (
            <li class="ag-run">
              <RunStatusBadge status={r.run.status} />
              <a href={runUrl(view, r.run.number)} class="ag-run-title">
                #{r.run.number} {r.run.title}
              </a>
              {r.pullRequest && (
                <a class="muted" href={pullHref(view, r.pullRequest.number)}>
                  PR #{r.pullRequest.number} ({r.pullRequest.state})
                </a>
              )}
              {r.definitionCommit && (
                <a class="mono muted ag-version" href={commitUrl(repo, r.definitionCommit)} title="Version of the definition this run used">
                  @{r.definitionCommit.slice(0, 7)}
                </a>
              )}
            </li>
          ))}
          {runs.length > RUNS_SHOWN && <li class="muted">… and {runs.length - RUNS_SHOWN} more</li>}
        </ul>
      )}
    </article>
  );
};

import type { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { agentsOverview } from '../../../services/agentStats.ts';
import { listRepoRefs } from '../../../services/uiBrowse.ts';
import { renderMarkdown } from '../../markdown.ts';
import { AgentsPage } from '../../views/pages/agents.tsx';
import { pageContext, render } from './render.tsx';
import { repoAccess, repoView } from './access.ts';

/** The Agents tab: the repository's agents at a branch, their problems, records and runs. */
export function registerAgentPages(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/agents', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const refName = (c.req.query('ref') ?? '').trim().slice(0, 255) || access.repo.default_branch;
    const [view, refs, overview] = await Promise.all([repoView(c, access), listRepoRefs(access), agentsOverview(app, access, refName)]);
    const m = overview.manifest;
    const instructionsHtml = new Map((m?.agents ?? []).map((d) => [d.agent.key, renderMarkdown(d.instructions)]));
    return render(
      c,
      <AgentsPage
        ctx={pageContext(c)}
        view={view}
        refs={refs}
        refName={refName}
        sha={overview.sha}
        manifest={m}
        records={overview.records}
        runs={overview.runs}
        instructionsHtml={instructionsHtml}
        repositoryInstructionsHtml={m?.repositoryInstructions ? renderMarkdown(m.repositoryInstructions.text) : null}
      />,
    );
  });
}

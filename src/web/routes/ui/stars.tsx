import type { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { listStargazers, starRepository, unstarRepository } from '../../../services/stars.ts';
import { backToRepositoryPage, repoAccess, repoView } from './access.ts';
import { pageContext, pageNumber, readForm, render, requireUser } from './render.tsx';
import { STARGAZERS_PER_PAGE, StargazersPage } from '../../views/pages/stargazers.tsx';

/** Star and Unstar (the repository header's forms) and the stargazers page. */
export function registerStarPages(ui: Hono<WebEnv>): void {
  for (const action of ['star', 'unstar'] as const) {
    ui.post(`/:owner/:repo/${action}`, async (c) => {
      const identity = requireUser(c);
      if (identity instanceof Response) return identity;
      const access = await repoAccess(c);
      const app = c.get('app');
      if (action === 'star') await starRepository(app, access.repo.id, identity.user.id);
      else await unstarRepository(app, access.repo.id, identity.user.id);
      return backToRepositoryPage(c, access, (await readForm(c)).get('next'));
    });
  }

  ui.get('/:owner/:repo/stargazers', async (c) => {
    const access = await repoAccess(c);
    const page = pageNumber(c.req.query('page'));
    const users = await listStargazers(c.get('app').db, access.repo.id, { page, perPage: STARGAZERS_PER_PAGE });
    return render(c, <StargazersPage ctx={pageContext(c)} view={await repoView(c, access)} users={users} page={page} />);
  });
}

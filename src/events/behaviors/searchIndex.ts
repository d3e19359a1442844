import type { Behavior } from '../registry.ts';
import { scheduleSearchIndex } from '../../services/searchIndex.ts';

/**
 * Code search index after pushes to the default branch: schedules (debounced) a server job that builds
 * the new commit's index and writes it where every server process finds it, so the first search after
 * a push is answered from an index — never built in the push path.
 */
export const searchIndexAfterPush: Behavior = {
  key: 'search-index',
  description: 'Build the code search index of the default branch after pushes to it (debounced, as a server job)',
  on: ['ref.updated'],
  optional: false,
  when: (event, ctx) => ctx.repo !== null && event.payload.deleted !== true && event.payload.ref === `refs/heads/${ctx.repo.default_branch}`,
  async run(_event, { app, repo }) {
    const result = await scheduleSearchIndex(app, repo!.id);
    return { outcome: result === 'scheduled' ? 'search index build scheduled' : 'search index build already scheduled' };
  },
};

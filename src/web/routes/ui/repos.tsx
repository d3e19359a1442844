import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import {
  createRepository,
  listCollaborators,
  listRepositoriesForUser,
  listRepositoriesOfOwner,
  removeCollaborator,
  type RepositoryAccess,
  setCollaborator,
  updateRepository,
} from '../../../services/repositories.ts';
import { findUserByName } from '../../../services/users.ts';
import { removeRepositoryData } from '../../../services/repositoryDeletion.ts';
import { listProtectionRules } from '../../../services/branchProtection.ts';
import { listRepositoryRedirects } from '../../../services/repositoryRedirects.ts';
import { recentActivity } from '../../../services/activity.ts';
import { ServiceError, notFound } from '../../../services/errors.ts';
import { listBranchNames, listPublicRepositories } from '../../../services/uiQueries.ts';
import { isValidRepositoryName, isValidUsername } from '../../../domain/names.ts';
import { repoAccess, repoPath, repoView } from './access.ts';
import { renderRepoHome } from './code.tsx';
import { DashboardPage, LandingPage } from '../../views/pages/home.tsx';
import { ProfilePage, type ProfileTab } from '../../views/pages/profile.tsx';
import { countStarredRepositories, listStarredRepositories } from '../../../services/stars.ts';
import { EMPTY_NEW_REPO, NewRepositoryPage, type NewRepoValues } from '../../views/pages/newRepo.tsx';
import { RepoSettingsPage, type RepoSettingsProps } from '../../views/pages/repoSettings.tsx';
import { pageContext, readForm, render, requireUser, setFlash } from './render.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';

const LIST_LIMIT = { page: 1, perPage: 100 };
type CollaboratorRole = 'read' | 'write' | 'admin';
const COLLABORATOR_ROLES: readonly CollaboratorRole[] = ['read', 'write', 'admin'];

export async function renderSettings(c: Context<WebEnv>, access: RepositoryAccess, extra: Partial<RepoSettingsProps> = {}, status: 200 | 422 = 200) {
  const app = c.get('app');
  const [branches, collaborators, rules, redirects] = await Promise.all([listBranchNames(access), listCollaborators(app, access.repo), listProtectionRules(app.db, access.repo.id), listRepositoryRedirects(app.db, access.repo.id)]);
  return render(c, <RepoSettingsPage ctx={pageContext(c)} view={await repoView(c, access)} branches={branches} collaborators={collaborators} rules={rules} redirects={redirects} {...extra} />, status);
}

function pick<T extends string>(value: string, allowed: readonly T[], fallback: T): T {
  return (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

/** Home, dashboard, profiles, repository pages and repository settings. */
export function registerRepoRoutes(ui: Hono<WebEnv>): void {
  ui.get('/', async (c) => {
    const app = c.get('app');
    const identity = c.get('identity');
    if (!identity) return render(c, <LandingPage ctx={pageContext(c)} repos={await listPublicRepositories(app)} />);
    const [{ items, total }, activity] = await Promise.all([listRepositoriesForUser(app, identity.user, LIST_LIMIT), recentActivity(app, identity.user.id)]);
    return render(c, <DashboardPage ctx={pageContext(c)} repos={items} total={total} activity={activity} />);
  });

  ui.get('/-/new', (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    return render(c, <NewRepositoryPage ctx={pageContext(c)} />);
  });

  ui.post('/-/new', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const values: NewRepoValues = {
      name: form.get('name').trim(),
      description: form.get('description'),
      visibility: pick(form.get('visibility'), ['public', 'private'], EMPTY_NEW_REPO.visibility),
      autoInit: form.get('auto_init') === '1',
    };
    try {
      const repo = await createRepository(c.get('app'), identity.user, { name: values.name, description: values.description, isPrivate: values.visibility === 'private', autoInit: values.autoInit });
      setFlash(c, 'success', `Repository ${repo.owner_name}/${repo.name} created.`);
      return c.redirect(`/${repo.owner_name}/${repo.name}`, 303);
    } catch (err) {
      if (err instanceof ServiceError && err.status === 422) return render(c, <NewRepositoryPage ctx={pageContext(c)} values={values} error={{ message: err.message, field: err.field }} />, 422);
      throw err;
    }
  });

  ui.get('/:owner', async (c) => {
    const name = c.req.param('owner');
    if (!isValidUsername(name)) throw notFound();
    const app = c.get('app');
    const owner = await findUserByName(app.db, name);
    if (!owner) throw notFound();
    if (owner.username !== name) return c.redirect(`/${owner.username}`, 301);
    const viewer = c.get('identity')?.viewer ?? null;
    const tab: ProfileTab = c.req.query('tab') === 'stars' ? 'stars' : 'repositories';
    if (tab === 'stars') {
      const [starred, owned] = await Promise.all([listStarredRepositories(app, owner.id, viewer, LIST_LIMIT), listRepositoriesOfOwner(app, owner, viewer, { page: 1, perPage: 1 })]);
      return render(c, <ProfilePage ctx={pageContext(c)} owner={owner} tab={tab} repos={starred.items} counts={{ repositories: owned.total, stars: starred.total }} />);
    }
    const [{ items, total }, stars] = await Promise.all([listRepositoriesOfOwner(app, owner, viewer, LIST_LIMIT), countStarredRepositories(app, owner.id, viewer)]);
    return render(c, <ProfilePage ctx={pageContext(c)} owner={owner} tab={tab} repos={items} counts={{ repositories: total, stars }} />);
  });

  ui.get('/:owner/:repo', async (c) => {
    const name = c.req.param('repo');
    if (/\.git$/i.test(name)) {
      // A clone URL pasted into the browser.
      const owner = c.req.param('owner');
      const stripped = name.slice(0, -4);
      if (!isValidUsername(owner) || !isValidRepositoryName(stripped)) throw notFound();
      return c.redirect(`/${owner}/${stripped}`, 301);
    }
    return renderRepoHome(c, await repoAccess(c));
  });

  ui.get('/:owner/:repo/settings', async (c) => renderSettings(c, await repoAccess(c, 'admin')));

  ui.post('/:owner/:repo/settings', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const general = {
      description: form.get('description'),
      visibility: pick(form.get('visibility'), ['public', 'private'], access.repo.is_private ? 'private' : 'public'),
      defaultBranch: form.get('default_branch').trim() || access.repo.default_branch,
    };
    try {
      await updateRepository(c.get('app'), access, { description: general.description, isPrivate: general.visibility === 'private', defaultBranch: general.defaultBranch });
    } catch (err) {
      if (err instanceof ServiceError && err.status === 422) return renderSettings(c, access, { general, error: { section: 'general', error: { message: err.message, field: err.field } } }, 422);
      throw err;
    }
    setFlash(c, 'success', 'Settings saved.');
    return c.redirect(`${repoPath(access)}/settings`, 303);
  });

  ui.post('/:owner/:repo/settings/collaborators', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const collaborator = { username: form.get('username').trim(), role: pick(form.get('role'), COLLABORATOR_ROLES, 'write') };
    try {
      if (!collaborator.username) throw new ServiceError(422, 'Enter the username of the person to add.', 'username');
      const { created } = await setCollaborator(c.get('app'), access.repo, collaborator.username, collaborator.role);
      setFlash(c, 'success', created ? `Added ${collaborator.username} as a collaborator (${collaborator.role}).` : `${collaborator.username} now has ${collaborator.role} access.`);
    } catch (err) {
      // An unknown user is a problem with the form, not a missing page.
      if (err instanceof ServiceError && (err.status === 422 || err.status === 404)) {
        return renderSettings(c, access, { collaborator, error: { section: 'collaborators', error: { message: err.message, field: 'username' } } }, 422);
      }
      throw err;
    }
    return c.redirect(`${repoPath(access)}/settings#collaborators`, 303);
  });

  ui.post('/:owner/:repo/settings/collaborators/:username', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const username = c.req.param('username');
    const role = form.get('role');
    if (!(COLLABORATOR_ROLES as readonly string[]).includes(role)) {
      return renderSettings(c, access, { error: { section: 'collaborators', error: { message: 'Choose read, write or admin.', field: 'role' } } }, 422);
    }
    const current = await listCollaborators(c.get('app'), access.repo);
    if (!current.some((row) => row.user.lower_name === username.toLowerCase())) throw notFound();
    await setCollaborator(c.get('app'), access.repo, username, role as CollaboratorRole);
    setFlash(c, 'success', `${username} now has ${role} access.`);
    return c.redirect(`${repoPath(access)}/settings#collaborators`, 303);
  });

  ui.post('/:owner/:repo/settings/collaborators/:username/remove', async (c) => {
    const access = await repoAccess(c, 'admin');
    const username = c.req.param('username');
    if (!isConfirmed(await readForm(c))) {
      return askToConfirm(c, {
        title: `Remove ${username} from ${access.repo.owner_name}/${access.repo.name}?`,
        message: `${username} loses access to this repository${access.repo.is_private ? ' and can no longer see it' : ' beyond what the public has'}.`,
        action: `${repoPath(access)}/settings/collaborators/${encodeURIComponent(username)}/remove`,
        fields: [],
        confirmLabel: `Remove ${username}`,
        cancelHref: `${repoPath(access)}/settings#collaborators`,
      });
    }
    await removeCollaborator(c.get('app'), access.repo, username);
    setFlash(c, 'success', `Removed ${username} from the collaborators.`);
    return c.redirect(`${repoPath(access)}/settings#collaborators`, 303);
  });

  ui.post('/:owner/:repo/settings/delete', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const confirm = form.get('confirm');
    const fullName = `${access.repo.owner_name}/${access.repo.name}`;
    if (confirm.trim() !== fullName) {
      return renderSettings(c, access, { confirm, error: { section: 'danger', error: { message: `To delete the repository, type ${fullName} exactly.`, field: 'confirm' } } }, 422);
    }
    await removeRepositoryData(c.get('app'), access);
    setFlash(c, 'success', `Repository ${fullName} deleted.`);
    return c.redirect('/', 303);
  });
}

import type { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { authorizeRepository } from '../../../services/repositories.ts';
import { ServiceError } from '../../../services/errors.ts';
import { renameRepository, setRepositoryArchived, transferRepository } from '../../../services/repositorySettings.ts';
import { deleteProtectionRule, findProtectionRule, putProtectionRule } from '../../../services/branchProtection.ts';
import { repoAccess, repoPath } from './access.ts';
import { readForm, requireUser, setFlash } from './render.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { renderSettings } from './repos.tsx';
import type { RuleValues } from '../../views/pages/repoSettings.tsx';

type Form = Awaited<ReturnType<typeof readForm>>;

function ruleFromForm(form: Form): RuleValues {
  const on = (name: string) => form.get(name) === '1';
  return {
    pattern: form.get('pattern').trim(),
    originalPattern: form.get('original_pattern').trim(),
    requireReviews: on('require_reviews'),
    reviewCount: form.get('review_count') || '1',
    dismissStale: on('dismiss_stale'),
    requireChecks: on('require_checks'),
    contexts: form.get('contexts'),
    strict: on('strict'),
    enforceAdmins: on('enforce_admins'),
    allowForcePushes: on('allow_force_pushes'),
    allowDeletions: on('allow_deletions'),
  };
}

const is422 = (err: unknown): err is ServiceError => err instanceof ServiceError && err.status === 422;

/** Repository settings that move or freeze a repository, and branch protection rules (owner/admin only). */
export function registerRepoSettingsRoutes(ui: Hono<WebEnv>): void {
  ui.post('/:owner/:repo/settings/rename', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'admin');
    const name = (await readForm(c)).get('name').trim();
    try {
      const repo = await renameRepository(c.get('app'), access, name, identity.user.id);
      if (repo.name !== access.repo.name) setFlash(c, 'success', `Renamed to ${repo.owner_name}/${repo.name}. The old name redirects here.`);
      return c.redirect(`/${repo.owner_name}/${repo.name}/settings`, 303);
    } catch (err) {
      if (is422(err)) return renderSettings(c, access, { rename: name, error: { section: 'rename', error: { message: err.message, field: 'name' } } }, 422);
      throw err;
    }
  });

  ui.post('/:owner/:repo/settings/transfer', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const values = { newOwner: form.get('new_owner').trim(), confirm: form.get('confirm') };
    const fullName = `${access.repo.owner_name}/${access.repo.name}`;
    try {
      if (values.confirm.trim() !== fullName) throw new ServiceError(422, `To transfer the repository, type ${fullName} exactly.`, 'confirm');
      const repo = await transferRepository(app, access, values.newOwner, identity.user.id);
      setFlash(c, 'success', `Transferred to ${repo.owner_name}/${repo.name}.`);
      // The previous owner may no longer be able to see it.
      const stillReadable = await authorizeRepository(app, repo.owner_name, repo.name, identity.viewer).then(
        () => true,
        () => false,
      );
      return c.redirect(stillReadable ? `/${repo.owner_name}/${repo.name}` : '/', 303);
    } catch (err) {
      if (is422(err)) return renderSettings(c, access, { transfer: values, error: { section: 'transfer', error: { message: err.message, field: err.field ?? 'new_owner' } } }, 422);
      throw err;
    }
  });

  ui.post('/:owner/:repo/settings/archive', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const archive = form.get('archived') === '1';
    const fullName = `${access.repo.owner_name}/${access.repo.name}`;
    if (archive && !isConfirmed(form)) {
      return askToConfirm(c, {
        title: `Archive ${fullName}?`,
        message: 'The repository becomes read-only for everyone: pushes, merges, new pull requests and issues, and agent runs are refused until it is unarchived.',
        action: `${repoPath(access)}/settings/archive`,
        fields: [['archived', '1']],
        confirmLabel: 'Archive this repository',
        cancelHref: `${repoPath(access)}/settings#danger`,
      });
    }
    await setRepositoryArchived(c.get('app'), access, archive);
    setFlash(c, 'success', archive ? `${fullName} is archived: it is read-only now.` : `${fullName} is no longer archived.`);
    return c.redirect(archive ? repoPath(access) : `${repoPath(access)}/settings`, 303);
  });

  ui.post('/:owner/:repo/settings/branches', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c, 'admin');
    const values = ruleFromForm(await readForm(c));
    try {
      const count = Number(values.reviewCount);
      const contexts = values.contexts
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      if (values.requireChecks && contexts.length === 0) throw new ServiceError(422, 'Name at least one status check that must pass.', 'required_status_checks.contexts');
      if (values.originalPattern && values.originalPattern !== values.pattern && (await findProtectionRule(app.db, access.repo.id, values.pattern))) {
        throw new ServiceError(422, `A rule for ${values.pattern} already exists: edit that one.`, 'pattern');
      }
      if (!values.originalPattern && (await findProtectionRule(app.db, access.repo.id, values.pattern))) throw new ServiceError(422, `A rule for ${values.pattern} already exists: edit that one.`, 'pattern');
      await putProtectionRule(app, access, values.pattern, {
        requiredStatusChecks: values.requireChecks ? { strict: values.strict, contexts } : null,
        requiredReviews: values.requireReviews ? { count: Number.isInteger(count) ? count : -1, dismissStale: values.dismissStale } : null,
        enforceAdmins: values.enforceAdmins,
        allowForcePushes: values.allowForcePushes,
        allowDeletions: values.allowDeletions,
      });
      if (values.originalPattern && values.originalPattern !== values.pattern) await deleteProtectionRule(app, access, values.originalPattern).catch(() => undefined);
    } catch (err) {
      if (is422(err)) return renderSettings(c, access, { rule: values, error: { section: 'branches', error: { message: err.message, field: err.field } } }, 422);
      throw err;
    }
    setFlash(c, 'success', values.originalPattern ? `Saved the rule on ${values.pattern}.` : `Branches matching ${values.pattern} are protected.`);
    return c.redirect(`${repoPath(access)}/settings#branches`, 303);
  });

  ui.post('/:owner/:repo/settings/branches/remove', async (c) => {
    const access = await repoAccess(c, 'admin');
    const form = await readForm(c);
    const pattern = form.get('pattern');
    if (!isConfirmed(form)) {
      return askToConfirm(c, {
        title: `Remove the protection of ${pattern}?`,
        message: `Branches matching ${pattern} can then be force-pushed, deleted and changed without reviews or checks (unless another rule covers them).`,
        action: `${repoPath(access)}/settings/branches/remove`,
        fields: [['pattern', pattern]],
        confirmLabel: 'Remove rule',
        cancelHref: `${repoPath(access)}/settings#branches`,
      });
    }
    await deleteProtectionRule(c.get('app'), access, pattern);
    setFlash(c, 'success', `Removed the rule on ${pattern}.`);
    return c.redirect(`${repoPath(access)}/settings#branches`, 303);
  });
}

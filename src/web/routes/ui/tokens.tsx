import type { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { createAccessToken, listAccessTokens, revokeAccessToken } from '../../../services/tokens.ts';
import { notFound, ServiceError } from '../../../services/errors.ts';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { TOKEN_SCOPES, type TokenScope } from '../../../domain/permissions.ts';
import { TokenCreatedPage, TokensPage, type TokenFormValues } from '../../views/pages/tokens.tsx';
import type { FormError } from '../../views/context.ts';
import { pageContext, readForm, render, requireUser, setFlash } from './render.tsx';

const MAX_EXPIRY_DAYS = 3650;

/** Personal access tokens: list, create (shown once), revoke. */
export function registerTokenRoutes(ui: Hono<WebEnv>): void {
  ui.get('/-/settings', (c) => c.redirect('/-/settings/profile', 302));

  ui.get('/-/settings/tokens', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const tokens = await listAccessTokens(c.get('app'), identity.user.id);
    return render(c, <TokensPage ctx={pageContext(c)} tokens={tokens} now={new Date().toISOString()} />);
  });

  ui.post('/-/settings/tokens', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const form = await readForm(c);
    const values: TokenFormValues = { name: form.get('name'), scopes: form.getAll('scopes'), expiresInDays: form.get('expires_in_days').trim() };
    const fail = async (error: FormError) => {
      const tokens = await listAccessTokens(app, identity.user.id);
      return render(c, <TokensPage ctx={pageContext(c)} tokens={tokens} values={values} error={error} now={new Date().toISOString()} />, 422);
    };
    const unknown = values.scopes.filter((s) => !TOKEN_SCOPES.includes(s as TokenScope));
    if (unknown.length) return fail({ message: `Unknown scope: ${unknown.join(', ')}`, field: 'scopes' });
    let expiresAt: Date | null = null;
    if (values.expiresInDays) {
      const days = Number(values.expiresInDays);
      if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) return fail({ message: `Expiry must be a whole number of days between 1 and ${MAX_EXPIRY_DAYS}.`, field: 'expires_at' });
      expiresAt = new Date(Date.now() + days * 24 * 3600 * 1000);
    }
    try {
      const created = await createAccessToken(app, { userId: identity.user.id, name: values.name, scopes: [...new Set(values.scopes)] as TokenScope[], expiresAt });
      return render(c, <TokenCreatedPage ctx={pageContext(c)} token={created.token} record={created.record} />, 201);
    } catch (err) {
      if (err instanceof ServiceError && err.status === 422) return fail({ message: err.message, field: err.field });
      throw err;
    }
  });

  ui.post('/-/settings/tokens/:id{[0-9]{1,9}}/revoke', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const id = Number(c.req.param('id'));
    const form = await readForm(c);
    if (!isConfirmed(form)) {
      const token = (await listAccessTokens(c.get('app'), identity.user.id)).find((t) => t.id === id);
      if (!token) throw notFound(); // someone else's token
      return askToConfirm(c, {
        title: `Revoke the token “${token.name}”?`,
        message: 'Anything using it — scripts, git remotes, CI — stops working at once. A revoked token cannot be restored.',
        action: `/-/settings/tokens/${id}/revoke`,
        fields: [],
        confirmLabel: 'Revoke token',
        cancelHref: '/-/settings/tokens',
      });
    }
    await revokeAccessToken(c.get('app'), identity.user.id, id); // someone else's token: 404
    setFlash(c, 'success', 'Token revoked.');
    return c.redirect('/-/settings/tokens', 303);
  });
}

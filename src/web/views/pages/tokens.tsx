import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { AccessToken } from '../../../db/schema.ts';
import { Layout } from '../layout.tsx';
import { Badge, CopyField, EmptyState, FormAlert, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { shortDate } from '../format.ts';
import { SettingsNav } from './settings.tsx';

export interface TokenFormValues {
  name: string;
  scopes: string[];
  expiresInDays: string;
}

export const EMPTY_TOKEN_FORM: TokenFormValues = { name: '', scopes: ['repo'], expiresInDays: '' };

const SCOPE_HELP: Record<string, string> = {
  repo: 'Full access to repositories you can reach: clone, push, API reads and writes.',
  admin: 'Site administration (only effective for administrators).',
};

export const TokensPage: FC<{ ctx: PageContext; tokens: AccessToken[]; values?: TokenFormValues; error?: FormError | null; now: string }> = ({ ctx, tokens, values = EMPTY_TOKEN_FORM, error, now }) => (
  <Layout ctx={ctx} title="Access tokens">
    <div class="split">
      <aside class="split-side">
        <SettingsNav active="tokens" />
      </aside>
      <section class="split-main">
        <div class="page-head">
          <h1>Personal access tokens</h1>
          <p class="muted">Tokens work like passwords for git over HTTPS and for the API. Use one as the password when git asks, or send it as <code>Authorization: Bearer …</code>.</p>
        </div>
        <div class="card">
          <div class="card-head">
            <h2 class="h3">Your tokens</h2>
          </div>
          {tokens.length ? (
            <ul class="token-list">
              {tokens.map((t) => {
                const expired = !!t.expires_at && t.expires_at <= now;
                return (
                  <li class="token-item">
                    <div class="token-main">
                      <div class="token-title">
                        <Icon name="key" class="muted" />
                        <strong class="token-name">{t.name}</strong>
                        {t.scopes ? t.scopes.split(',').map((s) => <Badge kind="accent">{s}</Badge>) : <Badge>no scopes</Badge>}
                        {expired && <Badge kind="danger">Expired</Badge>}
                      </div>
                      <dl class="token-meta">
                        <div>
                          <dt>Ends in</dt>
                          <dd class="mono">…{t.token_last_eight}</dd>
                        </div>
                        <div>
                          <dt>Last used</dt>
                          <dd>{t.last_used_at ? <Time iso={t.last_used_at} /> : 'Never'}</dd>
                        </div>
                        <div>
                          <dt>Expires</dt>
                          <dd>{t.expires_at ? <time datetime={t.expires_at}>{shortDate(t.expires_at)}</time> : 'Never'}</dd>
                        </div>
                        <div>
                          <dt>Created</dt>
                          <dd>
                            <Time iso={t.created_at} />
                          </dd>
                        </div>
                      </dl>
                    </div>
                    <PostForm ctx={ctx} action={`/-/settings/tokens/${t.id}/revoke`} class="token-actions">
                      <button type="submit" class="btn btn-danger-outline btn-sm" aria-label={`Revoke token ${t.name}`}>
                        Revoke
                      </button>
                    </PostForm>
                  </li>
                );
              })}
            </ul>
          ) : (
            <EmptyState icon="key" title="No tokens yet">
              <p class="muted">Create a token below to push over HTTPS or call the API.</p>
            </EmptyState>
          )}
        </div>

        <div class="card" id="new-token">
          <div class="card-head">
            <h2 class="h3">Generate a new token</h2>
          </div>
          <div class="card-pad">
            <FormAlert error={error} />
            <PostForm ctx={ctx} action="/-/settings/tokens" class="stack">
              <div class="field">
                <label for="token-name">Name</label>
                <input type="text" id="token-name" class="input" name="name" value={values.name} maxlength={255} required placeholder="e.g. laptop, CI deploy" aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined} />
                <p class="hint">What's this token for?</p>
              </div>
              <fieldset class="field choice-group">
                <legend>Scopes</legend>
                {(['repo', 'admin'] as const).map((scope) => (
                  <label class="choice choice-check">
                    <input type="checkbox" name="scopes" value={scope} checked={values.scopes.includes(scope)} />
                    <span>
                      <strong class="mono">{scope}</strong>
                      <span class="hint">{SCOPE_HELP[scope]}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <div class="field field-inline">
                <label for="token-expiry">
                  Expires after <span class="muted">(optional)</span>
                </label>
                <div class="input-suffix">
                  <input id="token-expiry" class="input input-short" type="number" name="expires_in_days" min={1} max={3650} step={1} value={values.expiresInDays} inputmode="numeric" aria-invalid={fieldInvalid(error, 'expires_at') ? 'true' : undefined} />
                  <span>days</span>
                </div>
                <p class="hint">Leave empty for a token that never expires.</p>
              </div>
              <div class="form-actions">
                <button type="submit" class="btn btn-primary">
                  Generate token
                </button>
              </div>
            </PostForm>
          </div>
        </div>
      </section>
    </div>
  </Layout>
);

export const TokenCreatedPage: FC<{ ctx: PageContext; token: string; record: AccessToken }> = ({ ctx, token, record }) => (
  <Layout ctx={ctx} title="Token created" size="narrow">
    <div class="page-head">
      <h1>Your new token</h1>
    </div>
    <div class="card card-pad stack token-created">
      <div class="flash flash-warning" role="status">
        <Icon name="alert" />
        <span>
          <strong>Copy your token now.</strong> For your security it is stored hashed and won't be shown again.
        </span>
      </div>
      <div class="field">
        <label for="new-token-value">
          Token <strong>{record.name}</strong> {record.scopes ? record.scopes.split(',').map((s) => <Badge kind="accent">{s}</Badge>) : <Badge>no scopes</Badge>}
        </label>
        <CopyField id="new-token-value" value={token} label="Token" />
        <p class="hint">
          {record.expires_at ? <>Expires {shortDate(record.expires_at)}. </> : <>Never expires. </>}
          Use it as the password for git over HTTPS, or as <code>Authorization: Bearer &lt;token&gt;</code> for the API.
        </p>
      </div>
      <div class="form-actions">
        <a class="btn btn-primary" href="/-/settings/tokens">
          Done
        </a>
      </div>
    </div>
  </Layout>
);

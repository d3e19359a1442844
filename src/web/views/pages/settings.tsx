import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { User } from '../../../db/schema.ts';
import type { SessionView } from '../../../services/sessions.ts';
import { Layout } from '../layout.tsx';
import { Avatar, Badge, CsrfField, EmptyState, FormAlert, PageAssets, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { userAvatarPath } from '../avatarSvg.ts';

export type SettingsTab = 'profile' | 'account' | 'avatar' | 'sessions' | 'tokens';

const TABS: { key: SettingsTab; href: string; label: string; icon: Parameters<typeof Icon>[0]['name'] }[] = [
  { key: 'profile', href: '/-/settings/profile', label: 'Profile', icon: 'user' },
  { key: 'account', href: '/-/settings/account', label: 'Account', icon: 'gear' },
  { key: 'avatar', href: '/-/settings/avatar', label: 'Avatar', icon: 'image' },
  { key: 'sessions', href: '/-/settings/sessions', label: 'Sessions', icon: 'server' },
  { key: 'tokens', href: '/-/settings/tokens', label: 'Access tokens', icon: 'key' },
];

/** The user settings tabs (also used by the access tokens page). */
export const SettingsNav: FC<{ active: SettingsTab }> = ({ active }) => (
  <nav class="card side-links" aria-label="Settings">
    {TABS.map((t) => (
      <a href={t.href} class={active === t.key ? 'active' : undefined} aria-current={active === t.key ? 'page' : undefined}>
        <Icon name={t.icon} /> {t.label}
      </a>
    ))}
  </nav>
);

const SettingsLayout: FC<{ ctx: PageContext; active: SettingsTab; title: string; intro?: Child; children?: Child }> = ({ ctx, active, title, intro, children }) => (
  <Layout ctx={ctx} title={`${title} · Settings`} head={<PageAssets ctx={ctx} styles={['accounts.css']} />}>
    <div class="split">
      <aside class="split-side">
        <p class="admin-eyebrow">Settings</p>
        <SettingsNav active={active} />
      </aside>
      <section class="split-main">
        <div class="page-head">
          <h1>{title}</h1>
          {intro && <p class="muted">{intro}</p>}
        </div>
        {children}
      </section>
    </div>
  </Layout>
);

export interface ProfileValues {
  name: string;
  bio: string;
  blog: string;
  location: string;
}

export const profileValues = (user: User): ProfileValues => ({ name: user.full_name, bio: user.bio, blog: user.website, location: user.location });

export const ProfileSettingsPage: FC<{ ctx: PageContext; user: User; values?: ProfileValues; error?: FormError | null }> = ({ ctx, user, values = profileValues(user), error }) => (
  <SettingsLayout ctx={ctx} active="profile" title="Public profile" intro={<>Shown on <a href={`/${user.username}`}>your profile page</a> and in the API.</>}>
    <div class="card card-pad">
      <FormAlert error={error} />
      <PostForm ctx={ctx} action="/-/settings/profile" class="stack">
        <div class="field">
          <label for="profile-name">Name</label>
          <input type="text" id="profile-name" class="input" name="name" value={values.name} maxlength={255} autocomplete="name" aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined} />
          <p class="hint">Your name as people know it; your username stays <strong>{user.username}</strong>.</p>
        </div>
        <div class="field">
          <label for="profile-bio">Bio</label>
          <textarea id="profile-bio" class="input" name="bio" rows={4} maxlength={640} placeholder="Tell us a little about yourself" aria-invalid={fieldInvalid(error, 'bio') ? 'true' : undefined}>
            {values.bio}
          </textarea>
        </div>
        <div class="field">
          <label for="profile-blog">Website</label>
          <input type="text" id="profile-blog" class="input" name="blog" value={values.blog} maxlength={255} placeholder="https://example.com" inputmode="url" autocomplete="url" aria-invalid={fieldInvalid(error, 'blog') ? 'true' : undefined} />
        </div>
        <div class="field">
          <label for="profile-location">Location</label>
          <input type="text" id="profile-location" class="input" name="location" value={values.location} maxlength={255} aria-invalid={fieldInvalid(error, 'location') ? 'true' : undefined} />
        </div>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            Update profile
          </button>
        </div>
      </PostForm>
    </div>
  </SettingsLayout>
);

export interface AccountErrors {
  email?: FormError | null;
  password?: FormError | null;
}

export const AccountSettingsPage: FC<{ ctx: PageContext; user: User; email?: string; errors?: AccountErrors; minPassword: number }> = ({ ctx, user, email = user.email, errors = {}, minPassword }) => (
  <SettingsLayout ctx={ctx} active="account" title="Account">
    <div class="card" id="email">
      <div class="card-head">
        <h2 class="h3">Email address</h2>
      </div>
      <div class="card-pad">
        <FormAlert error={errors.email} />
        <PostForm ctx={ctx} action="/-/settings/email" class="stack">
          <div class="field">
            <label for="account-email">Email</label>
            <input type="email" id="account-email" class="input" name="email" value={email} maxlength={320} required autocomplete="email" aria-invalid={fieldInvalid(errors.email, 'email') ? 'true' : undefined} />
          </div>
          <div class="field">
            <label for="account-email-password">Current password</label>
            <input type="password" id="account-email-password" class="input" name="current_password" required autocomplete="current-password" aria-invalid={fieldInvalid(errors.email, 'current_password') ? 'true' : undefined} />
          </div>
          <div class="form-actions">
            <button type="submit" class="btn btn-primary">
              Change email
            </button>
          </div>
        </PostForm>
      </div>
    </div>

    <div class="card" id="password">
      <div class="card-head">
        <h2 class="h3">Change password</h2>
      </div>
      <div class="card-pad">
        <FormAlert error={errors.password} />
        <PostForm ctx={ctx} action="/-/settings/password" class="stack">
          {/* Lets password managers tie the new password to this account. */}
          <input type="text" name="username" value={user.username} autocomplete="username" hidden />
          <div class="field">
            <label for="password-current">Current password</label>
            <input type="password" id="password-current" class="input" name="current_password" required autocomplete="current-password" aria-invalid={fieldInvalid(errors.password, 'current_password') ? 'true' : undefined} />
          </div>
          <div class="field">
            <label for="password-new">New password</label>
            <input type="password" id="password-new" class="input" name="new_password" required minlength={minPassword} maxlength={1024} autocomplete="new-password" aria-invalid={fieldInvalid(errors.password, 'new_password') ? 'true' : undefined} />
            <p class="hint">At least {minPassword} characters.</p>
          </div>
          <div class="field">
            <label for="password-confirm">Confirm new password</label>
            <input type="password" id="password-confirm" class="input" name="confirm_password" required minlength={minPassword} maxlength={1024} autocomplete="new-password" aria-invalid={fieldInvalid(errors.password, 'confirm_password') ? 'true' : undefined} />
          </div>
          <p class="hint">Changing your password signs you out everywhere else. Access tokens keep working.</p>
          <div class="form-actions">
            <button type="submit" class="btn btn-primary">
              Update password
            </button>
          </div>
        </PostForm>
      </div>
    </div>
  </SettingsLayout>
);

export const AvatarSettingsPage: FC<{ ctx: PageContext; user: User; error?: FormError | null; maxBytes: number }> = ({ ctx, user, error, maxBytes }) => (
  <SettingsLayout ctx={ctx} active="avatar" title="Avatar">
    <div class="card card-pad">
      <div class="avatar-settings">
        <Avatar name={user.username} size="xl" src={user.avatar ? userAvatarPath(user) : null} />
        <div class="stack avatar-settings-forms">
          <FormAlert error={error} />
          <p class="muted">{user.avatar ? 'You are using an uploaded picture.' : 'You are using the generated avatar (your initial on a colour).'}</p>
          <form method="post" action="/-/settings/avatar" enctype="multipart/form-data" class="stack">
            <CsrfField ctx={ctx} />
            <div class="field">
              <label for="avatar-file">Upload a picture</label>
              <input type="file" id="avatar-file" name="avatar" class="input" accept="image/png,image/jpeg,image/gif,image/webp" required aria-invalid={fieldInvalid(error, 'avatar') ? 'true' : undefined} />
              <p class="hint">PNG, JPEG, GIF or WebP, at most {Math.round(maxBytes / 1024 / 1024)} MiB. A square picture looks best.</p>
            </div>
            <div class="form-actions">
              <button type="submit" class="btn btn-primary">
                Upload
              </button>
            </div>
          </form>
          {user.avatar && (
            <PostForm ctx={ctx} action="/-/settings/avatar/reset">
              <button type="submit" class="btn btn-danger-outline btn-sm">
                Use the generated avatar
              </button>
            </PostForm>
          )}
        </div>
      </div>
    </div>
  </SettingsLayout>
);

/** "Firefox on Linux" from a user agent, enough to recognise a device. */
export function describeUserAgent(ua: string): string {
  if (!ua) return 'Unknown browser';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\/|Chromium\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl\//i.test(ua) ? 'curl' : null;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Linux|X11/.test(ua) ? 'Linux' : null;
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}

export const SessionsSettingsPage: FC<{ ctx: PageContext; sessions: SessionView[]; current: string | null }> = ({ ctx, sessions, current }) => {
  const others = sessions.filter((s) => s.id_hash !== current).length;
  return (
    <SettingsLayout ctx={ctx} active="sessions" title="Sessions" intro="Browsers signed in to your account. Sign out any you don't recognise, and change your password.">
      <div class="card">
        <div class="card-head session-head">
          <h2 class="h3">
            Signed-in browsers <span class="counter">{sessions.length}</span>
          </h2>
          {others > 0 && (
            <PostForm ctx={ctx} action="/-/settings/sessions/revoke-others">
              <button type="submit" class="btn btn-danger-outline btn-sm">
                Sign out everywhere else
              </button>
            </PostForm>
          )}
        </div>
        {sessions.length ? (
          <ul class="session-list">
            {sessions.map((s) => (
              <li class="session-item" data-session={s.id_hash.slice(0, 12)}>
                <Icon name="server" class="muted" />
                <div class="session-main">
                  <div class="session-title">
                    <strong title={s.user_agent}>{describeUserAgent(s.user_agent)}</strong>
                    {s.id_hash === current && <Badge kind="success">This browser</Badge>}
                  </div>
                  <dl class="token-meta">
                    <div>
                      <dt>Address</dt>
                      <dd class="mono">{s.ip || 'unknown'}</dd>
                    </div>
                    <div>
                      <dt>Last seen</dt>
                      <dd>{s.last_seen_at ? <Time iso={s.last_seen_at} /> : 'unknown'}</dd>
                    </div>
                    <div>
                      <dt>Signed in</dt>
                      <dd>
                        <Time iso={s.created_at} />
                      </dd>
                    </div>
                  </dl>
                </div>
                {s.id_hash !== current && (
                  <PostForm ctx={ctx} action={`/-/settings/sessions/${s.id_hash}/revoke`} class="token-actions">
                    <button type="submit" class="btn btn-danger-outline btn-sm" aria-label={`Sign out ${describeUserAgent(s.user_agent)}`}>
                      Sign out
                    </button>
                  </PostForm>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <EmptyState icon="server" title="No sessions" />
        )}
      </div>
    </SettingsLayout>
  );
};

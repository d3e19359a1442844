import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import { ServiceError } from '../../../services/errors.ts';
import { changeEmail, changePassword, TooManyAttempts, updateProfile } from '../../../services/accountSettings.ts';
import { MAX_AVATAR_BYTES, resetAvatar, setUploadedAvatar } from '../../../services/avatars.ts';
import { destroyOtherSessions, destroyUserSession, listUserSessions, sessionHandle } from '../../../services/sessions.ts';
import { MIN_PASSWORD_LENGTH } from '../../../services/users.ts';
import { SESSION_COOKIE } from '../../middleware/identity.ts';
import { clientAddress, retryAfterHeaders } from '../../middleware/rateLimit.ts';
import type { FormError } from '../../views/context.ts';
import { AccountSettingsPage, AvatarSettingsPage, ProfileSettingsPage, SessionsSettingsPage, type AccountErrors } from '../../views/pages/settings.tsx';
import { pageContext, readForm, render, requireUser, setFlash } from './render.tsx';

/** The largest avatar form accepted before the upload is read (the file limit plus multipart overhead). */
export const AVATAR_FORM_LIMIT = MAX_AVATAR_BYTES + 64 * 1024;
export const AVATAR_FORM_PATH = '/-/settings/avatar';

/** The stored id of this browser's session (to keep it, and to mark it in the list). */
function currentSession(c: Context<WebEnv>): string | null {
  const cookie = getCookie(c, SESSION_COOKIE);
  return cookie ? sessionHandle(cookie) : null;
}

/** A 422 (or 413) ServiceError as a form error; anything else is thrown on. */
function formError(err: unknown): { error: FormError; status: 413 | 422 } {
  if (err instanceof ServiceError && (err.status === 422 || err.status === 413)) return { error: { message: err.message, field: err.field }, status: err.status };
  throw err;
}

function tooMany(c: Context<WebEnv>, err: TooManyAttempts): FormError {
  for (const [k, v] of Object.entries(retryAfterHeaders(err.retryAfterSeconds))) c.header(k, v);
  return { message: `Too many wrong passwords. Try again in ${err.retryAfterSeconds} seconds.`, field: 'current_password' };
}

/** User settings: profile, account (email, password), avatar and sessions; tokens live in ui/tokens.tsx. */
export function registerSettingsRoutes(ui: Hono<WebEnv>): void {
  const withUser = (handler: (c: Context<WebEnv>, identity: Identity) => Promise<Response>) => async (c: Context<WebEnv>) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    return handler(c, identity);
  };

  ui.get(
    '/-/settings/profile',
    withUser(async (c, { user }) => render(c, <ProfileSettingsPage ctx={pageContext(c)} user={user} />)),
  );

  ui.post(
    '/-/settings/profile',
    withUser(async (c, { user }) => {
      const form = await readForm(c);
      const values = { name: form.get('name'), bio: form.get('bio'), blog: form.get('blog'), location: form.get('location') };
      try {
        await updateProfile(c.get('app'), user.id, values);
      } catch (err) {
        const { error, status } = formError(err);
        return render(c, <ProfileSettingsPage ctx={pageContext(c)} user={user} values={values} error={error} />, status);
      }
      setFlash(c, 'success', 'Profile updated.');
      return c.redirect('/-/settings/profile', 303);
    }),
  );

  const accountPage = (c: Context<WebEnv>, identity: Identity, extra: { email?: string; errors?: AccountErrors } = {}, status: 200 | 422 | 429 = 200) =>
    render(c, <AccountSettingsPage ctx={pageContext(c)} user={identity.user} email={extra.email} errors={extra.errors} minPassword={MIN_PASSWORD_LENGTH} />, status);

  ui.get(
    '/-/settings/account',
    withUser(async (c, identity) => accountPage(c, identity)),
  );

  ui.post(
    '/-/settings/email',
    withUser(async (c, identity) => {
      const form = await readForm(c);
      const email = form.get('email');
      try {
        await changeEmail(c.get('app'), identity.user, { email, currentPassword: form.get('current_password'), address: clientAddress(c) });
      } catch (err) {
        if (err instanceof TooManyAttempts) return accountPage(c, identity, { email, errors: { email: tooMany(c, err) } }, 429);
        return accountPage(c, identity, { email, errors: { email: formError(err).error } }, 422);
      }
      setFlash(c, 'success', 'Email address updated.');
      return c.redirect('/-/settings/account', 303);
    }),
  );

  ui.post(
    '/-/settings/password',
    withUser(async (c, identity) => {
      const form = await readForm(c);
      let ended: number;
      try {
        ended = await changePassword(c.get('app'), identity.user, {
          currentPassword: form.get('current_password'),
          newPassword: form.get('new_password'),
          confirmation: form.get('confirm_password'),
          keepSessionHash: currentSession(c),
          address: clientAddress(c),
        });
      } catch (err) {
        if (err instanceof TooManyAttempts) return accountPage(c, identity, { errors: { password: tooMany(c, err) } }, 429);
        return accountPage(c, identity, { errors: { password: formError(err).error } }, 422);
      }
      const others = ended === 0 ? 'No other sessions were signed in.' : `${ended} other ${ended === 1 ? 'session was' : 'sessions were'} signed out.`;
      setFlash(c, 'success', `Password changed. ${others}`);
      return c.redirect('/-/settings/account', 303);
    }),
  );

  ui.get(
    '/-/settings/avatar',
    withUser(async (c, { user }) => render(c, <AvatarSettingsPage ctx={pageContext(c)} user={user} maxBytes={MAX_AVATAR_BYTES} />)),
  );

  ui.post(
    AVATAR_FORM_PATH,
    withUser(async (c, { user }) => {
      const body = await c.req.parseBody();
      const file = body['avatar'];
      try {
        const bytes = file instanceof File ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array();
        await setUploadedAvatar(c.get('app'), user.id, bytes);
      } catch (err) {
        const { error, status } = formError(err);
        return render(c, <AvatarSettingsPage ctx={pageContext(c)} user={user} error={error} maxBytes={MAX_AVATAR_BYTES} />, status);
      }
      setFlash(c, 'success', 'Avatar updated.');
      return c.redirect('/-/settings/avatar', 303);
    }),
  );

  ui.post(
    '/-/settings/avatar/reset',
    withUser(async (c, { user }) => {
      await resetAvatar(c.get('app'), user.id);
      setFlash(c, 'success', 'You are using the generated avatar again.');
      return c.redirect('/-/settings/avatar', 303);
    }),
  );

  ui.get(
    '/-/settings/sessions',
    withUser(async (c, { user }) => render(c, <SessionsSettingsPage ctx={pageContext(c)} sessions={await listUserSessions(c.get('app'), user.id)} current={currentSession(c)} />)),
  );

  ui.post(
    '/-/settings/sessions/revoke-others',
    withUser(async (c, { user }) => {
      const ended = await destroyOtherSessions(c.get('app'), user.id, currentSession(c));
      setFlash(c, 'success', ended ? `Signed out ${ended} other ${ended === 1 ? 'session' : 'sessions'}.` : 'No other sessions were signed in.');
      return c.redirect('/-/settings/sessions', 303);
    }),
  );

  ui.post(
    '/-/settings/sessions/:hash{[0-9a-f]{64}}/revoke',
    withUser(async (c, { user }) => {
      const hash = c.req.param('hash') ?? '';
      if (hash === currentSession(c)) throw new ServiceError(422, 'Use “Sign out” in the user menu to end this session.');
      if (!(await destroyUserSession(c.get('app'), user.id, hash))) throw new ServiceError(404, 'Not Found');
      setFlash(c, 'success', 'Session signed out.');
      return c.redirect('/-/settings/sessions', 303);
    }),
  );
}

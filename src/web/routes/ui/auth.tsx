import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { WebEnv } from '../../context.ts';
import { SESSION_COOKIE } from '../../middleware/identity.ts';
import { createUser } from '../../../services/users.ts';
import { checkPassword } from '../../../services/auth.ts';
import { clientAddress } from '../../middleware/rateLimit.ts';
import { createSession, destroySession, SESSION_TTL_MS } from '../../../services/sessions.ts';
import { ServiceError } from '../../../services/errors.ts';
import { LoginPage, SignupPage } from '../../views/pages/auth.tsx';
import { pageContext, readForm, render, safeNext, secureCookies, setFlash } from './render.tsx';

function startSession(c: Context<WebEnv>, sessionId: string): void {
  setCookie(c, SESSION_COOKIE, sessionId, { path: '/', httpOnly: true, sameSite: 'Lax', secure: secureCookies(c), maxAge: Math.floor(SESSION_TTL_MS / 1000) });
}

/** Where a session starts, for the sessions list (settings → Sessions). */
export function sessionOrigin(c: Context<WebEnv>): { userAgent: string; ip: string } {
  return { userAgent: c.req.header('user-agent') ?? '', ip: clientAddress(c) };
}

/** "1 second", "45 seconds", "2 minutes", "15 minutes". */
function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/** Sign-in, sign-up and sign-out. */
export function registerAuthRoutes(ui: Hono<WebEnv>): void {
  ui.get('/-/login', (c) => {
    const next = c.req.query('next');
    if (c.get('identity')) return c.redirect(safeNext(next), 303);
    return render(c, <LoginPage ctx={pageContext(c)} next={next ? safeNext(next) : ''} />);
  });

  ui.post('/-/login', async (c) => {
    const form = await readForm(c);
    const username = form.get('username').trim();
    const next = safeNext(form.get('next'));
    const checked = username && form.get('password') ? await checkPassword(c.get('app'), username, form.get('password'), clientAddress(c)) : null;
    if (checked?.kind === 'limited') {
      // Too many failures for this account from here (or from this address): the form again, saying when.
      c.header('Retry-After', String(checked.retryAfterSeconds));
      const message = `Too many failed sign-in attempts. Try again in ${waitText(checked.retryAfterSeconds)}.`;
      return render(c, <LoginPage ctx={pageContext(c)} username={username} next={next === '/' ? '' : next} error={{ message }} />, 429);
    }
    if (checked?.kind === 'suspended') {
      return render(c, <LoginPage ctx={pageContext(c)} username={username} next={next === '/' ? '' : next} error={{ message: 'This account is suspended. Contact a site administrator.' }} />, 403);
    }
    if (checked?.kind !== 'ok') {
      // Never say which of the two was wrong.
      return render(c, <LoginPage ctx={pageContext(c)} username={username} next={next === '/' ? '' : next} error={{ message: 'Incorrect username or password.' }} />, 401);
    }
    const user = checked.user;
    // A fresh session id on every sign-in; an earlier one from this browser ends here.
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await destroySession(c.get('app'), previous);
    startSession(c, await createSession(c.get('app'), user.id, sessionOrigin(c)));
    return c.redirect(next, 303);
  });

  ui.post('/-/logout', async (c) => {
    const session = getCookie(c, SESSION_COOKIE);
    if (session) await destroySession(c.get('app'), session);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookies(c) });
    setFlash(c, 'info', 'You have signed out.');
    return c.redirect('/', 303);
  });

  ui.get('/-/signup', (c) => {
    if (c.get('identity')) return c.redirect('/', 303);
    return render(c, <SignupPage ctx={pageContext(c)} />);
  });

  ui.post('/-/signup', async (c) => {
    const app = c.get('app');
    if (!app.config.signupEnabled) return render(c, <SignupPage ctx={pageContext(c)} />, 403);
    if (c.get('identity')) return c.redirect('/', 303);
    const form = await readForm(c);
    const values = { username: form.get('username').trim(), email: form.get('email').trim() };
    let userId: number;
    try {
      const user = await createUser(app, { username: values.username, email: values.email || undefined, password: form.get('password') });
      userId = user.id;
    } catch (err) {
      if (err instanceof ServiceError && err.status === 422) {
        return render(c, <SignupPage ctx={pageContext(c)} values={values} error={{ message: err.message, field: err.field }} />, 422);
      }
      throw err;
    }
    startSession(c, await createSession(app, userId, sessionOrigin(c)));
    setFlash(c, 'success', `Welcome to gitoku, ${values.username}!`);
    return c.redirect('/', 303);
  });
}

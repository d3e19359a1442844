import type { AppContext } from '../app.ts';
import type { User } from '../../db/schema.ts';
import { userAvatarPath } from '../../domain/avatarUrls.ts';

/**
 * The API's JSON shapes (GitHub's REST field names) live here, below the web layer, so the API routes
 * and the services that send the same shapes elsewhere (webhook payloads) build them one way.
 */

/** `avatar`: the uploaded avatar when the row carries it; without it the URL is the generated one, which redirects to an upload. */
export function simpleUserJson(app: AppContext, user: Pick<User, 'id' | 'username' | 'is_admin'> & { avatar?: string | null }) {
  const base = app.config.baseUrl;
  return {
    login: user.username,
    id: user.id,
    type: 'User' as const,
    site_admin: user.is_admin === 1,
    avatar_url: `${base}${userAvatarPath(user)}`,
    html_url: `${base}/${encodeURIComponent(user.username)}`,
    url: `${base}/api/v1/users/${encodeURIComponent(user.username)}`,
  };
}

/** The URL path of a user's avatar: a generated initials SVG, like the pages' avatars. */
export function avatarPath(login: string): string {
  return `/-/avatars/${encodeURIComponent(login)}.svg`;
}

/**
 * Where a user's avatar is served: their uploaded image when they have one (the file name changes
 * with the content), else the generated SVG (which redirects to an uploaded one made since).
 */
export function userAvatarPath(user: { id: number; username: string; avatar?: string | null }): string {
  return user.avatar ? `/-/avatars/u/${user.id}/${encodeURIComponent(user.avatar)}` : avatarPath(user.username);
}

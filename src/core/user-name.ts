/** The names of a master's users (master mode): lowercase, so that they go as they are into certificates and logs. */
const USER_NAME = /^[a-z][a-z0-9.-]{0,62}$/;

export const USER_NAME_RULE = 'a lowercase letter, then up to 62 lowercase letters, digits, dots or dashes';

export function isUserName(text: string): boolean {
  return USER_NAME.test(text);
}

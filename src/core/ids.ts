/**
 * The id rule for zones and homes, one place for config, topics, envelopes, keyring and CLI: lowercase
 * letters, digits and '-', starting with a letter or digit, at most 63 characters. It can never hold an
 * MQTT wildcard, a '/' or a '.' (RabbitMQ maps topic levels to '.'), so an id is always one topic level.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** What a person is told when an id breaks the rule. */
export const ID_RULE_TEXT =
  "lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters";

export function isValidId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s);
}

import { eventTypeOf, subjectOf, type TopicEvent } from './model.js';
import type { SubscriptionConfig } from './subscriptionConfig.js';

/**
 * Whether a subscription's filter lets an event through. Event types match case-insensitively; subjects
 * too unless `isSubjectCaseSensitive` is set, as in Azure.
 * @example
 * matchesFilter({ includedEventTypes: ['Microsoft.KeyVault.SecretNearExpiry'], subjectBeginsWith: '', subjectEndsWith: '', isSubjectCaseSensitive: false }, event);
 */
export function matchesFilter(filter: SubscriptionConfig['filter'], event: TopicEvent): boolean {
  const type = eventTypeOf(event).toLowerCase();
  if (filter.includedEventTypes && !filter.includedEventTypes.some((t) => t.toLowerCase() === type))
    return false;
  const fold = (value: string) => (filter.isSubjectCaseSensitive ? value : value.toLowerCase());
  const subject = fold(subjectOf(event));
  return subject.startsWith(fold(filter.subjectBeginsWith)) && subject.endsWith(fold(filter.subjectEndsWith));
}

/**
 * The collector's counters, named as the statistics lines and metrics report them.
 * @module
 */

/** Counters of one run. */
export class Counters {
  messagesReceived = 0;
  messagesDeleted = 0;
  messagesLeft = 0;
  messagesReleased = 0;
  messagesQuarantined = 0;
  testEvents = 0;
  invalidMessages = 0;
  objectsRead = 0;
  objectsFailed = 0;
  objectsSkipped = 0;
  objectsDuplicate = 0;
  eventsReceived = 0;
  eventsSent = 0;
  duplicatedEventsFiltered = 0;
  visibilityExtensions = 0;
  retries = 0;
}

/**
 * A fix for a bug in @confluentinc/kafka-javascript 1.10.1 (the newest release): when the broker
 * answers GROUP_COORDINATOR_NOT_AVAILABLE (as it does while a broker of the cluster is being
 * killed or restarted), its error conversion calls `new error.KafkaJSGroupCoordinatorNotAvailableError`,
 * a class its error module never defines. The TypeError is thrown inside a librdkafka callback,
 * so it cannot be caught and the whole process dies (seen in the chaos suite: replicators and
 * ingest APIs crashing during a broker SIGKILL, in `sendOffsets` and `send`).
 *
 * Defining the missing name on the library's own error module (it is read at call time) turns
 * that crash into the ordinary, retriable Kafka error the caller already handles. Idempotent.
 */
import { createRequire } from 'node:module';

interface ErrorModule {
  KafkaJSGroupCoordinatorNotFound: new (...args: unknown[]) => Error;
  KafkaJSGroupCoordinatorNotAvailableError?: new (...args: unknown[]) => Error;
}

const errorModule = createRequire(import.meta.url)('@confluentinc/kafka-javascript/lib/kafkajs/_error.js') as ErrorModule;

export function applyKafkaClientFixes(): void {
  errorModule.KafkaJSGroupCoordinatorNotAvailableError ??= class KafkaJSGroupCoordinatorNotAvailableError extends errorModule.KafkaJSGroupCoordinatorNotFound {
    constructor(...args: unknown[]) {
      super(...args);
      this.name = 'KafkaJSGroupCoordinatorNotAvailableError';
    }
  };
}

applyKafkaClientFixes();

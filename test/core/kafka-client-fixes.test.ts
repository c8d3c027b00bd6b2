import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { KafkaJS, kafkaError } from '../../core/kafka.ts';

const require = createRequire(import.meta.url);
const common = require('@confluentinc/kafka-javascript/lib/kafkajs/_common.js') as { createKafkaJsErrorFromLibRdKafkaError: (e: unknown) => Error };

describe('fixes to the Kafka client', () => {
  it('converts GROUP_COORDINATOR_NOT_AVAILABLE into a retriable Kafka error instead of throwing a TypeError', () => {
    // What librdkafka hands the callback of sendOffsetsToTransaction while the coordinator moves.
    const librdkafkaError = Object.assign(new Error('Broker: Group coordinator not available'), { code: 15, retriable: true, fatal: false, abortable: false });
    const converted = common.createKafkaJsErrorFromLibRdKafkaError(librdkafkaError);
    expect(converted).toBeInstanceOf(KafkaJS.KafkaJSError);
    expect(converted.name).toBe('KafkaJSGroupCoordinatorNotAvailableError');
    const e = kafkaError(converted, 'sending offsets');
    expect({ code: e.code, retriable: e.retriable }).toEqual({ code: 'KAFKA_UNAVAILABLE', retriable: true });
  });
});

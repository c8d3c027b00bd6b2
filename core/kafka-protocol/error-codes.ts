/**
 * Kafka's wire error codes (the protocol guide's error table) and their translation into the
 * error catalogue: a broker that answered with an error code is a failed operation
 * (KAFKA_OPERATION_FAILED, final), with the code and its name in the details.
 */
import { GeoError } from '../errors.ts';

/** Names of the codes up to 56, which covers what DescribeConfigs and ApiVersions can return. */
const NAMES: Readonly<Record<number, string>> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  0: 'NONE',
  1: 'OFFSET_OUT_OF_RANGE',
  2: 'CORRUPT_MESSAGE',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  4: 'INVALID_FETCH_SIZE',
  5: 'LEADER_NOT_AVAILABLE',
  6: 'NOT_LEADER_OR_FOLLOWER',
  7: 'REQUEST_TIMED_OUT',
  8: 'BROKER_NOT_AVAILABLE',
  9: 'REPLICA_NOT_AVAILABLE',
  10: 'MESSAGE_TOO_LARGE',
  11: 'STALE_CONTROLLER_EPOCH',
  12: 'OFFSET_METADATA_TOO_LARGE',
  13: 'NETWORK_EXCEPTION',
  14: 'COORDINATOR_LOAD_IN_PROGRESS',
  15: 'COORDINATOR_NOT_AVAILABLE',
  16: 'NOT_COORDINATOR',
  17: 'INVALID_TOPIC_EXCEPTION',
  18: 'RECORD_LIST_TOO_LARGE',
  19: 'NOT_ENOUGH_REPLICAS',
  20: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  21: 'INVALID_REQUIRED_ACKS',
  22: 'ILLEGAL_GENERATION',
  23: 'INCONSISTENT_GROUP_PROTOCOL',
  24: 'INVALID_GROUP_ID',
  25: 'UNKNOWN_MEMBER_ID',
  26: 'INVALID_SESSION_TIMEOUT',
  27: 'REBALANCE_IN_PROGRESS',
  28: 'INVALID_COMMIT_OFFSET_SIZE',
  29: 'TOPIC_AUTHORIZATION_FAILED',
  30: 'GROUP_AUTHORIZATION_FAILED',
  31: 'CLUSTER_AUTHORIZATION_FAILED',
  32: 'INVALID_TIMESTAMP',
  33: 'UNSUPPORTED_SASL_MECHANISM',
  34: 'ILLEGAL_SASL_STATE',
  35: 'UNSUPPORTED_VERSION',
  36: 'TOPIC_ALREADY_EXISTS',
  37: 'INVALID_PARTITIONS',
  38: 'INVALID_REPLICATION_FACTOR',
  39: 'INVALID_REPLICA_ASSIGNMENT',
  40: 'INVALID_CONFIG',
  41: 'NOT_CONTROLLER',
  42: 'INVALID_REQUEST',
  43: 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  44: 'POLICY_VIOLATION',
  45: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  46: 'DUPLICATE_SEQUENCE_NUMBER',
  47: 'INVALID_PRODUCER_EPOCH',
  48: 'INVALID_TXN_STATE',
  49: 'INVALID_PRODUCER_ID_MAPPING',
  50: 'INVALID_TRANSACTION_TIMEOUT',
  51: 'CONCURRENT_TRANSACTIONS',
  52: 'TRANSACTION_COORDINATOR_FENCED',
  53: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  54: 'SECURITY_DISABLED',
  55: 'OPERATION_NOT_ATTEMPTED',
  56: 'KAFKA_STORAGE_ERROR',
};

export const KAFKA_ERROR = Object.freeze({
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  UNSUPPORTED_VERSION: 35,
});

export function kafkaErrorName(code: number): string {
  return NAMES[code] ?? `KAFKA_ERROR_${code}`;
}

/**
 * The GeoError for a non-zero error code in a broker's answer. `what` says what failed
 * ("DescribeConfigs for topic 'orders'"); `details` adds facts such as the topic.
 */
export function brokerError(code: number, what: string, o: { message?: string | null; details?: Record<string, unknown> } = {}): GeoError {
  const name = kafkaErrorName(code);
  const said = o.message ? `: ${o.message}` : '';
  return new GeoError('KAFKA_OPERATION_FAILED', `${what} failed with ${name} (${code})${said}`, {
    details: { ...o.details, kafkaCode: code, kafkaError: name, ...(o.message ? { brokerMessage: o.message } : {}) },
  });
}
